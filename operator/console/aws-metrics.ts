/**
 * The deployed console's chart and totals, from CloudWatch in one `GetMetricData`: messages sent to and
 * deleted from OrderQueue per minute, SNS's published count, the function's outcome counts (its EMF metrics,
 * namespace `OrderSystem`, dimension `service`), its errors and throttles.
 */
import { CloudWatchClient, GetMetricDataCommand, MetricDataQuery, MetricDataResult } from "@aws-sdk/client-cloudwatch";
import { DEFAULT_SERVICE, METRICS_NAMESPACE, RECORD_OUTCOMES } from "../../lambda/log";
import type { SeriesPoint } from "../../offline/console/api";

/** What the chart and the nodes show. */
export interface Metrics {
  readonly points: SeriesPoint[];
  readonly topics: Record<string, number>;
  /** Outcome counts, errors and throttles over the window. */
  readonly outcomes: Record<string, number>;
}

export interface MetricNames {
  readonly topic: string;
  readonly queue: string;
  readonly fn?: string;
}

function stat(id: string, namespace: string, name: string, dimensions: Record<string, string>, step: number) {
  return {
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: namespace,
        MetricName: name,
        Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: step,
      Stat: "Sum",
    },
  } satisfies MetricDataQuery;
}

export function metricQueries(names: MetricNames, step: number): MetricDataQuery[] {
  const { topic, queue, fn } = names;
  return [
    stat("published", "AWS/SNS", "NumberOfMessagesPublished", { TopicName: topic }, step),
    stat("sent", "AWS/SQS", "NumberOfMessagesSent", { QueueName: queue }, step),
    stat("deleted", "AWS/SQS", "NumberOfMessagesDeleted", { QueueName: queue }, step),
    ...RECORD_OUTCOMES.map((o) => stat(`o_${o}`, METRICS_NAMESPACE, o, { service: DEFAULT_SERVICE }, step)),
    ...(fn
      ? [
          stat("errors", "AWS/Lambda", "Errors", { FunctionName: fn }, step),
          stat("throttles", "AWS/Lambda", "Throttles", { FunctionName: fn }, step),
        ]
      : []),
  ];
}

/** The answers as points per step (in: sent to the queue, out: deleted from it) and totals. */
export function metricsFrom(results: MetricDataResult[], names: MetricNames): Metrics {
  const series = new Map(results.map((r) => [r.Id!, r]));
  const sum = (id: string) => (series.get(id)?.Values ?? []).reduce((a, b) => a + b, 0);
  const bySteps = new Map<number, { in: number; out: number }>();
  for (const [id, key] of [
    ["sent", "in"],
    ["deleted", "out"],
  ] as const) {
    const r = series.get(id);
    (r?.Timestamps ?? []).forEach((t, i) => {
      const point = bySteps.get(t.getTime()) ?? { in: 0, out: 0 };
      point[key] += r?.Values?.[i] ?? 0;
      bySteps.set(t.getTime(), point);
    });
  }
  const outcomes = Object.fromEntries(RECORD_OUTCOMES.map((o) => [o, sum(`o_${o}`)]));
  if (names.fn) Object.assign(outcomes, { errors: sum("errors"), throttles: sum("throttles") });
  return {
    points: [...bySteps].map(([at, p]) => ({ at, ...p })).sort((a, b) => a.at - b.at),
    topics: { [names.topic]: sum("published") },
    outcomes,
  };
}

/** The last `hours` in steps of `step` seconds, in one call. */
export async function readMetrics(
  cloudwatch: CloudWatchClient,
  names: MetricNames,
  hours: number,
  step: number,
): Promise<Metrics> {
  const end = new Date(Math.ceil(Date.now() / (step * 1000)) * step * 1000);
  const start = new Date(end.getTime() - hours * 3600_000);
  const { MetricDataResults = [] } = await cloudwatch.send(
    new GetMetricDataCommand({ MetricDataQueries: metricQueries(names, step), StartTime: start, EndTime: end }),
  );
  return metricsFrom(MetricDataResults, names);
}
