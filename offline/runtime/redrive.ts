/**
 * `--redrive`: every dead-lettered message goes back to the queue it came from, through the SQS API as
 * an operator's script would do it: receive from the dead-letter queue, send to the source queue, and
 * delete from the dead-letter queue only after the send succeeded. The dead-letter queue's
 * redrive-allow policy is honoured. (SQS's message-move task does the same in AWS; fauxqs 2.4.1 lacks
 * it, and it does not serve dead-letter queues of SNS subscriptions anyway.)
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import { messagesIn, moveMessages } from "../../common/move-messages";
import { Emit } from "./trace";
import { QueueResource, ResourceRegistry } from "./registry";

function requirePermitted(dlq: QueueResource, sources: QueueResource[]): void {
  const allow = dlq.model.redriveAllow;
  for (const source of sources) {
    const permitted =
      !allow ||
      allow.permission === "allowAll" ||
      (allow.permission === "byQueue" && allow.sourceQueues.includes(source.address));
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

/**
 * Moves the messages one dead-letter queue holds when the move starts (a message that fails again while
 * the move runs lands in the DLQ again and stays there); a message the source queue refuses stays in the
 * DLQ, visible.
 */
async function move(sqs: SQSClient, dlq: QueueResource, source: QueueResource, emit: Emit): Promise<number> {
  const { moved } = await moveMessages(sqs, {
    from: dlq.url,
    to: source.url,
    waitSeconds: 0,
    stopOnRefusal: false,
    onRefused: (message, failure) =>
      emit({
        type: "warning",
        message: `redrive: ${source.name} refused ${message.MessageId}, kept in ${dlq.name}: ${failure.Message}`,
      }),
  });
  return moved;
}

/** Moves each dead-letter queue's messages back to its one source queue; returns how many moved. */
export async function redriveDeadLetters(sqs: SQSClient, resources: ResourceRegistry, emit: Emit): Promise<number> {
  let moved = 0;
  const queues = resources.all("aws_sqs_queue");
  for (const dlq of queues) {
    const sources = queues.filter((q) => q.model.redrive?.deadLetterTarget === dlq.address);
    if (sources.length === 0 || (await messagesIn(sqs, dlq.url)) === 0) continue;
    requirePermitted(dlq, sources);
    const count = await move(sqs, dlq, sources[0], emit);
    moved += count;
    if (count > 0) emit({ type: "redriven", from: dlq.name, to: sources[0].name, count });
  }
  return moved;
}
