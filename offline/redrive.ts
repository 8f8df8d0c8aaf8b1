/**
 * `--redrive`: every dead-lettered message goes back to the queue it came from, through the SQS API as
 * an operator's script would do it: receive from the dead-letter queue, send to the source queue, and
 * delete from the dead-letter queue only after the send succeeded. The dead-letter queue's
 * redrive-allow policy is honoured. (SQS's message-move task does the same in AWS; fauxqs 2.4.1 lacks
 * it, and it does not serve dead-letter queues of SNS subscriptions anyway.)
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { Emit } from "./events";
import { EngineQueue, messagesIn } from "./local-aws/provision";
import { QueueModel, StackModel } from "./stack-model";

function requirePermitted(dlq: EngineQueue, sources: EngineQueue[]): void {
  const allow = dlq.model.redriveAllow;
  for (const source of sources) {
    const permitted =
      !allow ||
      allow.permission === "allowAll" ||
      (allow.permission === "byQueue" && allow.sourceQueueArns.includes(source.model.arn));
    if (!permitted) {
      throw new Error(
        `${dlq.name}'s redrive-allow policy (${allow?.permission}) does not let messages move back to ${source.name}.`,
      );
    }
  }
  if (sources.length > 1) {
    throw new Error(`${dlq.name} is the dead-letter queue of several queues; the offline redrive needs one source.`);
  }
}

/** While a batch is being moved it is invisible to other readers of the dead-letter queue. */
const MOVE_VISIBILITY_SECONDS = 60;

/**
 * Moves the messages one dead-letter queue holds when the move starts (as SQS's message-move task does:
 * a message that fails again while the move runs lands in the DLQ again and stays there); a message the
 * source queue refuses stays in the DLQ, visible.
 */
async function move(sqs: SQSClient, dlq: EngineQueue, source: EngineQueue, emit: Emit): Promise<number> {
  let moved = 0;
  let left = await messagesIn(sqs, dlq);
  const refused: Message[] = [];
  while (left > 0) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq.url,
        MaxNumberOfMessages: Math.min(10, left),
        VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) break;
    left -= Messages.length;
    const { Successful = [], Failed = [] } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: source.url,
        Entries: Messages.map((m, i) => ({
          Id: String(i),
          MessageBody: m.Body!,
          MessageAttributes: m.MessageAttributes,
        })),
      }),
    );
    for (const failure of Failed) {
      const message = Messages[Number(failure.Id)];
      refused.push(message);
      emit({
        type: "warning",
        message: `redrive: ${source.name} refused ${message.MessageId}, kept in ${dlq.name}: ${failure.Message}`,
      });
    }
    if (Successful.length === 0) continue;
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: dlq.url,
        Entries: Successful.map((s) => ({ Id: s.Id!, ReceiptHandle: Messages[Number(s.Id)].ReceiptHandle! })),
      }),
    );
    moved += Successful.length;
  }
  for (let start = 0; start < refused.length; start += 10) {
    const entries = refused
      .slice(start, start + 10)
      .map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 }));
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: dlq.url, Entries: entries }));
  }
  return moved;
}

/** Moves each dead-letter queue's messages back to its one source queue; returns how many moved. */
export async function redriveDeadLetters(
  sqs: SQSClient,
  queues: Map<string, EngineQueue>,
  emit: Emit,
): Promise<number> {
  let moved = 0;
  for (const dlq of queues.values()) {
    const sources = [...queues.values()].filter((q) => q.model.redrive?.deadLetterTargetArn === dlq.model.arn);
    if (sources.length === 0 || (await messagesIn(sqs, dlq)) === 0) continue;
    requirePermitted(dlq, sources);
    const count = await move(sqs, dlq, sources[0], emit);
    moved += count;
    if (count > 0) emit({ type: "redriven", from: dlq.name, to: sources[0].name, count });
  }
  return moved;
}

/** Queues that are some queue's (or subscription's) dead-letter target. */
export function deadLetterTargets(stack: StackModel): QueueModel[] {
  const arns = new Set([
    ...stack.queues.map((q) => q.redrive?.deadLetterTargetArn),
    ...stack.subscriptions.map((s) => s.deadLetterTargetArn),
  ]);
  return stack.queues.filter((q) => arns.has(q.arn));
}
