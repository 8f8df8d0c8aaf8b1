/** The run's accounting: every delivery ends processed, dead-lettered, still in flight, or lost. */

export interface PipelineSummary {
  published: number;
  processed: number;
  deadLettered: number;
  redriven: number;
  lost: number;
  items: number;
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
  /** Messages SQS dropped at the end of their retention. */
  expired = 0;
  /** Invocations running now. */
  active = 0;

  /** Deliveries so far, and how many have left the polled queues (processed, dead-lettered or expired). */
  progress(inFlight: number): { delivered: number; settled: number } {
    const delivered = this.deliveries + this.redriven;
    return { delivered, settled: delivered - inFlight };
  }

  /** published = processed + dead-lettered + lost; a delivery neither processed, dead-lettered nor in flight is lost. */
  summary(state: { deadLettered: number; inFlight: number; items: number }): PipelineSummary {
    const accounted = this.processed + state.deadLettered + state.inFlight;
    return {
      published: this.published,
      processed: this.processed,
      deadLettered: state.deadLettered,
      redriven: this.redriven,
      lost: Math.max(0, this.deliveries - accounted) + this.expired,
      items: state.items,
    };
  }
}
