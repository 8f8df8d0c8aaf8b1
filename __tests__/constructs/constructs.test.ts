import "cdktf/lib/testing/adapters/jest";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { LambdaEventSourceMapping } from "@cdktf/provider-aws/lib/lambda-event-source-mapping";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import { Testing } from "cdktf";
import { Construct } from "constructs";
import {
  EncryptionKey,
  OrderProcessor,
  OrderProcessorProps,
  OrderQueue,
  OrderQueueProps,
  OrderSubscription,
  OrderSubscriptionProps,
  OrdersTable,
  OrderTopic,
  PIPELINE_DEFAULTS,
  StateBucket,
} from "../../constructs";
import { only, TfJson } from "../support/stacks";

const KEY_ID = "key-id-123";
const TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:OrderTopic";
const synth = (build: (scope: Construct) => void): string => Testing.synthScope(build);
const parsed = (build: (scope: Construct) => void): TfJson => JSON.parse(synth(build));

const queueProps: OrderQueueProps = {
  queueName: "OrderQueue",
  deadLetterQueueName: "DLQ",
  kmsKeyId: KEY_ID,
  publisherTopicArn: TOPIC_ARN,
  consumerTimeoutSeconds: 30,
  batchingWindowSeconds: 1,
};

const processorProps: OrderProcessorProps = {
  functionName: "OrderProcessor",
  tableName: "Orders",
  tableArn: "arn:aws:dynamodb:us-east-1:123456789012:table/Orders",
  queueArn: "arn:aws:sqs:us-east-1:123456789012:OrderQueue",
  queueVisibilityTimeoutSeconds: 181,
  kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/abc",
  logRetentionDays: 14,
};

/** The account and partition the constructs are built for. */
const ACCOUNT = { accountId: "123456789012", partition: "aws" };

describe("EncryptionKey", () => {
  test("is rotated and lets SNS use it only for the named topics", () => {
    const json = parsed(
      (scope) =>
        new EncryptionKey(scope, "Key", {
          alias: "alias/order-system",
          ...ACCOUNT,
          snsSourceArns: [TOPIC_ARN],
        }),
    );
    expect(only(json, "aws_kms_key").body).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30 });
    const policy = JSON.parse(only(json, "aws_kms_key_policy").body.policy);
    const sns = policy.Statement.find((s: TfJson) => s.Principal?.Service === "sns.amazonaws.com");
    expect(sns).toMatchObject({
      Effect: "Allow",
      Action: ["kms:GenerateDataKey*", "kms:Decrypt"],
      Condition: { ArnLike: { "aws:SourceArn": [TOPIC_ARN] } },
    });
    expect(policy.Statement.find((s: TfJson) => s.Principal?.AWS)).toMatchObject({
      Principal: { AWS: "arn:aws:iam::123456789012:root" },
    });
  });

  test("refuses a key no topic may use", () => {
    expect(() =>
      synth(
        (scope) =>
          new EncryptionKey(scope, "Key", { alias: "alias/x", accountId: "1", partition: "aws", snsSourceArns: [] }),
      ),
    ).toThrow(/snsSourceArns is empty; pass the ARNs of the topics/);
  });
});

describe("OrderTopic", () => {
  test("is encrypted with the customer key", () => {
    expect(
      synth(
        (scope) =>
          new OrderTopic(scope, "Topic", {
            topicName: "OrderTopic",
            kmsKeyId: KEY_ID,
            ...ACCOUNT,
          }),
      ),
    ).toHaveResourceWithProperties(SnsTopic, { name: "OrderTopic", kms_master_key_id: KEY_ID });
  });

  test("allows publishing only from the owning account, over TLS", () => {
    const json = parsed(
      (scope) =>
        new OrderTopic(scope, "Topic", {
          topicName: "OrderTopic",
          kmsKeyId: KEY_ID,
          ...ACCOUNT,
        }),
    );
    const statements = JSON.parse(only(json, "aws_sns_topic_policy").body.policy).Statement;
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: "Allow",
        Principal: { AWS: "arn:aws:iam::123456789012:root" },
        Action: "sns:Publish",
      }),
      expect.objectContaining({
        Effect: "Deny",
        Principal: "*",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    ]);
  });

  test("refuses an AWS-managed key, which SNS cannot share with the queue", () => {
    expect(() =>
      synth(
        (scope) =>
          new OrderTopic(scope, "Topic", {
            topicName: "T",
            kmsKeyId: "alias/aws/sns",
            accountId: "1",
            partition: "aws",
          }),
      ),
    ).toThrow(/alias\/aws\/sns is an AWS-managed key.*pass the id of a customer-managed key/);
  });
});

