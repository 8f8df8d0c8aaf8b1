import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { SqsQueuePolicy } from "@cdktf/provider-aws/lib/sqs-queue-policy";
import { SqsQueueRedriveAllowPolicy } from "@cdktf/provider-aws/lib/sqs-queue-redrive-allow-policy";
import { Construct } from "constructs";
import {
  allowSnsDelivery,
  denyInsecureTransport,
  denySendByIamPrincipals,
  denySendExceptFrom,
  policyDocument,
  requireCustomerManagedKey,
} from "./policy";
import { PIPELINE_DEFAULTS, requireThat, requireWholeNumber, visibilityTimeoutFor } from "./settings";

export interface OrderQueueProps {
  /** The work queue's name, e.g. `OrderQueue`. */
  readonly queueName: string;
  /** The dead-letter queue's name, e.g. `DLQ`. */
  readonly deadLetterQueueName: string;
  /** Id of the customer-managed KMS key both queues encrypt with (never `alias/aws/sqs`: SNS writes here). */
  readonly kmsKeyId: string;
  /** The topic allowed to send to the work queue. */
  readonly publisherTopicArn: string;
  /** IAM role ARNs that may also send to the work queue: the operators who redrive dead-lettered orders. @default none */
  readonly redrivePrincipalArns?: readonly string[];
  /** Timeout of the function that consumes the queue; the visibility timeout is derived from it. */
  readonly consumerTimeoutSeconds: number;
  /** Batching window of the consumer's event source mapping. @default PIPELINE_DEFAULTS.maximumBatchingWindowSeconds */
  readonly batchingWindowSeconds?: number;
  /** Receives before a message moves to the DLQ. @default PIPELINE_DEFAULTS.maxReceiveCount (3) */
  readonly maxReceiveCount?: number;
  /** How long the work queue keeps a message. @default PIPELINE_DEFAULTS.queueRetentionSeconds (4 days) */
  readonly retentionSeconds?: number;
  /** How long the DLQ keeps a message; must exceed the work queue's. @default PIPELINE_DEFAULTS.deadLetterRetentionSeconds (14 days) */
  readonly deadLetterRetentionSeconds?: number;
  /** How long SQS reuses a KMS data key. @default PIPELINE_DEFAULTS.kmsDataKeyReusePeriodSeconds (5 minutes) */
  readonly kmsDataKeyReusePeriodSeconds?: number;
  /** The largest message either queue takes. @default PIPELINE_DEFAULTS.maxMessageSizeBytes (256 KiB) */
  readonly maxMessageSizeBytes?: number;
}

const MAX_RETENTION_SECONDS = 14 * 24 * 3600;
const MAX_VISIBILITY_SECONDS = 12 * 3600;

/** The props with their defaults applied, validated, and the visibility timeout derived from them. */
function resolveSettings(where: string, props: OrderQueueProps) {
  const batchingWindowSeconds = props.batchingWindowSeconds ?? PIPELINE_DEFAULTS.maximumBatchingWindowSeconds;
  const maxReceiveCount = props.maxReceiveCount ?? PIPELINE_DEFAULTS.maxReceiveCount;
  const retentionSeconds = props.retentionSeconds ?? PIPELINE_DEFAULTS.queueRetentionSeconds;
  const deadLetterRetentionSeconds = props.deadLetterRetentionSeconds ?? PIPELINE_DEFAULTS.deadLetterRetentionSeconds;
  const kmsDataKeyReusePeriodSeconds =
    props.kmsDataKeyReusePeriodSeconds ?? PIPELINE_DEFAULTS.kmsDataKeyReusePeriodSeconds;
  const maxMessageSizeBytes = props.maxMessageSizeBytes ?? PIPELINE_DEFAULTS.maxMessageSizeBytes;
  // SQS's ranges: a data key is reused 1 minute to 24 hours; a message is 1 KiB to 1 MiB.
  requireWholeNumber(where, "kmsDataKeyReusePeriodSeconds", kmsDataKeyReusePeriodSeconds, 60, 86_400, "seconds");
  requireWholeNumber(where, "maxMessageSizeBytes", maxMessageSizeBytes, 1_024, 1_048_576, "bytes");
  requireWholeNumber(where, "maxReceiveCount", maxReceiveCount, 1, 1000);
  // SQS keeps a message at most 14 days.
  requireWholeNumber(where, "retentionSeconds", retentionSeconds, 60, MAX_RETENTION_SECONDS, "seconds");
  requireWholeNumber(
    where,
    "deadLetterRetentionSeconds",
    deadLetterRetentionSeconds,
    60,
    MAX_RETENTION_SECONDS,
    "seconds",
  );
  // A standard queue keeps a message's original enqueue time when it is dead-lettered.
  requireThat(
    deadLetterRetentionSeconds > retentionSeconds,
    `${where}: deadLetterRetentionSeconds (${deadLetterRetentionSeconds}) must exceed retentionSeconds (${retentionSeconds}), or dead-lettered orders expire before anyone can redrive them.`,
  );
  const visibilityTimeoutSeconds = visibilityTimeoutFor(props.consumerTimeoutSeconds, batchingWindowSeconds);
  requireThat(
    visibilityTimeoutSeconds <= MAX_VISIBILITY_SECONDS,
    `${where}: the derived visibility timeout (${visibilityTimeoutSeconds}s = 6 x consumerTimeoutSeconds + batchingWindowSeconds) exceeds SQS's 12 hours; lower the function timeout.`,
  );
  return {
    maxReceiveCount,
    retentionSeconds,
    deadLetterRetentionSeconds,
    visibilityTimeoutSeconds,
    kmsDataKeyReusePeriodSeconds,
    maxMessageSizeBytes,
  };
}

