/**
 * `npm run orders -- verify`: asks AWS what only AWS can answer about a deployed pipeline and prints
 * one line per check (PASS, FAIL with what to do, WARN, SKIP); exit code 1 when any check fails. What
 * the resources must look like comes from the stack's `verify` output, never from this file.
 */
import {
  CloudWatchClient,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  MetricAlarm,
  SetAlarmStateCommand,
} from "@aws-sdk/client-cloudwatch";
import { DeleteItemCommand, DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { IAMClient, SimulateCustomPolicyCommand, SimulatePrincipalPolicyCommand } from "@aws-sdk/client-iam";
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from "@aws-sdk/client-kms";
import { GetEventSourceMappingCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetSubscriptionAttributesCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { randomBytes } from "node:crypto";
import {
  endpointOf,
  friendly,
  OperatorError,
  OrdersIO,
  regionOf,
  sqsClientFor,
  StackOutputs,
  unsupportedOperation,
  VerifyExpectations,
  lastSegment,
} from "./io";

/** One client per service the operator commands call, all in the stack's region. */
export interface AwsClients {
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly lambda: LambdaClient;
  readonly iam: IAMClient;
  readonly kms: KMSClient;
  readonly cloudwatch: CloudWatchClient;
}

export function awsClients(outputs: StackOutputs): AwsClients {
  const config = { region: regionOf(outputs.topic_arn), ...endpointOf(outputs) };
  return {
    sns: new SNSClient(config),
    sqs: sqsClientFor(outputs),
    dynamodb: new DynamoDBClient(config),
    lambda: new LambdaClient(config),
    iam: new IAMClient(config),
    kms: new KMSClient(config),
    cloudwatch: new CloudWatchClient(config),
  };
}

export type SmokeResult =
  | { readonly orderId: string; readonly stored: true; readonly seconds: number }
  | { readonly orderId: string; readonly stored: false; readonly depths: string };

async function queueDepths(sqs: SQSClient, outputs: StackOutputs): Promise<string> {
  const attributes = async (url: string) =>
    (
      await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      )
    ).Attributes ?? {};
  const [queue, dlq] = await Promise.all([attributes(outputs.queue_url), attributes(outputs.dlq_url)]);
  return `queue: ${queue.ApproximateNumberOfMessages ?? "?"} waiting, ${queue.ApproximateNumberOfMessagesNotVisible ?? "?"} in flight; DLQ: ${dlq.ApproximateNumberOfMessages ?? "?"} messages`;
}

/** Publishes a unique test order to the topic and waits until the function has stored it; deletes it unless `keep`. */
export async function smokeOrder(
  clients: AwsClients,
  outputs: StackOutputs,
  options: { timeoutSeconds: number; keep: boolean },
  io: OrdersIO,
): Promise<SmokeResult> {
  const started = io.now();
  const orderId = `SMOKE-${new Date(started).toISOString().replace(/\D/g, "").slice(0, 14)}-${randomBytes(3).toString("hex")}`;
  const order = {
    orderId,
    userId: "SMOKE",
    itemName: "Smoke test",
    quantity: 1,
    status: "new",
    timestamp: new Date(started).toISOString(),
  };
  await clients.sns
    .send(new PublishCommand({ TopicArn: outputs.topic_arn, Message: JSON.stringify(order) }))
    .catch(friendly);
  const key = { orderId: { S: orderId } };
  while (io.now() - started < options.timeoutSeconds * 1000) {
    const found = await clients.dynamodb
      .send(new GetItemCommand({ TableName: outputs.table_name, Key: key, ConsistentRead: true }))
      .catch(friendly);
    if (found.Item) {
      const seconds = (io.now() - started) / 1000;
      if (!options.keep)
        await clients.dynamodb.send(new DeleteItemCommand({ TableName: outputs.table_name, Key: key }));
      return { orderId, stored: true, seconds };
    }
    await io.sleep(2000);
  }
  return { orderId, stored: false, depths: await queueDepths(clients.sqs, outputs) };
}

type Status = "PASS" | "FAIL" | "WARN" | "SKIP";

interface Finding {
  readonly status: Status;
  readonly detail: string;
  /** What to do about a FAIL or WARN. */
  readonly fix?: string;
}

export interface VerifyOptions {
  /** The stack the outputs belong to, for the commands a failure suggests. */
  readonly stack: string;
  /** How long the smoke order may take. */
  readonly timeoutSeconds: number;
  /** Set one alarm to ALARM and back, which notifies operators: only when asked for. */
  readonly alarmPath: boolean;
}

interface CheckContext {
  readonly clients: AwsClients;
  readonly outputs: StackOutputs;
  readonly expected: VerifyExpectations;
  readonly options: VerifyOptions;
  readonly io: OrdersIO;
}

const pass = (detail: string): Finding => ({ status: "PASS", detail });
const fail = (detail: string, fix: string): Finding => ({ status: "FAIL", detail, fix });
const redeploy = (stack: string) =>
  `npx cdktf diff ${stack} shows the drift; npx cdktf deploy ${stack} restores the stack's settings`;

/** Actions the function's role must not have, per service: deleting or reading what is not its job. */
const MUST_BE_DENIED: Record<string, string[]> = {
  logs: ["logs:DeleteLogGroup"],
  dynamodb: ["dynamodb:DeleteItem", "dynamodb:Scan"],
  sqs: ["sqs:SendMessage", "sqs:PurgeQueue"],
  kms: ["kms:Encrypt", "kms:ScheduleKeyDeletion"],
};

async function simulate(
  iam: IAMClient,
  roleArn: string,
  actions: string[],
  resource: string,
): Promise<Map<string, string>> {
  const decisions = new Map<string, string>();
  let marker: string | undefined;
  do {
    const page = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: roleArn,
        ActionNames: actions,
        ResourceArns: [resource],
        Marker: marker,
      }),
    );
    for (const result of page.EvaluationResults ?? []) decisions.set(result.EvalActionName!, result.EvalDecision!);
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return decisions;
}

