/**
 * The one batch publisher of the CLIs (`npm start`, `npm run orders -- publish`, the benchmarks): bodies go
 * to a topic through SNS's `PublishBatch`, in batches within SNS's limits (10 entries, 256 KiB together),
 * a few calls in flight; each body gets SNS's answer, and none is dropped silently.
 */
import { PublishBatchCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";

/** SNS's limits on one PublishBatch: 10 entries, and 256 KiB for all their messages together. */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 256 * 1024;

/** What became of a body: SNS's message id; SNS's refusal (or ours, for a body over SNS's limit: no code); or not sent. */
export type PublishResult =
  | { readonly messageId: string }
  | { readonly refused: { readonly code?: string; readonly message: string } }
  | { readonly notSent: true };

export interface PublishOptions {
  /** Calls in flight at once. @default 4 */
  readonly concurrency?: number;
  /**
   * A body alone over SNS's limit: "ask-sns" publishes it alone (`Publish`), so the refusal is SNS's own
   * error (the local engines'); "refuse" answers it without a call. @default "refuse"
   */
  readonly oversize?: "ask-sns" | "refuse";
  /** Each body's entry Id in the batch (SNS names failed entries by it). @default its index */
  readonly ids?: readonly string[];
}

/** Every body's result in the bodies' order; after a call that fails as a whole no other starts (`stoppedBy`). */
export interface PublishOutcome {
  readonly results: PublishResult[];
  readonly stoppedBy?: unknown;
}

/** Batches of at most 10 bodies and 256 KiB; a body alone over 256 KiB is returned apart (SNS refuses it). */
export function publishBatches<T extends { readonly body: string }>(items: T[]): { batches: T[][]; tooLarge: T[] } {
  const batches: T[][] = [];
  const tooLarge: T[] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.body, "utf8");
    if (size > BATCH_BYTES) {
      tooLarge.push(item);
      continue;
    }
    if (batch.length === BATCH_ENTRIES || bytes + size > BATCH_BYTES) {
      batches.push(batch);
      [batch, bytes] = [[], 0];
    }
    batch.push(item);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return { batches, tooLarge };
}

/** SNS refused the request as the caller's fault (4xx): a refusal of the body, not an outage. */
const refusedByService = (error: unknown) =>
  String((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? "").startsWith("4");

export async function publishAll(
  sns: SNSClient,
  topicArn: string,
  bodies: string[],
  options: PublishOptions = {},
): Promise<PublishOutcome> {
  const results: PublishResult[] = bodies.map(() => ({ notSent: true }));
  const { batches, tooLarge } = publishBatches(bodies.map((body, index) => ({ body, index })));
  const idOf = (index: number) => options.ids?.[index] ?? String(index);
  const indexOf = new Map(bodies.map((_, index) => [idOf(index), index]));
  let stoppedBy: unknown;
  const call = async (send: () => Promise<void>) => {
    if (stoppedBy !== undefined) return;
    try {
      await send();
    } catch (error) {
      stoppedBy ??= error;
    }
  };
  for (const { body, index } of tooLarge) {
    if (options.oversize !== "ask-sns") {
      results[index] = { refused: { message: "over SNS's 256 KiB message limit" } };
      continue;
    }
    await call(async () => {
      try {
        const { MessageId } = await sns.send(new PublishCommand({ TopicArn: topicArn, Message: body }));
        results[index] = { messageId: MessageId! };
      } catch (error) {
        if (!refusedByService(error)) throw error;
        results[index] = { refused: { code: (error as Error).name, message: (error as Error).message } };
      }
    });
  }
  await inParallel(batches, options.concurrency ?? 4, (batch) =>
    call(async () => {
      const { Successful = [], Failed = [] } = await sns.send(
        new PublishBatchCommand({
          TopicArn: topicArn,
          PublishBatchRequestEntries: batch.map(({ body, index }) => ({ Id: idOf(index), Message: body })),
        }),
      );
      for (const { index } of batch) results[index] = { refused: { message: "SNS's answer did not mention it" } };
      for (const entry of Successful) results[indexOf.get(entry.Id!)!] = { messageId: entry.MessageId! };
      for (const entry of Failed)
        results[indexOf.get(entry.Id!)!] = { refused: { code: entry.Code, message: entry.Message ?? "" } };
    }),
  );
  return { results, stoppedBy };
}

/** `task` for every item, at most `concurrency` at a time; results in the items' order. */
export async function inParallel<T, R>(items: T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
