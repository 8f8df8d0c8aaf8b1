/**
 * One poller of an SQS event source mapping, as Lambda runs several per queue, on the SQS API only:
 * long-poll `ReceiveMessage`, gather a batch for the batching window, invoke the function in an
 * execution environment, `DeleteMessageBatch` what succeeded and leave the failures to reappear.
 * Visibility, receive counts and dead-lettering are the engine's; this file drives them.
 *
 * Time compression lives here, not in the engine: the queue keeps the stack's visibility timeout, so a
 * message is never visible while the invocation holding it runs; after a failed attempt the poller waits
 * the scaled remainder of that timeout (`visibility.ts`) and then makes the message visible again.
 */
import { DeleteMessageBatchCommand, Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { setTimeout as sleep } from "node:timers/promises";
import { Emit } from "../events";
import { FunctionModel, MappingModel } from "../stack-model";
import { judgeBatch, sqsEventOf } from "./sqs-contract";
import { EnvironmentPool } from "./environment-pool";
import { VisibilityScheduler } from "./visibility";

/** A queue as the engine knows it. */
export interface PolledQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly visibilityTimeoutSeconds: number;
}

export interface PollerContext {
  readonly sqs: SQSClient;
  readonly pool: EnvironmentPool;
  /** Invocations running now, over all pollers. */
  readonly invocations: { active: number };
  readonly visibility: VisibilityScheduler;
  readonly region: string;
  /** Factor applied to queue durations (the batching window, the visibility timeout). */
  readonly timeScale: number;
  /** Factor applied to the function timeout. */
  readonly functionTimeScale: number;
  readonly emit: Emit;
  /** The order id of a body, for the events (undefined without detail). */
  readonly orderIdOf: (body: string) => string | undefined;
  /** Aborted when the service stops: ends a long poll at once. */
  readonly stopped: AbortSignal;
  /** Why a received message cannot be read (`unreadable-messages.ts`), once; undefined for a readable one. */
  readonly unreadable: (messageId: string) => string | undefined;
  /** A message received but not invoked because it cannot be read: it fails this receive. */
  readonly onUnreadable: (message: Message, fn: FunctionModel, queue: string, reason: string) => void;
}

/** How long a poller waits after a ReceiveMessage the engine failed, before polling again. */
const RECEIVE_RETRY_MS = 1000;

/** The longest long poll SQS allows. */
const LONG_POLL_SECONDS = 20;

const receives = (message: Message) => Number(message.Attributes?.ApproximateReceiveCount ?? 0);

export class EventSourcePoller {
  constructor(
    readonly mapping: MappingModel,
    readonly fn: FunctionModel,
    readonly queue: PolledQueue,
    private readonly context: PollerContext,
  ) {}

  /** Polls until the service stops. */
  async run(): Promise<void> {
    while (!this.context.stopped.aborted) {
      const receivedAt = performance.now();
      const batch = this.withoutUnreadable(await this.gather(), receivedAt);
      if (batch.length === 0) continue;
      this.context.invocations.active += 1;
      try {
        await this.invoke(batch, receivedAt);
      } finally {
        this.context.invocations.active -= 1;
      }
    }
  }

  /** One long poll; then, for the batching window, more receives until the batch is full. */
  private async gather(): Promise<Message[]> {
    const { batchSize, batchingWindowSeconds } = this.mapping;
    const batch = await this.receive(batchSize, LONG_POLL_SECONDS);
    const windowEnds = performance.now() + batchingWindowSeconds * 1000 * this.context.timeScale;
    while (batch.length > 0 && batch.length < batchSize && performance.now() < windowEnds) {
      const more = await this.receive(batchSize - batch.length, 0);
      if (more.length === 0) await sleep(Math.min(2, windowEnds - performance.now()));
      batch.push(...more);
    }
    return batch;
  }

  /** The batch without the messages that cannot be read: those fail this receive, as the function never saw them. */
  private withoutUnreadable(batch: Message[], receivedAt: number): Message[] {
    const unreadable = batch.filter((message) => {
      const reason = this.context.unreadable(message.MessageId!);
      if (reason) this.context.onUnreadable(message, this.fn, this.queue.name, reason);
      return reason !== undefined;
    });
    if (unreadable.length === 0) return batch;
    this.retryLater(unreadable, receivedAt);
    return batch.filter((message) => !unreadable.includes(message));
  }

