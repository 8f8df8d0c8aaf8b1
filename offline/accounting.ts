/** The run's accounting: every delivery ends processed, dead-lettered, still in flight, or lost. */

export interface PipelineSummary {
  published: number;
  processed: number;
  deadLettered: number;
  redriven: number;
  lost: number;
  items: number;
  /** Messages waiting in a queue no enabled event source mapping consumes (shown only when there are any). */
  queued?: number;
  /** Of `lost`: messages SQS dropped at the end of their retention (shown only when there are any). */
  expired?: number;
  /** Of `processed`: messages the function stored but that expired before their delete (shown only when there are any). */
  expiredAfterProcessing?: number;
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
  /** Messages SQS dropped at the end of their retention without the function having succeeded with them. */
  expired = 0;
  /** Messages the function succeeded with that had expired before their delete: processed, and counted here. */
  expiredAfterProcessing = 0;
  /** Invocations running now. */
  active = 0;

  /** Deliveries so far, and how many have left the polled queues (processed, dead-lettered or expired). */
  progress(inFlight: number): { delivered: number; settled: number } {
    const delivered = this.deliveries + this.redriven;
    return { delivered, settled: delivered - inFlight };
  }

  /**
   * published = processed + dead-lettered + lost (+ queued where no enabled mapping consumes a queue):
   * a delivery neither processed, dead-lettered, in flight nor queued is lost, an expired one included.
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
    if (state.queued > 0) summary.queued = state.queued;
    if (this.expired > 0) summary.expired = this.expired;
    if (this.expiredAfterProcessing > 0) summary.expiredAfterProcessing = this.expiredAfterProcessing;
    return summary;
  }
}
