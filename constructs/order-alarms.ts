import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { ResourceNames } from "./environments";
import { denyInsecureTransport, policyDocument, requireCustomerManagedKey, TOPIC_ACTIONS } from "./policy";
import { PIPELINE_DEFAULTS, requireWholeNumber } from "./settings";

/**
 * The names the alarms watch, as the environment makes them (`config.names`): the alarm topic (also the
 * prefix of every alarm's name), the order topic, the queue, both DLQs and the function.
 */
export type AlarmNames = Pick<
  ResourceNames,
  "alarmTopic" | "topic" | "queue" | "deadLetterQueue" | "deliveryDeadLetterQueue" | "function"
>;

export interface OrderAlarmsProps {
  readonly names: AlarmNames;
  /** Id of the customer-managed KMS key the alarm topic encrypts with (its policy must admit CloudWatch). */
  readonly kmsKeyId: string;
  readonly accountId: string;
  readonly partition: string;
  readonly region: string;
  /** Who is told: an e-mail address subscribed to the alarm topic. @default no subscription */
  readonly alarmEmail?: string;
  /** The key policy that lets CloudWatch use the alarm topic's key; alarms are created after it. @default none */
  readonly keyPolicy?: ITerraformDependable;
  /** Alarm when OrderQueue's oldest message is older than this. @default PIPELINE_DEFAULTS.backlogAgeAlarmSeconds */
  readonly backlogAgeSeconds?: number;
  /** Receives before OrderQueue dead-letters a message, for the DLQ alarm's description. @default PIPELINE_DEFAULTS.maxReceiveCount */
  readonly maxReceiveCount?: number;
}

