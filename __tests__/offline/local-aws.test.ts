/**
 * The offline runtime's AWS side: the fauxqs engine on loopback, the stack provisioned on it through the
 * SDK from the synthesized JSON, the redrive on its API, and engine gaps docs/local.md lists, shown by real calls.
 */
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { GetSubscriptionAttributesCommand, ListSubscriptionsCommand, SNSClient } from "@aws-sdk/client-sns";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { LocalPipeline } from "../../offline/runtime/pipeline";
import { DescribeLimitsCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LOCAL_CREDENTIALS, startLocalDynamoDB } from "../../offline/engines/dynamodb";
import type { FaultKind } from "../../offline/engines/dynamodb-front";
import { SnsSqsEngine, startSnsSqs } from "../../offline/engines/sns-sqs";
import { attributesOf, QueueResource, ResourceRegistry } from "../../offline/runtime/registry";
import { redriveDeadLetters } from "../../offline/runtime/redrive";
import { loadStack, QueueModel } from "../../offline/runtime/stack-model";
import { order } from "../support/orders";
import { synthOrderStackTo } from "../support/stacks";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-local-aws-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const stackDir = synthOrderStackTo(path.join(work, "stack"));
const stack = loadStack(stackDir);

/** Resolves with the connection's error code, or "connected". */
const connect = (host: string, port: number) =>
  new Promise<string>((resolve) => {
    const socket = net.connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
  });

describe("the SNS/SQS engine (fauxqs)", () => {
  let engine: SnsSqsEngine;
  beforeAll(async () => {
    engine = await startSnsSqs({ region: stack.region });
  });
  afterAll(() => engine.close());

  test("the redrive moves what the DLQ held when it started, though messages keep failing back into it", async () => {
    const sqs = new SQSClient({ endpoint: engine.endpoint.url, region: stack.region, credentials: LOCAL_CREDENTIALS });
    const resources = new ResourceRegistry({ ...stack, queues: [], subscriptions: [] });
    const queue = async (name: string, model: Partial<QueueModel>): Promise<QueueResource> => {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
      const identity = { name, arn: Attributes!.QueueArn!, url: QueueUrl! };
      const address = `aws_sqs_queue.${name}`;
      const resource: QueueResource = {
        type: "aws_sqs_queue",
        address,
        ...identity,
        attributes: attributesOf("aws_sqs_queue", identity),
        visibilityTimeoutSeconds: 30,
        model: { address, key: name, name, ...model } as QueueModel,
      };
      resources.add(resource);
      return resource;
    };
    const dlq = await queue("MoveDLQ", {});
    const source = await queue("MoveSource", { redrive: { deadLetterTarget: dlq.address, maxReceiveCount: 3 } });
    for (let batch = 0; batch < 3; batch++) {
      const entries = Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: `poison-${batch}-${i}` }));
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: dlq.url, Entries: entries }));
    }
    // Plays a function that fails every message at once: whatever reaches the source goes back to the DLQ.
    let failing = true;
    const failBack = (async () => {
      while (failing) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: source.url, MaxNumberOfMessages: 10 }),
        );
        for (const m of Messages) {
          await sqs.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: m.Body! }));
          await sqs.send(new DeleteMessageCommand({ QueueUrl: source.url, ReceiptHandle: m.ReceiptHandle! }));
        }
      }
    })();
    try {
      const moved = await Promise.race([
        redriveDeadLetters(sqs, resources, () => undefined),
        new Promise<number>((resolve) => setTimeout(() => resolve(-1), 10_000)),
      ]);
      expect(moved).toBe(30);
    } finally {
      failing = false;
      await failBack;
      sqs.destroy();
    }
  });

  // The patch of fauxqs 2.4.1 (patches/): its 20 ms timer runs only while some message can become available by
  // time alone. These are the cases where one must: a delayed message, and one whose visibility timeout ends.
  test("a waiting long poll gets a delayed message, and one whose visibility timeout ended, when they become visible", async () => {
    const sqs = new SQSClient({ endpoint: engine.endpoint.url, region: stack.region, credentials: LOCAL_CREDENTIALS });
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "TimedMessages" }));
      const longPoll = () =>
        sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20, VisibilityTimeout: 1 }));
      const waiting = longPoll();
      await new Promise((resolve) => setTimeout(resolve, 100)); // the poll waits on an empty queue
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "delayed", DelaySeconds: 1 }));
      let started = Date.now();
      const first = await waiting;
      expect(first.Messages?.map((m) => m.Body)).toEqual(["delayed"]);
      expect(Date.now() - started).toBeLessThan(5_000);
      // Not deleted: it is visible again after its 1 s visibility timeout, to a poll already waiting.
      started = Date.now();
      const again = await longPoll();
      expect(again.Messages?.map((m) => m.Body)).toEqual(["delayed"]);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      sqs.destroy();
    }
  });

  test("listens on loopback only, although fauxqs's startFauxqs would listen on every interface", async () => {
    const { hostname, port } = new URL(engine.endpoint.url);
    expect(hostname).toBe("127.0.0.1");
    expect(await connect("127.0.0.1", Number(port))).toBe("connected");
    const outside = Object.values(os.networkInterfaces())
      .flat()
      .find((address) => address && address.family === "IPv4" && !address.internal);
    if (outside) expect(await connect(outside.address, Number(port))).toBe("ECONNREFUSED");
  });
});