  private async receive(upTo: number, waitSeconds: number): Promise<Message[]> {
    if (this.context.stopped.aborted) return [];
    try {
      const { Messages = [] } = await this.context.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.queue.url,
          MaxNumberOfMessages: Math.min(10, upTo),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
        { abortSignal: this.context.stopped },
      );
      return Messages;
    } catch (error) {
      if (this.context.stopped.aborted) return [];
      // The engine failed this poll (or its answer could not be read): said, and polled again after a pause.
      this.context.emit({
        type: "warning",
        message: `ReceiveMessage on ${this.queue.name} failed: ${(error as Error).message.split("\n")[0]}; polling again in ${RECEIVE_RETRY_MS / 1000} s`,
      });
      await sleep(RECEIVE_RETRY_MS, undefined, { signal: this.context.stopped }).catch(() => undefined);
      return [];
    }
  }

  /** What the events say of a message besides its id: its order (with detail) and when it entered the queue. */
  private facts(message: Message): { orderId?: string; sentAt?: number } {
    return {
      orderId: this.context.orderIdOf(message.Body ?? ""),
      sentAt: Number(message.Attributes?.SentTimestamp) || undefined,
    };
  }

  private async invoke(batch: Message[], receivedAt: number): Promise<void> {
    const { queue, fn, context } = this;
    const environment = context.pool.acquire(fn);
    const facts = new Map(batch.map((message) => [message, this.facts(message)]));
    for (const message of batch) {
      const { orderId, sentAt } = facts.get(message)!;
      const receiveCount = receives(message);
      context.emit({
        type: "received",
        queue: queue.name,
        messageId: message.MessageId!,
        receiveCount,
        sentAt,
        orderId,
      });
    }
    context.emit({
      type: "invoked",
      function: fn.name,
      records: batch.length,
      environment: environment.number,
      cold: environment.cold,
      messageIds: batch.map((message) => message.MessageId!),
      orderIds: [...facts.values()].flatMap(({ orderId }) => (orderId ? [orderId] : [])),
    });
    const timeoutMs = fn.timeoutSeconds * 1000 * context.functionTimeScale;
    const event = sqsEventOf(batch, queue.arn, context.region);
    const result = await environment.invoke(event, timeoutMs, context.functionTimeScale);
    context.pool.release(fn, environment);
    const ids = batch.map((message) => message.MessageId!);
    const verdict = judgeBatch(result, ids, this.mapping.reportBatchItemFailures, fn.timeoutSeconds);
    if (verdict.wholeBatchFailure) {
      context.emit({
        type: "invocation-failed",
        function: fn.name,
        reason: verdict.wholeBatchFailure,
        records: batch.length,
        messageIds: ids,
      });
    }
    const failed = batch.filter((message) => verdict.failed.has(message.MessageId!));
    const succeeded = batch.filter((message) => !verdict.failed.has(message.MessageId!));
    this.retryLater(failed, receivedAt, facts);
    await this.deleteProcessed(succeeded, receivedAt, facts);
  }

  /** Failed records stay in the queue and become visible when the (scaled) visibility timeout ends. */
  private retryLater(failed: Message[], receivedAt: number, facts?: Map<Message, { orderId?: string }>): void {
    if (failed.length === 0) return;
    const { queue, context } = this;
    const visibleAt = receivedAt + queue.visibilityTimeoutSeconds * 1000 * context.timeScale;
    for (const message of failed) {
      const visibleInMs = Math.max(0, visibleAt - performance.now());
      const { orderId } = facts?.get(message) ?? {};
      context.emit({ type: "returned", queue: queue.name, messageId: message.MessageId!, visibleInMs, orderId });
    }
    context.visibility.makeVisibleAt(queue.url, failed, visibleAt);
  }

  /** DeleteMessageBatch, ten at a time; a delete the engine refuses is retried like a failure (the handler is idempotent). */
  private async deleteProcessed(
    succeeded: Message[],
    receivedAt: number,
    facts: Map<Message, { orderId?: string; sentAt?: number }>,
  ): Promise<void> {
    const { queue, context } = this;
    for (let start = 0; start < succeeded.length; start += 10) {
      const chunk = succeeded.slice(start, start + 10);
      const { Successful = [], Failed = [] } = await context.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: chunk.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
      for (const entry of Successful) {
        const message = chunk[Number(entry.Id)];
        context.emit({ type: "deleted", queue: queue.name, messageId: message.MessageId!, ...facts.get(message) });
      }
      const undeleted = Failed.map((entry) => chunk[Number(entry.Id)]);
      for (const entry of Failed)
        context.emit({
          type: "warning",
          message: `DeleteMessageBatch refused ${chunk[Number(entry.Id)].MessageId}: ${entry.Message}`,
        });
      this.retryLater(undeleted, receivedAt, facts);
    }
  }
}