describe("OrderQueue", () => {
  test("derives the visibility timeout from the consumer: 6 x 30 s + 1 s", () => {
    expect(synth((scope) => new OrderQueue(scope, "Q", queueProps))).toHaveResourceWithProperties(SqsQueue, {
      name: "OrderQueue",
      visibility_timeout_seconds: 181,
      kms_master_key_id: KEY_ID,
    });
  });

  test("dead-letters after 3 receives into a DLQ that keeps messages 14 days", () => {
    const json = parsed((scope) => new OrderQueue(scope, "Q", queueProps));
    const queue = Object.values<TfJson>(json.resource.aws_sqs_queue).find((q) => q.name === "OrderQueue")!;
    expect(JSON.parse(queue.redrive_policy).maxReceiveCount).toBe(3);
    expect(synth((scope) => new OrderQueue(scope, "Q", queueProps))).toHaveResourceWithProperties(SqsQueue, {
      name: "DLQ",
      message_retention_seconds: 14 * 24 * 3600,
      kms_master_key_id: KEY_ID,
    });
    const allow = JSON.parse(only(json, "aws_sqs_queue_redrive_allow_policy").body.redrive_allow_policy);
    expect(allow.redrivePermission).toBe("byQueue");
    expect(allow.sourceQueueArns).toHaveLength(1);
  });

  test.each([
    [{ kmsKeyId: "alias/aws/sqs" }, /alias\/aws\/sqs is an AWS-managed key/],
    [{ maxReceiveCount: 0 }, /maxReceiveCount must be a whole number from 1 to 1000, got 0/],
    [
      { deadLetterRetentionSeconds: 3600, retentionSeconds: 7200 },
      /deadLetterRetentionSeconds \(3600\) must exceed retentionSeconds \(7200\)/,
    ],
    [
      { consumerTimeoutSeconds: 7200 },
      /visibility timeout \(43201s = 6 x consumerTimeoutSeconds \+ batchingWindowSeconds\) exceeds SQS's 12 hours/,
    ],
    [{ retentionSeconds: 30 }, /retentionSeconds must be a whole number of seconds from 60/],
  ])("rejects %j", (override, message) => {
    expect(() => synth((scope) => new OrderQueue(scope, "Q", { ...queueProps, ...override }))).toThrow(message);
  });
});