/** One alarm as data: the metric it watches (shared with the dashboard) and when it fires. */
export interface AlarmSpec {
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
export type AlarmId = (typeof ALARM_IDS)[number];

/**
 * The exact ARNs of this stack's alarms, built from their names (no reference cycle), for the topic and
 * key policies that admit CloudWatch. Exact, not a wildcard: `OrderAlarms-*` would also admit
 * `OrderAlarms-staging-...` and `OrderAlarms-prod-...` of other environments in a shared account.
 */
export function alarmArns(
  props: Pick<OrderAlarmsProps, "partition" | "region" | "accountId">,
  alarmTopicName: string,
): string[] {
  return ALARM_IDS.map(
    (id) => `arn:${props.partition}:cloudwatch:${props.region}:${props.accountId}:alarm:${alarmTopicName}-${id}`,
  );
}

/** A queue that should stay empty: alarm on the first visible message. */
const QUEUE_NOT_EMPTY = {
  namespace: "AWS/SQS",
  metricName: "ApproximateNumberOfMessagesVisible",
  statistic: "Maximum",
  period: 60,
  evaluationPeriods: 1,
  threshold: 0,
} as const;
/** A count that should stay zero: alarm on any in five minutes. */
const ANY_IN_FIVE_MINUTES = { statistic: "Sum", period: 300, evaluationPeriods: 1, threshold: 0 } as const;

/** The alarms, as data: what each watches and what its description tells the operator to do. */
function alarmSpecs(names: AlarmNames, backlogAgeSeconds: number, maxReceiveCount: number): AlarmSpec[] {
  const queue = (name: string) => ({ QueueName: name });
  const fn = { FunctionName: names.function };
  const topic = { TopicName: names.topic };
  return [
    {
      id: "dlq-not-empty",
      ...QUEUE_NOT_EMPTY,
      dimensions: queue(names.deadLetterQueue),
      description: `Orders failed ${maxReceiveCount} times and are in ${names.deadLetterQueue}. Find the cause in the ${names.function} logs (outcome invalid/failed), fix it, then run: npm run orders -- dlq redrive`,
    },
    {
      id: "delivery-dlq-not-empty",
      ...QUEUE_NOT_EMPTY,
      dimensions: queue(names.deliveryDeadLetterQueue),
      description: `SNS could not deliver orders from ${names.topic} to ${names.queue} (queue policy or KMS key?); they are kept in ${names.deliveryDeadLetterQueue}. Fix access, then move them to ${names.queue}.`,
    },
    {
      id: "backlog-age",
      ...QUEUE_NOT_EMPTY,
      metricName: "ApproximateAgeOfOldestMessage",
      dimensions: queue(names.queue),
      evaluationPeriods: 3,
      threshold: backlogAgeSeconds,
      description: `The oldest order in ${names.queue} waits longer than ${backlogAgeSeconds} s: ${names.function} is failing, throttled or too slow. Check its errors and throttles; raise maximum concurrency if it is only slow.`,
    },
    {
      id: "function-errors",
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: fn,
      ...ANY_IN_FIVE_MINUTES,
      description: `${names.function} invocations failed as a whole (crash, timeout, init error); their batches are retried and may reach ${names.deadLetterQueue}. Read the function's logs.`,
    },
    {
      id: "function-throttles",
      namespace: "AWS/Lambda",
      metricName: "Throttles",
      dimensions: fn,
      ...ANY_IN_FIVE_MINUTES,
      description: `${names.function} was throttled: the account's concurrency is exhausted or reserved concurrency is too low. Throttled polls count as receives and can dead-letter good orders.`,
    },
    {
      id: "sns-delivery-failures",
      namespace: "AWS/SNS",
      metricName: "NumberOfNotificationsFailed",
      dimensions: topic,
      ...ANY_IN_FIVE_MINUTES,
      description: `${names.topic} failed to deliver notifications to ${names.queue}; failed deliveries go to ${names.deliveryDeadLetterQueue}. Check the queue policy and the KMS key policy.`,
    },
    {
      id: "sns-redrive-to-dlq-failures",
      namespace: "AWS/SNS",
      metricName: "NumberOfNotificationsFailedToRedriveToDlq",
      dimensions: topic,
      ...ANY_IN_FIVE_MINUTES,
      description: `${names.topic} could not move failed deliveries to ${names.deliveryDeadLetterQueue} either: those orders are lost. Check ${names.deliveryDeadLetterQueue}'s queue policy (it must allow sns:SendMessage from ${names.topic}).`,
    },
  ];
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
  /** What each alarm watches and when it fires: the dashboard draws the same metrics and thresholds. */
  public readonly specs: readonly AlarmSpec[];

  constructor(scope: Construct, id: string, props: OrderAlarmsProps) {
    super(scope, id);
    requireCustomerManagedKey(`OrderAlarms "${id}"`, props.kmsKeyId);
    const backlogAgeSeconds = props.backlogAgeSeconds ?? PIPELINE_DEFAULTS.backlogAgeAlarmSeconds;
    requireWholeNumber(`OrderAlarms "${id}"`, "backlogAgeSeconds", backlogAgeSeconds, 60);

    this.alarmTopic = new SnsTopic(this, "Topic", { name: props.names.alarmTopic, kmsMasterKeyId: props.kmsKeyId });
    this.alarmTopicPolicy = new SnsTopicPolicy(this, "Policy", {
      arn: this.alarmTopic.arn,
      policy: policyDocument([
        {
          Sid: "CloudWatchPublishesOrderAlarms",
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Action: "sns:Publish",
          Resource: this.alarmTopic.arn,
          Condition: {
            ArnEquals: { "aws:SourceArn": alarmArns(props, props.names.alarmTopic) },
            StringEquals: { "aws:SourceAccount": props.accountId },
          },
        },
        denyInsecureTransport(TOPIC_ACTIONS, this.alarmTopic.arn),
      ]),
    });
    if (props.alarmEmail) {
      this.emailSubscription = new SnsTopicSubscription(this, "Email", {
        topicArn: this.alarmTopic.arn,
        protocol: "email",
        endpoint: props.alarmEmail,
      });
    }

    const specs = alarmSpecs(
      props.names,
      backlogAgeSeconds,
      props.maxReceiveCount ?? PIPELINE_DEFAULTS.maxReceiveCount,
    );
    this.specs = specs;
    this.alarms = specs.map(
      (spec) =>
        new CloudwatchMetricAlarm(this, spec.id, {
          alarmName: `${props.names.alarmTopic}-${spec.id}`,
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
