import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "../support/paths";
import { PIPELINE_DEFAULTS } from "../../constructs";
import {
  byName,
  only,
  ref,
  resourcesOf,
  synthOrderStack,
  synthStateStack,
  testConfig,
  TfJson,
} from "../support/stacks";

describe("OrderSystemStack wiring (references followed in the synthesized JSON)", () => {
  const config = testConfig("dev");
  const json = synthOrderStack(config);
  const queue = byName(json, "aws_sqs_queue", "OrderQueue");
  const dlq = byName(json, "aws_sqs_queue", "DLQ");
  const topic = byName(json, "aws_sns_topic", "OrderTopic");
  const table = byName(json, "aws_dynamodb_table", "Orders");
  const key = only(json, "aws_kms_key");
  const fn = only(json, "aws_lambda_function");
  const logGroup = only(json, "aws_cloudwatch_log_group");
  const mapping = only(json, "aws_lambda_event_source_mapping");

  test("the queue's redrive target is the DLQ's ARN, after 3 receives", () => {
    expect(JSON.parse(queue.body.redrive_policy)).toEqual({
      deadLetterTargetArn: ref("aws_sqs_queue", dlq.name, "arn"),
      maxReceiveCount: 3,
    });
  });

  test("the DLQ accepts redrives from OrderQueue only", () => {
    const allow = only(json, "aws_sqs_queue_redrive_allow_policy").body;
    expect(allow.queue_url).toBe(ref("aws_sqs_queue", dlq.name, "url"));
    expect(JSON.parse(allow.redrive_allow_policy)).toEqual({
      redrivePermission: "byQueue",
      sourceQueueArns: [ref("aws_sqs_queue", queue.name, "arn")],
    });
  });

  test("the DLQ keeps messages longer than the queue", () => {
    expect(dlq.body.message_retention_seconds).toBeGreaterThan(queue.body.message_retention_seconds);
  });

  test("every queue states its largest message (256 KiB, as SNS), so local and AWS refuse the same message", () => {
    const queues = resourcesOf(json, "aws_sqs_queue");
    expect(queues).toHaveLength(3);
    for (const { body } of queues)
      expect([body.name, body.max_message_size]).toEqual([body.name, PIPELINE_DEFAULTS.maxMessageSizeBytes]);
    expect(PIPELINE_DEFAULTS.maxMessageSizeBytes).toBe(262_144);
  });

  test("the subscription delivers the topic to the queue", () => {
    const subscription = only(json, "aws_sns_topic_subscription").body;
    expect(subscription).toMatchObject({
      topic_arn: ref("aws_sns_topic", topic.name, "arn"),
      endpoint: ref("aws_sqs_queue", queue.name, "arn"),
      protocol: "sqs",
    });
  });

  test("the queue policy lets SNS send only from the order topic", () => {
    const policy = resourcesOf(json, "aws_sqs_queue_policy").find(
      (p) => p.body.queue_url === ref("aws_sqs_queue", queue.name, "url"),
    )!;
    const allow = JSON.parse(policy.body.policy).Statement.filter((s: TfJson) => s.Effect === "Allow");
    expect(allow).toEqual([
      expect.objectContaining({
        Principal: { Service: "sns.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: ref("aws_sqs_queue", queue.name, "arn"),
        Condition: { ArnEquals: { "aws:SourceArn": ref("aws_sns_topic", topic.name, "arn") } },
      }),
    ]);
  });

  test("the key policy's SNS statement names this stack's topic", () => {
    const statement = JSON.parse(only(json, "aws_kms_key_policy").body.policy).Statement.find(
      (s: TfJson) => s.Principal?.Service === "sns.amazonaws.com",
    );
    expect(statement.Condition.ArnLike["aws:SourceArn"]).toEqual([
      `arn:\${data.aws_partition.partition.partition}:sns:us-east-1:\${data.aws_caller_identity.caller.account_id}:OrderTopic`,
    ]);
  });

  test("the role's resources are exactly the log group, table, queue and key", () => {
    const policy = JSON.parse(only(json, "aws_iam_role_policy").body.policy);
    const resources = policy.Statement.flatMap((s: TfJson) => [s.Resource].flat()).sort();
    expect(resources).toEqual(
      [
        `${ref("aws_cloudwatch_log_group", logGroup.name, "arn")}:*`,
        ref("aws_dynamodb_table", table.name, "arn"),
        ref("aws_sqs_queue", queue.name, "arn"),
        ref("aws_kms_key", key.name, "arn"),
      ].sort(),
    );
    expect(only(json, "aws_iam_role_policy").body.role).toBe(
      ref("aws_iam_role", only(json, "aws_iam_role").name, "id"),
    );
    expect(fn.body.role).toBe(ref("aws_iam_role", only(json, "aws_iam_role").name, "arn"));
  });

  test("the function stores into the table and is fed by the queue", () => {
    expect(fn.body.environment.variables.TABLE_NAME).toBe(ref("aws_dynamodb_table", table.name, "name"));
    expect(mapping.body.event_source_arn).toBe(ref("aws_sqs_queue", queue.name, "arn"));
    expect(mapping.body.function_name).toBe(ref("aws_lambda_function", fn.name, "arn"));
    expect(fn.body.logging_config.log_group).toBe(ref("aws_cloudwatch_log_group", logGroup.name, "name"));
  });

  test("visibility timeout >= 6 x function timeout + batching window", () => {
    expect(queue.body.visibility_timeout_seconds).toBeGreaterThanOrEqual(
      6 * fn.body.timeout + mapping.body.maximum_batching_window_in_seconds,
    );
  });

  test("state goes to the S3 backend, encrypted, with S3-native locking", () => {
    expect(json.terraform.backend.s3).toEqual({
      bucket: config.stateBucket,
      key: "order-system/dev/terraform.tfstate",
      region: "us-east-1",
      encrypt: true,
      kms_key_id: "alias/order-system-state",
      use_lockfile: true,
    });
  });

  test("outputs what operators and the orders CLI need", () => {
    expect(json.output).toEqual({
      topic_arn: { value: ref("aws_sns_topic", topic.name, "arn") },
      queue_url: { value: ref("aws_sqs_queue", queue.name, "url") },
      queue_arn: { value: ref("aws_sqs_queue", queue.name, "arn") },
      dlq_url: { value: ref("aws_sqs_queue", dlq.name, "url") },
      dlq_arn: { value: ref("aws_sqs_queue", dlq.name, "arn") },
      alarm_topic_arn: { value: ref("aws_sns_topic", byName(json, "aws_sns_topic", "OrderAlarms").name, "arn") },
      delivery_dlq_url: { value: expect.stringMatching(/^\$\{aws_sqs_queue\..+\.url\}$/) },
      // The same queue as its URL: the orders CLI checks each URL against its ARN.
      delivery_dlq_arn: {
        value: json.output.delivery_dlq_url.value.replace(/\.url\}$/, ".arn}"),
      },
      table_name: { value: ref("aws_dynamodb_table", table.name, "name") },
      function_name: { value: ref("aws_lambda_function", fn.name, "function_name") },
      dashboard_url: {
        value: `https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/${only(json, "aws_cloudwatch_dashboard").body.dashboard_name}`,
      },
      verify: expect.objectContaining({ value: expect.any(Object) }),
      operator_console_policies: expect.objectContaining({ value: expect.any(Object) }),
    });
  });

  test("the operators' console policies: read holds exactly the views' calls on this stack's resources, changes the rest", () => {
    const { read, changes } = json.output.operator_console_policies.value;
    const grants = (doc: string) =>
      Object.fromEntries(
        JSON.parse(doc).Statement.map((s: { Effect: string; Action: string[]; Resource: string }) => {
          expect(s.Effect).toBe("Allow");
          return [s.Resource, s.Action];
        }),
      );
    const arn = (type: string, name: string) => ref(type, name, "arn");
    const deliveryDlq = json.output.delivery_dlq_arn.value;
    const logGroup = `${arn("aws_cloudwatch_log_group", only(json, "aws_cloudwatch_log_group").name)}:*`;
    expect(grants(read)).toEqual({
      [arn("aws_sqs_queue", queue.name)]: ["sqs:GetQueueAttributes"],
      [arn("aws_sqs_queue", dlq.name)]: ["sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
      [deliveryDlq]: ["sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
      [arn("aws_kms_key", key.name)]: ["kms:Decrypt"],
      [logGroup]: ["logs:FilterLogEvents"],
      [arn("aws_dynamodb_table", table.name)]: ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Scan"],
      // The one action without a resource type.
      "*": ["cloudwatch:GetMetricData"],
    });
    expect(grants(changes)).toEqual({
      [arn("aws_sqs_queue", dlq.name)]: [
        "sqs:StartMessageMoveTask",
        "sqs:ListMessageMoveTasks",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
      ],
      [deliveryDlq]: ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
      [arn("aws_sqs_queue", queue.name)]: ["sqs:SendMessage"],
      [arn("aws_sns_topic", topic.name)]: ["sns:Publish"],
      [arn("aws_kms_key", key.name)]: ["kms:GenerateDataKey", "kms:Decrypt"],
    });
    // What verify simulates is what the documents say.
    expect(json.output.verify.value.console_access.read.map((g: { resource: string }) => g.resource)).toEqual(
      Object.keys(grants(read)),
    );
  });

  test("the verify output states what the resources were configured with, for `orders verify` to compare", () => {
    const expected = json.output.verify.value;
    const subscription = only(json, "aws_sns_topic_subscription");
    expect(expected).toMatchObject({
      batch_size: mapping.body.batch_size,
      maximum_batching_window_in_seconds: mapping.body.maximum_batching_window_in_seconds,
      maximum_concurrency: mapping.body.scaling_config.maximum_concurrency,
      function_response_types: ["ReportBatchItemFailures"],
      raw_message_delivery: subscription.body.raw_message_delivery,
      event_source_mapping_uuid: ref("aws_lambda_event_source_mapping", mapping.name, "uuid"),
      subscription_arn: ref("aws_sns_topic_subscription", subscription.name, "arn"),
      key_arn: ref("aws_kms_key", key.name, "arn"),
      role_arn: ref("aws_iam_role", only(json, "aws_iam_role").name, "arn"),
      queue_arn: ref("aws_sqs_queue", queue.name, "arn"),
      dashboard_name: ref("aws_cloudwatch_dashboard", only(json, "aws_cloudwatch_dashboard").name, "dashboard_name"),
      alarm_names: expect.arrayContaining(
        resourcesOf(json, "aws_cloudwatch_metric_alarm").map((alarm) =>
          ref("aws_cloudwatch_metric_alarm", alarm.name, "alarm_name"),
        ),
      ),
    });
    expect(expected.alarm_names).toHaveLength(resourcesOf(json, "aws_cloudwatch_metric_alarm").length);
    // Exactly the role policy's grants, so the policy simulation checks what was deployed.
    const statements = JSON.parse(only(json, "aws_iam_role_policy").body.policy).Statement;
    expect(expected.role_access).toEqual(
      statements.map((s: TfJson) => ({ resource: s.Resource, actions: [s.Action].flat() })),
    );
    const changed = synthOrderStack(config, { batchSize: 5, maximumConcurrency: 8 }).output.verify.value;
    expect(changed).toMatchObject({ batch_size: 5, maximum_concurrency: 8 });
  });

  test("changing a pipeline setting changes every place derived from it", () => {
    const changed = synthOrderStack(config, { functionTimeoutSeconds: 60, maxReceiveCount: 5, batchSize: 5 });
    expect(byName(changed, "aws_sqs_queue", "OrderQueue").body.visibility_timeout_seconds).toBe(6 * 60 + 1);
    expect(JSON.parse(byName(changed, "aws_sqs_queue", "OrderQueue").body.redrive_policy).maxReceiveCount).toBe(5);
    expect(only(changed, "aws_lambda_function").body.timeout).toBe(60);
    expect(only(changed, "aws_lambda_event_source_mapping").body.batch_size).toBe(5);
    // The DLQ alarm tells operators the retry count the queue really has.
    const dlqAlarm = resourcesOf(changed, "aws_cloudwatch_metric_alarm").find(
      (a) => /-dlq-not-empty$/.test(String(a.body.alarm_name)) && !/delivery/.test(String(a.body.alarm_name)),
    )!;
    expect(dlqAlarm.body.alarm_description).toMatch(/^Orders failed 5 times and are in DLQ\./);
  });

  test("every pipeline setting the stack accepts reaches the resources it configures", () => {
    const changed = synthOrderStack(config, {
      kmsDataKeyReusePeriodSeconds: 600,
      deadLetterRetentionSeconds: 10 * 24 * 3600,
      maxMessageSizeBytes: 128 * 1024,
      queueRetentionSeconds: 2 * 24 * 3600,
    });
    const queues = resourcesOf(changed, "aws_sqs_queue").map((q) => q.body);
    for (const body of queues) expect([body.name, body.max_message_size]).toEqual([body.name, 128 * 1024]);
    for (const body of queues.filter((q) => q.kms_master_key_id))
      expect([body.name, body.kms_data_key_reuse_period_seconds]).toEqual([body.name, 600]);
    const retention = Object.fromEntries(queues.map((q) => [q.name, q.message_retention_seconds]));
    expect(retention).toEqual({
      OrderQueue: 2 * 24 * 3600,
      DLQ: 10 * 24 * 3600,
      OrderTopicDeliveryDLQ: 10 * 24 * 3600,
    });
  });
});

describe("environments", () => {
  test("prod gets its own names, deletion protection, region, account guard and state key", () => {
    const json = synthOrderStack(testConfig("prod"));
    expect(byName(json, "aws_dynamodb_table", "Orders-prod").body.deletion_protection_enabled).toBe(true);
    byName(json, "aws_sqs_queue", "OrderQueue-prod");
    byName(json, "aws_sqs_queue", "DLQ-prod");
    byName(json, "aws_sns_topic", "OrderTopic-prod");
    expect(json.provider.aws[0]).toMatchObject({ region: "eu-west-1", allowed_account_ids: ["222222222222"] });
    expect(json.provider.aws[0].default_tags[0].tags).toEqual({ project: "order-system", environment: "prod" });
    expect(json.terraform.backend.s3).toMatchObject({
      bucket: "example-order-tfstate-prod",
      key: "order-system/prod/terraform.tfstate",
    });
    expect(json.data.aws_caller_identity).toBeUndefined();
  });

  test.each(["dev", "staging", "prod"])(
    "%s: state and lock objects are SSE-KMS with the key of the bucket the state stack creates",
    (environment) => {
      const config = testConfig(environment);
      const backend = synthOrderStack(config).terraform.backend.s3;
      const state = synthStateStack(config);
      // Without kms_key_id, `encrypt` would ask S3 for SSE-S3 on every object, overriding the bucket default.
      expect(backend).toMatchObject({
        encrypt: true,
        kms_key_id: config.names.stateKeyAlias,
        bucket: only(state, "aws_s3_bucket").body.bucket,
      });
      expect(only(state, "aws_kms_alias").body.name).toBe(backend.kms_key_id);
    },
  );

  test("the state stack keeps its own state locally and creates the configured bucket", () => {
    const json = synthStateStack(testConfig("staging"));
    // In the project's terraform-state folder, outside cdktf.out (which `cdktf synth` prunes), named
    // relative to the stack's folder so no machine's path is in the JSON.
    const local = json.terraform.backend.local.path as string;
    expect(path.isAbsolute(local)).toBe(false);
    expect(local).toMatch(/^(\.\.\/)+.*terraform-state\/terraform\.OrderStateStack-staging\.tfstate$/);
    expect(only(json, "aws_s3_bucket").body.bucket).toBe("example-order-tfstate-staging");
  });
});

describe("deploy-day safeguards", () => {
  test.each(["dev", "staging", "prod"])(
    "%s: both stacks declare the Terraform version use_lockfile needs",
    (environment) => {
      for (const json of [synthOrderStack(testConfig(environment)), synthStateStack(testConfig(environment))]) {
        expect(json.terraform.required_version).toBe(">= 1.10");
      }
    },
  );

  test("prod reserves exactly the mapping's maximum concurrency, so other functions cannot throttle its polls; dev and staging do not", () => {
    const reserved = (environment: string) => {
      const json = synthOrderStack(testConfig(environment));
      return {
        reserved: only(json, "aws_lambda_function").body.reserved_concurrent_executions,
        maximum: only(json, "aws_lambda_event_source_mapping").body.scaling_config.maximum_concurrency,
      };
    };
    expect(reserved("prod")).toEqual({ reserved: 5, maximum: 5 });
    expect(reserved("dev").reserved).toBeUndefined();
    expect(reserved("staging").reserved).toBeUndefined();
  });

  test("every alarm is created after the topic and key policies that let CloudWatch notify", () => {
    const json = synthOrderStack(testConfig("dev"));
    const alarmTopic = byName(json, "aws_sns_topic", "OrderAlarms");
    const topicPolicy = resourcesOf(json, "aws_sns_topic_policy").find(
      (p) => p.body.arn === ref("aws_sns_topic", alarmTopic.name, "arn"),
    )!;
    const keyPolicy = only(json, "aws_kms_key_policy");
    for (const alarm of resourcesOf(json, "aws_cloudwatch_metric_alarm")) {
      expect(alarm.body.depends_on).toEqual(
        expect.arrayContaining([`aws_sns_topic_policy.${topicPolicy.name}`, `aws_kms_key_policy.${keyPolicy.name}`]),
      );
    }
  });
});

describe("the app", () => {
  test("synthesizes without a word on stderr (no deprecation warning from an output)", () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "order-app-"));
    try {
      const result = spawnSync(process.execPath, ["-r", "esbuild-register", "main.ts"], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        env: { ...process.env, CDKTF_OUTDIR: outdir, ORDER_ENV: "" },
      });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: "" });
      expect(fs.existsSync(path.join(outdir, "stacks", "OrderSystemStack", "cdk.tf.json"))).toBe(true);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
