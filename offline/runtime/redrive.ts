/**
 * Redrive and discard, through the SQS API as an operator's script would do them (`common/move-messages.ts`,
 * which the operator CLI uses too): receive from the dead-letter queue, send to the source queue, and delete
 * from the dead-letter queue only after the send succeeded. The dead-letter queue's redrive-allow policy is
 * honoured. Each message moved is a `redriven` event (its new id carries its order's journey on); a message
 * deleted by hand is a `discarded` one. (SQS's message-move task does the same in AWS; fauxqs 2.4.1 lacks
 * it, and it does not serve dead-letter queues of SNS subscriptions anyway.)
 */
import { DeleteMessageCommand, Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { messagesIn, moveMessages, MoveResult } from "../../common/move-messages";
import { Emit, orderIdOf } from "./events";
import { QueueResource, ResourceRegistry } from "./registry";

export interface RedriveResult extends MoveResult {
  readonly from: string;
  readonly to: string;
}

/** The one queue a dead-letter queue serves, if its redrive-allow policy lets messages move back to it. */
function sourceOf(resources: ResourceRegistry, dlq: QueueResource): QueueResource {
  const sources = resources.all("aws_sqs_queue").filter((q) => q.model.redrive?.deadLetterTarget === dlq.address);
  if (sources.length === 0)
    throw new Error(`${dlq.name} is no queue's dead-letter queue: there is nowhere to redrive to`);
  if (sources.length > 1)
    throw new Error(`${dlq.name} is the dead-letter queue of several queues; the offline redrive needs one source.`);
  const allow = dlq.model.redriveAllow;
  const permitted =
    !allow ||
    allow.permission === "allowAll" ||
    (allow.permission === "byQueue" && allow.sourceQueues.includes(sources[0].address));
  if (!permitted)
    throw new Error(
      `${dlq.name}'s redrive-allow policy (${allow?.permission}) does not let messages move back to ${sources[0].name}.`,
    );
  return sources[0];
}

function queueNamed(resources: ResourceRegistry, name: string): QueueResource {
  const queue = resources.find("aws_sqs_queue", name);
  if (!queue) throw new Error(`no queue ${name}`);
  return queue;
}

/**
 * Moves the messages a dead-letter queue holds when the move starts (or only `messageId`): a message that
 * fails again while the move runs lands in the DLQ again and stays there; one the source queue refuses stays
 * in the DLQ, visible.
 */
export async function redriveQueue(
  sqs: SQSClient,
  resources: ResourceRegistry,
  target: { dlqName: string; messageId?: string },
  emit: Emit,
): Promise<RedriveResult> {
  const dlq = queueNamed(resources, target.dlqName);
  const source = sourceOf(resources, dlq);
  const only = target.messageId;
  const result = await moveMessages(sqs, {
    from: dlq.url,
    to: source.url,
    waitSeconds: 0,
    stopOnRefusal: false,
    select: only ? (m: Message) => m.MessageId === only : undefined,
    onMoved: (message, messageId) =>
      emit({
        type: "redriven",
        from: dlq.name,
        to: source.name,
        messageId,
        previousMessageId: message.MessageId,
        orderId: orderIdOf(message.Body ?? ""),
      }),
    onRefused: (message, failure) =>
      emit({
        type: "warning",
        message: `redrive: ${source.name} refused ${message.MessageId}, kept in ${dlq.name}: ${failure.Message}`,
      }),
  });
  return { ...result, from: dlq.name, to: source.name };
}

/** Moves each dead-letter queue's messages back to its one source queue (`--redrive`); returns how many moved. */
export async function redriveDeadLetters(sqs: SQSClient, resources: ResourceRegistry, emit: Emit): Promise<number> {
  let moved = 0;
  const queues = resources.all("aws_sqs_queue");
  for (const dlq of queues) {
    const served = queues.some((q) => q.model.redrive?.deadLetterTarget === dlq.address);
    if (!served || (await messagesIn(sqs, dlq.url)) === 0) continue;
    moved += (await redriveQueue(sqs, resources, { dlqName: dlq.name }, emit)).moved;
  }
  return moved;
}

/** Deletes one message from a dead-letter queue (found by receiving; the others are visible again at once). */
export async function discardMessage(
  sqs: SQSClient,
  resources: ResourceRegistry,
  target: { dlqName: string; messageId: string },
  emit: Emit,
): Promise<boolean> {
  const dlq = queueNamed(resources, target.dlqName);
  const total = await messagesIn(sqs, dlq.url);
  for (let round = 0; round < Math.ceil(total / 10) + 2; round++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        WaitTimeSeconds: 0,
      }),
    );
    const found = Messages.find((m) => m.MessageId === target.messageId);
    if (found) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlq.url, ReceiptHandle: found.ReceiptHandle! }));
      const orderId = orderIdOf(found.Body ?? "");
      emit({ type: "discarded", queue: dlq.name, messageId: target.messageId, orderId });
      return true;
    }
    if (Messages.length === 0) break;
  }
  return false;
}
