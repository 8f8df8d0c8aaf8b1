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
import type { PipelineEvent } from "./events";
import type { PipelineSummary } from "./shapes";

export type { PipelineSummary } from "./shapes";

/** The run's own counts, kept from the event stream (`record` is a subscriber); the balance is the engine's. */
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
  /** Messages deleted from a dead-letter queue by hand (the console's Delete). */
  discarded = 0;
  /** Per function, its records' outcomes (its outcome lines: only in a run that reads them). */
  readonly outcomes = new Map<string, Record<string, number>>();
  /** Messages received that could not be read. */
  private readonly unreadableIds = new Set<string>();

  readonly record = (event: PipelineEvent): void => {
    if (event.type === "published") {
      this.published += 1;
      this.publishedTo.set(event.topic, (this.publishedTo.get(event.topic) ?? 0) + 1);
      this.deliveries += event.queues.length;
    } else if (event.type === "deleted") this.processed += 1;
    else if (event.type === "redriven") this.redriven += 1;
    else if (event.type === "rejected") this.rejected += 1;
    else if (event.type === "discarded") this.discarded += 1;
    else if (event.type === "outcome") {
      const counts = this.outcomes.get(event.function) ?? {};
      counts[event.outcome] = (counts[event.outcome] ?? 0) + 1;
      this.outcomes.set(event.function, counts);
      if (event.outcome === "unreadable" && event.messageId) this.unreadableIds.add(event.messageId);
    }
  };

  get unreadable(): number {
    return this.unreadableIds.size;
  }

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
