/**
 * The one registry of the stack's resources on this machine, built by provisioning (`engines/provision.ts`):
 * each resource by its Terraform address holds its model (what `cdk.tf.json` says), the identity the engine
 * gave it (name, ARN, URL) and what `${address.attribute}` resolves to locally (the stack's outputs).
 * Everything else looks resources up here: by address, or by any of its identities through `find`.
 */
import {
  deadLetterTargets,
  FunctionModel,
  QueueModel,
  StackModel,
  SubscriptionModel,
  TableModel,
  TopicModel,
  UnsupportedStackError,
} from "./stack-model";

interface Registered<Type extends string, Model> {
  readonly type: Type;
  readonly address: string;
  readonly model: Model;
  /** The engine's name of it (the function's and table's are the stack's). */
  readonly name: string;
  readonly arn: string;
  /** What `${address.attribute}` resolves to on this machine. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface QueueResource extends Registered<"aws_sqs_queue", QueueModel> {
  readonly url: string;
  /** As the engine reports it. */
  readonly visibilityTimeoutSeconds: number;
}
export type TopicResource = Registered<"aws_sns_topic", TopicModel>;
export type SubscriptionResource = Registered<"aws_sns_topic_subscription", SubscriptionModel>;
export type TableResource = Registered<"aws_dynamodb_table", TableModel>;
export type FunctionResource = Registered<"aws_lambda_function", FunctionModel>;
export type Resource = QueueResource | TopicResource | SubscriptionResource | TableResource | FunctionResource;
export type ResourceType = Resource["type"];
type OfType<T extends ResourceType> = Extract<Resource, { type: T }>;

/** What `${address.attribute}` resolves to, per type, from the engine's identity. */
export function attributesOf(
  type: ResourceType,
  identity: { name: string; arn: string; url?: string },
): Record<string, string> {
  const { name, arn, url } = identity;
  switch (type) {
    case "aws_sqs_queue":
      return { name, arn, url: url!, id: url! };
    case "aws_sns_topic":
      return { name, arn, id: arn };
    case "aws_sns_topic_subscription":
      return { arn, id: arn };
    case "aws_dynamodb_table":
      return { name, arn, id: name };
    case "aws_lambda_function":
      return { function_name: name, arn, id: name };
  }
}

export class ResourceRegistry {
  private readonly byAddress = new Map<string, Resource>();
  /** `type identity` -> resource, for every identity of every resource (address, name, ARN, URL). */
  private readonly byIdentity = new Map<string, Resource>();

  constructor(readonly stack: StackModel) {}

  add(resource: Resource): void {
    this.byAddress.set(resource.address, resource);
    const identities = [resource.address, resource.name, resource.arn, "url" in resource ? resource.url : undefined];
    for (const identity of identities) if (identity) this.byIdentity.set(`${resource.type} ${identity}`, resource);
  }

  /** The resource at a Terraform address; an address the stack does not have is a bug, so it throws. */
  get<T extends ResourceType>(type: T, address: string): OfType<T> {
    const resource = this.byAddress.get(address);
    if (resource?.type !== type) throw new UnsupportedStackError(`no ${type} at ${address} in the local stack`);
    return resource as OfType<T>;
  }

  /** The resource of a type that an address, name, ARN or URL identifies, if any. */
  find<T extends ResourceType>(type: T, identity: string): OfType<T> | undefined {
    return this.byIdentity.get(`${type} ${identity}`) as OfType<T> | undefined;
  }

  all<T extends ResourceType>(type: T): OfType<T>[] {
    return [...this.byAddress.values()].filter((r): r is OfType<T> => r.type === type);
  }

  /** Every resource's local attributes by address: what the stack's outputs resolve against. */
  get attributes(): ReadonlyMap<string, Readonly<Record<string, string>>> {
    return new Map([...this.byAddress].map(([address, resource]) => [address, resource.attributes]));
  }

  /** The subscriptions of a topic, by its address. */
  subscriptionsOf(topic: string): SubscriptionResource[] {
    return this.all("aws_sns_topic_subscription").filter((s) => s.model.topic === topic);
  }

  /** The named topic (address, name or ARN), or when unnamed the one topic that feeds a queue (the alarm topic does not). */
  topicToPublishTo(identity?: string): TopicResource {
    if (identity === undefined) {
      const feeding = this.all("aws_sns_topic").filter((t) => this.subscriptionsOf(t.address).length > 0);
      if (feeding.length !== 1) throw new Error(`${feeding.length} topics feed queues; name the one to publish to`);
      return feeding[0];
    }
    const topic = this.find("aws_sns_topic", identity);
    if (!topic) throw new Error(`no topic ${identity} in the stack`);
    return topic;
  }

  /** Queues that are some queue's or subscription's dead-letter target. */
  deadLetterQueues(): QueueResource[] {
    const targets = deadLetterTargets(this.stack);
    return this.all("aws_sqs_queue").filter((q) => targets.has(q.address));
  }
}