/** IAM policy simulation of the role's identity policies: each needed action allowed, each forbidden one not. */
async function checkRole({ clients, expected, options }: CheckContext): Promise<Finding> {
  const role = lastSegment(expected.role_arn);
  const missing: string[] = [];
  const excess: string[] = [];
  let denied = 0;
  for (const grant of expected.role_access) {
    const forbidden = MUST_BE_DENIED[grant.actions[0].split(":")[0]] ?? [];
    const decisions = await simulate(clients.iam, expected.role_arn, [...grant.actions, ...forbidden], grant.resource);
    missing.push(
      ...grant.actions
        .filter((action) => decisions.get(action) !== "allowed")
        .map((action) => `${action} on ${grant.resource}`),
    );
    excess.push(
      ...forbidden
        .filter((action) => decisions.get(action) === "allowed")
        .map((action) => `${action} on ${grant.resource}`),
    );
    denied += forbidden.filter((action) => decisions.get(action) !== "allowed").length;
  }
  const needed = expected.role_access.reduce((n, grant) => n + grant.actions.length, 0);
  if (missing.length === 0 && excess.length === 0)
    return pass(
      `${role} may do the ${needed} actions the function needs and none of the ${denied} it must not (e.g. dynamodb:DeleteItem)`,
    );
  const problems = [
    missing.length ? `it cannot ${missing.join(", ")}` : "",
    excess.length ? `it can ${excess.join(", ")}, which it must not` : "",
  ];
  return fail(
    `${role}: ${problems.filter(Boolean).join("; ")}`,
    `npx cdktf deploy ${options.stack} restores its policy; remove any other policy that grants more (aws iam list-attached-role-policies --role-name ${role}, aws iam list-role-policies --role-name ${role})`,
  );
}

