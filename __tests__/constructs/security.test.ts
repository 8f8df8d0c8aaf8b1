import {
  asList,
  byName,
  only,
  policiesOf,
  resourcesOf,
  synthOrderStack,
  synthStateStack,
  TEST_ENVIRONMENTS,
  testConfig,
  TfJson,
} from "../support/stacks";
import { TOPIC_ACTIONS } from "../../constructs";
import { decide, PolicyStatementJson, Request } from "../support/policy-evaluation";

/**
 * Security rules checked on every environment's synthesized JSON. The one exemption is AWS's
 * default key-policy statement (account root, `kms:*` on `*` = this key), without which a key
 * can become unmanageable.
 */
describe.each(Object.keys(TEST_ENVIRONMENTS))("security rules: %s", (environment) => {
  const config = testConfig(environment);
  const stacks: Record<string, TfJson> = { order: synthOrderStack(config), state: synthStateStack(config) };

  test.each(Object.keys(stacks))("%s stack: no Allow grants a wildcard action or resource", (name) => {
    for (const { where, document } of policiesOf(stacks[name])) {
      for (const statement of document.Statement) {
        if (statement.Effect !== "Allow") continue;
        // A key policy, on the key (the state key) or as its own resource (the pipeline key).
        const keyAdministration = where.startsWith("aws_kms_key") && statement.Sid === "AccountAdministersKey";
        const servicePrincipalOnKey =
          where.startsWith("aws_kms_key_policy") && statement.Principal?.Service && statement.Condition;
        // The CI deploy role manages this environment's resources whole; github-ci-roles.test.ts confines it.
        if (where.includes("GithubCi_DeployAccess")) continue;
        for (const action of asList<string>(statement.Action)) {
          if (keyAdministration) continue;
          expect({ where, action }).toEqual({ where, action: expect.not.stringMatching(/(^\*$)|(:\*$)/) });
        }
        for (const resource of asList<string>(statement.Resource)) {
          if (keyAdministration || servicePrincipalOnKey) continue; // in a key policy "*" means this key
          // kms:ListAliases has no resource-level permissions: IAM accepts only "*" for it.
          if (asList<string>(statement.Action).every((a) => a === "kms:ListAliases")) continue;
          expect({ where, resource }).toEqual({ where, resource: expect.not.stringMatching(/^\*$/) });
        }
      }
    }
  });

  test("no managed policy is attached (the role has one inline policy)", () => {
    expect(resourcesOf(stacks.order, "aws_iam_role_policy_attachment")).toEqual([]);
    expect(resourcesOf(stacks.order, "aws_iam_role_policy")).toHaveLength(1);
  });

  test("every topic and queue is encrypted with the customer-managed key, but the delivery DLQ with SSE-SQS", () => {
    const key = only(stacks.order, "aws_kms_key").name;
    const deliveryDlq = byName(stacks.order, "aws_sqs_queue", config.names.deliveryDeadLetterQueue);
    const encrypted = [
      ...resourcesOf(stacks.order, "aws_sns_topic"),
      ...resourcesOf(stacks.order, "aws_sqs_queue"),
    ].filter((r) => r.name !== deliveryDlq.name);
    expect(encrypted.length).toBe(4);
    for (const { name, body } of encrypted) {
      expect({ name, key: body.kms_master_key_id }).toEqual({ name, key: `\${aws_kms_key.${key}.key_id}` });
    }
    // Independent of that key, so a broken key or key policy cannot also stop the redrive of failed deliveries.
    expect({ sse: deliveryDlq.body.sqs_managed_sse_enabled, key: deliveryDlq.body.kms_master_key_id }).toEqual({
      sse: true,
      key: undefined,
    });
  });

  test("every topic, queue and bucket policy denies requests without TLS", () => {
    const policies = ["aws_sns_topic_policy", "aws_sqs_queue_policy"].flatMap((type) =>
      resourcesOf(stacks.order, type),
    );
    policies.push(...resourcesOf(stacks.state, "aws_s3_bucket_policy"));
    const topicsAndQueues =
      resourcesOf(stacks.order, "aws_sns_topic").length + resourcesOf(stacks.order, "aws_sqs_queue").length;
    expect(policies.length).toBe(topicsAndQueues + 1);
    for (const { name, body } of policies) {
      const deny = JSON.parse(body.policy).Statement.find(
        (s: TfJson) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === "false",
      );
      expect({ name, deny: Boolean(deny) }).toEqual({ name, deny: true });
    }
  });

  test("the table has point-in-time recovery and encryption; logs have retention", () => {
    const table = only(stacks.order, "aws_dynamodb_table").body;
    expect(table.point_in_time_recovery).toEqual({ enabled: true });
    expect(table.server_side_encryption).toEqual({ enabled: true });
    expect(table.deletion_protection_enabled).toBe(config.production);
    for (const { body } of resourcesOf(stacks.order, "aws_cloudwatch_log_group"))
      expect(body.retention_in_days).toBeGreaterThan(0);
  });

  test("the KMS key rotates", () => {
    expect(only(stacks.order, "aws_kms_key").body.enable_key_rotation).toBe(true);
  });

  test("OrderQueue refuses sqs:SendMessage from anyone but SNS for the order topic and the redrive principals", () => {
    const queue = byName(stacks.order, "aws_sqs_queue", config.names.queue).name;
    const topic = resourcesOf(stacks.order, "aws_sns_topic_subscription").find((s) => s.body.protocol === "sqs")!.body
      .topic_arn;
    const policy = resourcesOf(stacks.order, "aws_sqs_queue_policy").find(
      (p) => p.body.queue_url === `\${aws_sqs_queue.${queue}.url}`,
    )!;
    const statements = JSON.parse(policy.body.policy).Statement;
    // The caller's own IAM policy allows the send: only the queue policy can refuse it.
    const callerAllows = { Effect: "Allow", Action: "sqs:SendMessage", Resource: "*" };
    const operator = config.redrivePrincipalArns[0] ?? "arn:aws:iam::123456789012:role/not-configured";
    const tls = { "aws:SecureTransport": "true" };
    const send = (caller: Request["caller"], context: Record<string, string>) =>
      decide(caller === "iam" ? [...statements, callerAllows] : statements, {
        action: "sqs:SendMessage",
        resource: `\${aws_sqs_queue.${queue}.arn}`,
        caller,
        context: { ...tls, ...context },
      });
    const sns = { service: "sns.amazonaws.com" };
    expect({
      snsForTopic: send(sns, { "aws:SourceArn": topic }),
      snsForAnotherTopic: send(sns, { "aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:Other" }),
      accountRole: send("iam", { "aws:PrincipalArn": "arn:aws:iam::123456789012:role/any" }),
      redriveOperator: send("iam", { "aws:PrincipalArn": operator }),
    }).toEqual({
      snsForTopic: "allowed",
      snsForAnotherTopic: "explicitDeny",
      accountRole: "explicitDeny",
      redriveOperator: config.redrivePrincipalArns.length > 0 ? "allowed" : "explicitDeny",
    });
  });

  test("the DLQs take no message from anyone of the account: only SNS for the order topic delivers to the delivery DLQ", () => {
    const topic = resourcesOf(stacks.order, "aws_sns_topic_subscription").find((s) => s.body.protocol === "sqs")!.body
      .topic_arn;
    const send = (queueName: string, caller: Request["caller"], context: Record<string, string>) => {
      const queue = byName(stacks.order, "aws_sqs_queue", queueName).name;
      const policy = resourcesOf(stacks.order, "aws_sqs_queue_policy").find(
        (p) => p.body.queue_url === `\${aws_sqs_queue.${queue}.url}`,
      )!;
      const statements = JSON.parse(policy.body.policy).Statement;
      // The caller's own IAM policy allows the send: only the queue policy can refuse it.
      const callerAllows = { Effect: "Allow", Action: "sqs:SendMessage", Resource: "*" };
      return decide(caller === "iam" ? [...statements, callerAllows] : statements, {
        action: "sqs:SendMessage",
        resource: `\${aws_sqs_queue.${queue}.arn}`,
        caller,
        context: { "aws:SecureTransport": "true", ...context },
      });
    };
    const operator = config.redrivePrincipalArns[0] ?? "arn:aws:iam::123456789012:role/not-configured";
    const sns = { service: "sns.amazonaws.com" };
    for (const dlq of [config.names.deadLetterQueue, config.names.deliveryDeadLetterQueue]) {
      expect({
        dlq,
        accountRole: send(dlq, "iam", { "aws:PrincipalArn": "arn:aws:iam::123456789012:role/any" }),
        // Not even a redrive operator: a redrive sends to OrderQueue, never to a DLQ.
        redriveOperator: send(dlq, "iam", { "aws:PrincipalArn": operator }),
        snsForAnotherTopic: send(dlq, sns, { "aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:Other" }),
      }).toEqual({
        dlq,
        accountRole: "explicitDeny",
        redriveOperator: "explicitDeny",
        snsForAnotherTopic: expect.stringMatching(/Deny$/),
      });
    }
    expect(send(config.names.deliveryDeadLetterQueue, sns, { "aws:SourceArn": topic })).toBe("allowed");
  });

  test("the topic policies deny every action a topic accepts without TLS, not Publish alone", () => {
    for (const { name, body } of resourcesOf(stacks.order, "aws_sns_topic_policy")) {
      const statements: PolicyStatementJson[] = JSON.parse(body.policy).Statement;
      const actions = [...TOPIC_ACTIONS, ...statements.flatMap((s) => asList<string>(s.Action))];
      for (const action of new Set(actions)) {
        const insecure = decide(statements, {
          action,
          resource: body.arn,
          caller: "iam",
          context: { "aws:SecureTransport": "false" },
        });
        expect({ name, action, insecure }).toEqual({ name, action, insecure: "explicitDeny" });
      }
    }
  });
});