describe("OrderSubscription", () => {
  /** An OrderQueue, and a subscription of it with these props. */
  const subscribedQueue =
    (props: Pick<OrderSubscriptionProps, "deliveryDeadLetterQueueName" | "rawMessageDelivery">) =>
    (scope: Construct) => {
      const queue = new OrderQueue(scope, "Q", queueProps);
      new OrderSubscription(scope, "S", {
        topicArn: TOPIC_ARN,
        queueArn: queue.queue.arn,
        queuePolicy: queue.queuePolicy,
        ...props,
      });
    };

  test("subscribes the queue with its own delivery DLQ, after the queue policy exists", () => {
    const json = parsed(subscribedQueue({ deliveryDeadLetterQueueName: "OrderTopicDeliveryDLQ" }));
    const subscription = only(json, "aws_sns_topic_subscription").body;
    expect(subscription).toMatchObject({ protocol: "sqs", topic_arn: TOPIC_ARN, raw_message_delivery: true });
    const queuePolicy = Object.keys(json.resource.aws_sqs_queue_policy).find((name) =>
      name.startsWith("Q_QueuePolicy"),
    )!;
    expect(subscription.depends_on).toContain(`aws_sqs_queue_policy.${queuePolicy}`);
    const dlq = Object.entries<TfJson>(json.resource.aws_sqs_queue).find(
      ([, q]) => q.name === "OrderTopicDeliveryDLQ",
    )!;
    expect(JSON.parse(subscription.redrive_policy).deadLetterTargetArn).toBe(`\${aws_sqs_queue.${dlq[0]}.arn}`);
    // Not the stack's key: the DLQ must keep working when that key or its SNS statement is what broke.
    expect(dlq[1]).toMatchObject({ sqs_managed_sse_enabled: true });
    expect(dlq[1].kms_master_key_id).toBeUndefined();
  });

  test("can deliver the SNS envelope instead of raw orders", () => {
    expect(
      synth(subscribedQueue({ deliveryDeadLetterQueueName: "D", rawMessageDelivery: false })),
    ).toHaveResourceWithProperties(SnsTopicSubscription, { raw_message_delivery: false });
  });
});

describe("OrdersTable", () => {
  test("is keyed by orderId, on-demand, encrypted and point-in-time recoverable", () => {
    expect(synth((scope) => new OrdersTable(scope, "T", { tableName: "Orders" }))).toHaveResourceWithProperties(
      DynamodbTable,
      {
        name: "Orders",
        hash_key: "orderId",
        attribute: [{ name: "orderId", type: "S" }],
        billing_mode: "PAY_PER_REQUEST",
        point_in_time_recovery: { enabled: true },
        server_side_encryption: { enabled: true },
        deletion_protection_enabled: false,
      },
    );
  });

  test("protects production data from deletion", () => {
    expect(
      synth((scope) => new OrdersTable(scope, "T", { tableName: "Orders", deletionProtection: true })),
    ).toHaveResourceWithProperties(DynamodbTable, {
      deletion_protection_enabled: true,
    });
  });
});

describe("OrderProcessor", () => {
  const processor = synth((scope) => new OrderProcessor(scope, "P", processorProps));

  test("runs the bundled handler on Node.js 22, arm64, with the table's name", () => {
    expect(processor).toHaveResourceWithProperties(LambdaFunction, {
      function_name: "OrderProcessor",
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      handler: "index.handler",
      timeout: 30,
      environment: {
        variables: {
          TABLE_NAME: "Orders",
          ORDER_CLOCK_MARGIN_SECONDS: String(PIPELINE_DEFAULTS.orderClockMarginSeconds),
        },
      },
    });
    const json = JSON.parse(processor);
    const archive = Object.keys(json.data.archive_file)[0];
    const fn = only(json, "aws_lambda_function").body;
    expect(fn.filename).toBe(`\${data.archive_file.${archive}.output_path}`);
    expect(fn.source_code_hash).toBe(`\${data.archive_file.${archive}.output_base64sha256}`);
    expect(json.data.archive_file[archive]).toMatchObject({ type: "zip" });
  });

  test("consumes the queue in batches of 10 with partial batch responses and bounded concurrency", () => {
    expect(processor).toHaveResourceWithProperties(LambdaEventSourceMapping, {
      event_source_arn: processorProps.queueArn,
      batch_size: 10,
      maximum_batching_window_in_seconds: 1,
      function_response_types: ["ReportBatchItemFailures"],
      scaling_config: { maximum_concurrency: 5 },
    });
  });

  test("logs to its own log group with retention, created before the function", () => {
    expect(processor).toHaveResourceWithProperties(CloudwatchLogGroup, {
      name: "/aws/lambda/OrderProcessor",
      retention_in_days: 14,
    });
    const json = JSON.parse(processor);
    expect(only(json, "aws_lambda_function").body.depends_on).toContain(
      `aws_cloudwatch_log_group.${only(json, "aws_cloudwatch_log_group").name}`,
    );
  });

  test.each([
    [{ reservedConcurrency: 3, maximumConcurrency: 5 }, /reservedConcurrency \(3\) is below maximumConcurrency \(5\)/],
    [
      { queueVisibilityTimeoutSeconds: 60 },
      /visibility timeout \(60s\) is below 6 x timeoutSeconds \+ batchingWindowSeconds \(181s\)/,
    ],
    [
      { batchSize: 100, batchingWindowSeconds: 0, queueVisibilityTimeoutSeconds: 180 },
      /batchSize above 10 \(100\) needs batchingWindowSeconds of at least 1/,
    ],
    [{ maximumConcurrency: 1 }, /maximumConcurrency must be a whole number from 2 to 1000, got 1/],
    [{ timeoutSeconds: 901 }, /timeoutSeconds must be a whole number from 1 to 900, got 901/],
    [{ logRetentionDays: 10 }, /logRetentionDays must be one of 1, 3, 5, 7, 14/],
  ])("rejects %j", (override, message) => {
    expect(() => synth((scope) => new OrderProcessor(scope, "P", { ...processorProps, ...override }))).toThrow(message);
  });

  test("accepts reserved concurrency at or above the mapping's maximum", () => {
    expect(
      synth((scope) => new OrderProcessor(scope, "P", { ...processorProps, reservedConcurrency: 5 })),
    ).toHaveResourceWithProperties(LambdaFunction, {
      reserved_concurrent_executions: 5,
    });
  });
});