async function checkMapping({ clients, expected, options }: CheckContext): Promise<Finding> {
  const mapping = await clients.lambda.send(
    new GetEventSourceMappingCommand({ UUID: expected.event_source_mapping_uuid }),
  );
  const drift: string[] = [];
  if (mapping.State !== "Enabled")
    drift.push(`it is ${mapping.State ?? "in no state"}, not Enabled: OrderQueue is not being read`);
  const compare = (what: string, actual: number | undefined, configured: number) => {
    if (actual !== configured) drift.push(`${what} is ${actual ?? "unset"}, configured ${configured}`);
  };
  compare("batch size", mapping.BatchSize, expected.batch_size);
  compare("batching window", mapping.MaximumBatchingWindowInSeconds ?? 0, expected.maximum_batching_window_in_seconds);
  compare("maximum concurrency", mapping.ScalingConfig?.MaximumConcurrency, expected.maximum_concurrency);
  for (const type of expected.function_response_types) {
    if (!(mapping.FunctionResponseTypes ?? []).some((actual) => actual === type))
      drift.push(`${type} is off: one bad order would fail and retry its whole batch`);
  }
  if (drift.length > 0) return fail(drift.join("; "), redeploy(options.stack));
  return pass(
    `enabled, batch size ${mapping.BatchSize}, window ${mapping.MaximumBatchingWindowInSeconds ?? 0} s, maximum concurrency ${mapping.ScalingConfig?.MaximumConcurrency}, ${expected.function_response_types.join(", ")}`,
  );
}

async function checkKey({ clients, expected, options }: CheckContext): Promise<Finding> {
  const { KeyMetadata: key } = await clients.kms.send(new DescribeKeyCommand({ KeyId: expected.key_arn }));
  const { KeyRotationEnabled: rotating } = await clients.kms.send(
    new GetKeyRotationStatusCommand({ KeyId: expected.key_arn }),
  );
  const id = key?.KeyId ?? expected.key_arn;
  const problems: string[] = [];
  const fixes: string[] = [];
  if (key?.KeyState !== "Enabled") {
    problems.push(
      `the key is ${key?.KeyState ?? "missing"}: SNS cannot deliver orders and the function cannot read them`,
    );
    fixes.push(
      key?.KeyState === "PendingDeletion"
        ? `aws kms cancel-key-deletion --key-id ${id} && aws kms enable-key --key-id ${id}`
        : `aws kms enable-key --key-id ${id}`,
    );
  }
  if (!rotating) {
    problems.push("automatic rotation is off");
    fixes.push(`aws kms enable-key-rotation --key-id ${id} (or npx cdktf deploy ${options.stack})`);
  }
  if (problems.length > 0) return fail(problems.join("; "), fixes.join("; "));
  return pass(`${id} is enabled and rotates automatically`);
}

async function checkSubscription({ clients, expected, options }: CheckContext): Promise<Finding> {
  const { Attributes: attributes = {} } = await clients.sns.send(
    new GetSubscriptionAttributesCommand({ SubscriptionArn: expected.subscription_arn }),
  );
  const problems: string[] = [];
  if (String(attributes.PendingConfirmation).toLowerCase() !== "false")
    problems.push("it is not confirmed: SNS delivers nothing to OrderQueue");
  const raw = String(attributes.RawMessageDelivery).toLowerCase() === "true";
  if (raw !== expected.raw_message_delivery)
    problems.push(
      `raw message delivery is ${raw ? "on" : "off"}, configured ${expected.raw_message_delivery ? "on" : "off"}`,
    );
  if (!attributes.RedrivePolicy)
    problems.push("it has no redrive policy: what SNS cannot deliver is dropped, not kept in the delivery DLQ");
  if (problems.length > 0) return fail(problems.join("; "), redeploy(options.stack));
  return pass(`confirmed, raw message delivery ${raw ? "on" : "off"}, undeliverable orders kept in the delivery DLQ`);
}

