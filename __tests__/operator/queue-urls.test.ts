import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { sqsClientFor, StackOutputs } from "../../operator/io";
import { OrdersIO, runOrders } from "../../operator/orders";

// Real HTTP servers stand for another host: what reaches them is what the operator CLI would have sent there.
interface Host {
  readonly origin: string;
  readonly requests: string[];
  readonly close: () => Promise<void>;
}
async function host(): Promise<Host> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      requests.push(`${req.headers["x-amz-target"]} ${body}`);
      res.writeHead(200, { "content-type": "application/x-amz-json-1.0" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const OUTPUTS = {
  topic_arn: "arn:aws:sns:eu-west-1:123456789012:OrderTopic",
  queue_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/OrderQueue",
  queue_arn: "arn:aws:sqs:eu-west-1:123456789012:OrderQueue",
  dlq_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/DLQ",
  dlq_arn: "arn:aws:sqs:eu-west-1:123456789012:DLQ",
  delivery_dlq_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/OrderTopicDeliveryDLQ",
  delivery_dlq_arn: "arn:aws:sqs:eu-west-1:123456789012:OrderTopicDeliveryDLQ",
  table_name: "Orders",
};
const CREDENTIALS = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret", AWS_REGION: "eu-west-1" };
const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-urls-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const quietIO: OrdersIO = { out: () => {}, readInput: () => "", sleep: async () => {}, now: () => 0 };

let attacker: Host;
beforeAll(async () => (attacker = await host()));
afterAll(() => attacker.close());

async function run(outputs: Record<string, unknown>, args: string[], env: NodeJS.ProcessEnv = {}) {
  const file = path.join(work, `outputs-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify({ OrderSystemStack: outputs }));
  return runOrders([...args, "--outputs", file], quietIO, { ...CREDENTIALS, ...env });
}

describe("a queue URL that does not name its queue is refused before anything is sent", () => {
  test.each([
    ["dlq list", "dlq_url", "ANOTHER_HOST/123456789012/DLQ"],
    ["dlq redrive", "dlq_url", "ANOTHER_HOST/123456789012/DLQ"],
    ["delivery-dlq move", "delivery_dlq_url", "ANOTHER_HOST/123456789012/OrderTopicDeliveryDLQ"],
    ["delivery-dlq move", "queue_url", "ANOTHER_HOST/123456789012/OrderQueue"],
    ["dlq list", "dlq_url", "https://sqs.eu-west-1.amazonaws.com/999999999999/DLQ"],
    ["dlq list", "dlq_url", "https://sqs.eu-west-1.amazonaws.com/123456789012/OtherTeamsQueue"],
    ["dlq list", "dlq_url", "https://sqs.us-east-1.amazonaws.com/123456789012/DLQ"],
    ["dlq list", "dlq_url", "https://sqs.eu-west-1.amazonaws.com.evil.example/123456789012/DLQ"],
  ])("%s with %s = %s", async (command, key, url) => {
    const tampered = { ...OUTPUTS, [key]: url.replace("ANOTHER_HOST", attacker.origin) };
    for (const env of [{}, { AWS_ENDPOINT_URL: "http://127.0.0.1:1" }])
      await expect(run(tampered, command.split(" "), env)).rejects.toMatchObject({
        name: "OperatorError",
        message: expect.stringMatching(
          new RegExp(`OrderSystemStack\\.${key} \\(.*\\) is not the URL of .*nothing was sent`),
        ),
      });
    expect(attacker.requests).toEqual([]);
  });

  test("the outputs of a local server must name its own endpoint, and only a loopback one", async () => {
    const local = {
      ...OUTPUTS,
      topic_arn: "arn:aws:sns:us-east-1:000000000000:OrderTopic",
      queue_arn: undefined,
      delivery_dlq_arn: undefined,
      dlq_arn: "arn:aws:sqs:us-east-1:000000000000:DLQ",
      endpoint: "http://127.0.0.1:4566",
      queue_url: "http://127.0.0.1:4566/000000000000/OrderQueue",
      dlq_url: `${attacker.origin}/000000000000/DLQ`,
      delivery_dlq_url: "http://127.0.0.1:4566/000000000000/OrderTopicDeliveryDLQ",
    };
    await expect(run(local, ["dlq", "list"])).rejects.toThrow(
      /dlq_url .* is not the URL of .*DLQ on http:\/\/127\.0\.0\.1:4566/,
    );
    await expect(run({ ...local, endpoint: "http://evil.example:4566" }, ["dlq", "list"])).rejects.toThrow(
      /endpoint must be a local endpoint/,
    );
    expect(attacker.requests).toEqual([]);
  });
});

test("SQS requests go to the configured endpoint, never to the host a queue URL names", async () => {
  const local = await host();
  const saved = { ...process.env };
  Object.assign(process.env, CREDENTIALS);
  try {
    const outputs = { ...OUTPUTS, endpoint: local.origin } as StackOutputs;
    await sqsClientFor(outputs).send(new ReceiveMessageCommand({ QueueUrl: `${attacker.origin}/123456789012/DLQ` }));
    expect(local.requests).toEqual([expect.stringMatching(/^AmazonSQS\.ReceiveMessage /)]);
    expect(attacker.requests).toEqual([]);
  } finally {
    process.env = saved;
    await local.close();
  }
});
