import { DeleteItemCommand, DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import {
  CloudWatchClient,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  SetAlarmStateCommand,
} from "@aws-sdk/client-cloudwatch";
import { IAMClient, SimulateCustomPolicyCommand, SimulatePrincipalPolicyCommand } from "@aws-sdk/client-iam";
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from "@aws-sdk/client-kms";
import { GetEventSourceMappingCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetSubscriptionAttributesCommand, PublishBatchCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ORDERS_USAGE, OrdersIO, runOrders } from "../../operator/orders";
import { progress } from "../../common/progress";
import { fakeTerminal } from "../support/terminal";

// No AWS is reachable here: the SDK clients are mocked, and the tests assert the exact calls.
const sns = mockClient(SNSClient);
const sqs = mockClient(SQSClient);
const dynamodb = mockClient(DynamoDBClient);

const OUTPUTS = {
  topic_arn: "arn:aws:sns:eu-west-1:123456789012:OrderTopic",
  queue_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/OrderQueue",
  dlq_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/DLQ",
  dlq_arn: "arn:aws:sqs:eu-west-1:123456789012:DLQ",
  table_name: "Orders",
  function_name: "OrderProcessor",
  delivery_dlq_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/OrderTopicDeliveryDLQ",
};
const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-cli-"));
const outputsFile = path.join(work, "outputs.json");
fs.writeFileSync(outputsFile, JSON.stringify({ OrderSystemStack: OUTPUTS }));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function io(input = ""): OrdersIO & { lines: string[]; clock: number } {
  const state = {
    lines: [] as string[],
    clock: Date.UTC(2025, 4, 9, 14, 40),
    out: (line: string) => state.lines.push(line),
    readInput: () => input,
    sleep: async (ms: number) => {
      state.clock += ms;
    },
    now: () => state.clock,
  };
  return state;
}
const run = (argv: string[], i = io()) => runOrders([...argv, "--outputs", outputsFile], i, {});

/** SNS's answer to a PublishBatch that takes every entry: each one in Successful, with a message id. */
const acceptAll = (input: { PublishBatchRequestEntries?: { Id?: string }[] }) => ({
  Successful: (input.PublishBatchRequestEntries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })),
  Failed: [],
});

beforeEach(() => {
  sns.reset();
  sqs.reset();
  dynamodb.reset();
});

describe("orders publish", () => {
  test("publishes each line to the topic in batches of 10", async () => {
    // Prepare
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ orderId: `O${i}` }));
    sns.on(PublishBatchCommand).callsFake(acceptAll);
    const out = io(lines.join("\n") + "\n\n");
    // Act
    const code = await run(["publish", "-"], out);
    // Assess
    expect(code).toBe(0);
    const calls = sns.commandCalls(PublishBatchCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toEqual({
      TopicArn: OUTPUTS.topic_arn,
      PublishBatchRequestEntries: lines.slice(0, 10).map((Message, i) => ({ Id: `line-${i + 1}`, Message })),
    });
    expect(calls[1].PublishBatchRequestEntries).toHaveLength(2);
    expect(out.lines.at(-1)).toBe(`published 12 of 12 orders to ${OUTPUTS.topic_arn}`);
  });

  test("reports failed entries and exits 1", async () => {
    sns
      .on(PublishBatchCommand)
      .resolves({ Failed: [{ Id: "line-1", Code: "KMSAccessDenied", SenderFault: true, Message: "no key access" }] });
    const out = io("{}");
    expect(await run(["publish", "-"], out)).toBe(1);
    expect(out.lines[0]).toBe("failed line-1: KMSAccessDenied no key access");
  });
});

