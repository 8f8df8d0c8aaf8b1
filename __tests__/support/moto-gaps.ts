/**
 * What moto cannot do for `npm run orders -- verify`, played by the test against moto's own state:
 * - running the function: moto keeps the event source mapping but cannot run code without Docker, so
 *   `startLambdaServiceOnMoto` runs the project's own Lambda service (the offline runtime's) on moto's
 *   SQS, invoking the real bundle against moto's DynamoDB;
 * - `iam:SimulatePrincipalPolicy`: moto lacks it, so the call is answered from the role's inline
 *   policies as moto holds them (Allow/Deny by action and resource; conditions are not evaluated);
 * - `iam:SimulateCustomPolicy`: moto lacks it, so the call is answered by evaluating the policies it is
 *   given (the caller's and the queue's, as moto holds it) with their conditions
 *   (`policy-evaluation.ts`); moto itself enforces no queue policy;
 * - `cloudwatch:DescribeAlarmHistory`: moto lacks it, so an alarm in ALARM reports its SNS action as AWS
 *   words it, succeeded when the alarm topic's policy (as moto holds it) admits CloudWatch, else failed.
 * Every other call verify makes goes to moto unchanged.
 */
import {
  CloudWatchClient,
  DescribeAlarmHistoryCommand,
  DescribeAlarmHistoryCommandInput,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  SetAlarmStateCommand,
} from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  SimulateCustomPolicyCommand,
  SimulateCustomPolicyCommandInput,
  SimulatePrincipalPolicyCommand,
  SimulatePrincipalPolicyCommandInput,
} from "@aws-sdk/client-iam";
import { KMSClient } from "@aws-sdk/client-kms";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { GetTopicAttributesCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { RunAccounting } from "../../offline/accounting";
import { LambdaService } from "../../offline/lambda-service/lambda-service";
import { StackModel } from "../../offline/stack-model";
import { AwsClients } from "../../operator/verify";
import { EMULATOR_CREDENTIALS, emulatorClientConfig } from "./emulator";
import { decide as decideByPolicy, list, matches, PolicyStatementJson } from "./policy-evaluation";

type Statement = { Effect: string; Action?: string | string[]; Resource?: string | string[]; Principal?: unknown };
/** IAM returns policy documents URL-encoded; moto may not. */
const policyDocument = (text: string): { Statement: Statement[] } =>
  JSON.parse(text.trim().startsWith("{") ? text : decodeURIComponent(text));

/** SimulatePrincipalPolicy for a role, from the inline policies moto holds for it. */
async function simulateFromInlinePolicies(iam: IAMClient, input: SimulatePrincipalPolicyCommandInput) {
  const roleName = input.PolicySourceArn!.split("/").pop()!;
  const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
  const statements: Statement[] = [];
  for (const PolicyName of PolicyNames) {
    const { PolicyDocument } = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName }));
    statements.push(...list(policyDocument(PolicyDocument!).Statement));
  }
  const resource = input.ResourceArns![0];
  const decide = (action: string) => {
    const applicable = statements.filter((s) => matches(list(s.Action), action) && matches(list(s.Resource), resource));
    if (applicable.some((s) => s.Effect === "Deny")) return "explicitDeny";
    return applicable.some((s) => s.Effect === "Allow") ? "allowed" : "implicitDeny";
  };
  return {
    EvaluationResults: input.ActionNames!.map((action) => ({
      EvalActionName: action,
      EvalResourceName: resource,
      EvalDecision: decide(action) as "allowed",
    })),
    IsTruncated: false,
  };
}

/** SimulateCustomPolicy: the given identity policies and resource policy, with the request's context entries. */
function simulateCustom(input: SimulateCustomPolicyCommandInput) {
  const statements: PolicyStatementJson[] = [
    ...input.PolicyInputList!,
    input.ResourcePolicy ?? '{"Statement":[]}',
  ].flatMap((text) => list(policyDocument(text).Statement as PolicyStatementJson[]));
  const context = Object.fromEntries(
    (input.ContextEntries ?? []).map((entry) => [entry.ContextKeyName!, entry.ContextKeyValues![0]]),
  );
  const resource = input.ResourceArns![0];
  return {
    EvaluationResults: input.ActionNames!.map((action) => ({
      EvalActionName: action,
      EvalResourceName: resource,
      EvalDecision: decideByPolicy(statements, { action, resource, caller: "iam", context }),
    })),
    IsTruncated: false,
  };
}

