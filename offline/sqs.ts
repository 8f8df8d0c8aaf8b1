/**
 * An SQS standard queue, in process, with AWS's documented semantics: a received message is
 * invisible for the visibility timeout; each receive increments its receive count; a message whose
 * receive count would exceed the redrive policy's maxReceiveCount moves to the dead-letter queue
 * instead of being received; a message older than the retention period is deleted.
 * Durations are multiplied by `timeScale`.
 */
import { randomUUID } from "node:crypto";
import { QueueModel } from "./stack-model";

export interface QueueMessage {
  /** Stable across dead-lettering and redrive: one published delivery's identity. */
  readonly traceId: string;
  messageId: string;
  readonly body: string;
  /** Original enqueue time (kept when dead-lettered, as standard queues do). */
  readonly sentAt: number;
  receiveCount: number;
  visibleAt: number;
  receiptHandle?: string;
  /** Held by a running invocation: never visible again until it settles. */
  inFlight: boolean;
  /** Receives it had when it was moved to a dead-letter queue. */
  deadLetteredAfter?: number;
}

export type QueueEvent =
  | { type: "dead-lettered"; queue: LocalQueue; target: LocalQueue; message: QueueMessage }
  | { type: "expired"; queue: LocalQueue; message: QueueMessage };

export class LocalQueue {
  readonly name: string;
  readonly arn: string;
  private readonly messages = new Map<string, QueueMessage>();
  private waiters: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private closed = false;
  deadLetterQueue?: LocalQueue;

  constructor(
    readonly model: QueueModel,
    private readonly timeScale: number,
    private readonly onEvent: (event: QueueEvent) => void,
  ) {
    this.name = model.name;
    this.arn = model.arn;
  }

  get visibilityTimeoutMs(): number {
    return this.model.visibilityTimeoutSeconds * 1000 * this.timeScale;
  }

  /** SendMessage; `carried` keeps identity, enqueue time and history when a message is moved. */
  send(body: string, carried?: Pick<QueueMessage, "traceId" | "sentAt" | "deadLetteredAfter">): QueueMessage {
    const message: QueueMessage = {
      traceId: carried?.traceId ?? randomUUID(),
      messageId: randomUUID(),
      body,
      sentAt: carried?.sentAt ?? performance.now(),
      receiveCount: 0,
      visibleAt: 0,
      inFlight: false,
      deadLetteredAfter: carried?.deadLetteredAfter,
    };
    this.messages.set(message.messageId, message);
    this.wake();
    return message;
  }

  /** ReceiveMessage: up to `max` visible messages, each now invisible and counted. */
  receive(max: number): QueueMessage[] {
    const now = performance.now();
    const out: QueueMessage[] = [];
    for (const message of this.messages.values()) {
      if (out.length >= max) break;
      if (this.expire(message, now) || message.inFlight || message.visibleAt > now) continue;
      const redrive = this.model.redrive;
      if (redrive && this.deadLetterQueue && message.receiveCount >= redrive.maxReceiveCount) {
        this.messages.delete(message.messageId);
        const moved = this.deadLetterQueue.send(message.body, {
          traceId: message.traceId,
          sentAt: message.sentAt,
          deadLetteredAfter: message.receiveCount,
        });
        moved.receiveCount = 0;
        this.onEvent({
          type: "dead-lettered",
          queue: this,
          target: this.deadLetterQueue,
          message: { ...message, deadLetteredAfter: message.receiveCount },
        });
        continue;
      }
      message.receiveCount += 1;
      message.receiptHandle = randomUUID();
      message.visibleAt = now + this.visibilityTimeoutMs;
      message.inFlight = true;
      out.push(message);
    }
    return out;
  }

  /** DeleteMessage with the receipt of the receive that got it. */
  delete(message: QueueMessage): boolean {
    const current = this.messages.get(message.messageId);
    if (!current || current.receiptHandle !== message.receiptHandle) return false;
    this.messages.delete(message.messageId);
    this.wake();
    return true;
  }

  /** The invocation holding the message ended without deleting it: visible once its timeout passes. */
  release(message: QueueMessage): void {
    const current = this.messages.get(message.messageId);
    if (!current) return;
    current.inFlight = false;
    this.schedule(current.visibleAt);
    this.wake();
  }

  /** Removes every message (the message-move task's source side). */
  drain(): QueueMessage[] {
    const all = [...this.messages.values()];
    this.messages.clear();
    return all;
  }

  /** Whether the queue still holds the message (it may have expired while an invocation held it). */
  has(messageId: string): boolean {
    return this.messages.has(messageId);
  }

  get size(): number {
    return this.messages.size;
  }

  /** Visible messages, counted up to `upTo` (pollers only ask "any?" or "a full batch?"). */
  visibleCount(upTo = Infinity): number {
    const now = performance.now();
    let n = 0;
    for (const m of this.messages.values()) {
      if (!m.inFlight && m.visibleAt <= now && ++n >= upTo) break;
    }
    return n;
  }

  /** Resolves when a message may have become receivable (a send, a release, a timeout passing). */
  waitForMessages(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.wake();
  }

  private expire(message: QueueMessage, now: number): boolean {
    if (now - message.sentAt <= this.model.retentionSeconds * 1000 * this.timeScale) return false;
    this.messages.delete(message.messageId);
    this.onEvent({ type: "expired", queue: this, message });
    return true;
  }

  private schedule(at: number): void {
    if (at >= this.timerAt && this.timer) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        const now = performance.now();
        let next = Infinity;
        for (const m of this.messages.values())
          if (!m.inFlight && m.visibleAt > now) next = Math.min(next, m.visibleAt);
        if (next !== Infinity) this.schedule(next);
        this.wake();
      },
      Math.max(0, at - performance.now()),
    );
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** The stack's queues by ARN, each linked to its dead-letter queue as its redrive policy says. */
export function createQueues(
  models: QueueModel[],
  timeScale: number,
  onEvent: (event: QueueEvent) => void,
): Map<string, LocalQueue> {
  const queues = new Map(models.map((model) => [model.arn, new LocalQueue(model, timeScale, onEvent)]));
  for (const queue of queues.values()) {
    if (queue.model.redrive) queue.deadLetterQueue = queues.get(queue.model.redrive.deadLetterTargetArn);
  }
  return queues;
}
