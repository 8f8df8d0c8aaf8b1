/** SNS's limits on one PublishBatch: 10 entries, and 256 KiB for all their messages together. */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 256 * 1024;

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