describe("the stack as provisioned on the engines, and the engine's gaps", () => {
  let pipeline: LocalPipeline;
  let sqs: SQSClient;
  beforeAll(async () => {
    pipeline = await LocalPipeline.start({ stackDir });
    sqs = new SQSClient({
      endpoint: pipeline.endpoints.snsSqs.url,
      region: stack.region,
      credentials: LOCAL_CREDENTIALS,
    });
  });
  afterAll(async () => {
    sqs.destroy();
    await pipeline.close();
  });

  test("queues carry the synthesized visibility timeout and redrive policy, named by the engine's ARNs", async () => {
    const orderQueue = stack.queues.find((q) => q.redrive && q.name.startsWith("OrderQueue"))!;
    const engineQueue = pipeline.resources.get("aws_sqs_queue", orderQueue.address);
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: engineQueue.url, AttributeNames: ["All"] }),
    );
    expect(Attributes.VisibilityTimeout).toBe(String(orderQueue.visibilityTimeoutSeconds));
    expect(Attributes.QueueArn).toBe(engineQueue.arn);
    const dlq = pipeline.resources.get("aws_sqs_queue", orderQueue.redrive!.deadLetterTarget);
    expect(JSON.parse(Attributes.RedrivePolicy!)).toEqual({
      deadLetterTargetArn: dlq.arn,
      maxReceiveCount: orderQueue.redrive!.maxReceiveCount,
    });
    const dlqAttributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.url, AttributeNames: ["RedriveAllowPolicy"] }),
    );
    expect(JSON.parse(dlqAttributes.Attributes!.RedriveAllowPolicy!)).toMatchObject({ redrivePermission: "byQueue" });
  });

  test("queues refuse what SQS in AWS refuses: a message over the synthesized max_message_size (256 KiB)", async () => {
    for (const queue of pipeline.resources.all("aws_sqs_queue")) {
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ["MaximumMessageSize"] }),
      );
      expect([queue.name, Attributes.MaximumMessageSize]).toEqual([
        queue.name,
        String(queue.model.maxMessageSizeBytes),
      ]);
    }
    const orderQueue = pipeline.resources.all("aws_sqs_queue").find((q) => q.model.redrive)!;
    expect(orderQueue.model.maxMessageSizeBytes).toBe(262_144);
    await expect(
      sqs.send(new SendMessageCommand({ QueueUrl: orderQueue.url, MessageBody: "x".repeat(300 * 1024) })),
    ).rejects.toThrow(/shorter than 262144 bytes/);
  });

  test("the subscription is the synthesized one: sqs protocol, raw delivery as the stack says", async () => {
    const sns = new SNSClient({
      endpoint: pipeline.endpoints.snsSqs.url,
      region: stack.region,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const { Subscriptions = [] } = await sns.send(new ListSubscriptionsCommand({}));
      expect(Subscriptions).toHaveLength(stack.subscriptions.length);
      const { Attributes = {} } = await sns.send(
        new GetSubscriptionAttributesCommand({ SubscriptionArn: Subscriptions[0].SubscriptionArn }),
      );
      expect(Attributes.RawMessageDelivery).toBe(String(stack.subscriptions[0].raw));
    } finally {
      sns.destroy();
    }
  });

  test("gap: queue URLs name the host sqs.<region>.localhost, which does not resolve; a client needs the endpoint", async () => {
    const orderQueue = pipeline.resources.all("aws_sqs_queue").find((q) => q.model.redrive)!;
    expect(new URL(orderQueue.url).hostname).toBe(`sqs.${stack.region}.localhost`);
    const byUrlOnly = new SQSClient({
      endpoint: new URL(orderQueue.url).origin,
      region: stack.region,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      await expect(
        byUrlOnly.send(new GetQueueAttributesCommand({ QueueUrl: orderQueue.url, AttributeNames: ["QueueArn"] })),
      ).rejects.toThrow(/ENOTFOUND sqs\./);
    } finally {
      byUrlOnly.destroy();
    }
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: orderQueue.url, AttributeNames: ["QueueArn"] }),
    );
    expect(Attributes?.QueueArn).toBe(orderQueue.arn);
  });

  test("SendMessage takes characters above U+FFFF (an emoji), as SQS does, and refuses a lone surrogate (patched)", async () => {
    const orderQueue = pipeline.resources.all("aws_sqs_queue").find((q) => q.model.redrive)!;
    const body = JSON.stringify(order({ orderId: "EMOJI1", itemName: "Tablet \u{1F4F1}" }));
    await sqs.send(new SendMessageCommand({ QueueUrl: orderQueue.url, MessageBody: body }));
    await expect(
      sqs.send(new SendMessageCommand({ QueueUrl: orderQueue.url, MessageBody: "half a pair \ud83d" })),
    ).rejects.toThrow(/Invalid characters found/);
    await pipeline.settled(30_000);
    expect((await pipeline.items()).find((item) => item.orderId === "EMOJI1")).toMatchObject({
      itemName: "Tablet \u{1F4F1}",
    });
  });
});

