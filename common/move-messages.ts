/**
 * Moving a queue's messages to another through the SQS API, never losing one: each batch is received
 * (hidden from other readers while it moves), sent to the target, and deleted from the source only for
 * the entries whose send succeeded. Shared by the offline runtime's `--redrive`, the local console and the
 * operator CLI (`dlq redrive` where there is no message-move task, `delivery-dlq move`). The peek at a
 * queue by receiving is `dlq list`'s, as any client must on AWS (the local console reads the engine's state).
 */
import {
  BatchResultErrorEntry,
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";

/** While a batch is being moved it is invisible to other readers of the source queue. */
const MOVE_VISIBILITY_SECONDS = 60;

/**
 * Up to `max` of a queue's messages, peeked at: received with a visibility timeout of 0, so that they stay
 * visible for the next reader (a list, a redrive), with their receive count and sent time. Receives until
 * `max` are seen or a receive brings none that is new (SQS samples servers: a message may come twice).
 */
export async function peekMessages(
  sqs: SQSClient,
  queueUrl: string,
  options: { max: number; waitSeconds: number },
): Promise<Message[]> {
  const seen = new Map<string, Message>();
  for (let round = 0; round < Math.ceil(options.max / 10) + 2 && seen.size < options.max; round++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, options.max - seen.size),
        VisibilityTimeout: 0,
        WaitTimeSeconds: options.waitSeconds,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
      }),
    );
    const fresh = Messages.filter((m) => m.MessageId && !seen.has(m.MessageId));
    if (fresh.length === 0) break;
    for (const m of fresh) seen.set(m.MessageId!, m);
  }
  return [...seen.values()];
}

/** What a queue holds: visible, in flight (held by a reader, or just peeked at) and delayed; one call. */
export async function queueDepth(
  sqs: SQSClient,
  queueUrl: string,
): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/** Messages a queue holds, all told. */
export async function messagesIn(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { visible, inFlight, delayed } = await queueDepth(sqs, queueUrl);
  return visible + inFlight + delayed;
}

export interface MoveOptions {
  readonly from: string;
  readonly to: string;
  /** Seconds each receive waits for messages (in flight ones reappear within it). */
  readonly waitSeconds: number;
  /**
   * After a batch with a refused send: true stops the move (the refused message would come back after
   * its visibility timeout and be refused again); false goes on and makes the refused messages visible
   * in the source again at the end.
   */
  readonly stopOnRefusal: boolean;
  readonly onRefused?: (message: Message, failure: BatchResultErrorEntry) => void;
  /** Each message sent to `to` (before its delete from `from`), with the id the target gave it. */
  readonly onMoved?: (message: Message, newMessageId: string) => void;
  /** Move only the messages this selects (the others are made visible again at the end); all when absent. */
  readonly select?: (message: Message) => boolean;
  readonly onProgress?: (moved: number, total: number, refused: number) => void;
}

export interface MoveResult {
  /** What the source held when the move started. */
  readonly total: number;
  readonly moved: number;
  readonly refused: number;
}

/** Sends a batch to `to`, then deletes from `from` only what was sent. Returns the messages refused. */
async function sendThenDelete(sqs: SQSClient, messages: Message[], options: MoveOptions): Promise<Message[]> {
  const { Successful = [], Failed = [] } = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: options.to,
      Entries: messages.map((m, i) => ({
        Id: String(i),
        MessageBody: m.Body!,
        MessageAttributes: m.MessageAttributes,
      })),
    }),
  );
  for (const sent of Successful) options.onMoved?.(messages[Number(sent.Id)], sent.MessageId!);
  if (Successful.length > 0) {
    const entries = Successful.map((s) => ({ Id: s.Id!, ReceiptHandle: messages[Number(s.Id)].ReceiptHandle! }));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: options.from, Entries: entries }));
  }
  return Failed.map((failure) => {
    const message = messages[Number(failure.Id)];
    options.onRefused?.(message, failure);
    return message;
  });
}

async function makeVisible(sqs: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 10) {
    const entries = messages
      .slice(start, start + 10)
      .map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
}

/**
 * Moves the messages `from` holds when the move starts, as SQS's message-move task does: a message that
 * fails again after its move and comes back is not moved a second time.
 */
export async function moveMessages(sqs: SQSClient, options: MoveOptions): Promise<MoveResult> {
  const total = await messagesIn(sqs, options.from);
  const refused: Message[] = [];
  const skipped: Message[] = [];
  let moved = 0;
  for (let left = total; left > 0;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.from,
        MaxNumberOfMessages: Math.min(10, left),
        WaitTimeSeconds: options.waitSeconds,
        VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) break;
    left -= Messages.length;
    const chosen = options.select ? Messages.filter(options.select) : Messages;
    skipped.push(...Messages.filter((m) => !chosen.includes(m)));
    const refusedNow = chosen.length > 0 ? await sendThenDelete(sqs, chosen, options) : [];
    refused.push(...refusedNow);
    moved += chosen.length - refusedNow.length;
    options.onProgress?.(moved, Math.max(total, moved), refused.length);
    if (refused.length > 0 && options.stopOnRefusal) break;
  }
  await makeVisible(sqs, options.from, options.stopOnRefusal ? skipped : [...refused, ...skipped]);
  return { total, moved, refused: refused.length };
}
