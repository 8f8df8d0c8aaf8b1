import { App, Testing } from "cdktf";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { OrderAlarms, OrderSystemStack, resolveEnvironment, resourceNames, settingsFrom } from "../../constructs";
import { ALARM_IDS } from "../../constructs/order-alarms";
import { runOffline } from "../../offline/runtime/run";
import { saveEnv } from "../support/handler";
import {
  byName,
  only,
  ref,
  resourcesOf,
  synthOrderStack,
  TEST_ENVIRONMENTS,
  testConfig,
  TfJson,
} from "../support/stacks";

const alarmProps = {
  names: resourceNames("dev"),
  kmsKeyId: "key-1",
  accountId: "123456789012",
  partition: "aws",
  region: "us-east-1",
};

describe.each(Object.keys(TEST_ENVIRONMENTS))("alarms: %s", (environment) => {
  const config = testConfig(environment);
  const json = synthOrderStack(config);
  const names = config.names;
  const alarmTopic = byName(json, "aws_sns_topic", names.alarmTopic);
  const alarms = resourcesOf(json, "aws_cloudwatch_metric_alarm");
  const alarm = (metric: string, dimension: Record<string, string>) =>
    alarms.find((a) => a.body.metric_name === metric && JSON.stringify(a.body.dimensions) === JSON.stringify(dimension))
      ?.body;

  test("every alarm notifies the alarm topic on alarm and on recovery, and says what it means", () => {
    expect(alarms).toHaveLength(ALARM_IDS.length);
    for (const { body } of alarms) {
      expect(body.alarm_actions).toEqual([ref("aws_sns_topic", alarmTopic.name, "arn")]);
      expect(body.ok_actions).toEqual([ref("aws_sns_topic", alarmTopic.name, "arn")]);
      expect(body.alarm_description.length).toBeGreaterThan(40);
      expect(body.alarm_name.startsWith(`${names.alarmTopic}-`)).toBe(true);
    }
  });

  test("DLQ depth > 0, backlog age, function errors and throttles, SNS delivery failures", () => {
    expect(alarm("ApproximateNumberOfMessagesVisible", { QueueName: names.deadLetterQueue })).toMatchObject({
      threshold: 0,
      comparison_operator: "GreaterThanThreshold",
      statistic: "Maximum",
    });
    expect(alarm("ApproximateNumberOfMessagesVisible", { QueueName: names.deliveryDeadLetterQueue })).toMatchObject({
      threshold: 0,
    });
    expect(alarm("ApproximateAgeOfOldestMessage", { QueueName: names.queue })).toMatchObject({ threshold: 600 });
    expect(alarm("Errors", { FunctionName: names.function })).toMatchObject({ namespace: "AWS/Lambda", threshold: 0 });
    expect(alarm("Throttles", { FunctionName: names.function })).toMatchObject({
      namespace: "AWS/Lambda",
      threshold: 0,
    });
    expect(alarm("NumberOfNotificationsFailed", { TopicName: names.topic })).toMatchObject({
      namespace: "AWS/SNS",
      threshold: 0,
    });
    // Deliveries SNS could not even move to the delivery DLQ are lost: operators must hear of the first one.
    expect(alarm("NumberOfNotificationsFailedToRedriveToDlq", { TopicName: names.topic })).toMatchObject({
      namespace: "AWS/SNS",
      threshold: 0,
      statistic: "Sum",
    });
    expect(
      alarm("ApproximateNumberOfMessagesVisible", { QueueName: names.deadLetterQueue })?.alarm_description,
    ).toMatch(/npm run orders -- dlq redrive/);
  });

  test("the alarm topic is encrypted with the stack's key, which lets CloudWatch use it", () => {
    expect(alarmTopic.body.kms_master_key_id).toBe(ref("aws_kms_key", only(json, "aws_kms_key").name, "key_id"));
    const statements = JSON.parse(only(json, "aws_kms_key_policy").body.policy).Statement;
    const cloudwatch = statements.find((s: TfJson) => s.Principal?.Service === "cloudwatch.amazonaws.com");
    expect(cloudwatch.Action).toEqual(["kms:GenerateDataKey*", "kms:Decrypt"]);
    const alarmNames = resourcesOf(json, "aws_cloudwatch_metric_alarm")
      .map((a) => a.body.alarm_name)
      .sort();
    expect(cloudwatch.Condition.ArnLike["aws:SourceArn"].map((arn: string) => arn.split(":alarm:")[1]).sort()).toEqual(
      alarmNames,
    );
  });

  test("only CloudWatch alarms of this stack may publish to the alarm topic", () => {
    const policy = resourcesOf(json, "aws_sns_topic_policy").find(
      (p) => p.body.arn === ref("aws_sns_topic", alarmTopic.name, "arn"),
    )!;
    const allow = JSON.parse(policy.body.policy).Statement.filter((s: TfJson) => s.Effect === "Allow");
    expect(allow).toEqual([
      expect.objectContaining({ Principal: { Service: "cloudwatch.amazonaws.com" }, Action: "sns:Publish" }),
    ]);
  });
});

