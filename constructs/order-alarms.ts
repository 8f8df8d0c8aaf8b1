import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { denyInsecureTransport, policyDocument, requireCustomerManagedKey } from "./policy";
import { PIPELINE_DEFAULTS, requireThat } from "./settings";

export interface OrderAlarmsProps {
  /** Name of the alarm topic; also the prefix of every alarm's name. */
  readonly alarmTopicName: string;
  /** Id of the customer-managed KMS key the alarm topic encrypts with (its policy must admit CloudWatch). */
  readonly kmsKeyId: string;
  readonly accountId: string;
  readonly partition: string;
  readonly region: string;
  /** Who is told: an e-mail address subscribed to the alarm topic. @default no subscription */
  readonly alarmEmail?: string;
  readonly topicName: string;
  readonly queueName: string;
  readonly deadLetterQueueName: string;
  readonly deliveryDeadLetterQueueName: string;
  readonly functionName: string;
  /** The key policy that lets CloudWatch use the alarm topic's key; alarms are created after it. @default none */
  readonly keyPolicy?: ITerraformDependable;
  /** Alarm when OrderQueue's oldest message is older than this. @default PIPELINE_DEFAULTS.backlogAgeAlarmSeconds */
  readonly backlogAgeSeconds?: number;
}

interface AlarmSpec {
  readonly id: AlarmId;
  readonly description: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly statistic: "Maximum" | "Sum";
  readonly period: number;
  readonly evaluationPeriods: number;
  readonly threshold: number;
}

/** The alarms this construct creates; each is named `<alarm topic name>-<id>`. */
export const ALARM_IDS = [
  "dlq-not-empty",
  "delivery-dlq-not-empty",
  "backlog-age",
  "function-errors",
  "function-throttles",
  "sns-delivery-failures",
  "sns-redrive-to-dlq-failures",
] as const;
type AlarmId = (typeof ALARM_IDS)[number];

/**
 * The exact ARNs of this stack's alarms, built from their names (no reference cycle), for the topic and
 * key policies that admit CloudWatch. Exact, not a wildcard: `OrderAlarms-*` would also admit
 * `OrderAlarms-staging-...` and `OrderAlarms-prod-...` of other environments in a shared account.
 */
export function alarmArns(props: Pick<OrderAlarmsProps, "partition" | "region" | "accountId" | "alarmTopicName">): string[] {
  return ALARM_IDS.map((id) => `arn:${props.partition}:cloudwatch:${props.region}:${props.accountId}:alarm:${props.alarmTopicName}-${id}`);
}

/**
 * Tells operators when orders pile up or fail: an encrypted alarm topic (optionally e-mailed) and
 * alarms on the DLQs, the queue's backlog age, the function's errors and throttles, and SNS delivery
 * failures. Each alarm notifies on alarm and on recovery and says in its description what to do.
 */
export class OrderAlarms extends Construct {
  public readonly alarmTopic: SnsTopic;
  public readonly alarmTopicPolicy: SnsTopicPolicy;
  public readonly emailSubscription?: SnsTopicSubscription;
  public readonly alarms: CloudwatchMetricAlarm[];

