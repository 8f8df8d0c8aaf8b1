/**
 * The console's source for a deployed stack (`npm run orders -- console`), on the AWS APIs with the
 * operator's credentials. Nothing is pushed: the page asks again (every refresh, and never while its tab
 * is hidden), and each refresh costs one `GetQueueAttributes` per queue and one `GetMetricData`.
 *
 * - Pipeline: the flow from the stack's outputs, queue depths, the per-minute rates of the last hours
 *   (SNS published, SQS sent and deleted, the function's outcome metrics, errors and throttles).
 * - An order's journey: the function's log lines naming it (`FilterLogEvents` with the order id as a quoted
 *   term), its item, the redrives this console made of it.
 * - Dead letters: peeked at by receiving (AWS has no other way: each look adds one to a message's receive
 *   count, which is why the view is read only when opened); each message's cause is the function's log line
 *   naming its message id (a DLQ keeps the id the source queue gave it).
 * - Every failed call is told where it happened, with what to do, and never stops the rest of the page.
 *
 * The metrics are read in `aws-metrics.ts`, the function's log in `aws-log.ts`, the dead-letter queues in
 * `aws-dead-letters.ts`.
 */
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { sampleOrderBody } from "../../common/sample-order";
import { RECORD_OUTCOMES } from "../../lambda/log";
import type {
  Counts,
  GraphEdge,
  GraphNode,
  JourneyStep,
  LogLine,
  PipelineGraph,
  SeriesPoint,
} from "../../offline/console/api";
import { Metrics, readMetrics } from "./aws-metrics";
import { DeadLetters, noting, QueueRef, queuesOf } from "./aws-dead-letters";
import { queueDepth } from "../../common/move-messages";
import { FAILED, FunctionLine, FunctionLog } from "./aws-log";
import type { ConsoleSource } from "../../offline/console/source";
import { orderIdOf } from "../../offline/runtime/events";
import { endpointOf, lastSegment, regionOf, sqsClientFor, StackOutputs, unsupportedOperation } from "../io";

/** How far back the chart and an order's journey look, and the chart's step. */
const HOURS = 3;
const JOURNEY_HOURS = 24;
const STEP_SECONDS = 60;

export interface AwsClients {
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly dynamodb: DynamoDBClient;
  readonly logs: CloudWatchLogsClient;
  readonly cloudwatch: CloudWatchClient;
}

export function awsClients(outputs: StackOutputs): AwsClients {
  const region = regionOf(outputs.topic_arn);
  const local = endpointOf(outputs);
  return {
    sqs: sqsClientFor(outputs),
    sns: new SNSClient({ region, ...local }),
    dynamodb: new DynamoDBClient({ region, ...local }),
    logs: new CloudWatchLogsClient({ region, ...local }),
    cloudwatch: new CloudWatchClient({ region, ...local }),
  };
}

/** The flow the outputs name: the same nodes and arrows as the local console's, by name. */
export function outputsGraph(outputs: StackOutputs): PipelineGraph {
  const [queue, dlq, deliveryDlq] = queuesOf(outputs);
  const topic = lastSegment(outputs.topic_arn);
  const fn = outputs.function_name ?? outputs.verify?.function_name;
  const nodes: GraphNode[] = [
    { id: topic, kind: "topic", name: topic },
    ...queuesOf(outputs).map((q) => ({
      id: q.name,
      kind: q.dead ? ("dlq" as const) : ("queue" as const),
      name: q.name,
    })),
    ...(fn ? [{ id: fn, kind: "function" as const, name: fn }] : []),
    { id: outputs.table_name, kind: "table", name: outputs.table_name },
  ];
  const edges: GraphEdge[] = [
    { from: topic, to: queue.name, kind: "subscription", label: "subscription" },
    ...(deliveryDlq
      ? [{ from: topic, to: deliveryDlq.name, kind: "undeliverable" as const, label: "undeliverable" }]
      : []),
    {
      from: queue.name,
      to: dlq.name,
      kind: "dead-letter",
      label: outputs.verify?.max_receive_count ? `after ${outputs.verify.max_receive_count} receives` : "dead-letter",
    },
    { from: dlq.name, to: queue.name, kind: "redrive", label: "redrive" },
    ...(fn
      ? [
          { from: queue.name, to: fn, kind: "mapping" as const, label: `batch ${outputs.verify?.batch_size ?? "?"}` },
          { from: fn, to: outputs.table_name, kind: "stores" as const, label: "stores" },
        ]
      : []),
  ];
  if (outputs.alarm_topic_arn) {
    const alarms = lastSegment(outputs.alarm_topic_arn);
    nodes.push({ id: alarms, kind: "alarms", name: alarms });
    const count = outputs.verify?.alarm_names?.length;
    const label = count === undefined ? "alarms" : count === 1 ? "alarm" : `${count} alarms`;
    edges.push({ from: dlq.name, to: alarms, kind: "alarm", label });
  }
  return { nodes, edges };
}

