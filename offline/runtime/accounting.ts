/**
 * The run's accounting. The balance is the engine's own numbers (fauxqs counts, per queue, what entered it,
 * what was deleted from it and what it moved to a DLQ), so a message sent straight to a queue, a redrive by
 * any client and a message kept by `--persist` count as much as the orders this runtime published:
 *
 *   restored + arrived = processed + deadLettered + queued + lost
 *
 * over the source queues (every queue that is no queue's dead-letter queue). `lost` is the remainder and is
 * never clamped: a negative one is a defect of the accounting, reported like a loss.
 */
import type { QueueCounts } from "../engines/sns-sqs";

export interface PipelineSummary {
  /** Messages SNS accepted (from any client). */
  published: number;
  /** Messages that entered the source queues during the run: SNS deliveries, direct sends, redrives. */
  arrived: number;
  /** Messages deleted from the source queues (the function succeeded with them). */
  processed: number;
  /** Messages moved from a source queue to its dead-letter queue during the run. */
  deadLettered: number;
  /** Messages that left a dead-letter queue (moved back by this runtime or by any client), less `discarded`. */
  redriven: number;
  /** Messages still in the source queues at the end, in flight included. */
  queued: number;
  /** restored + arrived - processed - deadLettered - queued; 0 when every message is accounted for. */
  lost: number;
  /** Items in the table at the end. */
  items: number;
  /** Messages in the source queues when the run started (kept by `--persist`); only with `--persist`. */
  restored?: number;
  /** Bodies SNS refused at Publish (too large, ...): never published (shown only when there are any). */
  rejected?: number;
  /** Messages the Lambda service received but could not read, so never invoked (shown only when there are any). */
  unreadable?: number;
  /** Messages deleted from a dead-letter queue by hand in the console, not redriven (shown only when there are any). */
  discarded?: number;
}

export class RunAccounting {
  /** Bodies published to a topic. */
  published = 0;
  /** The same, per topic name. */
  readonly publishedTo = new Map<string, number>();
  /** Messages SNS put in queues (one per subscription per publish): for the progress line. */
  deliveries = 0;
  /** Messages deleted after the function succeeded with them: for the progress line. */
  processed = 0;
  /** Messages moved back from a dead-letter queue by this runtime: for the progress line. */
  redriven = 0;
  /** Bodies SNS refused at Publish. */
  rejected = 0;
  /** Messages received that could not be read. */
  unreadable = 0;
  /** Messages deleted from a dead-letter queue by hand (the console's Delete). */
  discarded = 0;
  /** Invocations running now. */
  active = 0;

  /** Deliveries so far, and how many have left the polled queues (processed or dead-lettered). */
  progress(inFlight: number): { delivered: number; settled: number } {
    const delivered = this.deliveries + this.redriven;
    return { delivered, settled: delivered - inFlight };
  }

  /** The balance over the source queues, from the engine's counts and what is in the queues now. */
  summary(state: {
    counts: QueueCounts;
    sourceQueues: readonly string[];
    deadLetterQueues: readonly string[];
    queued: number;
    restored?: number;
    items: number;
  }): PipelineSummary {
    const total = (queues: readonly string[], key: "entered" | "deleted" | "deadLettered") =>
      queues.reduce((sum, queue) => sum + (state.counts[queue]?.[key] ?? 0), 0);
    const arrived = total(state.sourceQueues, "entered");
    const processed = total(state.sourceQueues, "deleted");
    const deadLettered = total(state.sourceQueues, "deadLettered");
    const summary: PipelineSummary = {
      published: this.published,
      arrived,
      processed,
      deadLettered,
      redriven: total(state.deadLetterQueues, "deleted") - this.discarded,
      queued: state.queued,
      lost: (state.restored ?? 0) + arrived - processed - deadLettered - state.queued,
      items: state.items,
    };
    if (state.restored !== undefined) summary.restored = state.restored;
    if (this.rejected > 0) summary.rejected = this.rejected;
    if (this.unreadable > 0) summary.unreadable = this.unreadable;
    if (this.discarded > 0) summary.discarded = this.discarded;
    return summary;
  }
}
