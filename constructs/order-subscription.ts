import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { allowSnsDelivery, denyInsecureTransport, denySendExceptFrom, policyDocument } from "./policy";
import { PIPELINE_DEFAULTS } from "./settings";

export interface OrderSubscriptionProps {
  /** The topic orders are published to. */
  readonly topicArn: string;
  /** The queue that receives them. */
  readonly queueArn: string;
  /** The receiving queue's policy: the subscription is created only after it exists. */
  readonly queuePolicy: ITerraformDependable;
  /** Name of the queue that keeps deliveries SNS could not make (e.g. `OrderTopicDeliveryDLQ`). */
  readonly deliveryDeadLetterQueueName: string;
  /** Deliver the order JSON as the message body instead of the SNS envelope. @default true */
  readonly rawMessageDelivery?: boolean;
  /** How long the delivery DLQ keeps a message. @default PIPELINE_DEFAULTS.deadLetterRetentionSeconds (14 days) */
  readonly deadLetterRetentionSeconds?: number;
  /** The largest message the delivery DLQ takes. @default PIPELINE_DEFAULTS.maxMessageSizeBytes (256 KiB) */
  readonly maxMessageSizeBytes?: number;
}

/**
 * Subscribes the order queue to the order topic. A delivery SNS cannot make (a broken queue policy,
 * a disabled key) goes to its own dead-letter queue instead of being dropped after SNS's retries.
 */
export class OrderSubscription extends Construct {
  public readonly subscription: SnsTopicSubscription;
  public readonly deliveryDeadLetterQueue: SqsQueue;
  public readonly deliveryDeadLetterQueuePolicy: SqsQueuePolicy;

  constructor(scope: Construct, id: string, props: OrderSubscriptionProps) {
    super(scope, id);
    // SQS-managed encryption (SSE-SQS), not the stack's key: this queue must still accept what SNS
    // could not deliver when that key, or SNS's statement in its policy, is what broke. SSE-SQS needs
    // no key policy; it is the encryption every new SQS queue gets by default, and SNS delivers to it
    // (https://aws.amazon.com/blogs/compute/announcing-server-side-encryption-with-amazon-simple-queue-service-managed-encryption-keys-sse-sqs-by-default/).
    this.deliveryDeadLetterQueue = new SqsQueue(this, "DeliveryDeadLetterQueue", {
      name: props.deliveryDeadLetterQueueName,
      messageRetentionSeconds: props.deadLetterRetentionSeconds ?? PIPELINE_DEFAULTS.deadLetterRetentionSeconds,
      maxMessageSize: props.maxMessageSizeBytes ?? PIPELINE_DEFAULTS.maxMessageSizeBytes,
      sqsManagedSseEnabled: true,
    });
    this.deliveryDeadLetterQueuePolicy = new SqsQueuePolicy(this, "DeliveryDeadLetterQueuePolicy", {
      queueUrl: this.deliveryDeadLetterQueue.url,
      policy: policyDocument([
        allowSnsDelivery(this.deliveryDeadLetterQueue.arn, props.topicArn),
        // Only SNS delivering for the order topic: no one else, whatever their IAM policies allow.
        denySendExceptFrom(this.deliveryDeadLetterQueue.arn, props.topicArn, []),
        denyInsecureTransport("sqs:*", this.deliveryDeadLetterQueue.arn),
      ]),
    });
    this.subscription = new SnsTopicSubscription(this, "Subscription", {
      topicArn: props.topicArn,
      protocol: "sqs",
      endpoint: props.queueArn,
      rawMessageDelivery: props.rawMessageDelivery ?? true,
      redrivePolicy: JSON.stringify({ deadLetterTargetArn: this.deliveryDeadLetterQueue.arn }),
      dependsOn: [props.queuePolicy, this.deliveryDeadLetterQueuePolicy],
    });
  }
}
