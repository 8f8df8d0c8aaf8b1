/**
 * The deployed console's dead letters: each DLQ peeked at by receiving (SQS has no other way: a look adds
 * one to each message's receive count, so a queue is received from only when the view opens and it holds
 * something), each message with its cause from the function's log; redrive and delete.
 */
import {
  DeleteMessageCommand,
  Message,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { moveMessages, peekMessages, queueDepth } from "../../common/move-messages";
import type {
  DeadLetterQueueView,
  DeadLetterView,
  LogLine,
  QueueDepthView,
  RedriveAnswer,
} from "../../offline/console/api";
import { deadLetterOf } from "../../offline/console/source";
import { orderIdOf } from "../../offline/runtime/events";
import { lastSegment, StackOutputs, unsupportedOperation } from "../io";
import type { FunctionLog } from "./aws-log";

/** The most messages of one dead-letter queue the view lists. */
const DEAD_LETTERS_SHOWN = 50;
/** How far back a cause is looked for (a DLQ keeps messages 14 days). */
const CAUSE_HOURS = 14 * 24;

export interface QueueRef {
  readonly name: string;
  readonly url: string;
  readonly arn?: string;
  readonly dead: boolean;
}

/** The stack's queues, from its outputs. */
export function queuesOf(outputs: StackOutputs): QueueRef[] {
  const queue = (url: string, arn: string | undefined, dead: boolean) => ({ name: lastSegment(url), url, arn, dead });
  return [
    queue(outputs.queue_url, outputs.queue_arn, false),
    queue(outputs.dlq_url, outputs.dlq_arn, true),
    ...(outputs.delivery_dlq_url ? [queue(outputs.delivery_dlq_url, outputs.delivery_dlq_arn, true)] : []),
  ];
}

/** Records a failed call's advice in `problems` and gives undefined in place of its answer. */
export const noting =
  (problems: string[], advice: (error: unknown, what: string) => string) => (what: string) => (error: unknown) => {
    problems.push(advice(error, what));
    return undefined;
  };

export class DeadLetters {
  /** Where each order was seen at the last look at the DLQs, and when (a journey says so without a receive). */
  readonly seen = new Map<string, { queue: string; at: number; receives: number }>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly outputs: StackOutputs,
    private readonly queues: QueueRef[],
    private readonly log: FunctionLog | undefined,
    /** Orders moved back, with when (the journeys follow them). */
    private readonly redriven: Map<string, number>,
    private readonly advice: (error: unknown, what: string) => string,
  ) {}

  list(): Promise<DeadLetterQueueView[]> {
    return Promise.all(this.queues.filter((q) => q.dead).map((q) => this.deadLetterQueue(q)));
  }

  /** One dead-letter queue: received from only when it holds something, each message with its cause. */
  private async deadLetterQueue(q: QueueRef): Promise<DeadLetterQueueView> {
    const problems: string[] = [];
    const note = noting(problems, this.advice);
    const held = await this.depthOf(q).catch(note(`the depth of ${q.name} (sqs:GetQueueAttributes)`));
    const total = held ? held.visible + held.inFlight + held.delayed : 0;
    const messages =
      total > 0
        ? ((await peekMessages(this.sqs, q.url, {
            max: Math.min(total, DEAD_LETTERS_SHOWN),
            waitSeconds: 1,
          }).catch(note(`the messages of ${q.name} (sqs:ReceiveMessage, kms:Decrypt)`))) ?? [])
        : [];
    const causes =
      messages.length && this.log
        ? await this.log
            .causes(
              messages.map((m) => m.MessageId!),
              CAUSE_HOURS,
            )
            .catch(note(`the causes (logs:FilterLogEvents on ${this.log.group})`))
        : undefined;
    const views = messages.map((m) => deadLetterFrom(m, causes ?? new Map()));
    for (const [order, where] of this.seen) if (where.queue === q.name) this.seen.delete(order);
    for (const v of views)
      if (v.orderId) this.seen.set(v.orderId, { queue: q.name, at: Date.now(), receives: v.receives });
    return { queue: q.name, total, messages: views, problems };
  }

  /**
   * The whole DLQ of OrderQueue through SQS's message-move task; one message, or a queue the task does not
   * serve (the subscription's delivery DLQ), by receive, send and delete. The orders moved are remembered.
   */
  async redrive(queueName: string, messageId?: string): Promise<RedriveAnswer> {
    const dlq = this.queueNamed(queueName);
    const target = this.queues[0];
    const remember = (m: Message) => {
      const orderId = orderIdOf(m.Body ?? "");
      if (orderId) this.redriven.set(orderId, Date.now());
    };
    if (!messageId && dlq.arn && dlq.url === this.outputs.dlq_url) {
      const peeked = await peekMessages(this.sqs, dlq.url, { max: DEAD_LETTERS_SHOWN, waitSeconds: 1 });
      const started = await this.sqs
        .send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn }))
        .catch((error) => (unsupportedOperation(error) ? undefined : Promise.reject(error)));
      if (started) {
        peeked.forEach(remember);
        const { visible, inFlight } = await this.depthOf(dlq);
        const answer = { total: visible + inFlight, moved: 0, refused: 0, from: dlq.name, to: target.name };
        return { ...answer, task: started.TaskHandle };
      }
    }
    const result = await moveMessages(this.sqs, {
      from: dlq.url,
      to: target.url,
      waitSeconds: 1,
      stopOnRefusal: false,
      select: messageId ? (m) => m.MessageId === messageId : undefined,
      onMoved: remember,
    });
    return { ...result, from: dlq.name, to: target.name };
  }

  /** Receives until the message shows (at most 10 rounds), then deletes it. */
  async discard(queueName: string, messageId: string) {
    const dlq = this.queueNamed(queueName);
    for (let round = 0; round < 10; round++) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlq.url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 0,
          WaitTimeSeconds: 1,
        }),
      );
      const found = Messages.find((m) => m.MessageId === messageId);
      if (found) {
        await this.sqs.send(new DeleteMessageCommand({ QueueUrl: dlq.url, ReceiptHandle: found.ReceiptHandle }));
        return { deleted: true, queue: dlq.name };
      }
      if (Messages.length === 0) break;
    }
    return { deleted: false, queue: dlq.name };
  }

  private depthOf(queue: QueueRef): Promise<QueueDepthView> {
    return queueDepth(this.sqs, queue.url);
  }

  private queueNamed(name: string): QueueRef {
    const queue = this.queues.find((q) => q.name === name && q.dead);
    if (!queue) throw new Error(`${name} is not one of this stack's dead-letter queues`);
    return queue;
  }
}

function deadLetterFrom(message: Message, causes: Map<string, LogLine>): DeadLetterView {
  return deadLetterOf(
    {
      messageId: message.MessageId ?? "",
      body: message.Body ?? "",
      // AWS keeps the source queue's count when it moves a message; each look at the DLQ adds one.
      receives: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
      sent: message.Attributes?.SentTimestamp ? Number(message.Attributes.SentTimestamp) : undefined,
    },
    causes.get(message.MessageId ?? ""),
  );
}