/** OrderQueue dead-letters to the DLQ after as many receives as configured: the retry count is what the stack says. */
async function checkRedrivePolicy({ clients, outputs, expected, options }: CheckContext): Promise<Finding> {
  const { Attributes: attributes = {} } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: outputs.queue_url, AttributeNames: ["RedrivePolicy"] }),
  );
  const dlq = lastSegment(outputs.dlq_arn);
  if (!attributes.RedrivePolicy)
    return fail(
      "OrderQueue has no redrive policy: a failing order is retried until its retention ends and is then lost, never dead-lettered",
      redeploy(options.stack),
    );
  const policy = JSON.parse(attributes.RedrivePolicy) as { deadLetterTargetArn?: string; maxReceiveCount?: unknown };
  const problems: string[] = [];
  if (policy.deadLetterTargetArn !== outputs.dlq_arn)
    problems.push(`it dead-letters to ${policy.deadLetterTargetArn ?? "nothing"}, not ${dlq}`);
  if (Number(policy.maxReceiveCount) !== expected.max_receive_count)
    problems.push(`maxReceiveCount is ${policy.maxReceiveCount}, configured ${expected.max_receive_count}`);
  if (problems.length > 0) return fail(problems.join("; "), redeploy(options.stack));
  return pass(`OrderQueue moves an order to ${dlq} after ${expected.max_receive_count} failed receives`);
}

/**
 * What IAM policy simulation decides for `sqs:SendMessage` to a queue by `principalArn`, under the
 * queue's policy; the simulator takes an IAM user of the queue's account as the caller.
 */
async function simulateSend(iam: IAMClient, queueArn: string, queuePolicy: string | undefined, principalArn: string) {
  const [, partition, , , account] = queueArn.split(":");
  const { EvaluationResults = [] } = await iam.send(
    new SimulateCustomPolicyCommand({
      // The caller's own policy allows the send, so only the queue's policy can refuse it.
      PolicyInputList: [
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "sqs:SendMessage", Resource: queueArn }],
        }),
      ],
      ActionNames: ["sqs:SendMessage"],
      ResourceArns: [queueArn],
      ResourcePolicy: queuePolicy,
      // The principal judged is in aws:PrincipalArn.
      CallerArn: `arn:${partition}:iam::${account}:user/order-verify-simulated-caller`,
      ContextEntries: [
        { ContextKeyName: "aws:PrincipalArn", ContextKeyValues: [principalArn], ContextKeyType: "string" },
        { ContextKeyName: "aws:SecureTransport", ContextKeyValues: ["true"], ContextKeyType: "boolean" },
      ],
    }),
  );
  return EvaluationResults[0]?.EvalDecision ?? "no decision";
}

/**
 * The DLQs' policies refuse sqs:SendMessage to a principal of the account: a message put there would reach
 * OrderQueue with the next redrive, around OrderQueue's own policy. (The delivery DLQ's ARN is missing from
 * the outputs of older stacks: then only the DLQ is checked.)
 */
async function deadLetterQueueProblems(
  clients: AwsClients,
  outputs: StackOutputs,
  outsider: string,
): Promise<string[]> {
  const queues: [string | undefined, string | undefined][] = [
    [outputs.dlq_arn, outputs.dlq_url],
    [outputs.delivery_dlq_arn, outputs.delivery_dlq_url],
  ];
  const problems: string[] = [];
  for (const [arn, url] of queues) {
    if (!arn || !url) continue;
    const what = arn.split(":")[5];
    const { Attributes: attributes = {} } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["Policy"] }),
    );
    const decision = attributes.Policy
      ? await simulateSend(clients.iam, arn, attributes.Policy, outsider)
      : "allowed (no queue policy)";
    if (decision !== "explicitDeny")
      problems.push(
        `a principal of the account gets ${decision} sending to ${what}: whatever it puts there, a redrive moves into OrderQueue`,
      );
  }
  return problems;
}

/**
 * OrderQueue's policy refuses sqs:SendMessage to a principal of the account outside the redrive list,
 * whatever its IAM policy allows, and lets each listed role send.
 */
