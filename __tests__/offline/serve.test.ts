/**
 * `npm start -- --serve` as a user runs it: a child process that serves the synthesized stack on one
 * loopback endpoint until SIGINT, driven here through the AWS SDK as any tool would.
 */
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LOCAL_CREDENTIALS } from "../../offline/engines/dynamodb";
import { SAMPLE_ORDER } from "../support/orders";
import { PROJECT_ROOT } from "../support/paths";
import { copyProject } from "../../scripts/project-copy";
import { interrupt, readyOf, Served, startServe } from "../support/serve";
import { synthOrderStackTo } from "../support/stacks";

const execFileAsync = promisify(execFile);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-serve-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const stackDir = synthOrderStackTo(path.join(work, "stack"));

describe("npm start -- --serve", () => {
  let served: Served;
  let ready: { endpoint: string; region: string; outputs: string };
  beforeAll(async () => {
    // An already synthesized stack: other test files synthesize into cdktf.out at the same time.
    const seed = path.join(work, "seed.jsonl");
    fs.writeFileSync(seed, `${JSON.stringify({ ...SAMPLE_ORDER, orderId: "SEED1" })}\n`);
    served = startServe(["--port", "0", "--stack-dir", stackDir, "--orders", seed], "node");
    ready = await readyOf(served);
  }, 130_000);
  afterAll(async () => {
    if (served.child.exitCode === null) {
      process.kill(-served.child.pid!, "SIGKILL");
      await served.exited;
    }
  });
  const config = () => ({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
  // The orders CLI with the printed variables. Asynchronously: a synchronous spawn would stop this process reading the served one's output, which
  // then blocks on its full stdout pipe.
  const orders = (...args: string[]) =>
    execFileAsync("npm", ["run", "orders", "--silent", "--", "--outputs", ready.outputs, ...args], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: ready.endpoint,
        AWS_REGION: ready.region,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      },
    }).then(
      (result) => ({ status: 0, stdout: result.stdout }),
      (error: { code?: number; stdout?: string }) => ({ status: error.code ?? 1, stdout: error.stdout ?? "" }),
    );

  test("is ready on a loopback port and writes the outputs file in cdktf output's shape, plus the endpoint", async () => {
    expect(ready.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.outputs).toBe(path.join(served.runDir, "outputs.json"));
    const outputs = JSON.parse(fs.readFileSync(ready.outputs, "utf8"));
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
      `  export AWS_ENDPOINT_URL=${ready.endpoint} AWS_REGION=${ready.region} AWS_DEFAULT_REGION=${ready.region} AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey}`,
    );
  });

  test("--orders FILE seeds it: the file's orders are published once it is up", async () => {
    await served.waitForLog(/^\{.*"outcome":"stored".*"orderId":"SEED1"/);
  });

  test("one endpoint serves SNS, SQS and DynamoDB: a published order is consumed, stored and logged; the terminal shows one line for it", async () => {
    const outputs = JSON.parse(fs.readFileSync(path.resolve(PROJECT_ROOT, ready.outputs), "utf8")).OrderSystemStack;
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
      // The terminal: one readable line for the outcome; the function's own lines (metrics too) in its log file.
      await served.waitFor(/\] stored +msg=\w+ order=SERVE1$/);
      expect(served.lines.filter((l) => l.includes("SERVE1"))).toHaveLength(1);
      expect(served.lines.some((l) => l.includes('"_aws"') || l.startsWith("OrderProcessor {"))).toBe(false);
      const logFile = path.join(served.runDir, "logs", "OrderProcessor.log");
      const logged = fs.readFileSync(logFile, "utf8");
      expect(logged).toMatch(/\{.*"outcome":"stored".*"orderId":"SERVE1"/);
      expect(logged).toContain('"_aws"');
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

  test("the orders CLI works against it unchanged: smoke, publish, dlq list, dlq redrive (by receive/send/delete), delivery-dlq move", async () => {
    const smoke = await orders("smoke");
    expect(smoke.stdout).toMatch(/SMOKE-\S+ stored after [\d.]+ s \(then deleted\)/);
    const file = path.join(work, "bad.jsonl");
    fs.writeFileSync(file, `${JSON.stringify({ ...SAMPLE_ORDER, orderId: "SERVEBAD", quantity: "3" })}\n`);
    expect((await orders("publish", file)).stdout).toContain("published 1 of 1 orders");
    let listed = "";
    for (let tries = 0; tries < 20 && !listed.includes("SERVEBAD"); tries++)
      listed = (await orders("dlq", "list")).stdout;
    expect(listed).toMatch(/receives=\d+ .*SERVEBAD/);
    // Listing peeks: the message stays visible (the README's get-queue-attributes reads 1 at once).
    const outputs = JSON.parse(fs.readFileSync(ready.outputs, "utf8")).OrderSystemStack;
    const sqs = new SQSClient(config());
    const visible = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: outputs.dlq_url, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    sqs.destroy();
    expect(visible.Attributes?.ApproximateNumberOfMessages).toBe("1");
    const redriven = await orders("dlq", "redrive");
    expect(redriven.status).toBe(0);
    expect(redriven.stdout).toContain("this endpoint has no message-move task");
    expect(redriven.stdout).toMatch(/moved 1 messages from \S+\/DLQ to \S+\/OrderQueue/);
    const moved = await orders("delivery-dlq", "move");
    expect(moved.stdout).toMatch(/moved 0 messages from \S+\/OrderTopicDeliveryDLQ/);
  }, 120_000);

  test("verify runs the checks the local endpoint can answer and skips the rest, saying why", async () => {
    const verified = await orders("verify", "--timeout", "60");
    expect(verified.status).toBe(0);
    const lines = verified.stdout.split("\n");
    expect(lines).toContain(
      "PASS  subscription: confirmed, raw message delivery on, undeliverable orders kept in the delivery DLQ",
    );
    expect(lines.some((l) => /^PASS  smoke: order SMOKE-\S+ went from the topic to Orders in/.test(l))).toBe(true);
    // SERVEBAD failed again after its redrive (above): it is back in the DLQ.
    expect(lines).toContain(
      "WARN  dead-letter queues: DLQ holds 1 message. Do: see them with npm run orders -- dlq list; once their cause is fixed, npm run orders -- dlq redrive",
    );
    for (const check of ["role", "event source mapping", "key", "queue policy", "dashboard", "alarm path"])
      expect(
        lines.some((l) => l.startsWith(`SKIP  ${check}: `) && /not emulated|no Lambda API|not enforced/.test(l)),
      ).toBe(true);
    expect(lines).toContain("PASS  redrive policy: OrderQueue moves an order to DLQ after 3 failed receives");
    expect(lines).toContain("verify OrderSystemStack: 3 passed, 0 failed, 1 warnings, 7 skipped");
  }, 90_000);

  test("SIGINT stops it: the last line is the summary, exit 0", async () => {
    process.kill(-served.child.pid!, "SIGINT"); // Ctrl-C
    expect(await served.exited).toBe(0);
    const summary = JSON.parse(served.lines.filter((l) => l.startsWith("{")).pop()!);
    // SEED1, SERVE1, two smoke orders and SERVEBAD; SERVEBAD was dead-lettered, redriven by the CLI, and
    // dead-lettered again: 6 arrivals (5 published, 1 redriven), 4 processed, 2 moves to the DLQ.
    expect(summary).toMatchObject({
      published: 5,
      arrived: 6,
      processed: 4,
      deadLettered: 2,
      redriven: 1,
      queued: 0,
      lost: 0,
      items: 2,
    });
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

test("--fail-rate R while serving: with every DynamoDB write failing, a valid order is dead-lettered after 3 receives", async () => {
  // Internal errors: the function's SDK retries a throttled write only after up to 1 s, then 2 s.
  const args = ["--port", "0", "--stack-dir", stackDir, "--fail-rate", "1", "--fail-with", "internal"];
  const served = startServe(args, "node");
  try {
    const ready = await readyOf(served);
    const topic = JSON.parse(fs.readFileSync(path.resolve(PROJECT_ROOT, ready.outputs), "utf8")).OrderSystemStack
      .topic_arn;
    const sns = new SNSClient({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
    await sns.send(
      new PublishCommand({ TopicArn: topic, Message: JSON.stringify({ ...SAMPLE_ORDER, orderId: "FAULT1" }) }),
    );
    sns.destroy();
    await served.waitForLog(/^\{.*"outcome":"failed".*"orderId":"FAULT1".*InternalServerError/);
    await served.waitFor(/moved to DLQ .*order=FAULT1 OrderQueue -> DLQ after 3 receives/);
  } finally {
    expect(await interrupt(served)).toBe(0);
  }
}, 120_000);

test("--persist DIR: the table's items and the DLQ's messages survive a restart", async () => {
  const dir = path.join(work, "persisted");
  const runDir = path.join(work, "persisted-run");
  const args = ["--port", "0", "--stack-dir", stackDir, "--persist", dir, "--run-dir", runDir];
  const run = async (act: (ready: { endpoint: string; region: string }) => Promise<void>) => {
    const served = startServe(args, "node");
    try {
      const ready = await readyOf(served);
      await act(ready);
    } finally {
      process.kill(-served.child.pid!, "SIGINT");
      const code = await served.exited;
      if (code !== 0) console.log(served.lines.slice(-15).join("\n"));
      expect(code).toBe(0);
    }
    return served;
  };
  const clients = (ready: { endpoint: string; region: string }) => {
    const config = { endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS };
    return { sns: new SNSClient(config), sqs: new SQSClient(config), dynamodb: new DynamoDBClient(config) };
  };
  const outputs = () => JSON.parse(fs.readFileSync(path.join(runDir, "outputs.json"), "utf8")).OrderSystemStack;
  const dlqCount = async (sqs: SQSClient) =>
    (
      await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: outputs().dlq_url, AttributeNames: ["ApproximateNumberOfMessages"] }),
      )
    ).Attributes?.ApproximateNumberOfMessages;
  const first = await run(async (ready) => {
    const { sns, sqs, dynamodb } = clients(ready);
    const publish = (order: object) =>
      sns.send(new PublishCommand({ TopicArn: outputs().topic_arn, Message: JSON.stringify(order) }));
    await publish({ ...SAMPLE_ORDER, orderId: "KEEP1" });
    await publish({ ...SAMPLE_ORDER, orderId: "KEEP2", quantity: "3" });
    for (let tries = 0; tries < 200 && (await dlqCount(sqs)) !== "1"; tries++) await sleep(50);
    expect(await dlqCount(sqs)).toBe("1");
    const item = await dynamodb.send(new GetItemCommand({ TableName: "Orders", Key: { orderId: { S: "KEEP1" } } }));
    expect(item.Item).toBeDefined();
    [sns, sqs, dynamodb].forEach((c) => c.destroy());
  });
  expect(first.lines.some((l) => /moved to DLQ .*order=KEEP2 .*after 3 receives/.test(l))).toBe(true);
  await run(async (ready) => {
    const { sns, sqs, dynamodb } = clients(ready);
    // fauxqs keeps the first run's queue URLs; the endpoint answers them with this run's port.
    expect(outputs().dlq_url).toBe(`${ready.endpoint}/000000000000/DLQ`);
    expect(await dlqCount(sqs)).toBe("1");
    const item = await dynamodb.send(new GetItemCommand({ TableName: "Orders", Key: { orderId: { S: "KEEP1" } } }));
    expect(item.Item?.orderId).toEqual({ S: "KEEP1" });
    [sns, sqs, dynamodb].forEach((c) => c.destroy());
  });
}, 240_000);

test("--watch: a change to lambda/ runs on the next batch in fresh environments; a broken change keeps the last code", async () => {
  const project = copyProject(path.join(work, "project"));
  const logFile = path.join(project, "lambda", "log.ts");
  const original = fs.readFileSync(logFile, "utf8");
  const line = "message: `order ${fields.outcome}`";
  expect(original).toContain(line);
  // The stack synthesized from the same sources: its bundle is the one the copy's lambda/ builds.
  const served = startServe(["--port", "0", "--stack-dir", stackDir, "--watch"], "node", project);
  try {
    const ready = await readyOf(served);
    expect(served.lines).toContain("watching lambda for OrderProcessor");
    const topic = JSON.parse(fs.readFileSync(path.resolve(project, ready.outputs), "utf8")).OrderSystemStack.topic_arn;
    const sns = new SNSClient({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
    const publish = (orderId: string) =>
      sns.send(new PublishCommand({ TopicArn: topic, Message: JSON.stringify({ ...SAMPLE_ORDER, orderId }) }));
    await publish("WATCH1");
    await served.waitForLog(/^\{.*"message":"order stored".*"orderId":"WATCH1"/);

    // An editor's save: a new file renamed over the old one.
    fs.writeFileSync(`${logFile}.tmp`, original.replace(line, "message: `order ${fields.outcome} (edited)`"));
    fs.renameSync(`${logFile}.tmp`, logFile);
    await served.waitFor(/code updated +OrderProcessor v2 .*the next batch runs it in fresh execution environments/);
    await publish("WATCH2");
    await served.waitForLog(/^\{.*"message":"order stored \(edited\)".*"orderId":"WATCH2"/);

    fs.appendFileSync(logFile, "export const = ;\n");
    const failed = await served.waitFor(/warning +--watch: lambda does not build/);
    expect(failed).toMatch(/OrderProcessor keeps running v2: lambda\/log\.ts:\d+:\d+: /);
    await publish("WATCH3");
    await served.waitForLog(/^\{.*"message":"order stored \(edited\)".*"orderId":"WATCH3"/);
    sns.destroy();
  } finally {
    process.kill(-served.child.pid!, "SIGINT");
    expect(await served.exited).toBe(0);
  }
  expect(served.lines.filter((l) => /cold start +OrderProcessor/.test(l)).length).toBeGreaterThanOrEqual(2);
}, 180_000);
