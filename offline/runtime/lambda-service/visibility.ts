/**
 * The poller's side of time compression: a failed message becomes visible again when its scaled
 * visibility timeout ends, through `ChangeMessageVisibilityBatch` with a timeout of 0. The engine keeps
 * the stack's own (unscaled) timeout, so nothing but this makes a message visible early.
 */
import { ChangeMessageVisibilityBatchCommand, Message, SQSClient } from "@aws-sdk/client-sqs";

export class VisibilityScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Messages waiting for their visibility timeout to end (a run has not settled while there are any). */
  get pending(): number {
    return this.timers.size + this.running.size;
  }

  makeVisibleAt(queueUrl: string, messages: Message[], at: number): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        const change = this.makeVisible(queueUrl, messages).catch(this.onError);
        this.running.add(change);
        void change.finally(() => this.running.delete(change));
      },
      Math.max(0, at - performance.now()),
    );
    this.timers.add(timer);
  }

  private async makeVisible(queueUrl: string, messages: Message[]): Promise<void> {
    for (let start = 0; start < messages.length; start += 10) {
      const chunk = messages.slice(start, start + 10);
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((message, i) => ({
            Id: String(i),
            ReceiptHandle: message.ReceiptHandle!,
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
  }

  /** Stops every timer; the messages stay invisible for the queue's own timeout. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.running);
  }
}
