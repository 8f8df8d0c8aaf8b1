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
import { attributesOf, QueueResource, ResourceRegistry } from "./registry";
import { QueueModel, StackModel } from "./stack-model";
import { createTable } from "../engines/dynamodb";
import { EngineAddress } from "../engines/engine-address";

export interface EngineClients {
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  /** Where tables are created. */
  readonly dynamodbEndpoint: EngineAddress;
}

/** Queues in an order where each one's dead-letter queue exists before it. */
function inRedriveOrder(queues: QueueModel[]): QueueModel[] {
  const ordered: QueueModel[] = [];
  const visit = (queue: QueueModel, path: string[]) => {
    if (ordered.includes(queue)) return;
    if (path.includes(queue.address))
      throw new Error(`redrive policies form a cycle: ${[...path, queue.address].join(" -> ")}`);
    const target = queues.find((q) => q.address === queue.redrive?.deadLetterTarget);
    if (target) visit(target, [...path, queue.address]);
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

async function createQueues(sqs: SQSClient, registry: ResourceRegistry): Promise<void> {
  const arnOf = (address: string) => registry.get("aws_sqs_queue", address).arn;
  for (const model of inRedriveOrder(registry.stack.queues)) {
    const attributes: Record<string, string> = {
      VisibilityTimeout: String(model.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(model.retentionSeconds),
      MaximumMessageSize: String(model.maxMessageSizeBytes),
    };
    if (model.redrive) {
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: arnOf(model.redrive.deadLetterTarget),
        maxReceiveCount: model.redrive.maxReceiveCount,
      });
    }
    const url = await createOrUpdateQueue(sqs, model.name, attributes);
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn", "VisibilityTimeout"] }),
    );
    const identity = { name: model.name, arn: Attributes.QueueArn!, url };
    const queue: QueueResource = {
      type: "aws_sqs_queue",
      address: model.address,
      model,
      ...identity,
      attributes: attributesOf("aws_sqs_queue", identity),
      visibilityTimeoutSeconds: Number(Attributes.VisibilityTimeout),
    };
    registry.add(queue);
  }
  for (const { model, url } of registry.all("aws_sqs_queue")) {
    const allow = model.redriveAllow;
    if (!allow) continue;
    const policy = {
      redrivePermission: allow.permission,
      ...(allow.permission === "byQueue" && { sourceQueueArns: allow.sourceQueues.map(arnOf) }),
    };
    await sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { RedriveAllowPolicy: JSON.stringify(policy) } }),
    );
  }
}

async function createTopics(sns: SNSClient, registry: ResourceRegistry): Promise<void> {
  const arnOf = (address: string) => registry.get("aws_sqs_queue", address).arn;
  for (const model of registry.stack.topics) {
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: model.name }));
    const identity = { name: model.name, arn: TopicArn! };
    const attributes = attributesOf("aws_sns_topic", identity);
    registry.add({ type: "aws_sns_topic", address: model.address, model, ...identity, attributes });
    for (const subscription of registry.stack.subscriptions.filter((s) => s.topic === model.address)) {
      const attributes: Record<string, string> = { RawMessageDelivery: String(subscription.raw) };
      if (subscription.deadLetterTarget)
        attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arnOf(subscription.deadLetterTarget) });
      const { SubscriptionArn } = await sns.send(
        new SubscribeCommand({
          TopicArn,
          Protocol: "sqs",
          Endpoint: arnOf(subscription.queue),
          Attributes: attributes,
        }),
      );
      const identity = { name: subscription.key, arn: SubscriptionArn! };
      registry.add({
        type: "aws_sns_topic_subscription",
        address: subscription.address,
        model: subscription,
        ...identity,
        attributes: attributesOf("aws_sns_topic_subscription", identity),
      });
    }
  }
}

/** Creates the stack's resources on the engines, registers each with its engine identity, and returns the registry. */
export async function provision(stack: StackModel, clients: EngineClients): Promise<ResourceRegistry> {
  const registry = new ResourceRegistry(stack);
  for (const model of stack.tables) {
    const identity = { name: model.name, arn: await createTable(clients.dynamodbEndpoint, model) };
    const attributes = attributesOf("aws_dynamodb_table", identity);
    registry.add({ type: "aws_dynamodb_table", address: model.address, model, ...identity, attributes });
  }
  await createQueues(clients.sqs, registry);
  await createTopics(clients.sns, registry);
  // The functions run in the project's own Lambda service: their identity is the stack's.
  for (const model of stack.functions) {
    const identity = { name: model.name, arn: model.arn };
    const attributes = attributesOf("aws_lambda_function", identity);
    registry.add({ type: "aws_lambda_function", address: model.address, model, ...identity, attributes });
  }
  return registry;
}
