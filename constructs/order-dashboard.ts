import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";
import { Construct } from "constructs";
import { DEFAULT_SERVICE, METRICS_NAMESPACE, RECORD_OUTCOMES } from "../lambda/log";
import { ResourceNames } from "./environments";
import { AlarmId, AlarmSpec } from "./order-alarms";

export interface OrderDashboardProps {
  readonly names: Pick<
    ResourceNames,
    "dashboard" | "topic" | "queue" | "deadLetterQueue" | "deliveryDeadLetterQueue" | "function" | "table"
  >;
  readonly region: string;
  /** The stack's alarms as data (OrderAlarms.specs): their widgets draw the alarm's own metric and threshold. */
  readonly alarmSpecs: readonly AlarmSpec[];
  /** The ARNs of those alarms, for the alarm-status row. */
  readonly alarmArns: readonly string[];
  /** The function's timeout, drawn against its duration. */
  readonly functionTimeoutSeconds: number;
  /** The event source mapping's maximum concurrency, drawn against the function's concurrency. */
  readonly maximumConcurrency: number;
}

/** A metric line of a widget: [namespace, metric, dimension, value, ..., { stat, period, label }]. */
type MetricLine = (string | { stat: string; period: number; label: string })[];

interface Graph {
  readonly title: string;
  readonly metrics: MetricLine[];
  /** A horizontal line: an alarm threshold or a limit. */
  readonly line?: { readonly label: string; readonly value: number };
}

interface Row {
  /** What the row answers, as its heading. */
  readonly heading: string;
  readonly graphs: Graph[];
}

const WIDTH = 24;
const GRAPH_HEIGHT = 6;

function metric(
  namespace: string,
  name: string,
  dimensions: Record<string, string>,
  stat: string,
  period: number,
  label: string,
): MetricLine {
  return [namespace, name, ...Object.entries(dimensions).flat(), { stat, period, label }];
}

/**
 * One CloudWatch dashboard for the pipeline, top to bottom as an operator asks: which alarms fire, is
 * work coming in, is it piling up, is the function healthy, what became of the orders, is the table
 * keeping up. Every metric an alarm watches is drawn from that alarm's spec, with its threshold.
 */
export class OrderDashboard extends Construct {
  public readonly dashboard: CloudwatchDashboard;
  public readonly consoleUrl: string;

  constructor(scope: Construct, id: string, props: OrderDashboardProps) {
    super(scope, id);
    const rows = dashboardRows(props);
    this.dashboard = new CloudwatchDashboard(this, "Dashboard", {
      dashboardName: props.names.dashboard,
      dashboardBody: JSON.stringify({ widgets: layout(props, rows) }),
    });
    this.consoleUrl = `https://${props.region}.console.aws.amazon.com/cloudwatch/home?region=${props.region}#dashboards/dashboard/${props.names.dashboard}`;
  }
}

/** The rows, from the alarm specs where an alarm watches the metric, from the stack's names otherwise. */
function dashboardRows(props: OrderDashboardProps): Row[] {
  const { names } = props;
  const sqs = (queue: string, name: string, label: string) =>
    metric("AWS/SQS", name, { QueueName: queue }, "Maximum", 60, label);
  const watched = alarmGraphs(props.alarmSpecs);
  return [
    { heading: "1. Alarms: which of the seven fire", graphs: [] },
    {
      heading: "2. Intake: are orders published and delivered to the queue?",
      graphs: [
        {
          title: `Orders published to ${names.topic}`,
          metrics: [
            metric("AWS/SNS", "NumberOfMessagesPublished", { TopicName: names.topic }, "Sum", 300, "published"),
          ],
        },
        watched(["sns-delivery-failures", "sns-redrive-to-dlq-failures"], "SNS delivery failures"),
        watched(["delivery-dlq-not-empty"], `In ${names.deliveryDeadLetterQueue}`),
      ],
    },
    {
      heading: "3. Queue: are orders piling up?",
      graphs: [
        {
          title: `${names.queue}: visible and in flight`,
          metrics: [
            sqs(names.queue, "ApproximateNumberOfMessagesVisible", "visible"),
            sqs(names.queue, "ApproximateNumberOfMessagesNotVisible", "in flight"),
          ],
        },
        watched(["backlog-age"], "Age of the oldest order (s)"),
        watched(["dlq-not-empty"], `In ${names.deadLetterQueue}`),
      ],
    },
    functionRow(props, watched),
    ...outcomeAndTableRows(names.table),
  ];
}