describe("orders publish: batches within SNS's limits, and an exact account of what was sent", () => {
  const body = (i: number, kib: number) => JSON.stringify({ orderId: `O${i}`, pad: "x".repeat(kib * 1024) });

  test("a batch stays within 256 KiB in all, not only 10 entries", async () => {
    sns.on(PublishBatchCommand).callsFake(acceptAll);
    const lines = Array.from({ length: 12 }, (_, i) => body(i, 30));
    expect(await run(["publish", "-"], io(lines.join("\n")))).toBe(0);
    const calls = sns.commandCalls(PublishBatchCommand).map((c) => c.args[0].input.PublishBatchRequestEntries!);
    expect(calls.map((entries) => entries.length)).toEqual([8, 4]);
    for (const entries of calls)
      expect(entries.reduce((n, e) => n + Buffer.byteLength(e.Message!), 0)).toBeLessThanOrEqual(256 * 1024);
  });

  test("a line over 256 KiB is named by its line number (blank lines counted) and not sent; the rest are", async () => {
    sns.on(PublishBatchCommand).callsFake(acceptAll);
    const out = io([body(1, 1), "", body(3, 300), body(4, 1)].join("\n"));
    expect(await run(["publish", "-"], out)).toBe(1);
    const sent = sns.commandCalls(PublishBatchCommand).flatMap((c) => c.args[0].input.PublishBatchRequestEntries!);
    expect(sent.map((e) => e.Id)).toEqual(["line-1", "line-4"]);
    expect(out.lines).toEqual([
      "not published line 3: over SNS's 256 KiB message limit",
      `published 2 of 3 orders to ${OUTPUTS.topic_arn}`,
      "not published: line 3",
      "published: lines 1, 4",
      "Re-running the whole file is safe: an order published twice is an exact duplicate, which the pipeline stores once.",
    ]);
  });

  test("a call refused midway: which lines were published and which not, what permission is missing", async () => {
    const denied = Object.assign(new Error("not authorized to perform SNS:Publish"), { name: "AuthorizationError" });
    sns.on(PublishBatchCommand).callsFakeOnce(acceptAll).rejects(denied);
    const out = io(Array.from({ length: 25 }, (_, i) => body(i, 1)).join("\n"));
    await expect(run(["publish", "-"], out)).rejects.toThrow(
      /AWS refused the call \(AuthorizationError: .*\)\. The caller needs sns:Publish on the topic .*docs\/operations\.md lists/,
    );
    expect(out.lines).toEqual([
      `published 10 of 25 orders to ${OUTPUTS.topic_arn}`,
      "not published: lines 11-25",
      "published: lines 1-10",
      "Re-running the whole file is safe: an order published twice is an exact duplicate, which the pipeline stores once.",
    ]);
  });
});

describe("orders smoke", () => {
  test("publishes a unique order, waits until it is stored, then deletes it", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m1" });
    dynamodb
      .on(GetItemCommand)
      .resolvesOnce({})
      .resolves({ Item: { orderId: { S: "x" } } });
    const out = io();
    expect(await run(["smoke"], out)).toBe(0);
    const published = JSON.parse(sns.commandCalls(PublishCommand)[0].args[0].input.Message!);
    expect(published).toMatchObject({
      userId: "SMOKE",
      quantity: 1,
      status: "new",
      timestamp: "2025-05-09T14:40:00.000Z",
    });
    expect(published.orderId).toMatch(/^SMOKE-20250509144000-[0-9a-f]{6}$/);
    expect(sns.commandCalls(PublishCommand)[0].args[0].input.TopicArn).toBe(OUTPUTS.topic_arn);
    expect(dynamodb.commandCalls(GetItemCommand)[0].args[0].input).toEqual({
      TableName: "Orders",
      Key: { orderId: { S: published.orderId } },
      ConsistentRead: true,
    });
    expect(dynamodb.commandCalls(DeleteItemCommand)[0].args[0].input).toEqual({
      TableName: "Orders",
      Key: { orderId: { S: published.orderId } },
    });
    expect(out.lines.at(-1)).toBe(`${published.orderId} stored after 2.0 s (then deleted)`);
  });

  test("times out with what it saw in the queue and the DLQ", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m1" });
    dynamodb.on(GetItemCommand).resolves({});
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: OUTPUTS.queue_url })
      .resolves({ Attributes: { ApproximateNumberOfMessages: "7", ApproximateNumberOfMessagesNotVisible: "2" } });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: OUTPUTS.dlq_url })
      .resolves({ Attributes: { ApproximateNumberOfMessages: "1" } });
    const out = io();
    expect(await run(["smoke", "--timeout", "10"], out)).toBe(1);
    expect(out.lines.at(-1)).toMatch(/was not stored within 10 s\. queue: 7 waiting, 2 in flight; DLQ: 1 messages/);
    expect(dynamodb.commandCalls(DeleteItemCommand)).toHaveLength(0);
  });
});

