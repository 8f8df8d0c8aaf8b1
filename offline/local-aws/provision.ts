/**
 * Creates the stack's topics, queues, subscriptions and tables on the engines, through the AWS SDK, from
 * what `stack-model.ts` read from `cdk.tf.json`: nothing of the stack is restated here. The names, ARNs
 * and URLs the rest of the runtime uses are the ones the engines return.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { QueueModel, StackModel, TopicModel } from "../stack-model";
import { createTable } from "./dynamodb";

export interface EngineQueue {
  readonly model: QueueModel;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly visibilityTimeoutSeconds: number;
}
export interface EngineTopic {
  readonly model: TopicModel;
  readonly name: string;
  readonly arn: string;
  /** How many queues a publish to it reaches. */
  readonly subscriptions: number;
  /** The engine's subscription ARNs, by the subscription's key in the stack. */
  readonly subscriptionArns: ReadonlyMap<string, string>;
}
export interface ProvisionedStack {
  /** By the stack model's ARN. */
  readonly queues: Map<string, EngineQueue>;
  readonly topics: Map<string, EngineTopic>;
}

export interface EngineClients {
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  /** Where tables are created. */
  readonly dynamodbEndpoint: string;
}

/** Queues in an order where each one's dead-letter queue exists before it. */
function inRedriveOrder(queues: QueueModel[]): QueueModel[] {
  const ordered: QueueModel[] = [];
  const visit = (queue: QueueModel, path: string[]) => {
    if (ordered.includes(queue)) return;
    if (path.includes(queue.arn))
      throw new Error(`redrive policies form a cycle: ${[...path, queue.arn].join(" -> ")}`);
    const target = queues.find((q) => q.arn === queue.redrive?.deadLetterTargetArn);
    if (target) visit(target, [...path, queue.arn]);
    ordered.push(queue);
  };
  for (const queue of queues) visit(queue, []);
  return ordered;
}

/**
 * Creates a queue, or, when a `--persist` folder already has it with other settings (the stack changed since),
 * gives it the stack's settings as a deploy would.
 */
async function createOrUpdateQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  try {
    return (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
  } catch (error) {
    // SQS's JSON protocol names it QueueNameExists (the query protocol: QueueAlreadyExists), with or without its prefix.
    if (!/QueueNameExists|QueueAlreadyExists/.test((error as Error).name)) throw error;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
    return QueueUrl!;
  }
}

async function createQueues(sqs: SQSClient, models: QueueModel[]): Promise<Map<string, EngineQueue>> {
  const queues = new Map<string, EngineQueue>();
  for (const model of inRedriveOrder(models)) {
    const attributes: Record<string, string> = {
      VisibilityTimeout: String(model.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(model.retentionSeconds),
      MaximumMessageSize: String(model.maxMessageSizeBytes),
    };
    if (model.redrive) {
      const target = queues.get(model.redrive.deadLetterTargetArn)!;
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: target.arn,
        maxReceiveCount: model.redrive.maxReceiveCount,
      });
    }
    const QueueUrl = await createOrUpdateQueue(sqs, model.name, attributes);
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn", "VisibilityTimeout"] }),
    );
    const visibilityTimeoutSeconds = Number(Attributes.VisibilityTimeout);
    queues.set(model.arn, {
      model,
      name: model.name,
      url: QueueUrl!,
      arn: Attributes.QueueArn!,
      visibilityTimeoutSeconds,
    });
  }
  for (const queue of queues.values()) {
    const allow = queue.model.redriveAllow;
    if (!allow) continue;
    const policy = {
      redrivePermission: allow.permission,
      ...(allow.permission === "byQueue" && {
        sourceQueueArns: allow.sourceQueueArns.map((arn) => queues.get(arn)?.arn ?? arn),
      }),
    };
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queue.url,
        Attributes: { RedriveAllowPolicy: JSON.stringify(policy) },
      }),
    );
  }
  return queues;
}

async function createTopics(
  sns: SNSClient,
  stack: StackModel,
  queues: Map<string, EngineQueue>,
): Promise<Map<string, EngineTopic>> {
  const topics = new Map<string, EngineTopic>();
  for (const model of stack.topics) {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: model.name }));
    const subscriptions = stack.subscriptions.filter((s) => s.topicArn === model.arn);
    const subscriptionArns = new Map<string, string>();
    for (const subscription of subscriptions) {
      const attributes: Record<string, string> = { RawMessageDelivery: String(subscription.raw) };
      const deadLetterQueue = subscription.deadLetterTargetArn && queues.get(subscription.deadLetterTargetArn);
      if (deadLetterQueue) attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: deadLetterQueue.arn });
      const endpoint = queues.get(subscription.queueArn)!.arn;
      const { SubscriptionArn } = await sns.send(
        new SubscribeCommand({ TopicArn, Protocol: "sqs", Endpoint: endpoint, Attributes: attributes }),
      );
      subscriptionArns.set(subscription.key, SubscriptionArn!);
    }
    const count = subscriptions.length;
    topics.set(model.arn, { model, name: model.name, arn: TopicArn!, subscriptions: count, subscriptionArns });
  }
  return topics;
}

export async function provision(stack: StackModel, clients: EngineClients): Promise<ProvisionedStack> {
  for (const table of stack.tables) await createTable(clients.dynamodbEndpoint, table);
  const queues = await createQueues(clients.sqs, stack.queues);
  const topics = await createTopics(clients.sns, stack, queues);
  return { queues, topics };
}