/** DescribeAlarmHistory's Action items: one per SNS action of an alarm in ALARM, judged by the topic's policy. */
async function actionHistory(cloudwatch: CloudWatchClient, sns: SNSClient, input: DescribeAlarmHistoryCommandInput) {
  const { MetricAlarms = [] } = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [input.AlarmName!] }));
  const alarm = MetricAlarms[0];
  if (alarm?.StateValue !== "ALARM") return { AlarmHistoryItems: [] };
  const items = [];
  for (const topic of alarm.AlarmActions ?? []) {
    const { Attributes = {} } = await sns.send(new GetTopicAttributesCommand({ TopicArn: topic }));
    const admitsCloudWatch = policyDocument(Attributes.Policy ?? '{"Statement":[]}').Statement.some(
      (s) =>
        s.Effect === "Allow" &&
        JSON.stringify(s.Principal ?? "").includes("cloudwatch.amazonaws.com") &&
        matches(list(s.Action), "sns:Publish"),
    );
    const summary = admitsCloudWatch
      ? `Successfully executed action ${topic}`
      : `Failed to execute action ${topic}. Received error: "Resource: ${alarm.AlarmArn} is not authorized to perform: SNS:Publish on resource: ${topic}"`;
    items.push({
      AlarmName: alarm.AlarmName,
      HistoryItemType: "Action" as const,
      Timestamp: new Date(),
      HistorySummary: summary,
    });
  }
  return { AlarmHistoryItems: items };
}

/** verify's clients, all on moto; the calls moto lacks are answered as described above. */
export function verifyClientsOnMoto(endpoint: string, region: string): AwsClients {
  const config = emulatorClientConfig(endpoint, region);
  const real = { iam: new IAMClient(config), cloudwatch: new CloudWatchClient(config), sns: new SNSClient(config) };
  const iam = new IAMClient(config);
  mockClient(iam)
    .on(SimulatePrincipalPolicyCommand)
    .callsFake((input) => simulateFromInlinePolicies(real.iam, input))
    .on(SimulateCustomPolicyCommand)
    .callsFake((input) => simulateCustom(input));
  const cloudwatch = new CloudWatchClient(config);
  mockClient(cloudwatch)
    .on(DescribeAlarmHistoryCommand)
    .callsFake((input) => actionHistory(real.cloudwatch, real.sns, input))
    .on(DescribeAlarmsCommand)
    .callsFake((input) => real.cloudwatch.send(new DescribeAlarmsCommand(input)))
    .on(SetAlarmStateCommand)
    .callsFake((input) => real.cloudwatch.send(new SetAlarmStateCommand(input)))
    .on(GetDashboardCommand)
    .callsFake((input) => real.cloudwatch.send(new GetDashboardCommand(input)));
  return {
    iam,
    cloudwatch,
    sns: real.sns,
    sqs: new SQSClient(config),
    dynamodb: new DynamoDBClient(config),
    lambda: new LambdaClient(config),
    kms: new KMSClient(config),
  };
}

/**
 * Runs the project's Lambda service (the same as `npm start`'s) against moto for the stack's event
 * source mapping: moto keeps the mapping but cannot run code without Docker, so it is applied disabled
 * and this service treats it as enabled. The function's environment points at moto.
 */
export async function startLambdaServiceOnMoto(
  stack: StackModel,
  queue: { url: string; arn: string },
  endpoint: string,
  region: string,
): Promise<{ stop(): Promise<void> }> {
  const sqs = new SQSClient(emulatorClientConfig(endpoint, region));
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ["VisibilityTimeout"] }),
  );
  const polled = {
    ...queue,
    name: queue.arn.split(":").pop()!,
    visibilityTimeoutSeconds: Number(Attributes.VisibilityTimeout),
  };
  const service = new LambdaService({
    sqs,
    region,
    functions: stack.functions,
    mappings: stack.mappings.map((mapping) => ({ ...mapping, enabled: true })),
    queueOf: () => polled,
    variables: (fn) => ({
      ...fn.variables,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL: endpoint,
    }),
    timeScale: 1,
    functionTimeScale: 1,
    accounting: new RunAccounting(),
    orderIdOf: () => undefined,
  });
  return {
    stop: async () => {
      await service.stop();
      sqs.destroy();
    },
  };
}
