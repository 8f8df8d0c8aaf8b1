/**
 * `npm start -- --serve` as a user runs it: a child process that serves the synthesized stack on one
 * loopback endpoint until SIGINT, driven here through the AWS SDK as any tool would.
 */
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LOCAL_CREDENTIALS } from "../../offline/local-aws/dynamodb";
import { SAMPLE_ORDER } from "../support/orders";
import { PROJECT_ROOT } from "../support/paths";
import { synthOrderStackTo } from "../support/stacks";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-serve-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const stackDir = synthOrderStackTo(path.join(work, "stack"));

interface Served {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** Resolves with the first line matching `pattern`, or rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
}

/**
 * Starts the runtime with `--serve`, through `npm start` or as npm runs it (`node -r esbuild-register
 * offline/start.ts`): npm itself exits at once on SIGINT, so exit codes after a signal are the runtime's.
 */
function startServe(args: string[], via: "npm" | "node"): Served {
  const command =
    via === "npm"
      ? ["npm", "start", "--silent", "--", "--serve", ...args]
      : [process.execPath, "-r", "esbuild-register", "offline/start.ts", "--serve", ...args];
  const child = spawn(command[0], command.slice(1), {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CI: "true", ORDER_ENV: "" },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so that a signal reaches npm and the runtime alike, as Ctrl-C in a terminal does.
    detached: true,
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let buffered = "";
    stream.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      lines.push(...parts);
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, ms = 60_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const line = lines.find((l) => pattern.test(l));
      if (line) return line;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`no line matching ${pattern}; output:\n${lines.join("\n")}`);
      await sleep(20);
    }
  };
  return { child, lines, exited, waitFor };
}

describe("npm start -- --serve", () => {
  let served: Served;
  let ready: { endpoint: string; region: string; outputs: string };
  beforeAll(async () => {
    // An already synthesized stack: other test files synthesize into cdktf.out at the same time.
    served = startServe(["--port", "0", "--stack-dir", stackDir], "node");
    ready = JSON.parse((await served.waitFor(/^ready \{/, 120_000)).slice("ready ".length));
  }, 130_000);
  afterAll(async () => {
    if (served.child.exitCode === null) {
      process.kill(-served.child.pid!, "SIGKILL");
      await served.exited;
    }
  });
  const config = () => ({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });

  test("is ready on a loopback port and writes the outputs file in cdktf output's shape, plus the endpoint", async () => {
    expect(ready.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.outputs).toBe(path.join("cdktf.out", "local", "outputs.json"));
    const outputs = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, ready.outputs), "utf8"));
    const stack = outputs.OrderSystemStack;
    expect(stack).toMatchObject({
      endpoint: ready.endpoint,
      table_name: "Orders",
      function_name: "OrderProcessor",
      topic_arn: `arn:aws:sns:${ready.region}:000000000000:OrderTopic`,
      dlq_arn: `arn:aws:sqs:${ready.region}:000000000000:DLQ`,
    });
    for (const key of ["queue_url", "dlq_url", "delivery_dlq_url"])
      expect(stack[key]).toContain(`:${new URL(ready.endpoint).port}/`);
    expect(served.lines).toContain(
      `  export AWS_ENDPOINT_URL=${ready.endpoint} AWS_REGION=${ready.region} AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey}`,
    );
  });

  test("one endpoint serves SNS, SQS and DynamoDB: a published order is consumed, stored and logged", async () => {
    const outputs = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, ready.outputs), "utf8")).OrderSystemStack;
    const sns = new SNSClient(config());
    const sqs = new SQSClient(config());
    const dynamodb = new DynamoDBClient(config());
    try {
      const order = { ...SAMPLE_ORDER, orderId: "SERVE1" };
      await sns.send(new PublishCommand({ TopicArn: outputs.topic_arn, Message: JSON.stringify(order) }));
      let item: Record<string, unknown> | undefined;
      for (let tries = 0; tries < 200 && !item; tries++) {
        item = (
          await dynamodb.send(new GetItemCommand({ TableName: outputs.table_name, Key: { orderId: { S: "SERVE1" } } }))
        ).Item;
        if (!item) await sleep(50);
      }
      expect(item).toMatchObject({ orderId: { S: "SERVE1" }, quantity: { N: "3" } });
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: outputs.queue_url, AttributeNames: ["ApproximateNumberOfMessages"] }),
      );
      expect(Attributes?.ApproximateNumberOfMessages).toBe("0");
      const logLine = await served.waitFor(/^OrderProcessor \{.*"outcome":"stored".*"orderId":"SERVE1"/);
      const logFile = path.join(PROJECT_ROOT, "cdktf.out", "local", "logs", "OrderProcessor.log");
      expect(fs.readFileSync(logFile, "utf8")).toContain(logLine.slice("OrderProcessor ".length));
    } finally {
      sns.destroy();
      sqs.destroy();
      dynamodb.destroy();
    }
  });

  test("answers nothing beyond loopback", async () => {
    const port = Number(new URL(ready.endpoint).port);
    const outside = Object.values(os.networkInterfaces())
      .flat()
      .find((address) => address && address.family === "IPv4" && !address.internal);
    if (!outside) return;
    const code = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: outside.address, port });
      socket.once("connect", () => (socket.destroy(), resolve("connected")));
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    });
    expect(code).toBe("ECONNREFUSED");
  });

  test("SIGINT stops it: the last line is the summary, exit 0", async () => {
    process.kill(-served.child.pid!, "SIGINT"); // Ctrl-C
    expect(await served.exited).toBe(0);
    const summary = JSON.parse(served.lines.filter((l) => l.startsWith("{")).pop()!);
    expect(summary).toMatchObject({ published: 1, processed: 1, deadLettered: 0, lost: 0, items: 1 });
  }, 60_000);
});

test("a port in use exits 2 and says what to do", async () => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", () => resolve()));
  const port = (holder.address() as net.AddressInfo).port;
  try {
    const served = startServe(["--port", String(port), "--stack-dir", stackDir], "npm");
    expect(await served.exited).toBe(2);
    expect(served.lines.join("\n")).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use.*--port N`));
  } finally {
    holder.close();
  }
}, 120_000);
