/** The run's accounting: every delivery ends processed, dead-lettered, still in flight, or lost. */

export interface PipelineSummary {
  published: number;
  processed: number;
  deadLettered: number;
  redriven: number;
  lost: number;
  items: number;
  /** Bodies SNS refused at Publish (too large, ...): not published, so not in `published` (shown only when there are any). */
  rejected?: number;
  /** Messages waiting in a queue no enabled event source mapping consumes (shown only when there are any). */
  queued?: number;
}

export class RunAccounting {
  /** Bodies published to a topic. */
  published = 0;
  /** Messages SNS put in queues (one per subscription per publish). */
  deliveries = 0;
  /** Messages deleted after the function succeeded with them. */
  processed = 0;
  /** Messages moved back from a dead-letter queue. */
  redriven = 0;
  /** Bodies SNS refused at Publish. */
  rejected = 0;
  /** Invocations running now. */
  active = 0;

  /** Deliveries so far, and how many have left the polled queues (processed or dead-lettered). */
  progress(inFlight: number): { delivered: number; settled: number } {
    const delivered = this.deliveries + this.redriven;
    return { delivered, settled: delivered - inFlight };
  }

  /**
   * published = processed + dead-lettered + lost (+ queued where no enabled mapping consumes a queue):
   * a delivery neither processed, dead-lettered, in flight nor queued is lost.
   */
  summary(state: { deadLettered: number; inFlight: number; queued: number; items: number }): PipelineSummary {
    const accounted = this.processed + state.deadLettered + state.inFlight + state.queued;
    const summary: PipelineSummary = {
      published: this.published,
      processed: this.processed,
      deadLettered: state.deadLettered,
      redriven: this.redriven,
      lost: Math.max(0, this.deliveries - accounted),
      items: state.items,
    };
    if (this.rejected > 0) summary.rejected = this.rejected;
    if (state.queued > 0) summary.queued = state.queued;
    return summary;
  }
}
