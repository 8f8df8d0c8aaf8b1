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
 */
import { CloudWatchLogsClient, FilteredLogEvent, FilterLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CloudWatchClient, GetMetricDataCommand, MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  Message,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { moveMessages, peekMessages } from "../../common/move-messages";
import { sampleOrderBody } from "../../common/sample-order";
import { DEFAULT_SERVICE, METRICS_NAMESPACE, RECORD_OUTCOMES } from "../../lambda/log";
import type {
  Counts,
  DeadLetterQueueView,
  DeadLetterView,
  GraphEdge,
  GraphNode,
  JourneyStep,
  LogLine,
  PipelineGraph,
  QueueDepthView,
  SeriesPoint,
} from "../../offline/console/api";
import { deadLetterOf, type ConsoleSource } from "../../offline/console/source";
import { orderIdOf } from "../../offline/runtime/events";
import { endpointOf, regionOf, sqsClientFor, StackOutputs, unsupportedOperation } from "../io";

/** How far back the chart and the log searches look, and the chart's step. */
const HOURS = 3;
const STEP_SECONDS = 60;
/** The most messages of one dead-letter queue the view lists. */
const DEAD_LETTERS_SHOWN = 50;
/** Message ids per log search (a filter pattern holds at most 1,024 characters). */
const IDS_PER_SEARCH = 20;

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

interface QueueRef {
  readonly name: string;
  readonly url: string;
  readonly arn?: string;
  readonly dead: boolean;
}

const lastPart = (text: string, separator: string) => text.split(separator).at(-1) ?? text;

/** The stack's queues, from its outputs. */
function queuesOf(outputs: StackOutputs): QueueRef[] {
  const queue = (url: string, arn: string | undefined, dead: boolean) => ({ name: lastPart(url, "/"), url, arn, dead });
  return [
    queue(outputs.queue_url, outputs.queue_arn, false),
    queue(outputs.dlq_url, outputs.dlq_arn, true),
    ...(outputs.delivery_dlq_url ? [queue(outputs.delivery_dlq_url, outputs.delivery_dlq_arn, true)] : []),
  ];
}

/** The flow the outputs name: the same nodes and arrows as the local console's, by name. */
export function outputsGraph(outputs: StackOutputs): PipelineGraph {
  const [queue, dlq, deliveryDlq] = queuesOf(outputs);
  const topic = lastPart(outputs.topic_arn, ":");
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
    const alarms = lastPart(outputs.alarm_topic_arn, ":");
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

/** A function log line as the console shows it (JSON lines give their outcome, level and order). */
function logLineOf(fn: string, event: FilteredLogEvent): LogLine & { messageId?: string } {
  const line = (event.message ?? "").trim();
  let fields: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(line);
    if (parsed && typeof parsed === "object") fields = parsed;
  } catch {
    // a plain line (START, END, REPORT, a stack trace)
  }
  const text = (key: string) => (typeof fields[key] === "string" ? (fields[key] as string) : undefined);
  return {
    at: event.timestamp ?? 0,
    fn,
    line,
    level: text("level"),
    outcome: text("outcome"),
    orderId: text("orderId"),
    messageId: text("messageId"),
  };
}

const FAILED = new Set(["failed", "invalid", "conflict"]);

export function awsSource(
  outputs: StackOutputs,
  options: { stack: string; allowChanges: boolean; clients?: AwsClients },
): ConsoleSource {
  const clients = options.clients ?? awsClients(outputs);
  const documents = DynamoDBDocumentClient.from(clients.dynamodb);
  const queues = queuesOf(outputs);
  const graph = outputsGraph(outputs);
  const fn = outputs.function_name ?? outputs.verify?.function_name;
  const logGroup = fn ? `/aws/lambda/${fn}` : undefined;
  const topic = lastPart(outputs.topic_arn, ":");
  /** Orders this console redrove, with when: their journeys say so and the page follows them. */
  const redriven = new Map<string, number>();
  let metrics:
    | {
        at: number;
        points: SeriesPoint[];
        topics: Record<string, number>;
        outcomes: Record<string, number>;
        problem?: string;
      }
    | undefined;
  let hashKey: string | undefined;

  const problem = (list: string[]) => (what: string) => (error: unknown) => {
    list.push(advice(error, what));
    return undefined;
  };

  async function searchLog(pattern: string | undefined, hours = HOURS * 8): Promise<LogLine[]> {
    if (!logGroup || !fn)
      throw new Error("the outputs name no function (deploy the current stack for its verify output)");
    const events: FilteredLogEvent[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < 5; page++) {
      const answer = await clients.logs.send(
        new FilterLogEventsCommand({
          logGroupName: logGroup,
          filterPattern: pattern,
          startTime: Date.now() - hours * 3600_000,
          nextToken,
        }),
      );
      events.push(...(answer.events ?? []));
      nextToken = answer.nextToken;
      if (!nextToken) break;
    }
    return events.map((e) => logLineOf(fn, e)).sort((a, b) => a.at - b.at);
  }

  /** The rates and totals of the last hours: one GetMetricData, read again at most every 30 s. */
  async function refreshMetrics() {
    if (metrics && Date.now() - metrics.at < 30_000) return metrics;
    const [queue] = queues;
    const stat = (
      id: string,
      namespace: string,
      name: string,
      dimensions: Record<string, string>,
    ): MetricDataQuery => ({
      Id: id,
      MetricStat: {
        Metric: {
          Namespace: namespace,
          MetricName: name,
          Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: STEP_SECONDS,
        Stat: "Sum",
      },
    });
    const queries = [
      stat("published", "AWS/SNS", "NumberOfMessagesPublished", { TopicName: topic }),
      stat("sent", "AWS/SQS", "NumberOfMessagesSent", { QueueName: queue.name }),
      stat("deleted", "AWS/SQS", "NumberOfMessagesDeleted", { QueueName: queue.name }),
      ...RECORD_OUTCOMES.map((outcome) =>
        stat(`o_${outcome}`, METRICS_NAMESPACE, outcome, { service: DEFAULT_SERVICE }),
      ),
      ...(fn
        ? [
            stat("errors", "AWS/Lambda", "Errors", { FunctionName: fn }),
            stat("throttles", "AWS/Lambda", "Throttles", { FunctionName: fn }),
          ]
        : []),
    ];
    const end = new Date(Math.ceil(Date.now() / 60_000) * 60_000);
    const start = new Date(end.getTime() - HOURS * 3600_000);
    const next = {
      at: Date.now(),
      points: [] as SeriesPoint[],
      topics: {} as Record<string, number>,
      outcomes: {} as Record<string, number>,
      problem: undefined as string | undefined,
    };
    try {
      const { MetricDataResults = [] } = await clients.cloudwatch.send(
        new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: start, EndTime: end }),
      );
      const series = new Map(MetricDataResults.map((r) => [r.Id!, r]));
      const sum = (id: string) => (series.get(id)?.Values ?? []).reduce((a, b) => a + b, 0);
      const byMinute = new Map<number, { in: number; out: number }>();
      const add = (id: string, key: "in" | "out") => {
        const r = series.get(id);
        (r?.Timestamps ?? []).forEach((t, i) => {
          const at = t.getTime();
          const point = byMinute.get(at) ?? { in: 0, out: 0 };
          point[key] += r!.Values?.[i] ?? 0;
          byMinute.set(at, point);
        });
      };
      add("sent", "in");
      add("deleted", "out");
      next.points = [...byMinute].map(([at, p]) => ({ at, ...p })).sort((a, b) => a.at - b.at);
      next.topics = { [topic]: sum("published") };
      for (const outcome of RECORD_OUTCOMES) next.outcomes[outcome] = sum(`o_${outcome}`);
      if (fn) next.outcomes.errors = sum("errors");
      if (fn) next.outcomes.throttles = sum("throttles");
    } catch (error) {
      next.problem = advice(error, "the metrics (cloudwatch:GetMetricData)");
    }
    metrics = next;
    return next;
  }

  async function depth(queue: QueueRef): Promise<QueueDepthView> {
    const { Attributes = {} } = await clients.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.url,
        AttributeNames: [
          "ApproximateNumberOfMessages",
          "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed",
        ],
      }),
    );
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
    };
  }

  async function keyName(): Promise<string> {
    if (hashKey) return hashKey;
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: outputs.table_name }));
    hashKey = Table?.KeySchema?.find((k) => k.KeyType === "HASH")?.AttributeName ?? "orderId";
    return hashKey;
  }

  async function item(orderId: string): Promise<Record<string, unknown> | null> {
    const { Item } = await documents.send(
      new GetCommand({ TableName: outputs.table_name, Key: { [await keyName()]: orderId }, ConsistentRead: true }),
    );
    return Item ?? null;
  }

  /** Each message's cause: the function's last failing line naming its message id. */
  async function causes(messageIds: string[]): Promise<Map<string, LogLine>> {
    const found = new Map<string, LogLine>();
    for (let start = 0; start < messageIds.length; start += IDS_PER_SEARCH) {
      const ids = messageIds.slice(start, start + IDS_PER_SEARCH);
      const lines = (await searchLog(ids.map((id) => `?"${id}"`).join(" "))) as (LogLine & { messageId?: string })[];
      for (const line of lines)
        if (line.messageId && (FAILED.has(line.outcome ?? "") || line.level === "ERROR"))
          found.set(line.messageId, line);
    }
    return found;
  }

  function queueNamed(name: string): QueueRef {
    const queue = queues.find((q) => q.name === name && q.dead);
    if (!queue) throw new Error(`${name} is not one of this stack's dead-letter queues`);
    return queue;
  }

  return {
    name: "deployed stack",
    allowChanges: options.allowChanges,
    live: false,
    chart: { stepSeconds: STEP_SECONDS, windowSeconds: HOURS * 3600 },
    stack: options.stack,
    region: regionOf(outputs.topic_arn),
    outcomes: [...RECORD_OUTCOMES],
    graph: () => graph,
    async counts(countItems) {
      const problems: string[] = [];
      const note = problem(problems);
      const [depths, table, m] = await Promise.all([
        Promise.all(queues.map((q) => depth(q).catch(note(`the depth of ${q.name} (sqs:GetQueueAttributes)`)))),
        countItems
          ? clients.dynamodb
              .send(new DescribeTableCommand({ TableName: outputs.table_name }))
              .catch(note(`the table (dynamodb:DescribeTable)`))
          : undefined,
        refreshMetrics(),
      ]);
      if (m.problem) problems.push(m.problem);
      const counts: Counts = {
        at: Date.now(),
        queues: Object.fromEntries(queues.flatMap((q, i) => (depths[i] ? [[q.name, depths[i]]] : []))),
        topics: m.topics,
        outcomes: fn ? { [fn]: m.outcomes } : {},
        items: table?.Table?.ItemCount !== undefined ? { [outputs.table_name]: table.Table.ItemCount } : {},
        itemsAt: table?.Table ? Date.now() : undefined,
        itemsNote: "DynamoDB's ItemCount, updated about every six hours",
        problems,
      };
      return counts;
    },
    points: async () => (await refreshMetrics()).points,
    recentOrders: () => [...redriven.keys()].slice(-20),
    async journey(orderId) {
      const problems: string[] = [];
      const note = problem(problems);
      const [lines, found] = await Promise.all([
        searchLog(`"${orderId}"`).catch(note(`the function's log (logs:FilterLogEvents on ${logGroup})`)),
        item(orderId).catch(note("the item (dynamodb:GetItem)")),
      ]);
      const steps: JourneyStep[] = (lines ?? [])
        .filter((l) => l.orderId === orderId || l.line.includes(orderId))
        .map((l) => ({
          at: l.at,
          label: l.outcome ?? l.level?.toLowerCase() ?? "log",
          text: l.line,
          tone: l.outcome === "stored" ? "good" : FAILED.has(l.outcome ?? "") ? "bad" : undefined,
          messageId: (l as { messageId?: string }).messageId,
        }));
      const redrivenAt = redriven.get(orderId);
      if (redrivenAt !== undefined) {
        const after = steps.filter((s) => s.at >= redrivenAt && (s.label === "stored" || s.tone === "bad")).at(-1);
        steps.push({
          at: redrivenAt,
          label: "redriven",
          text: after
            ? `redriven by this console; since then: ${after.label}`
            : "redriven by this console; no outcome logged yet",
          tone: after ? (after.label === "stored" ? "good" : "bad") : "warn",
        });
        steps.sort((a, b) => a.at - b.at);
      }
      return { orderId, steps, omitted: 0, item: found ?? null, problems };
    },
    async deadLetters() {
      return Promise.all(
        queues
          .filter((q) => q.dead)
          .map(async (q): Promise<DeadLetterQueueView> => {
            const problems: string[] = [];
            const note = problem(problems);
            const held = await depth(q).catch(note(`the depth of ${q.name} (sqs:GetQueueAttributes)`));
            const total = held ? held.visible + held.inFlight + held.delayed : 0;
            // An empty queue is not received from: a look costs nothing and counts no receive.
            const messages =
              total > 0
                ? ((await peekMessages(clients.sqs, q.url, {
                    max: Math.min(total, DEAD_LETTERS_SHOWN),
                    waitSeconds: 1,
                  }).catch(note(`the messages of ${q.name} (sqs:ReceiveMessage, kms:Decrypt)`))) ?? [])
                : [];
            const found = messages.length
              ? ((await causes(messages.map((m) => m.MessageId!)).catch(
                  note(`the causes (logs:FilterLogEvents on ${logGroup})`),
                )) ?? new Map<string, LogLine>())
              : new Map<string, LogLine>();
            return { queue: q.name, total, messages: messages.map((m) => deadLetterFrom(m, found)), problems };
          }),
      );
    },
    async redrive(queueName, messageId) {
      const dlq = queueNamed(queueName);
      const target = queues[0];
      const orders: string[] = [];
      const remember = (m: Message) => {
        const orderId = orderIdOf(m.Body ?? "");
        if (orderId) orders.push(orderId);
      };
      // The whole queue through SQS's message-move task (the DLQ of OrderQueue); one message, or a queue the
      // task does not serve (the subscription's delivery DLQ), by receive, send and delete.
      if (!messageId && dlq.arn && dlq.url === outputs.dlq_url) {
        const peeked = await peekMessages(clients.sqs, dlq.url, { max: DEAD_LETTERS_SHOWN, waitSeconds: 1 });
        const started = await clients.sqs
          .send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn }))
          .catch((error) => (unsupportedOperation(error) ? undefined : Promise.reject(error)));
        if (started) {
          peeked.forEach(remember);
          for (const order of orders) redriven.set(order, Date.now());
          const total = await depth(dlq);
          return {
            total: total.visible + total.inFlight,
            moved: 0,
            refused: 0,
            from: dlq.name,
            to: target.name,
            task: started.TaskHandle,
          };
        }
      }
      const result = await moveMessages(clients.sqs, {
        from: dlq.url,
        to: target.url,
        waitSeconds: 1,
        stopOnRefusal: false,
        select: messageId ? (m) => m.MessageId === messageId : undefined,
        onMoved: remember,
      });
      for (const order of orders) redriven.set(order, Date.now());
      return { ...result, from: dlq.name, to: target.name };
    },
    async discard(queueName, messageId) {
      const dlq = queueNamed(queueName);
      for (let round = 0; round < 10; round++) {
        const { Messages = [] } = await clients.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: dlq.url,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 0,
            WaitTimeSeconds: 1,
          }),
        );
        const found = Messages.find((m) => m.MessageId === messageId);
        if (found) {
          await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: dlq.url, ReceiptHandle: found.ReceiptHandle }));
          return { deleted: true, queue: dlq.name };
        }
        if (Messages.length === 0) break;
      }
      return { deleted: false, queue: dlq.name };
    },
    async items(limit) {
      const { Items = [], LastEvaluatedKey } = await documents.send(
        new ScanCommand({ TableName: outputs.table_name, Limit: limit }),
      );
      return { items: Items, more: LastEvaluatedKey !== undefined };
    },
    item,
    // The last 15 minutes of the function's log; what could not be read is the view's one line.
    async logTail(limit) {
      return searchLog(undefined, 0.25).then(
        (lines) => lines.slice(-limit),
        (error) => [
          {
            at: Date.now(),
            fn: "console",
            line: advice(error, `the function's log (logs:FilterLogEvents on ${logGroup})`),
          },
        ],
      );
    },
    async publish(body) {
      const orderId = orderIdOf(body) ?? null;
      try {
        const { MessageId } = await clients.sns.send(
          new PublishCommand({ TopicArn: outputs.topic_arn, Message: body }),
        );
        return { messageId: MessageId, orderId };
      } catch (error) {
        return { refused: { code: (error as Error).name, message: advice(error, "sns:Publish") }, orderId };
      }
    },
    sampleOrder: () => sampleOrderBody(),
    subscribe: () => () => undefined,
    close() {
      for (const client of Object.values(clients)) client.destroy();
    },
  };
}

function deadLetterFrom(message: Message, causes: Map<string, LogLine>): DeadLetterView {
  return deadLetterOf(
    {
      messageId: message.MessageId ?? "",
      body: message.Body ?? "",
      // AWS keeps the source queue's count when it moves a message; each look at the DLQ adds one.
      receives: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
      sent: message.Attributes?.SentTimestamp ? Number(message.Attributes.SentTimestamp) : undefined,
    },
    causes.get(message.MessageId ?? ""),
  );
}
