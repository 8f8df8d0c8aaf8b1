import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { logOutcome, publishCounts, RECORD_OUTCOMES, RecordOutcome } from "./log";
import { InvalidOrderError, parseOrderBody } from "./order";
import { storeOrder } from "./store";

/** Time kept back from the function timeout to report failures before Lambda stops the invocation. */
const DEADLINE_MARGIN_MS = 2_000;

/**
 * The order processor: validates and stores every record of an SQS batch concurrently and reports
 * the ones it could not store as partial batch failures, so SQS retries only those; a record is never silently acknowledged.
 */
export async function handler(
  event: SQSEvent,
  context?: Pick<Context, "getRemainingTimeInMillis">,
): Promise<SQSBatchResponse> {
  const tableName = process.env.TABLE_NAME;
  const deadline = new AbortController();
  const remaining = context?.getRemainingTimeInMillis?.();
  const timer =
    remaining === undefined
      ? undefined
      : setTimeout(() => deadline.abort(), Math.max(0, remaining - DEADLINE_MARGIN_MS));
  try {
    const outcomes = await Promise.all(
      event.Records.map((record) => processRecord(record, tableName, deadline.signal)),
    );
    const counts = Object.fromEntries(RECORD_OUTCOMES.map((o) => [o, 0])) as Record<RecordOutcome, number>;
    for (const outcome of outcomes) counts[outcome] += 1;
    publishCounts(counts);
    return {
      batchItemFailures: event.Records.filter((_, i) => outcomes[i] === "invalid" || outcomes[i] === "failed").map(
        (record) => ({
          itemIdentifier: record.messageId,
        }),
      ),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Processes one record; never throws: every failure becomes an `invalid` or `failed` outcome. */
export async function processRecord(
  record: SQSRecord,
  tableName: string | undefined,
  abortSignal?: AbortSignal,
): Promise<RecordOutcome> {
  const messageId = record.messageId;
  let orderId: string | undefined;
  try {
    if (!tableName) throw new Error("TABLE_NAME is not set; the function's environment must name the Orders table");
    const order = parseOrderBody(record.body);
    orderId = order.orderId;
    const { outcome, detail } = await storeOrder(tableName, order, abortSignal);
    logOutcome({ outcome, messageId, orderId, reason: detail });
    return outcome;
  } catch (error) {
    const outcome: RecordOutcome = error instanceof InvalidOrderError ? "invalid" : "failed";
    logOutcome({
      outcome,
      messageId,
      orderId: orderId ?? (error instanceof InvalidOrderError ? error.orderId : undefined),
      reason: describe(error),
    });
    return outcome;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 500);
  return String(error).slice(0, 500);
}