test("a --persist folder from before a settings change: its queues get the synthesized settings, as a deploy would", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "order-persist-settings-"));
  try {
    const client = (p: LocalPipeline) =>
      new SQSClient({ endpoint: p.endpoints.snsSqs.url, region: stack.region, credentials: LOCAL_CREDENTIALS });
    const first = await LocalPipeline.start({ stackDir, dataDir });
    try {
      const orderQueue = first.resources.all("aws_sqs_queue").find((q) => q.model.redrive)!;
      // What a run before max_message_size was synthesized left behind: the engine's default size.
      await client(first).send(
        new SetQueueAttributesCommand({ QueueUrl: orderQueue.url, Attributes: { MaximumMessageSize: "1048576" } }),
      );
    } finally {
      await first.close();
    }
    const second = await LocalPipeline.start({ stackDir, dataDir });
    try {
      const queue = second.resources.all("aws_sqs_queue").find((q) => q.model.redrive)!;
      const { Attributes = {} } = await client(second).send(
        new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ["MaximumMessageSize"] }),
      );
      expect(Attributes.MaximumMessageSize).toBe(String(queue.model.maxMessageSizeBytes));
    } finally {
      await second.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test("the DynamoDB fault dice answer with the kind asked for (--fail-with): throttling, internal, or both", async () => {
  /** The error names of 40 requests through the SDK (no retries) with every request failing. */
  const errorsWith = async (kind: FaultKind) => {
    const db = await startLocalDynamoDB({ failRate: 1, failWith: kind, seed: 3 });
    const client = new DynamoDBClient({
      endpoint: db.endpoint.url,
      region: stack.region,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const names = new Set<string>();
      for (let i = 0; i < 40; i++)
        names.add(
          await client.send(new DescribeLimitsCommand({})).then(
            () => "ok",
            (e: Error) => e.name,
          ),
        );
      return [...names].sort();
    } finally {
      client.destroy();
      await db.close();
    }
  };
  expect(await errorsWith("throttling")).toEqual(["ProvisionedThroughputExceededException"]);
  expect(await errorsWith("internal")).toEqual(["InternalServerError"]);
  expect(await errorsWith("both")).toEqual(["InternalServerError", "ProvisionedThroughputExceededException"]);
});
