import { ArchiveProvider } from "@cdktf/provider-archive/lib/provider";
import { Lazy, S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { configureAws } from "./aws-provider";
import { EncryptionKey } from "./encryption-key";
import { EnvironmentConfig, stateObjectKey } from "./environments";
import { alarmArns, OrderAlarms } from "./order-alarms";
import { consoleAccess, ConsoleAccess, grantsDocument } from "./operator-console-policies";
import { OrderDashboard } from "./order-dashboard";
import { OrderProcessor } from "./order-processor";
import { OrderQueue } from "./order-queue";
import { OrderSubscription } from "./order-subscription";
import { OrderTopic } from "./order-topic";
import { OrdersTable } from "./orders-table";
import { PIPELINE_DEFAULTS, REQUIRED_TERRAFORM_VERSION } from "./settings";

export interface OrderSystemStackProps {
  readonly config: EnvironmentConfig;
  /** Pipeline settings; each defaults to PIPELINE_DEFAULTS. */
  readonly pipeline?: Partial<{ -readonly [K in keyof typeof PIPELINE_DEFAULTS]: number }>;
}

/** The whole order pipeline for one environment: SNS -> SQS (+ DLQ) -> Lambda -> DynamoDB. */
export class OrderSystemStack extends TerraformStack {
  public readonly key: EncryptionKey;
  public readonly topic: OrderTopic;
  public readonly queue: OrderQueue;
  public readonly subscription: OrderSubscription;
  public readonly table: OrdersTable;
  public readonly processor: OrderProcessor;
  public readonly alarms: OrderAlarms;
  public readonly dashboard: OrderDashboard;
  private readonly config: EnvironmentConfig;

  constructor(scope: Construct, props: OrderSystemStackProps) {
    const { config } = props;
    const names = config.names;
    const settings = { ...PIPELINE_DEFAULTS, ...props.pipeline };
    super(scope, names.stack);
    this.config = config;

    const aws = configureAws(this, config);
    new ArchiveProvider(this, "archive");
    this.useStateBucket(config);

    this.key = this.encryptionKey(config, aws);
    this.topic = new OrderTopic(this, "OrderTopic", { topicName: names.topic, kmsKeyId: this.key.keyId, ...aws });
    this.queue = this.orderQueue(config, settings);
    this.subscription = new OrderSubscription(this, "OrderSubscription", {
      topicArn: this.topic.topicArn,
      queueArn: this.queue.queue.arn,
      queuePolicy: this.queue.queuePolicy,
      deliveryDeadLetterQueueName: names.deliveryDeadLetterQueue,
      deadLetterRetentionSeconds: settings.deadLetterRetentionSeconds,
      maxMessageSizeBytes: settings.maxMessageSizeBytes,
    });
    this.table = new OrdersTable(this, "Orders", { tableName: names.table, deletionProtection: config.production });
    this.processor = new OrderProcessor(this, "OrderProcessor", {
      functionName: names.function,
      tableName: this.table.tableName,
      tableArn: this.table.tableArn,
      queueArn: this.queue.queue.arn,
      queueVisibilityTimeoutSeconds: this.queue.visibilityTimeoutSeconds,
      kmsKeyArn: this.key.keyArn,
      logRetentionDays: config.logRetentionDays,
      timeoutSeconds: settings.functionTimeoutSeconds,
      memoryMb: settings.functionMemoryMb,
      batchSize: settings.batchSize,
      batchingWindowSeconds: settings.maximumBatchingWindowSeconds,
      maximumConcurrency: settings.maximumConcurrency,
      orderClockMarginSeconds: settings.orderClockMarginSeconds,
      reservedConcurrency: config.reservesConcurrency ? settings.maximumConcurrency : undefined,
    });

    this.alarms = this.orderAlarms(config, aws, settings);
    this.dashboard = new OrderDashboard(this, "Dashboard", {
      names,
      region: config.region,
      alarmSpecs: this.alarms.specs,
      alarmArns: this.alarms.alarms.map((alarm) => alarm.arn),
      functionTimeoutSeconds: settings.functionTimeoutSeconds,
      maximumConcurrency: settings.maximumConcurrency,
    });
    this.addOutputs();
  }

  /** OrderQueue and its DLQ, fed by the order topic (and the redrive roles), with the pipeline's settings. */
  private orderQueue(config: EnvironmentConfig, settings: Record<keyof typeof PIPELINE_DEFAULTS, number>): OrderQueue {
    return new OrderQueue(this, "OrderQueue", {
      queueName: config.names.queue,
      deadLetterQueueName: config.names.deadLetterQueue,
      kmsKeyId: this.key.keyId,
      publisherTopicArn: this.topic.topicArn,
      redrivePrincipalArns: config.redrivePrincipalArns,
      consumerTimeoutSeconds: settings.functionTimeoutSeconds,
      batchingWindowSeconds: settings.maximumBatchingWindowSeconds,
      maxReceiveCount: settings.maxReceiveCount,
      retentionSeconds: settings.queueRetentionSeconds,
      deadLetterRetentionSeconds: settings.deadLetterRetentionSeconds,
      kmsDataKeyReusePeriodSeconds: settings.kmsDataKeyReusePeriodSeconds,
      maxMessageSizeBytes: settings.maxMessageSizeBytes,
    });
  }

  /** The alarms, on the alarm topic (encrypted with the stack's key), created after the key policy admits CloudWatch. */
  private orderAlarms(
    config: EnvironmentConfig,
    aws: ReturnType<typeof configureAws>,
    settings: { readonly backlogAgeAlarmSeconds: number },
  ): OrderAlarms {
    return new OrderAlarms(this, "Alarms", {
      names: config.names,
      kmsKeyId: this.key.keyId,
      ...aws,
      region: config.region,
      alarmEmail: config.alarmEmail,
      backlogAgeSeconds: settings.backlogAgeAlarmSeconds,
      maxReceiveCount: this.queue.maxReceiveCount,
      keyPolicy: this.key.keyPolicy,
    });
  }

  /** The stack's key: its policy admits SNS for this environment's order topic and CloudWatch for its alarms only. */
  private encryptionKey(config: EnvironmentConfig, aws: ReturnType<typeof configureAws>): EncryptionKey {
    const names = config.names;
    // ARN built from the known name: the key policy must name the topic that is encrypted with the key.
    const topicArn = `arn:${aws.partition}:sns:${config.region}:${aws.accountId}:${names.topic}`;
    const cloudWatchAlarmArns = alarmArns({ ...aws, region: config.region }, names.alarmTopic);
    return new EncryptionKey(this, "EncryptionKey", {
      alias: names.keyAlias,
      ...aws,
      snsSourceArns: [topicArn],
      cloudWatchAlarmArns,
    });
  }

  /** Terraform state in the environment's state bucket, SSE-KMS under its key, with S3-native locking. */
  private useStateBucket(config: EnvironmentConfig): void {
    new S3Backend(this, {
      bucket: config.stateBucket,
      key: stateObjectKey(config.name),
      region: config.region,
      encrypt: true,
      // State and lock objects SSE-KMS with the state bucket's key. Without kms_key_id, `encrypt` asks
      // S3 for SSE-S3 on every object, overriding the bucket's SSE-KMS default. S3 takes a key alias
      // here (PutObject's SSEKMSKeyId: "Key ID, Key ARN, or Key Alias").
      kmsKeyId: config.names.stateKeyAlias,
    });
    // S3-native state locking (Terraform >= 1.10); cdktf 0.21 has no typed prop for it.
    this.addOverride("terraform.backend.s3.use_lockfile", true);
    this.addOverride("terraform.required_version", REQUIRED_TERRAFORM_VERSION);
  }

  /** What operators and `npm run orders` read: `cdktf output <stack> --outputs-file outputs.json`. */
  private addOutputs(): void {
    const access = consoleAccessOf(this);
    new TerraformOutput(this, "topic_arn", { value: this.topic.topicArn });
    new TerraformOutput(this, "queue_url", { value: this.queue.queue.url });
    new TerraformOutput(this, "queue_arn", { value: this.queue.queue.arn });
    new TerraformOutput(this, "dlq_url", { value: this.queue.deadLetterQueue.url });
    new TerraformOutput(this, "dlq_arn", { value: this.queue.deadLetterQueue.arn });
    new TerraformOutput(this, "delivery_dlq_url", { value: this.subscription.deliveryDeadLetterQueue.url });
    new TerraformOutput(this, "delivery_dlq_arn", { value: this.subscription.deliveryDeadLetterQueue.arn });
    new TerraformOutput(this, "table_name", { value: this.table.tableName });
    new TerraformOutput(this, "function_name", { value: this.processor.fn.functionName });
    new TerraformOutput(this, "alarm_topic_arn", { value: this.alarms.alarmTopic.arn });
    new TerraformOutput(this, "dashboard_url", { value: this.dashboard.consoleUrl });
    new TerraformOutput(this, "operator_console_policies", {
      description:
        "Policy documents for the operators' role: read (npm run orders -- console) and changes (--allow-changes)",
      value: Lazy.anyValue({
        produce: () => ({ read: grantsDocument(access.read), changes: grantsDocument(access.changes) }),
      }),
    });
    new TerraformOutput(this, "verify", {
      description: "What `npm run orders -- verify` compares with the deployed resources",
      // Lazy: cdktf 0.21 checks a plain object output with the deprecated util.isArray (a DEP0044 warning
      // on every synth); a token is passed through and resolved with the stack.
      value: Lazy.anyValue({ produce: () => this.verifyExpectations(access) }),
    });
  }

  /**
   * What the deployed resources must look like, for `npm run orders -- verify`: their identities, and
   * the settings as configured here (the resources' inputs, not what AWS reports back).
   */
  private verifyExpectations(access: ConsoleAccess): Record<string, unknown> {
    const mapping = this.processor.eventSourceMapping;
    return {
      function_name: this.processor.fn.functionName,
      role_arn: this.processor.role.arn,
      role_access: this.processor.access.map((grant) => ({ resource: grant.resource, actions: grant.actions })),
      // The operators' console policies (the output operator_console_policies), each grant simulated.
      console_access: access,
      key_arn: this.key.keyArn,
      queue_arn: this.queue.queue.arn,
      // Receives before OrderQueue dead-letters a message, as configured (its redrive policy's maxReceiveCount).
      max_receive_count: this.queue.maxReceiveCount,
      redrive_principal_arns: [...this.config.redrivePrincipalArns],
      subscription_arn: this.subscription.subscription.arn,
      raw_message_delivery: this.subscription.subscription.rawMessageDeliveryInput,
      event_source_mapping_uuid: mapping.uuid,
      batch_size: mapping.batchSizeInput,
      maximum_batching_window_in_seconds: mapping.maximumBatchingWindowInSecondsInput,
      maximum_concurrency: mapping.scalingConfigInput?.maximumConcurrency,
      function_response_types: mapping.functionResponseTypesInput,
      alarm_names: this.alarms.alarms.map((alarm) => alarm.alarmName),
      dashboard_name: this.dashboard.dashboard.dashboardName,
      // Every resource the dashboard's metrics must name, and nothing else.
      dashboard_resources: [
        this.config.names.topic,
        this.config.names.queue,
        this.config.names.deadLetterQueue,
        this.config.names.deliveryDeadLetterQueue,
        this.config.names.function,
        this.config.names.table,
      ],
    };
  }
}

/** What the operators' console may do on the stack's resources. */
function consoleAccessOf(stack: OrderSystemStack): ConsoleAccess {
  return consoleAccess({
    topicArn: stack.topic.topicArn,
    queueArn: stack.queue.queue.arn,
    deadLetterQueueArn: stack.queue.deadLetterQueue.arn,
    deliveryDeadLetterQueueArn: stack.subscription.deliveryDeadLetterQueue.arn,
    tableArn: stack.table.tableArn,
    logGroupArn: stack.processor.logGroup.arn,
    keyArn: stack.key.keyArn,
  });
}