async function checkQueuePolicy({ clients, outputs, expected, options }: CheckContext): Promise<Finding> {
  const { Attributes: attributes = {} } = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: outputs.queue_url, AttributeNames: ["Policy"] }),
  );
  const [, partition, , , account] = expected.queue_arn!.split(":");
  const outsider = `arn:${partition}:iam::${account}:role/order-verify-not-a-redriver`;
  const send = (principal: string) => simulateSend(clients.iam, expected.queue_arn!, attributes.Policy, principal);
  const problems: string[] = await deadLetterQueueProblems(clients, outputs, outsider);
  // Simulated before a missing policy fails: where the endpoint offers no IAM simulation, the check is skipped.
  const outsiderDecision = await send(outsider);
  if (!attributes.Policy) return fail("OrderQueue has no policy: SNS cannot deliver to it", redeploy(options.stack));
  if (outsiderDecision !== "explicitDeny")
    problems.push(
      `a principal of the account outside the redrive list gets ${outsiderDecision}: anyone with sqs:SendMessage in IAM can put orders into OrderQueue directly`,
    );
  for (const role of expected.redrive_principal_arns!) {
    const decision = await send(role);
    if (decision !== "allowed") problems.push(`redrive role ${role} gets ${decision}: it cannot redrive`);
  }
  if (problems.length > 0) return fail(problems.join("; "), redeploy(options.stack));
  const listed = expected.redrive_principal_arns!.length;
  const refused =
    "sqs:SendMessage is refused to the DLQs and, to a principal outside the redrive list, to OrderQueue (explicit deny)";
  if (listed === 0)
    return {
      status: "WARN",
      detail: `${refused}, and no redrive role is configured: dlq redrive and delivery-dlq move will be refused too`,
      fix: `set ORDER_REDRIVE_PRINCIPALS to the operators' role ARNs, then npx cdktf deploy ${options.stack}`,
    };
  return pass(`${refused} and allowed to the ${listed} redrive role${listed === 1 ? "" : "s"}`);
}

type Grants = { readonly sid?: string; readonly resource: string; readonly actions: string[] }[];

/** What IAM policy simulation decides for each of `grants`' actions under one identity policy alone. */
async function simulateDocument(iam: IAMClient, document: string, grants: Grants): Promise<string[]> {
  const allowed: string[] = [];
  for (const grant of grants) {
    const { EvaluationResults = [] } = await iam.send(
      new SimulateCustomPolicyCommand({
        PolicyInputList: [document],
        ActionNames: grant.actions,
        ResourceArns: [grant.resource],
      }),
    );
    for (const result of EvaluationResults)
      if (result.EvalDecision === "allowed") allowed.push(`${result.EvalActionName} on ${grant.resource}`);
  }
  return allowed;
}

/**
 * The operators' console policies (the output `operator_console_policies`), simulated: `read` allows each
 * call of the console's views and none of its changes; `changes` allows each change.
 */
async function checkConsolePolicies({ clients, outputs, expected, options }: CheckContext): Promise<Finding> {
  const documents = outputs.operator_console_policies;
  const access = expected.console_access!;
  if (!documents)
    return fail("the outputs lack operator_console_policies", `npx cdktf output ${options.stack} --outputs-file ...`);
  const count = (grants: Grants) => grants.reduce((n, g) => n + g.actions.length, 0);
  // The changes' own actions: those `read` does not grant on the same resource (both receive from the DLQ).
  const readOn = (resource: string) =>
    new Set(access.read.filter((g) => g.resource === resource).flatMap((g) => g.actions));
  const onlyChanges = access.changes
    .map((g) => ({ ...g, actions: g.actions.filter((a) => !readOn(g.resource).has(a)) }))
    .filter((g) => g.actions.length > 0);
  const readAllows = await simulateDocument(clients.iam, documents.read, access.read);
  const readChanges = await simulateDocument(clients.iam, documents.read, onlyChanges);
  const changesAllow = await simulateDocument(clients.iam, documents.changes, access.changes);
  const problems = [
    count(access.read) - readAllows.length ? `read allows ${readAllows.length} of its ${count(access.read)} calls` : "",
    readChanges.length ? `read allows changes: ${readChanges.join(", ")}` : "",
    count(access.changes) - changesAllow.length
      ? `changes allows ${changesAllow.length} of its ${count(access.changes)}`
      : "",
  ].filter(Boolean);
  if (problems.length === 0)
    return pass(
      `read allows the ${count(access.read)} calls of the console's views and none of the ${count(onlyChanges)} changes of --allow-changes; changes allows its ${count(access.changes)}`,
    );
  return fail(
    problems.join("; "),
    `npx cdktf deploy ${options.stack}, then attach the output operator_console_policies again (docs/operations.md, "The console")`,
  );
}