describe("orders dlq", () => {
  test("list peeks at dead-lettered messages with their receive counts", async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          {
            MessageId: "d1",
            Body: '{"orderId":"O1","quantity":"3"}',
            Attributes: { ApproximateReceiveCount: "3", SentTimestamp: "1746801600000" },
          },
        ],
      })
      .resolves({ Messages: [] });
    const out = io();
    expect(await run(["dlq", "list"], out)).toBe(0);
    expect(sqs.commandCalls(ReceiveMessageCommand)[0].args[0].input).toEqual({
      QueueUrl: OUTPUTS.dlq_url,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
    });
    expect(out.lines).toEqual(['d1  receives=3  sent=2025-05-09T14:40:00.000Z  {"orderId":"O1","quantity":"3"}']);
  });

  /** A message-move task that has moved 1 of 3 at the first look and is done at the second. */
  const moveTaskRunsThenCompletes = () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: "task-1" });
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({
        Results: [{ Status: "RUNNING", ApproximateNumberOfMessagesMoved: 1, ApproximateNumberOfMessagesToMove: 3 }],
      })
      .resolves({
        Results: [{ Status: "COMPLETED", ApproximateNumberOfMessagesMoved: 3, ApproximateNumberOfMessagesToMove: 3 }],
      });
  };

  test("redrive starts SQS's message-move task from the DLQ and reports progress to completion", async () => {
    moveTaskRunsThenCompletes();
    const terminal = fakeTerminal();
    const out = { ...io(), progress: (label: string) => progress(label, { stream: terminal, intervalMs: 0 }) };
    expect(await run(["dlq", "redrive"], out)).toBe(0);
    expect(sqs.commandCalls(StartMessageMoveTaskCommand)[0].args[0].input).toEqual({ SourceArn: OUTPUTS.dlq_arn });
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0].args[0].input).toEqual({
      SourceArn: OUTPUTS.dlq_arn,
      MaxResults: 1,
    });
    // Running states go to the terminal's progress line; the output keeps only the outcome.
    expect(out.lines.slice(1)).toEqual(["COMPLETED: 3 of 3 moved"]);
    expect(terminal.text()).toContain("dlq redrive: 1/3 (33%)");
  });

  test("redrive draws no progress when stderr is not a terminal", async () => {
    moveTaskRunsThenCompletes();
    const pipe = fakeTerminal(false);
    const out = { ...io(), progress: (label: string) => progress(label, { stream: pipe, intervalMs: 0 }) };
    expect(await run(["dlq", "redrive"], out)).toBe(0);
    expect(pipe.text()).toBe("");
  });

  test("an endpoint that answers StartMessageMoveTask as unsupported (whoever it is): moved by receive, send, delete", async () => {
    // The outputs are AWS's (no local endpoint): the fallback follows the answer, not the endpoint.
    const unknown = Object.assign(new Error("Unknown action: StartMessageMoveTask"), {
      name: "InvalidAction",
      $metadata: { httpStatusCode: 400 },
    });
    sqs.on(StartMessageMoveTaskCommand).rejects(unknown);
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "1" } });
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: "m1", ReceiptHandle: "r1", Body: "{}" }] })
      .resolves({ Messages: [] });
    sqs.on(SendMessageBatchCommand).resolves({ Successful: [{ Id: "0", MessageId: "n1", MD5OfMessageBody: "" }] });
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [{ Id: "0" }] });
    const out = io();
    expect(await run(["dlq", "redrive"], out)).toBe(0);
    expect(sqs.commandCalls(SendMessageBatchCommand)[0].args[0].input.QueueUrl).toBe(OUTPUTS.queue_url);
    expect(out.lines[0]).toMatch(/^this endpoint has no message-move task/);
    expect(out.lines.at(-1)).toBe(`moved 1 messages from ${OUTPUTS.dlq_url} to ${OUTPUTS.queue_url}`);
  });

  test("a failed move task exits 1 with its reason", async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: "task-1" });
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolves({ Results: [{ Status: "FAILED", FailureReason: "AWS.SimpleQueueService.NonExistentQueue" }] });
    const out = io();
    expect(await run(["dlq", "redrive"], out)).toBe(1);
    expect(out.lines.at(-1)).toBe("the task ended FAILED: AWS.SimpleQueueService.NonExistentQueue");
  });
});