/** What to do about a refused call, by what the error says. */
export function advice(error: unknown, what: string): string {
  const e = error as { name?: string; message?: string };
  const name = e?.name ?? "Error";
  const base = `${what}: ${name}${e?.message ? `: ${e.message}` : ""}`;
  if (/AccessDenied|AuthorizationError|NotAuthorized/.test(name))
    return `${base}. The operator console policy grants it (docs/operations.md, "The console").`;
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(e?.message ?? ""))
    return `${base}. Sign in (aws sso login --profile <profile>) and set AWS_PROFILE, then reload the page.`;
  if (/ExpiredToken/.test(name)) return `${base}. Your AWS session expired: sign in again, then reload.`;
  if (name === "ResourceNotFoundException" && what.startsWith("the function's log"))
    return `${base}. The log group appears with the function's first invocation.`;
  if (unsupportedOperation(error)) return `${base}. This endpoint does not offer it.`;
  return base;
}

/** Orders this console redrove, with when: their journeys say so, and the page follows them. */
type Redriven = Map<string, number>;

class AwsSource implements ConsoleSource {
  readonly name = "deployed stack";
  readonly live = false;
  readonly chart = { stepSeconds: STEP_SECONDS, windowSeconds: HOURS * 3600 };
  readonly outcomes = [...RECORD_OUTCOMES];
  readonly region: string;
  private readonly documents: DynamoDBDocumentClient;
  private readonly queues: QueueRef[];
  private readonly fn?: string;
  private readonly log?: FunctionLog;
  private readonly redriven: Redriven = new Map();
  private readonly dead: DeadLetters;
  private metrics?: { at: number; read: Promise<Metrics | { problem: string }> };
  private hashKey?: string;

  constructor(
    private readonly outputs: StackOutputs,
    readonly stack: string,
    readonly allowChanges: boolean,
    private readonly clients: AwsClients,
  ) {
    this.region = regionOf(outputs.topic_arn);
    this.documents = DynamoDBDocumentClient.from(clients.dynamodb);
    this.queues = queuesOf(outputs);
    this.fn = outputs.function_name ?? outputs.verify?.function_name;
    this.log = this.fn ? new FunctionLog(clients.logs, this.fn) : undefined;
    this.dead = new DeadLetters(clients.sqs, outputs, this.queues, this.log, this.redriven, advice);
  }

  graph = () => outputsGraph(this.outputs);
  sampleOrder = () => sampleOrderBody();
  subscribe = () => () => undefined;
  recentOrders = () => [...this.redriven.keys()].slice(-20);

  async counts(countItems: boolean): Promise<Counts> {
    const problems: string[] = [];
    const note = noting(problems, advice);
    const [depths, table, metrics] = await Promise.all([
      Promise.all(
        this.queues.map((q) =>
          queueDepth(this.clients.sqs, q.url).catch(note(`the depth of ${q.name} (sqs:GetQueueAttributes)`)),
        ),
      ),
      countItems
        ? this.clients.dynamodb
            .send(new DescribeTableCommand({ TableName: this.outputs.table_name }))
            .catch(note("the table (dynamodb:DescribeTable)"))
        : undefined,
      this.readMetrics(),
    ]);
    if ("problem" in metrics) problems.push(metrics.problem);
    const count = table?.Table?.ItemCount;
    return {
      at: Date.now(),
      queues: Object.fromEntries(this.queues.flatMap((q, i) => (depths[i] ? [[q.name, depths[i]]] : []))),
      topics: "problem" in metrics ? {} : metrics.topics,
      outcomes: this.fn && !("problem" in metrics) ? { [this.fn]: metrics.outcomes } : {},
      items: count !== undefined ? { [this.outputs.table_name]: count } : {},
      itemsAt: count !== undefined ? Date.now() : undefined,
      itemsNote: "DynamoDB's ItemCount, updated about every six hours",
      problems,
    };
  }

  async points(): Promise<SeriesPoint[]> {
    const metrics = await this.readMetrics();
    return "problem" in metrics ? [] : metrics.points;
  }