/** Dimensions that name no resource: the handler's EMF `service` and DynamoDB's `Operation`. */
const NOT_A_RESOURCE = new Set(["service", "Operation"]);

/** The dashboard exists and its metrics name exactly this stack's resources. */
async function checkDashboard({ clients, expected, options }: CheckContext): Promise<Finding> {
  const name = expected.dashboard_name!;
  let body: string | undefined;
  try {
    body = (await clients.cloudwatch.send(new GetDashboardCommand({ DashboardName: name }))).DashboardBody;
  } catch (error) {
    if (!/ResourceNotFound|DashboardNotFound/.test((error as Error).name)) throw error;
  }
  if (!body) return fail(`the dashboard ${name} does not exist`, `npx cdktf deploy ${options.stack} creates it`);
  const named = new Set<string>();
  let metrics = 0;
  for (const widget of JSON.parse(body).widgets ?? []) {
    for (const line of widget.properties?.metrics ?? []) {
      metrics += 1;
      const parts = line.filter((part: unknown) => typeof part === "string");
      for (let i = 2; i + 1 < parts.length; i += 2) if (!NOT_A_RESOURCE.has(parts[i])) named.add(parts[i + 1]);
    }
  }
  const foreign = [...named].filter((resource) => !expected.dashboard_resources!.includes(resource));
  const missing = expected.dashboard_resources!.filter((resource) => !named.has(resource));
  if (foreign.length > 0 || missing.length > 0) {
    const problems = [
      foreign.length ? `it draws resources that are not this stack's: ${foreign.join(", ")}` : "",
      missing.length ? `it draws nothing of ${missing.join(", ")}` : "",
    ];
    return fail(`${name}: ${problems.filter(Boolean).join("; ")}`, `npx cdktf deploy ${options.stack} restores it`);
  }
  return pass(`${name} draws ${metrics} metrics, of exactly this stack's ${named.size} resources`);
}

async function checkSmoke({ clients, outputs, options, io }: CheckContext): Promise<Finding> {
  const smoke = await smokeOrder(clients, outputs, { timeoutSeconds: options.timeoutSeconds, keep: false }, io);
  if (smoke.stored)
    return pass(
      `order ${smoke.orderId} went from the topic to ${outputs.table_name} in ${smoke.seconds.toFixed(1)} s, then was deleted`,
    );
  return fail(
    `order ${smoke.orderId} was not stored within ${options.timeoutSeconds} s (${smoke.depths})`,
    `read the function's log (aws logs tail /aws/lambda/${outputs.verify?.function_name} --since 15m) and the checks above; if the order arrives later, delete it: aws dynamodb delete-item --table-name ${outputs.table_name} --key '{"orderId":{"S":"${smoke.orderId}"}}'`,
  );
}

async function checkDeadLetters({ clients, outputs }: CheckContext): Promise<Finding> {
  const queues = [
    {
      url: outputs.dlq_url,
      advice: "see them with npm run orders -- dlq list; once their cause is fixed, npm run orders -- dlq redrive",
    },
    {
      url: outputs.delivery_dlq_url!,
      advice: "once SNS can deliver to OrderQueue again, npm run orders -- delivery-dlq move",
    },
  ];
  const warnings: string[] = [];
  const fixes: string[] = [];
  for (const queue of queues) {
    const { Attributes: a = {} } = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    const count = Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
    if (count === 0) continue;
    warnings.push(`${lastSegment(queue.url)} holds ${count} message${count === 1 ? "" : "s"}`);
    fixes.push(queue.advice);
  }
  if (warnings.length === 0) return pass(`${queues.map((queue) => lastSegment(queue.url)).join(" and ")} are empty`);
  return { status: "WARN", detail: warnings.join("; "), fix: fixes.join("; ") };
}

const ALARM_ACTION_TIMEOUT_MS = 60_000;