describe("delivery-dlq move (the moves against a real SQS API run in the deploy proof on moto)", () => {
  // A send that SQS rejects for one entry cannot be produced by moto on demand; this is the fault that matters.
  test("deletes only what was sent: a message whose send failed stays in the delivery DLQ, exit 1", async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: "2" } });
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          { MessageId: "m1", ReceiptHandle: "r1", Body: "{}" },
          { MessageId: "m2", ReceiptHandle: "r2", Body: "{}" },
        ],
      })
      .resolves({ Messages: [] });
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [{ Id: "0", MessageId: "n1", MD5OfMessageBody: "" }],
      Failed: [{ Id: "1", Code: "InternalError", SenderFault: false, Message: "try again" }],
    });
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [{ Id: "0" }] });
    const out = io();
    expect(await run(["delivery-dlq", "move"], out)).toBe(1);
    expect(sqs.commandCalls(SendMessageBatchCommand)[0].args[0].input.QueueUrl).toBe(OUTPUTS.queue_url);
    expect(sqs.commandCalls(DeleteMessageBatchCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: OUTPUTS.delivery_dlq_url, Entries: [{ Id: "0", ReceiptHandle: "r1" }] },
    ]);
    expect(out.lines).toEqual([
      "not moved (stays in OrderTopicDeliveryDLQ): m2 InternalError try again",
      `moved 1 messages from ${OUTPUTS.delivery_dlq_url} to ${OUTPUTS.queue_url}; 1 not moved, run the command again`,
    ]);
  });
});

describe("errors say exactly what to run", () => {
  test("missing outputs", async () => {
    await expect(runOrders(["smoke", "--outputs", path.join(work, "none.json")], io(), {})).rejects.toThrow(
      /No stack outputs at .*none\.json\. Write them with: npx cdktf output OrderSystemStack --outputs-file/,
    );
  });

  test("outputs of another stack", async () => {
    await expect(runOrders(["smoke", "--outputs", outputsFile], io(), { ORDER_ENV: "prod" })).rejects.toThrow(
      /has no outputs of OrderSystemStack-prod \(it has: OrderSystemStack\)/,
    );
  });

  test.each([
    ["an empty file", "", /outputs\.json is not JSON \(empty or cut short\?\)\. Write it again with: npx cdktf output/],
    ["a JSON array", "[]", /is not an outputs file .* Write it again with/],
    [
      "a value that is not an ARN",
      JSON.stringify({ OrderSystemStack: { ...OUTPUTS, topic_arn: "OrderTopic" } }),
      /OrderSystemStack\.topic_arn is not an SNS or SQS ARN \("OrderTopic"\)/,
    ],
  ])("outputs file with %s names the file, the key and what to run", async (_, text, message) => {
    const file = path.join(fs.mkdtempSync(path.join(work, "bad-")), "outputs.json");
    fs.writeFileSync(file, text);
    await expect(runOrders(["smoke", "--outputs", file], io(), {})).rejects.toThrow(message);
  });

  test("no credentials", async () => {
    sns
      .on(PublishCommand)
      .rejects(
        Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }),
      );
    await expect(run(["smoke"])).rejects.toThrow(/No AWS credentials found\. Sign in .* set AWS_PROFILE/);
  });

  test("unknown command, and --help", async () => {
    await expect(run(["dlq", "purge"])).rejects.toThrow(/Unknown command "dlq purge"/);
    const out = io();
    expect(await runOrders(["--help"], out, {})).toBe(0);
    expect(out.lines).toEqual([ORDERS_USAGE]);
    for (const command of [
      "publish <file|->",
      "smoke",
      "dlq list",
      "dlq redrive",
      "delivery-dlq move",
      "verify",
      "--alarm-path",
    ])
      expect(ORDERS_USAGE).toContain(command);
  });
});