describe("StateBucket", () => {
  const bucket = synth(
    (scope) =>
      new StateBucket(scope, "B", {
        bucketName: "acme-tfstate",
        keyAlias: "alias/order-system-state",
        ...ACCOUNT,
      }),
  );

  test("is versioned and blocks all public access", () => {
    expect(bucket).toHaveResourceWithProperties(S3BucketVersioningA, {
      versioning_configuration: { status: "Enabled" },
    });
    expect(bucket).toHaveResourceWithProperties(S3BucketPublicAccessBlock, {
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
  });

  test("is encrypted, TLS only, and protected from terraform destroy", () => {
    const json = JSON.parse(bucket);
    // SSE-KMS with its own rotated customer-managed key, named by the alias the stacks' S3 backend uses.
    const key = only(json, "aws_kms_key");
    expect(key.body.enable_key_rotation).toBe(true);
    expect(only(json, "aws_kms_alias").body).toMatchObject({
      name: "alias/order-system-state",
      target_key_id: `\${aws_kms_key.${key.name}.key_id}`,
    });
    expect(
      only(json, "aws_s3_bucket_server_side_encryption_configuration").body.rule[0]
        .apply_server_side_encryption_by_default,
    ).toEqual({
      sse_algorithm: "aws:kms",
      kms_master_key_id: `\${aws_kms_key.${key.name}.arn}`,
    });
    expect(JSON.parse(only(json, "aws_s3_bucket_policy").body.policy).Statement[0]).toMatchObject({
      Effect: "Deny",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(only(json, "aws_s3_bucket").body.lifecycle).toEqual({ prevent_destroy: true });
  });

  test("cleans up after itself: old versions, orphaned delete markers (the lock file leaves them), unfinished uploads", () => {
    const [rule] = only(JSON.parse(bucket), "aws_s3_bucket_lifecycle_configuration").body.rule;
    expect(rule).toMatchObject({
      status: "Enabled",
      noncurrent_version_expiration: [{ noncurrent_days: 90 }],
      expiration: [{ expired_object_delete_marker: true }],
      abort_incomplete_multipart_upload: [{ days_after_initiation: 7 }],
    });
  });
});

test("KmsKey is only ever created by EncryptionKey", () => {
  expect(synth((scope) => new OrdersTable(scope, "T", { tableName: "Orders" }))).not.toHaveResource(KmsKey);
});