/** The order work queue and its dead-letter queue, encrypted, TLS only, fed only by the order topic (and the redrive principals). */
export class OrderQueue extends Construct {
  public readonly queue: SqsQueue;
  public readonly deadLetterQueue: SqsQueue;
  /** The work queue's policy; a subscription must depend on it. */
  public readonly queuePolicy: SqsQueuePolicy;
  public readonly deadLetterQueuePolicy: SqsQueuePolicy;
  public readonly redriveAllowPolicy: SqsQueueRedriveAllowPolicy;
  public readonly visibilityTimeoutSeconds: number;
  public readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: OrderQueueProps) {
    super(scope, id);
    requireCustomerManagedKey(`OrderQueue "${id}"`, props.kmsKeyId);
    const settings = resolveSettings(`OrderQueue "${id}"`, props);
    const { maxReceiveCount, retentionSeconds, deadLetterRetentionSeconds, visibilityTimeoutSeconds } = settings;
    this.visibilityTimeoutSeconds = visibilityTimeoutSeconds;
    this.maxReceiveCount = maxReceiveCount;

    const encryption = {
      kmsMasterKeyId: props.kmsKeyId,
      kmsDataKeyReusePeriodSeconds: settings.kmsDataKeyReusePeriodSeconds,
      // Stated, not left to the provider's default: the local runtime creates its queues with what is synthesized.
      maxMessageSize: settings.maxMessageSizeBytes,
    };
    this.deadLetterQueue = new SqsQueue(this, "DeadLetterQueue", {
      name: props.deadLetterQueueName,
      messageRetentionSeconds: deadLetterRetentionSeconds,
      ...encryption,
    });
    this.queue = new SqsQueue(this, "Queue", {
      name: props.queueName,
      messageRetentionSeconds: retentionSeconds,
      visibilityTimeoutSeconds: this.visibilityTimeoutSeconds,
      redrivePolicy: JSON.stringify({ deadLetterTargetArn: this.deadLetterQueue.arn, maxReceiveCount }),
      ...encryption,
    });
    // Separate resource: the DLQ naming the queue while the queue names the DLQ would be a cycle.
    this.redriveAllowPolicy = new SqsQueueRedriveAllowPolicy(this, "RedriveAllowPolicy", {
      queueUrl: this.deadLetterQueue.url,
      redriveAllowPolicy: JSON.stringify({ redrivePermission: "byQueue", sourceQueueArns: [this.queue.arn] }),
    });
    this.queuePolicy = new SqsQueuePolicy(this, "QueuePolicy", {
      queueUrl: this.queue.url,
      policy: policyDocument([
        allowSnsDelivery(this.queue.arn, props.publisherTopicArn),
        denySendExceptFrom(this.queue.arn, props.publisherTopicArn, props.redrivePrincipalArns ?? []),
        denyInsecureTransport("sqs:*", this.queue.arn),
      ]),
    });
    this.deadLetterQueuePolicy = new SqsQueuePolicy(this, "DeadLetterQueuePolicy", {
      queueUrl: this.deadLetterQueue.url,
      policy: policyDocument([
        denySendByIamPrincipals(this.deadLetterQueue.arn),
        denyInsecureTransport("sqs:*", this.deadLetterQueue.arn),
      ]),
    });
  }
}