  constructor(scope: Construct, id: string, props: OrderAlarmsProps) {
    super(scope, id);
    requireCustomerManagedKey(`OrderAlarms "${id}"`, props.kmsKeyId);
    const backlogAgeSeconds = props.backlogAgeSeconds ?? PIPELINE_DEFAULTS.backlogAgeAlarmSeconds;
    requireThat(
      Number.isInteger(backlogAgeSeconds) && backlogAgeSeconds >= 60,
      `OrderAlarms "${id}": backlogAgeSeconds must be a whole number of at least 60, got ${backlogAgeSeconds}.`,
    );

    this.alarmTopic = new SnsTopic(this, "Topic", { name: props.alarmTopicName, kmsMasterKeyId: props.kmsKeyId });
    this.alarmTopicPolicy = new SnsTopicPolicy(this, "Policy", {
      arn: this.alarmTopic.arn,
      policy: policyDocument([
        {
          Sid: "CloudWatchPublishesOrderAlarms",
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Action: "sns:Publish",
          Resource: this.alarmTopic.arn,
          Condition: { ArnEquals: { "aws:SourceArn": alarmArns(props) }, StringEquals: { "aws:SourceAccount": props.accountId } },
        },
        denyInsecureTransport("sns:Publish", this.alarmTopic.arn),
      ]),
    });
    if (props.alarmEmail) {
      this.emailSubscription = new SnsTopicSubscription(this, "Email", { topicArn: this.alarmTopic.arn, protocol: "email", endpoint: props.alarmEmail });
    }

    const queue = (name: string) => ({ QueueName: name });
    const specs: AlarmSpec[] = [
      {
        id: "dlq-not-empty",
        description: `Orders failed 3 times and are in ${props.deadLetterQueueName}. Find the cause in the ${props.functionName} logs (outcome invalid/failed), fix it, then run: npm run orders -- dlq redrive`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: queue(props.deadLetterQueueName),
        statistic: "Maximum",
        period: 60,
        evaluationPeriods: 1,
        threshold: 0,
      },
      {
        id: "delivery-dlq-not-empty",
        description: `SNS could not deliver orders from ${props.topicName} to ${props.queueName} (queue policy or KMS key?); they are kept in ${props.deliveryDeadLetterQueueName}. Fix access, then move them to ${props.queueName}.`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: queue(props.deliveryDeadLetterQueueName),
        statistic: "Maximum",
        period: 60,
        evaluationPeriods: 1,
        threshold: 0,
      },
      {
        id: "backlog-age",
        description: `The oldest order in ${props.queueName} waits longer than ${backlogAgeSeconds} s: ${props.functionName} is failing, throttled or too slow. Check its errors and throttles; raise maximum concurrency if it is only slow.`,
        namespace: "AWS/SQS",
        metricName: "ApproximateAgeOfOldestMessage",
        dimensions: queue(props.queueName),
        statistic: "Maximum",
        period: 60,
        evaluationPeriods: 3,
        threshold: backlogAgeSeconds,
      },
      {
        id: "function-errors",
        description: `${props.functionName} invocations failed as a whole (crash, timeout, init error); their batches are retried and may reach ${props.deadLetterQueueName}. Read the function's logs.`,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: props.functionName },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
      },
      {
        id: "function-throttles",
        description: `${props.functionName} was throttled: the account's concurrency is exhausted or reserved concurrency is too low. Throttled polls count as receives and can dead-letter good orders.`,
        namespace: "AWS/Lambda",
        metricName: "Throttles",
        dimensions: { FunctionName: props.functionName },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
      },
      {
        id: "sns-delivery-failures",
        description: `${props.topicName} failed to deliver notifications to ${props.queueName}; failed deliveries go to ${props.deliveryDeadLetterQueueName}. Check the queue policy and the KMS key policy.`,
        namespace: "AWS/SNS",
        metricName: "NumberOfNotificationsFailed",
        dimensions: { TopicName: props.topicName },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
      },
      {
        id: "sns-redrive-to-dlq-failures",
        description: `${props.topicName} could not move failed deliveries to ${props.deliveryDeadLetterQueueName} either: those orders are lost. Check ${props.deliveryDeadLetterQueueName}'s queue policy (it must allow sns:SendMessage from ${props.topicName}).`,
        namespace: "AWS/SNS",
        metricName: "NumberOfNotificationsFailedToRedriveToDlq",
        dimensions: { TopicName: props.topicName },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 0,
      },
    ];
    this.alarms = specs.map(
      (spec) =>
        new CloudwatchMetricAlarm(this, spec.id, {
          alarmName: `${props.alarmTopicName}-${spec.id}`,
          alarmDescription: spec.description,
          namespace: spec.namespace,
          metricName: spec.metricName,
          dimensions: spec.dimensions,
          statistic: spec.statistic,
          period: spec.period,
          evaluationPeriods: spec.evaluationPeriods,
          threshold: spec.threshold,
          comparisonOperator: "GreaterThanThreshold",
          treatMissingData: "notBreaching",
          alarmActions: [this.alarmTopic.arn],
          okActions: [this.alarmTopic.arn],
          // An alarm that fires before CloudWatch may publish (topic policy) or encrypt (key policy) loses its notification.
          dependsOn: [this.alarmTopicPolicy, ...(props.keyPolicy ? [props.keyPolicy] : [])],
        }),
    );
  }
}
