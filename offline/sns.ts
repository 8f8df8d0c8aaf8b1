/** SNS in process: a publish to a topic fans out to each subscribed queue, raw or in the notification envelope. */
import { snsEnvelope } from "./aws-events";
import { LocalQueue, QueueMessage } from "./sqs";
import { StackModel, TopicModel } from "./stack-model";

/** The named topic, or when unnamed the one topic that feeds a queue (the alarm topic does not). */
export function resolveTopic(stack: StackModel, nameOrArn?: string): TopicModel {
  const feeding = stack.topics.filter((t) => stack.subscriptions.some((s) => s.topicArn === t.arn));
  if (nameOrArn === undefined) {
    if (feeding.length !== 1) throw new Error(`${feeding.length} topics feed queues; name the one to publish to`);
    return feeding[0];
  }
  const topic = stack.topics.find((t) => t.name === nameOrArn || t.arn === nameOrArn);
  if (!topic) throw new Error(`no topic ${nameOrArn} in the stack`);
  return topic;
}

/** Publish: one message per subscription, in the subscribed queue. */
export function fanOut(
  stack: StackModel,
  topic: TopicModel,
  body: string,
  queueOf: (arn: string) => LocalQueue,
): { queue: LocalQueue; message: QueueMessage }[] {
  return stack.subscriptions
    .filter((subscription) => subscription.topicArn === topic.arn)
    .map((subscription) => {
      const queue = queueOf(subscription.queueArn);
      return { queue, message: queue.send(subscription.raw ? body : snsEnvelope(topic.arn, body)) };
    });
}