describe("alarm policies never admit another environment's alarms (a shared account)", () => {
  /** IAM's ArnLike: `*` matches any run of characters, `?` one character. */
  const arnLike = (pattern: string, arn: string) =>
    new RegExp(
      `^${pattern
        .split("*")
        .map((p) =>
          p
            .split("?")
            .map((q) => q.replace(/[.+^${}()|[\]\\]/g, "\\$&"))
            .join("."),
        )
        .join(".*")}$`,
    ).test(arn);
  const account = "123456789012";
  const stacks = Object.keys(TEST_ENVIRONMENTS).map((environment) => {
    const config = resolveEnvironment(
      settingsFrom({ ...TEST_ENVIRONMENTS[environment], ORDER_ACCOUNT_ID: account, ORDER_REGION: "us-east-1" }),
    );
    const json = synthOrderStack(config);
    const alarms = resourcesOf(json, "aws_cloudwatch_metric_alarm").map(
      (a) => `arn:aws:cloudwatch:us-east-1:${account}:alarm:${a.body.alarm_name}`,
    );
    const keyStatement = JSON.parse(only(json, "aws_kms_key_policy").body.policy).Statement.find(
      (s: TfJson) => s.Principal?.Service === "cloudwatch.amazonaws.com",
    );
    const topicPolicy = resourcesOf(json, "aws_sns_topic_policy")
      .map((p) => JSON.parse(p.body.policy))
      .find((p) => p.Statement.some((s: TfJson) => s.Principal?.Service === "cloudwatch.amazonaws.com"));
    const topicStatement = topicPolicy.Statement.find((s: TfJson) => s.Effect === "Allow");
    const patterns: string[] = [
      ...keyStatement.Condition.ArnLike["aws:SourceArn"],
      ...topicStatement.Condition.ArnEquals["aws:SourceArn"],
    ].map((p: string) => p.replace("${data.aws_partition.partition.partition}", "aws"));
    return { environment, alarms, patterns };
  });

  test.each(stacks.map((s) => s.environment))(
    "%s: its key and alarm-topic policies admit its own alarms and no other",
    (environment) => {
      const own = stacks.find((s) => s.environment === environment)!;
      expect(own.alarms).toHaveLength(ALARM_IDS.length);
      for (const alarm of own.alarms) expect(own.patterns.some((p) => arnLike(p, alarm))).toBe(true);
      const foreign = stacks.filter((s) => s.environment !== environment).flatMap((s) => s.alarms);
      expect(foreign.filter((alarm) => own.patterns.some((p) => arnLike(p, alarm)))).toEqual([]);
    },
  );
});

describe("alarm e-mail", () => {
  test("ORDER_ALARM_EMAIL subscribes that address to the alarm topic", () => {
    const config = resolveEnvironment(settingsFrom({ ORDER_ALARM_EMAIL: "ops@example.com" }));
    const subscription = resourcesOf(synthOrderStack(config), "aws_sns_topic_subscription").find(
      (s) => s.body.protocol === "email",
    );
    expect(subscription?.body.endpoint).toBe("ops@example.com");
  });

  test("without it there is no e-mail subscription", () => {
    expect(
      resourcesOf(synthOrderStack(testConfig("dev")), "aws_sns_topic_subscription").filter(
        (s) => s.body.protocol === "email",
      ),
    ).toEqual([]);
  });

  test("the offline runtime runs a stack with an e-mail subscription, listing it as not emulated", async () => {
    const restore = saveEnv();
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "order-alarm-email-"));
    try {
      const app = new App({ outdir });
      const stack = new OrderSystemStack(app, {
        config: resolveEnvironment(settingsFrom({ ORDER_ALARM_EMAIL: "ops@example.com" })),
      });
      app.synth();
      const lines: string[] = [];
      const result = await runOffline({
        stackDir: path.join(outdir, "stacks", stack.node.id),
        write: (l) => lines.push(l),
      });
      expect(result.summary).toMatchObject({ published: 2, processed: 1, deadLettered: 1, lost: 0 });
      expect(lines[1]).toMatch(/not emulated.*aws_sns_topic_subscription/);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
      restore();
    }
  });
});

test("OrderAlarms refuses a backlog age below a minute", () => {
  expect(() =>
    Testing.synthScope((scope) => new OrderAlarms(scope, "A", { ...alarmProps, backlogAgeSeconds: 10 })),
  ).toThrow(/backlogAgeSeconds must be a whole number of at least 60, got 10/);
});