describe("orders verify: edge cases and faults, mocked (every check passes and fails against moto in the deploy proof)", () => {
  const lambda = mockClient(LambdaClient);
  const iam = mockClient(IAMClient);
  const kms = mockClient(KMSClient);
  const cloudwatch = mockClient(CloudWatchClient);
  const KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  const TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders";
  const ALARM_TOPIC = "arn:aws:sns:eu-west-1:123456789012:OrderAlarms";
  const VERIFY = {
    function_name: "OrderProcessor",
    role_arn: "arn:aws:iam::123456789012:role/OrderProcessorRole",
    role_access: [{ resource: TABLE, actions: ["dynamodb:PutItem"] }],
    key_arn: KEY,
    queue_arn: "arn:aws:sqs:eu-west-1:123456789012:OrderQueue",
    redrive_principal_arns: ["arn:aws:iam::123456789012:role/order-operator"],
    subscription_arn: `${OUTPUTS.topic_arn}:sub-1`,
    raw_message_delivery: true,
    event_source_mapping_uuid: "esm-1",
    batch_size: 10,
    maximum_batching_window_in_seconds: 1,
    maximum_concurrency: 5,
    function_response_types: ["ReportBatchItemFailures"],
    alarm_names: ["OrderAlarms-dlq-not-empty", "OrderAlarms-backlog-age"],
    dashboard_name: "OrderPipeline",
    dashboard_resources: ["OrderQueue", "OrderProcessor"],
    max_receive_count: 3,
  };
  /** A dashboard body as CloudWatch returns it, drawing the given queue and function. */
  const dashboardBody = (queue: string, fn: string) =>
    JSON.stringify({
      widgets: [
        { type: "text", properties: { markdown: "## 1. Alarms" } },
        {
          type: "metric",
          properties: {
            metrics: [
              ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, { stat: "Maximum", period: 60 }],
              ["AWS/Lambda", "Errors", "FunctionName", fn, { stat: "Sum", period: 300 }],
              ["OrderSystem", "stored", "service", "order-processor", { stat: "Sum", period: 300 }],
            ],
          },
        },
      ],
    });
  const verifyOutputs = path.join(work, "verify-outputs.json");
  fs.writeFileSync(
    verifyOutputs,
    JSON.stringify({ OrderSystemStack: { ...OUTPUTS, alarm_topic_arn: ALARM_TOPIC, verify: VERIFY } }),
  );
  const verify = (extra: string[] = [], out = io()) =>
    runOrders(["verify", ...extra, "--outputs", verifyOutputs], out, {});

  /** An account where every check passes. */
  beforeEach(() => {
    for (const mock of [lambda, iam, kms, cloudwatch]) mock.reset();
    iam.on(SimulatePrincipalPolicyCommand).callsFake((input) => ({
      EvaluationResults: input.ActionNames.map((action: string) => ({
        EvalActionName: action,
        EvalDecision: action === "dynamodb:PutItem" ? "allowed" : "implicitDeny",
      })),
    }));
    // The queue's policy as deployed: only the redrive role may send (IAM's answer is played here).
    iam.on(SimulateCustomPolicyCommand).callsFake((input) => ({
      EvaluationResults: [
        {
          EvalActionName: "sqs:SendMessage",
          EvalDecision: VERIFY.redrive_principal_arns.includes(input.ContextEntries[0].ContextKeyValues[0])
            ? "allowed"
            : "explicitDeny",
        },
      ],
    }));
    lambda.on(GetEventSourceMappingCommand).resolves({
      State: "Enabled",
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 5 },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    kms
      .on(DescribeKeyCommand)
      .resolves({ KeyMetadata: { KeyId: "1234abcd-12ab-34cd-56ef-1234567890ab", KeyState: "Enabled" } });
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    sns
      .on(GetSubscriptionAttributesCommand)
      .resolves({ Attributes: { PendingConfirmation: "false", RawMessageDelivery: "true", RedrivePolicy: "{}" } });
    sns.on(PublishCommand).resolves({ MessageId: "m1" });
    dynamodb.on(GetItemCommand).resolves({ Item: { orderId: { S: "x" } } });
    sqs.on(GetQueueAttributesCommand).resolves({
      Attributes: {
        ApproximateNumberOfMessages: "0",
        ApproximateNumberOfMessagesNotVisible: "0",
        Policy: "{}",
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: OUTPUTS.dlq_arn, maxReceiveCount: 3 }),
      },
    });
    cloudwatch.on(GetDashboardCommand).resolves({ DashboardBody: dashboardBody("OrderQueue", "OrderProcessor") });
    cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: VERIFY.alarm_names.map((AlarmName) => ({
        AlarmName,
        StateValue: "OK",
        AlarmActions: [ALARM_TOPIC],
      })),
    });
  });

  test("one line per check; the alarm path is skipped unless asked for, and the run passes", async () => {
    const out = io();
    expect(await verify([], out)).toBe(0);
    expect(out.lines.map((line) => line.slice(0, line.indexOf(":")))).toEqual([
      "PASS  role",
      "PASS  event source mapping",
      "PASS  key",
      "PASS  subscription",
      "PASS  queue policy",
      "PASS  dashboard",
      "PASS  redrive policy",
      "PASS  smoke",
      "PASS  dead-letter queues",
      "SKIP  alarm path",
      "SKIP  console policies",
      "verify OrderSystemStack",
    ]);
    expect(out.lines.at(-1)).toBe("verify OrderSystemStack: 9 passed, 0 failed, 0 warnings, 2 skipped");
    // The simulation asks for what the role needs and for what it must not do, on the same resource.
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand)[0].args[0].input).toEqual({
      PolicySourceArn: VERIFY.role_arn,
      ActionNames: ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
      ResourceArns: [TABLE],
      Marker: undefined,
    });
    expect(cloudwatch.commandCalls(SetAlarmStateCommand)).toHaveLength(0);
  });

  test("a call the credentials may not make fails that check with the reason; the other checks still run", async () => {
    iam
      .on(SimulatePrincipalPolicyCommand)
      .rejects(
        Object.assign(
          new Error(
            "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: iam:SimulatePrincipalPolicy",
          ),
          { name: "AccessDenied" },
        ),
      );
    const out = io();
    expect(await verify([], out)).toBe(1);
    expect(out.lines[0]).toBe(
      "FAIL  role: AccessDenied: User: arn:aws:iam::123456789012:user/ops is not authorized to perform: iam:SimulatePrincipalPolicy. Do: your credentials lack a read permission verify needs (docs/operations.md lists them under The orders CLI)",
    );
    expect(out.lines.at(-1)).toBe("verify OrderSystemStack: 8 passed, 1 failed, 0 warnings, 2 skipped");
  });

  test("redrive policy: a maxReceiveCount other than the synthesized one fails, as does a missing policy", async () => {
    const line = async (attributes: Record<string, string>) => {
      sqs.on(GetQueueAttributesCommand, { QueueUrl: OUTPUTS.queue_url }).resolves({ Attributes: attributes });
      const out = io();
      expect(await verify([], out)).toBe(1);
      return out.lines.find((l) => l.includes("redrive policy:"));
    };
    const fix =
      "npx cdktf diff OrderSystemStack shows the drift; npx cdktf deploy OrderSystemStack restores the stack's settings";
    expect(
      await line({
        Policy: "{}",
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: OUTPUTS.dlq_arn, maxReceiveCount: 10 }),
      }),
    ).toBe(`FAIL  redrive policy: maxReceiveCount is 10, configured 3. Do: ${fix}`);
    expect(await line({ Policy: "{}" })).toBe(
      `FAIL  redrive policy: OrderQueue has no redrive policy: a failing order is retried until its retention ends and is then lost, never dead-lettered. Do: ${fix}`,
    );
  });

  test("a key pending deletion says how to cancel it", async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: "k-1", KeyState: "PendingDeletion" } });
    const out = io();
    expect(await verify([], out)).toBe(1);
    expect(out.lines[2]).toBe(
      "FAIL  key: the key is PendingDeletion: SNS cannot deliver orders and the function cannot read them. Do: aws kms cancel-key-deletion --key-id k-1 && aws kms enable-key --key-id k-1",
    );
  });

  test("queue policy: IAM's simulation with the deployed policy refuses an outsider and admits each redrive role", async () => {
    const policy = '{"Version":"2012-10-17","Statement":[]}';
    sqs.on(GetQueueAttributesCommand, { QueueUrl: OUTPUTS.queue_url, AttributeNames: ["Policy"] }).resolves({
      Attributes: { Policy: policy },
    });
    const out = io();
    await verify([], out);
    expect(out.lines[4]).toBe(
      "PASS  queue policy: sqs:SendMessage is refused to the DLQs and, to a principal outside the redrive list, to OrderQueue (explicit deny) and allowed to the 1 redrive role",
    );
    const calls = iam.commandCalls(SimulateCustomPolicyCommand).map((call) => call.args[0].input);
    // The DLQ first (these outputs predate delivery_dlq_arn), then OrderQueue.
    expect(calls.map((input) => [input.ResourceArns, input.ContextEntries![0].ContextKeyValues])).toEqual([
      [[OUTPUTS.dlq_arn], ["arn:aws:iam::123456789012:role/order-verify-not-a-redriver"]],
      [[VERIFY.queue_arn], ["arn:aws:iam::123456789012:role/order-verify-not-a-redriver"]],
      [[VERIFY.queue_arn], VERIFY.redrive_principal_arns],
    ]);
    expect(calls[1]).toMatchObject({
      ActionNames: ["sqs:SendMessage"],
      ResourceArns: [VERIFY.queue_arn],
      ResourcePolicy: policy,
    });
  });

  test("queue policy: a policy that lets anyone of the account send, and a refused redrive role, fail", async () => {
    // The opposite of the deployed policy: everyone but the redrive role may send.
    iam.on(SimulateCustomPolicyCommand).callsFake((input) => ({
      EvaluationResults: [
        {
          EvalActionName: "sqs:SendMessage",
          EvalDecision: VERIFY.redrive_principal_arns.includes(input.ContextEntries[0].ContextKeyValues[0])
            ? "explicitDeny"
            : "allowed",
        },
      ],
    }));
    const out = io();
    expect(await verify([], out)).toBe(1);
    expect(out.lines[4]).toBe(
      "FAIL  queue policy: a principal of the account gets allowed sending to DLQ: whatever it puts there, a redrive moves into OrderQueue; a principal of the account outside the redrive list gets allowed: anyone with sqs:SendMessage in IAM can put orders into OrderQueue directly; redrive role arn:aws:iam::123456789012:role/order-operator gets explicitDeny: it cannot redrive. Do: npx cdktf diff OrderSystemStack shows the drift; npx cdktf deploy OrderSystemStack restores the stack's settings",
    );
  });

  test("dashboard: drawing this stack's resources passes; a missing one, or another stack's, fails", async () => {
    const line = async () => {
      const out = io();
      await verify([], out);
      return out.lines[5];
    };
    expect(await line()).toBe("PASS  dashboard: OrderPipeline draws 3 metrics, of exactly this stack's 2 resources");
    cloudwatch
      .on(GetDashboardCommand)
      .resolves({ DashboardBody: dashboardBody("OrderQueue-staging", "OrderProcessor") });
    expect(await line()).toBe(
      "FAIL  dashboard: OrderPipeline: it draws resources that are not this stack's: OrderQueue-staging; it draws nothing of OrderQueue. Do: npx cdktf deploy OrderSystemStack restores it",
    );
    cloudwatch
      .on(GetDashboardCommand)
      .rejects(Object.assign(new Error("Dashboard does not exist"), { name: "ResourceNotFound" }));
    expect(await line()).toBe(
      "FAIL  dashboard: the dashboard OrderPipeline does not exist. Do: npx cdktf deploy OrderSystemStack creates it",
    );
  });

  test("--alarm-path sets the alarm back even when reading its history fails", async () => {
    cloudwatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: "OrderAlarms-dlq-not-empty", StateValue: "ALARM", AlarmActions: [ALARM_TOPIC] },
        { AlarmName: "OrderAlarms-backlog-age", StateValue: "INSUFFICIENT_DATA", AlarmActions: [ALARM_TOPIC] },
      ],
    });
    cloudwatch
      .on(DescribeAlarmHistoryCommand)
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "Throttling" }));
    const out = io();
    expect(await verify(["--alarm-path"], out)).toBe(1);
    // The alarm already in ALARM is left alone; the other one goes to ALARM and back to where it was.
    expect(
      cloudwatch
        .commandCalls(SetAlarmStateCommand)
        .map((call) => [call.args[0].input.AlarmName, call.args[0].input.StateValue]),
    ).toEqual([
      ["OrderAlarms-backlog-age", "ALARM"],
      ["OrderAlarms-backlog-age", "INSUFFICIENT_DATA"],
    ]);
    expect(out.lines[9]).toBe(
      "FAIL  alarm path: Throttling: Rate exceeded. Do: run verify again; if it persists, look at the resource in the AWS console",
    );
  });

  test("outputs of a stack deployed before verify existed", async () => {
    await expect(run(["verify"])).rejects.toThrow(
      /lack verify or delivery_dlq_url; deploy the current stack, then: npx cdktf output OrderSystemStack --outputs-file outputs.json/,
    );
  });
});
