/**
 * The offline redrive: every dead-lettered message moves back to the queue it came from, as SQS's
 * message-move task does, honouring the dead-letter queue's redrive-allow policy.
 */
import { Emit } from "./events";
import { LocalQueue } from "./sqs";
import { StackModel } from "./stack-model";

function requirePermitted(dlq: LocalQueue, sources: LocalQueue[]): void {
  const allow = dlq.model.redriveAllow;
  for (const source of sources) {
    const permitted =
      !allow ||
      allow.permission === "allowAll" ||
      (allow.permission === "byQueue" && allow.sourceQueueArns.includes(source.arn));
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

/** Moves each dead-letter queue's messages back to its one source queue; returns how many moved. */
export function redriveDeadLetters(queues: LocalQueue[], deadLetterQueues: LocalQueue[], emit: Emit): number {
  let moved = 0;
  for (const dlq of deadLetterQueues) {
    const sources = queues.filter((q) => q.deadLetterQueue === dlq);
    if (dlq.size === 0 || sources.length === 0) continue;
    requirePermitted(dlq, sources);
    const messages = dlq.drain();
    for (const message of messages)
      sources[0].send(message.body, { traceId: message.traceId, sentAt: performance.now() });
    moved += messages.length;
    emit({ type: "redriven", from: dlq.name, to: sources[0].name, count: messages.length });
  }
  return moved;
}

/** Queues that are some queue's (or subscription's) dead-letter target. */
export function deadLetterTargets(stack: StackModel, queues: LocalQueue[]): LocalQueue[] {
  const arns = new Set([
    ...stack.queues.map((q) => q.redrive?.deadLetterTargetArn),
    ...stack.subscriptions.map((s) => s.deadLetterTargetArn),
  ]);
  return queues.filter((q) => arns.has(q.arn));
}