type AlarmGraphs = (ids: AlarmId[], title: string) => Graph;

/** A graph of the metrics some alarms watch, exactly as they watch them, with their (common) threshold. */
function alarmGraphs(specs: readonly AlarmSpec[]): AlarmGraphs {
  return (ids, title) => {
    const watched = ids.map((id) => specs.find((s) => s.id === id)!);
    const thresholds = new Set(watched.map((spec) => spec.threshold));
    if (thresholds.size !== 1)
      throw new Error(`dashboard: ${ids.join(", ")} have different thresholds; draw them apart`);
    return {
      title,
      metrics: watched.map((spec) =>
        metric(spec.namespace, spec.metricName, spec.dimensions, spec.statistic, spec.period, spec.id),
      ),
      line: { label: `alarm above ${watched[0].threshold}`, value: watched[0].threshold },
    };
  };
}

function functionRow(props: OrderDashboardProps, watched: AlarmGraphs): Row {
  const fn = { FunctionName: props.names.function };
  return {
    heading: "4. Function: is it erroring, throttled or slow?",
    graphs: [
      { title: "Invocations", metrics: [metric("AWS/Lambda", "Invocations", fn, "Sum", 300, "invocations")] },
      watched(["function-errors", "function-throttles"], "Errors and throttles"),
      {
        title: "Duration (ms) against the timeout",
        metrics: [
          metric("AWS/Lambda", "Duration", fn, "p50", 300, "p50"),
          metric("AWS/Lambda", "Duration", fn, "p99", 300, "p99"),
        ],
        line: { label: "timeout", value: props.functionTimeoutSeconds * 1000 },
      },
      {
        title: "Concurrent executions against the mapping's maximum",
        metrics: [metric("AWS/Lambda", "ConcurrentExecutions", fn, "Maximum", 60, "concurrent")],
        line: { label: "maximum concurrency", value: props.maximumConcurrency },
      },
    ],
  };
}

function outcomeAndTableRows(table: string): Row[] {
  return [
    {
      heading: "5. Outcomes: what became of the orders (the handler's own counts)",
      graphs: [
        {
          title: "Records by outcome",
          metrics: RECORD_OUTCOMES.map((outcome) =>
            metric(METRICS_NAMESPACE, outcome, { service: DEFAULT_SERVICE }, "Sum", 300, outcome),
          ),
        },
      ],
    },
    {
      heading: `6. Table: is ${table} keeping up?`,
      graphs: [
        {
          title: "Consumed write capacity",
          metrics: [metric("AWS/DynamoDB", "ConsumedWriteCapacityUnits", { TableName: table }, "Sum", 300, "WCU")],
        },
        {
          title: "Throttled writes",
          metrics: [
            metric(
              "AWS/DynamoDB",
              "ThrottledRequests",
              { TableName: table, Operation: "PutItem" },
              "Sum",
              300,
              "throttled PutItem",
            ),
          ],
        },
      ],
    },
  ];
}

/** Widgets on CloudWatch's 24-column grid: per row a heading, then its graphs side by side. */
function layout(props: OrderDashboardProps, rows: Row[]): object[] {
  const widgets: object[] = [];
  let y = 0;
  for (const row of rows) {
    widgets.push({ type: "text", x: 0, y, width: WIDTH, height: 1, properties: { markdown: `## ${row.heading}` } });
    y += 1;
    if (row.graphs.length === 0) {
      widgets.push({
        type: "alarm",
        x: 0,
        y,
        width: WIDTH,
        height: 3,
        properties: { title: "Alarm status", alarms: [...props.alarmArns] },
      });
      y += 3;
      continue;
    }
    const width = Math.floor(WIDTH / row.graphs.length);
    row.graphs.forEach((graph, i) => {
      widgets.push({
        type: "metric",
        x: i * width,
        y,
        width,
        height: GRAPH_HEIGHT,
        properties: {
          title: graph.title,
          region: props.region,
          view: "timeSeries",
          metrics: graph.metrics,
          ...(graph.line ? { annotations: { horizontal: [graph.line] } } : {}),
        },
      });
    });
    y += GRAPH_HEIGHT;
  }
  return widgets;
}
