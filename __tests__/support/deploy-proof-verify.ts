/**
 * Step 6 of the deploy proof (`deploy-proof.ts`): `npm run orders -- verify` on the stack applied on moto,
 * every check passing on it as applied, then each failing on what breaks it the way it breaks on AWS.
 */
import { CloudWatchClient, DeleteDashboardsCommand, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DeleteRolePolicyCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { DisableKeyRotationCommand } from "@aws-sdk/client-kms";
import { UpdateEventSourceMappingCommand } from "@aws-sdk/client-lambda";
import {
  GetTopicAttributesCommand,
  SetSubscriptionAttributesCommand,
  SetTopicAttributesCommand,
} from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, SendMessageCommand, SetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { EnvironmentConfig } from "../../constructs";
import { OrdersIO, StackOutputs } from "../../operator/io";
import { verify } from "../../operator/verify";
import { emulatorClientConfig } from "./emulator";
import { verifyClientsOnMoto } from "./moto-gaps";
import { SAMPLE_ORDER } from "./orders";

export interface AppliedStack {
  /** The applied stack's outputs (`terraform output`). */
  readonly outputs: StackOutputs;
  readonly motoEndpoint: string;
  readonly config: EnvironmentConfig;
  /** Starts the Lambda service on what was applied (moto cannot run the function), and stops it. */
  readonly startLambda: () => Promise<unknown>;
  readonly stopLambda: () => Promise<void>;
}

export async function verifyPassesThenFailsOnMoto({
  outputs,
  motoEndpoint,
  config,
  startLambda,
  stopLambda,
}: AppliedStack): Promise<void> {
  const names = config.names;
  const expected = outputs.verify!;
  const clients = verifyClientsOnMoto(motoEndpoint, config.region);
  const lines: string[] = [];
  const io: OrdersIO = {
    out: (line) => lines.push(line),
    readInput: () => "",
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
  };
  const alarmName = `${names.alarmTopic}-dlq-not-empty`;
  const alarmState = async () =>
    (await clients.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }))).MetricAlarms?.[0]
      ?.StateValue;
  const stateBefore = await alarmState();
  const tableArn = expected.role_access.find((grant) => grant.actions.includes("dynamodb:PutItem"))!.resource;
  const fix = `npx cdktf diff ${names.stack} shows the drift; npx cdktf deploy ${names.stack} restores the stack's settings`;
  // OrderQueue's policy as applied, judged by IAM's rules (moto lacks the simulation; see moto-gaps.ts).
  const redrivers = config.redrivePrincipalArns.length;
  const refused =
    "sqs:SendMessage is refused to the DLQs and, to a principal outside the redrive list, to OrderQueue (explicit deny)";
  const queuePolicyLine =
    redrivers > 0
      ? `PASS  queue policy: ${refused} and allowed to the ${redrivers} redrive roles`
      : `WARN  queue policy: ${refused}, and no redrive role is configured: dlq redrive and delivery-dlq move will be refused too. Do: set ORDER_REDRIVE_PRINCIPALS to the operators' role ARNs, then npx cdktf deploy ${names.stack}`;

  // As applied here the mapping is disabled (moto would swallow OrderQueue's messages), so verify must
  // fail it; the runtime's Lambda service plays Lambda so the smoke order is really stored by the handler.
  await startLambda();
  const healthy = await verify(
    outputs,
    { stack: names.stack, timeoutSeconds: 60, alarmPath: true },
    io,
    clients,
  ).finally(stopLambda);
  expect(lines).toEqual([
    `PASS  role: ${names.function}Role may do the 7 actions the function needs and none of the 7 it must not (e.g. dynamodb:DeleteItem)`,
    `FAIL  event source mapping: it is Disabled, not Enabled: OrderQueue is not being read. Do: ${fix}`,
    expect.stringMatching(/^PASS {2}key: [0-9a-f-]{36} is enabled and rotates automatically$/),
    "PASS  subscription: confirmed, raw message delivery on, undeliverable orders kept in the delivery DLQ",
    queuePolicyLine,
    expect.stringMatching(
      new RegExp(`^PASS {2}dashboard: ${names.dashboard} draws \\d+ metrics, of exactly this stack's 6 resources$`),
    ),
    `PASS  redrive policy: OrderQueue moves an order to ${names.deadLetterQueue} after ${expected.max_receive_count} failed receives`,
    expect.stringMatching(
      new RegExp(
        `^PASS {2}smoke: order SMOKE-\\d{14}-[0-9a-f]{6} went from the topic to ${names.table} in \\d+\\.\\d s, then was deleted$`,
      ),
    ),
    `PASS  dead-letter queues: ${names.deadLetterQueue} and ${names.deliveryDeadLetterQueue} are empty`,
    `PASS  alarm path: ${alarmName} went to ALARM and CloudWatch published to ${names.alarmTopic}; set back to ${stateBefore}`,
    "PASS  console policies: read allows the 11 calls of the console's views and none of the 7 changes of --allow-changes; changes allows its 10",
    redrivers > 0
      ? `verify ${names.stack}: 10 passed, 1 failed, 0 warnings, 0 skipped`
      : `verify ${names.stack}: 9 passed, 1 failed, 1 warnings, 0 skipped`,
  ]);
  expect(healthy).toBe(1);
  // It cleaned up after itself: the smoke order is gone and the alarm is back in its state.
  const smokeOrderId = lines[7].match(/order (SMOKE-\S+)/)![1];
  expect(
    (await clients.dynamodb.send(new GetItemCommand({ TableName: names.table, Key: { orderId: { S: smokeOrderId } } })))
      .Item,
  ).toBeUndefined();
  expect(await alarmState()).toBe(stateBefore);

  // Break each thing verify checks, the way it breaks on AWS; the stand-in no longer plays Lambda.
  const roleName = `${names.function}Role`;
  const aws = {
    ...clients,
    iam: new IAMClient(emulatorClientConfig(motoEndpoint, config.region)),
    cloudwatch: new CloudWatchClient(emulatorClientConfig(motoEndpoint, config.region)),
  };
  await aws.lambda.send(
    new UpdateEventSourceMappingCommand({ UUID: expected.event_source_mapping_uuid, Enabled: true }),
  );
  await aws.kms.send(new DisableKeyRotationCommand({ KeyId: expected.key_arn }));
  await aws.sns.send(
    new SetSubscriptionAttributesCommand({
      SubscriptionArn: expected.subscription_arn,
      AttributeName: "RawMessageDelivery",
      AttributeValue: "false",
    }),
  );
  for (const n of [1, 2])
    await aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: outputs.dlq_url,
        MessageBody: JSON.stringify({ ...SAMPLE_ORDER, orderId: `DEAD${n}` }),
      }),
    );
  const tooBroad = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "dynamodb:*", Resource: tableArn }],
  };
  await aws.iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName,
      PolicyName: "TooBroad",
      PolicyDocument: JSON.stringify(tooBroad),
    }),
  );
  const topicPolicy = JSON.parse(
    (await aws.sns.send(new GetTopicAttributesCommand({ TopicArn: outputs.alarm_topic_arn }))).Attributes!.Policy!,
  );
  const withoutCloudWatch = topicPolicy.Statement.filter(
    (statement: { Principal?: unknown }) => !JSON.stringify(statement.Principal ?? "").includes("cloudwatch"),
  );
  await aws.sns.send(
    new SetTopicAttributesCommand({
      TopicArn: outputs.alarm_topic_arn,
      AttributeName: "Policy",
      AttributeValue: JSON.stringify({ ...topicPolicy, Statement: withoutCloudWatch }),
    }),
  );
  /** A queue's applied policy without one statement. */
  const withoutStatement = async (queueUrl: string, sid: string) => {
    const { Attributes } = await aws.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["Policy"] }),
    );
    const policy = JSON.parse(Attributes!.Policy!);
    const Statement = policy.Statement.filter((s: { Sid?: string }) => s.Sid !== sid);
    await aws.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queueUrl,
        Attributes: { Policy: JSON.stringify({ ...policy, Statement }) },
      }),
    );
  };
  // OrderQueue's policy without its Deny: anyone of the account with sqs:SendMessage could inject orders.
  await withoutStatement(outputs.queue_url, "DenySendExceptOrderTopicAndRedrivers");
  // The DLQ's without its Deny: anyone of the account could put messages there for the next redrive.
  await withoutStatement(outputs.dlq_url, "DenySendToDeadLetterQueue");
  await aws.cloudwatch.send(new DeleteDashboardsCommand({ DashboardNames: [names.dashboard] }));
  // OrderQueue retrying more often than synthesized: a drifted maxReceiveCount. Its policy goes along
  // as it is: moto clears a queue's Policy on a SetQueueAttributes without one (AWS keeps it).
  const drifted = expected.max_receive_count! + 2;
  const { Attributes: current } = await aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: outputs.queue_url, AttributeNames: ["Policy"] }),
  );
  await aws.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: outputs.queue_url,
      Attributes: {
        Policy: current!.Policy!,
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: outputs.dlq_arn, maxReceiveCount: drifted }),
      },
    }),
  );
  // The console's read policy as an operator might widen it: all of SQS on the DLQ.
  const read = JSON.parse(outputs.operator_console_policies!.read);
  read.Statement.push({ Sid: "Widened", Effect: "Allow", Action: "sqs:*", Resource: outputs.dlq_arn });
  const widened = {
    ...outputs,
    operator_console_policies: { ...outputs.operator_console_policies!, read: JSON.stringify(read) },
  };
  lines.length = 0;
  const broken = await verify(widened, { stack: names.stack, timeoutSeconds: 5, alarmPath: true }, io, clients).finally(
    () => aws.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: "TooBroad" })),
  );
  expect(lines).toEqual([
    `FAIL  role: ${roleName}: it can dynamodb:DeleteItem on ${tableArn}, dynamodb:Scan on ${tableArn}, which it must not. Do: npx cdktf deploy ${names.stack} restores its policy; remove any other policy that grants more (aws iam list-attached-role-policies --role-name ${roleName}, aws iam list-role-policies --role-name ${roleName})`,
    "PASS  event source mapping: enabled, batch size 10, window 1 s, maximum concurrency 5, ReportBatchItemFailures",
    expect.stringMatching(
      new RegExp(
        `^FAIL {2}key: automatic rotation is off\\. Do: aws kms enable-key-rotation --key-id [0-9a-f-]{36} \\(or npx cdktf deploy ${names.stack}\\)$`,
      ),
    ),
    `FAIL  subscription: raw message delivery is off, configured on. Do: ${fix}`,
    `FAIL  queue policy: a principal of the account gets allowed sending to ${names.deadLetterQueue}: whatever it puts there, a redrive moves into OrderQueue; a principal of the account outside the redrive list gets allowed: anyone with sqs:SendMessage in IAM can put orders into OrderQueue directly. Do: ${fix}`,
    `FAIL  dashboard: the dashboard ${names.dashboard} does not exist. Do: npx cdktf deploy ${names.stack} creates it`,
    `FAIL  redrive policy: maxReceiveCount is ${drifted}, configured ${expected.max_receive_count}. Do: ${fix}`,
    expect.stringMatching(/^FAIL {2}smoke: order SMOKE-\S+ was not stored within 5 s/),
    `WARN  dead-letter queues: ${names.deadLetterQueue} holds 2 messages. Do: see them with npm run orders -- dlq list; once their cause is fixed, npm run orders -- dlq redrive`,
    expect.stringMatching(
      new RegExp(
        `^FAIL {2}alarm path: ${alarmName}: Failed to execute action ${outputs.alarm_topic_arn}\\. Received error: .*not authorized to perform: SNS:Publish.*; set back to ${stateBefore}\\. Do: `,
      ),
    ),
    `FAIL  console policies: read allows changes: sqs:StartMessageMoveTask on ${outputs.dlq_arn}, sqs:ListMessageMoveTasks on ${outputs.dlq_arn}, sqs:DeleteMessage on ${outputs.dlq_arn}. Do: npx cdktf deploy ${names.stack}, then attach the output operator_console_policies again (docs/operations.md, "The console")`,
    `verify ${names.stack}: 1 passed, 9 failed, 1 warnings, 0 skipped`,
  ]);
  expect(broken).toBe(1);
}