/** The alarm's SNS action as the alarm history reports it, or undefined if none appeared in time. */
async function awaitAlarmAction(
  cloudwatch: CloudWatchClient,
  alarmName: string,
  topicArn: string,
  since: Date,
  io: OrdersIO,
): Promise<string | undefined> {
  const deadline = io.now() + ALARM_ACTION_TIMEOUT_MS;
  while (io.now() < deadline) {
    const { AlarmHistoryItems = [] } = await cloudwatch.send(
      new DescribeAlarmHistoryCommand({
        AlarmName: alarmName,
        HistoryItemType: "Action",
        StartDate: since,
        ScanBy: "TimestampDescending",
      }),
    );
    const action = AlarmHistoryItems.find((item) => item.HistorySummary?.includes(topicArn));
    if (action) return action.HistorySummary;
    await io.sleep(2000);
  }
  return undefined;
}

/**
 * Sets one alarm that is not in ALARM to ALARM, reads the alarm history until its SNS action shows
 * ("Successfully executed action <topic>" or "Failed to execute action <topic>. Received error: ...",
 * https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger), and always sets it back.
 */
async function checkAlarmPath({ clients, outputs, expected, options, io }: CheckContext): Promise<Finding> {
  if (!options.alarmPath)
    return {
      status: "SKIP",
      detail:
        "not run, because it notifies operators; add --alarm-path to set one alarm to ALARM, see its notification sent, and set it back",
    };
  const topic = outputs.alarm_topic_arn!;
  const { MetricAlarms = [] } = await clients.cloudwatch.send(
    new DescribeAlarmsCommand({ AlarmNames: expected.alarm_names }),
  );
  // The first in the stack's order that is not in ALARM and notifies the alarm topic.
  const alarm = expected.alarm_names
    .map((name) => MetricAlarms.find((a) => a.AlarmName === name))
    .find(
      (a): a is MetricAlarm => a !== undefined && a.StateValue !== "ALARM" && (a.AlarmActions ?? []).includes(topic),
    );
  if (!alarm)
    return fail(
      `no alarm of the stack is out of ALARM with ${topic} as its action`,
      "deal with the alarms in ALARM first (aws cloudwatch describe-alarms --state-value ALARM), then run verify --alarm-path again",
    );
  const name = alarm.AlarmName!;
  const since = new Date(io.now() - 1000);
  await clients.cloudwatch.send(
    new SetAlarmStateCommand({
      AlarmName: name,
      StateValue: "ALARM",
      StateReason: `npm run orders -- verify --alarm-path: testing that this alarm notifies operators; not an incident`,
    }),
  );
  let summary: string | undefined;
  try {
    summary = await awaitAlarmAction(clients.cloudwatch, name, topic, since, io);
  } finally {
    await clients.cloudwatch.send(
      new SetAlarmStateCommand({
        AlarmName: name,
        StateValue: alarm.StateValue!,
        StateReason: "npm run orders -- verify --alarm-path: set back after the test",
      }),
    );
  }
  const setBack = `set back to ${alarm.StateValue}`;
  if (summary?.startsWith("Successfully executed action"))
    return pass(`${name} went to ALARM and CloudWatch published to ${lastSegment(topic)}; ${setBack}`);
  const fix = `the alarm topic's policy or the key policy does not let CloudWatch publish: npx cdktf deploy ${options.stack} restores both`;
  if (summary) return fail(`${name}: ${summary}; ${setBack}`, fix);
  return fail(
    `${name} went to ALARM but its history shows no action within ${ALARM_ACTION_TIMEOUT_MS / 1000} s; ${setBack}`,
    `look at the alarm's history in the CloudWatch console; ${fix}`,
  );
}

type Needed = keyof VerifyExpectations | "alarm_topic_arn";

/**
 * In the order they run: settings first (seconds), then the smoke order (up to --timeout), then the alarm
 * path. `needs`: the outputs a check reads; outputs without them (a stack older than the check, or written
 * where what they name is not emulated, as `npm start -- --serve` writes them) skip it. Whoever the endpoint
 * is, a check whose call it answers as unsupported is skipped with its answer (`unsupported`).
 */
