/**
 * Structured JSON logs and CloudWatch embedded-metric-format (EMF) counts, written straight to
 * stdout as one line each: a lean equivalent of Powertools Logger/Metrics for this one function.
 */

/** The `service` dimension of the function's metrics unless POWERTOOLS_SERVICE_NAME says otherwise (the stack does not set it). */
export const DEFAULT_SERVICE = "order-processor";
const SERVICE = process.env.POWERTOOLS_SERVICE_NAME ?? DEFAULT_SERVICE;
export const METRICS_NAMESPACE = "OrderSystem";

export type RecordOutcome = "stored" | "duplicate" | "stale" | "conflict" | "repaired" | "invalid" | "failed";
export const RECORD_OUTCOMES: readonly RecordOutcome[] = [
  "stored",
  "duplicate",
  "stale",
  "conflict",
  "repaired",
  "invalid",
  "failed",
];

/** One log line per record outcome; never the payload, only identifiers and the reason. */
export function logOutcome(fields: {
  outcome: RecordOutcome;
  messageId: string;
  orderId?: string;
  reason?: string;
}): void {
  const level =
    fields.outcome === "failed"
      ? "ERROR"
      : fields.outcome === "invalid" || fields.outcome === "conflict" || fields.outcome === "repaired"
        ? "WARN"
        : "INFO";
  writeLine({
    timestamp: new Date().toISOString(),
    level,
    service: SERVICE,
    message: `order ${fields.outcome}`,
    ...fields,
  });
}

/** One EMF line with the invocation's outcome counts. */
export function publishCounts(counts: Record<RecordOutcome, number>): void {
  writeLine({
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [["service"]],
          Metrics: RECORD_OUTCOMES.map((name) => ({ Name: name, Unit: "Count" })),
        },
      ],
    },
    service: SERVICE,
    ...counts,
  });
}

function writeLine(entry: object): void {
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}