  async journey(orderId: string) {
    const problems: string[] = [];
    const note = noting(problems, advice);
    const [lines, found] = await Promise.all([
      this.searchLog(`"${orderId}"`, JOURNEY_HOURS).catch(
        note(`the function's log (logs:FilterLogEvents on ${this.log?.group})`),
      ),
      this.item(orderId).catch(note("the item (dynamodb:GetItem)")),
    ]);
    const steps: JourneyStep[] = (lines ?? [])
      .filter((l) => l.orderId === orderId || l.line.includes(orderId))
      .map((l) => ({
        at: l.at,
        label: l.outcome ?? l.level?.toLowerCase() ?? "log",
        text: l.line,
        tone: l.outcome === "stored" ? "good" : FAILED.has(l.outcome ?? "") ? "bad" : undefined,
        messageId: l.messageId,
      }));
    const redrivenAt = this.redriven.get(orderId);
    if (redrivenAt !== undefined) steps.push(redriveStep(redrivenAt, steps));
    // Whether a DLQ holds it, as of the last look at the DLQs (a look is a receive: the journey makes none).
    const seen = this.dead.seen.get(orderId);
    if (seen && (redrivenAt === undefined || seen.at > redrivenAt))
      steps.push({
        at: seen.at,
        label: "in DLQ",
        text: `in ${seen.queue} when the Dead letters view last looked`,
        tone: "bad",
      });
    steps.sort((a, b) => a.at - b.at);
    return { orderId, steps, omitted: 0, item: found ?? null, problems };
  }

  deadLetters = () => this.dead.list();
  redrive = (queue: string, messageId?: string) => this.dead.redrive(queue, messageId);
  discard = (queue: string, messageId: string) => this.dead.discard(queue, messageId);

  async items(limit: number) {
    const { Items = [], LastEvaluatedKey } = await this.documents.send(
      new ScanCommand({ TableName: this.outputs.table_name, Limit: limit }),
    );
    return { items: Items, more: LastEvaluatedKey !== undefined };
  }

  async item(orderId: string): Promise<Record<string, unknown> | null> {
    const key = { [await this.keyName()]: orderId };
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.outputs.table_name, Key: key, ConsistentRead: true }),
    );
    return Item ?? null;
  }

  /** The last 15 minutes of the function's log; what could not be read is the view's one line. */
  logTail(limit: number): Promise<LogLine[]> {
    return this.searchLog(undefined, 0.25).then(
      (lines) => lines.slice(-limit),
      (error) => [
        {
          at: Date.now(),
          fn: "console",
          line: advice(error, `the function's log (logs:FilterLogEvents on ${this.log?.group})`),
        },
      ],
    );
  }

  async publish(body: string) {
    const orderId = orderIdOf(body) ?? null;
    try {
      const { MessageId } = await this.clients.sns.send(
        new PublishCommand({ TopicArn: this.outputs.topic_arn, Message: body }),
      );
      return { messageId: MessageId, orderId };
    } catch (error) {
      return { refused: { code: (error as Error).name, message: advice(error, "sns:Publish") }, orderId };
    }
  }

  close(): void {
    for (const client of Object.values(this.clients)) client.destroy();
  }

  /** The function's log lines matching `pattern` over the last `hours`. */
  private searchLog(pattern: string | undefined, hours: number): Promise<FunctionLine[]> {
    if (!this.log)
      return Promise.reject(
        new Error("the outputs name no function (deploy the current stack for its function_name output)"),
      );
    return this.log.search(pattern, hours);
  }

  /** The metrics of the last hours: one GetMetricData, asked again at most every 30 s. */
  private readMetrics(): Promise<Metrics | { problem: string }> {
    if (this.metrics && Date.now() - this.metrics.at < 30_000) return this.metrics.read;
    const names = { topic: lastSegment(this.outputs.topic_arn), queue: this.queues[0].name, fn: this.fn };
    const read = readMetrics(this.clients.cloudwatch, names, HOURS, STEP_SECONDS).catch((error) => ({
      problem: advice(error, "the metrics (cloudwatch:GetMetricData)"),
    }));
    this.metrics = { at: Date.now(), read };
    return read;
  }

  private async keyName(): Promise<string> {
    if (this.hashKey) return this.hashKey;
    const { Table } = await this.clients.dynamodb.send(
      new DescribeTableCommand({ TableName: this.outputs.table_name }),
    );
    this.hashKey = Table?.KeySchema?.find((k) => k.KeyType === "HASH")?.AttributeName ?? "orderId";
    return this.hashKey;
  }
}

export function awsSource(
  outputs: StackOutputs,
  options: { stack: string; allowChanges: boolean; clients?: AwsClients },
): ConsoleSource {
  return new AwsSource(outputs, options.stack, options.allowChanges, options.clients ?? awsClients(outputs));
}

/** The redrive as a step of the journey, with what the function logged of the order since. */
function redriveStep(at: number, steps: JourneyStep[]): JourneyStep {
  const after = steps.filter((s) => s.at >= at && (s.label === "stored" || s.tone === "bad")).at(-1);
  return {
    at,
    label: "redriven",
    text: after
      ? `redriven by this console; since then: ${after.label}`
      : "redriven by this console; no outcome logged yet",
    tone: after ? (after.label === "stored" ? "good" : "bad") : "warn",
  };
}
