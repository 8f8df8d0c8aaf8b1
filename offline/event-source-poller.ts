/**
 * One poller of an SQS event source mapping, as Lambda runs several per queue: wait for messages, gather
 * a batch for the batching window, invoke the function in an execution environment, then delete what
 * succeeded and let the failures reappear after the visibility timeout.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { RunAccounting } from "./accounting";
import { sqsEvent } from "./aws-events";
import { judgeBatch } from "./batch-response";
import { EnvironmentPool } from "./environment-pool";
import { Emit } from "./events";
import { LocalQueue, QueueMessage } from "./sqs";
import { FunctionModel, MappingModel } from "./stack-model";

export interface PollerContext {
  readonly pool: EnvironmentPool;
  readonly accounting: RunAccounting;
  readonly region: string;
  /** Factor applied to queue durations (the batching window). */
  readonly timeScale: number;
  /** Factor applied to the function timeout. */
  readonly functionTimeScale: number;
  readonly emit: Emit;
  /** The order id of a body, for the trace (undefined when not tracing). */
  readonly orderIdOf: (body: string) => string | undefined;
  readonly isClosed: () => boolean;
}

export class EventSourcePoller {
  constructor(
    readonly mapping: MappingModel,
    readonly fn: FunctionModel,
    readonly queue: LocalQueue,
    private readonly context: PollerContext,
  ) {}

  /** Polls until the pipeline closes. */
  async run(): Promise<void> {
    const { queue, mapping } = this;
    const windowMs = mapping.batchingWindowSeconds * 1000 * this.context.timeScale;
    while (!this.context.isClosed()) {
      if (queue.visibleCount(1) === 0) {
        await queue.waitForMessages();
        continue;
      }
      if (windowMs > 0 && queue.visibleCount(mapping.batchSize) < mapping.batchSize) await sleep(windowMs);
      const batch = queue.receive(mapping.batchSize);
      if (batch.length === 0) continue;
      this.context.accounting.active += 1;
      try {
        await this.invoke(batch);
      } finally {
        this.context.accounting.active -= 1;
      }
    }
  }

  private async invoke(batch: QueueMessage[]): Promise<void> {
    const { queue, fn, context } = this;
    const environment = context.pool.acquire(fn);
    for (const message of batch) {
      const { messageId, receiveCount } = message;
      context.emit({
        type: "received",
        queue: queue.name,
        messageId,
        receiveCount,
        orderId: context.orderIdOf(message.body),
      });
    }
    context.emit({ type: "invoked", function: fn.name, records: batch.length });
    const timeoutMs = fn.timeoutSeconds * 1000 * context.functionTimeScale;
    const result = await environment.invoke(
      sqsEvent(batch, queue.arn, context.region),
      timeoutMs,
      context.functionTimeScale,
    );
    context.pool.release(fn, environment);
    const ids = batch.map((message) => message.messageId);
    const verdict = judgeBatch(result, ids, this.mapping.reportBatchItemFailures, fn.timeoutSeconds);
    if (verdict.wholeBatchFailure) {
      context.emit({
        type: "invocation-failed",
        function: fn.name,
        reason: verdict.wholeBatchFailure,
        records: batch.length,
      });
    }
    this.settle(batch, verdict.failed);
  }

  /** Failed messages go back (visible after the timeout); the others are deleted and count as processed. */
  private settle(batch: QueueMessage[], failed: Set<string>): void {
    const { queue, context } = this;
    for (const message of batch) {
      if (failed.has(message.messageId)) {
        queue.release(message);
        const visibleInMs = Math.max(0, message.visibleAt - performance.now());
        context.emit({ type: "returned", queue: queue.name, messageId: message.messageId, visibleInMs });
      } else if (queue.delete(message)) {
        context.accounting.processed += 1;
        context.emit({ type: "deleted", queue: queue.name, messageId: message.messageId });
      } else if (!queue.has(message.messageId)) {
        // Its retention ended while the function ran: stored all the same, so processed, not lost.
        context.accounting.processed += 1;
        context.accounting.expired -= 1;
        context.accounting.expiredAfterProcessing += 1;
      } else {
        queue.release(message);
      }
    }
  }
}