const CHECKS: {
  readonly name: string;
  readonly run: (context: CheckContext) => Promise<Finding>;
  readonly needs: Needed[];
}[] = [
  { name: "role", run: checkRole, needs: ["role_arn", "role_access"] },
  { name: "event source mapping", run: checkMapping, needs: ["event_source_mapping_uuid"] },
  { name: "key", run: checkKey, needs: ["key_arn"] },
  { name: "subscription", run: checkSubscription, needs: ["subscription_arn"] },
  { name: "queue policy", run: checkQueuePolicy, needs: ["queue_arn", "redrive_principal_arns"] },
  { name: "dashboard", run: checkDashboard, needs: ["dashboard_name", "dashboard_resources"] },
  { name: "redrive policy", run: checkRedrivePolicy, needs: ["max_receive_count"] },
  { name: "smoke", run: checkSmoke, needs: [] },
  { name: "dead-letter queues", run: checkDeadLetters, needs: [] },
  { name: "alarm path", run: checkAlarmPath, needs: ["alarm_names", "alarm_topic_arn"] },
  { name: "console policies", run: checkConsolePolicies, needs: ["console_access"] },
];

/** The outputs a check needs and these lack. */
function lacking(outputs: StackOutputs, needs: Needed[]): Needed[] {
  return needs.filter(
    (key) => (key === "alarm_topic_arn" ? outputs.alarm_topic_arn : outputs.verify?.[key]) === undefined,
  );
}

/** Runs one check: SKIP when the outputs lack what it reads or the endpoint does not offer a call it makes. */
async function runCheck(check: (typeof CHECKS)[number], context: CheckContext): Promise<Finding> {
  const missing = lacking(context.outputs, check.needs);
  if (missing.length > 0)
    return {
      status: "SKIP",
      detail: `the outputs lack ${missing.join(", ")}: their stack predates this check, or what it checks is not emulated where they were written`,
    };
  return check.run(context).catch((error) => {
    const unsupported = unsupportedOperation(error);
    return unsupported
      ? { status: "SKIP", detail: `the endpoint does not offer it (${unsupported})` }
      : failedCall(error);
  });
}

/** A call AWS refused or failed becomes the check's FAIL; missing or expired credentials stop the run. */
function failedCall(error: unknown): Finding {
  try {
    friendly(error);
  } catch (rethrown) {
    if (rethrown instanceof OperatorError) throw rethrown;
  }
  const name = (error as { name?: string })?.name ?? "Error";
  const message = error instanceof Error ? error.message : String(error);
  const denied = /AccessDenied|UnauthorizedOperation|not authorized/i.test(`${name} ${message}`);
  return fail(
    `${name}: ${message}`,
    denied
      ? "your credentials lack a read permission verify needs (docs/operations.md lists them under The orders CLI)"
      : "run verify again; if it persists, look at the resource in the AWS console",
  );
}

export function formatFinding(check: string, finding: Finding): string {
  return `${finding.status.padEnd(4)}  ${check}: ${finding.detail}${finding.fix ? `. Do: ${finding.fix}` : ""}`;
}

export async function verify(
  outputs: StackOutputs,
  options: VerifyOptions,
  io: OrdersIO,
  clients: AwsClients = awsClients(outputs),
): Promise<number> {
  const expected = outputs.verify;
  if (!expected || !outputs.delivery_dlq_url) {
    throw new OperatorError(
      `The outputs of ${options.stack} lack verify or delivery_dlq_url; deploy the current stack, then: npx cdktf output ${options.stack} --outputs-file outputs.json`,
    );
  }
  const counts: Record<Status, number> = { PASS: 0, FAIL: 0, WARN: 0, SKIP: 0 };
  for (const check of CHECKS) {
    const finding = await runCheck(check, { clients, outputs, expected, options, io });
    counts[finding.status] += 1;
    io.out(formatFinding(check.name, finding));
  }
  io.out(
    `verify ${options.stack}: ${counts.PASS} passed, ${counts.FAIL} failed, ${counts.WARN} warnings, ${counts.SKIP} skipped`,
  );
  return counts.FAIL > 0 ? 1 : 0;
}
