/**
 * What moto cannot do for `npm run orders -- verify`, played by the test against moto's own state:
 * - running the function: moto keeps the event source mapping but cannot run code without Docker, so
 *   `startLambdaServiceOnMoto` runs the project's own Lambda service (the offline runtime's) on moto's
 *   SQS as moto describes the applied mapping and function, invoking the zip Terraform uploaded against
 *   moto's DynamoDB, and writes the function's lines to its log group on moto as Lambda does
 *   (`function-logs.ts`);
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
import { GetEventSourceMappingCommand, GetFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { GetTopicAttributesCommand, SNSClient } from "@aws-sdk/client-sns";
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { mockClient } from "aws-sdk-client-mock";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { LambdaService } from "../../offline/runtime/lambda-service/lambda-service";
import { FunctionLogWriter } from "./function-logs";
import { PipelineEvent } from "../../offline/runtime/events";
import { FunctionModel, MappingModel } from "../../offline/runtime/stack-model";
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

/** What the Lambda service on moto ran, for the proof's record and assertions. */
export interface LambdaOnMoto {
  readonly functionName: string;
  readonly mapping: MappingModel;
  /** Every trace event of the service (received, outcome via log lines, deleted, ...). */
  readonly events: PipelineEvent[];
  /** The function's lines as they go to its CloudWatch Logs group on moto. */
  readonly logs: FunctionLogWriter;
  stop(): Promise<void>;
}

/** The applied function as moto describes it, its code the zip Terraform uploaded (checked by moto's CodeSha256). */
async function appliedFunction(lambda: LambdaClient, functionArn: string, zipFile: string, workDir: string) {
  const { Configuration: fn = {}, Concurrency } = await lambda.send(
    new GetFunctionCommand({ FunctionName: functionArn }),
  );
  const zip = fs.readFileSync(zipFile);
  const sha256 = createHash("sha256").update(zip).digest("base64");
  if (sha256 !== fn.CodeSha256)
    throw new Error(
      `${zipFile} (sha256 ${sha256}) is not the code moto holds for ${fn.FunctionName} (${fn.CodeSha256})`,
    );
  if (!fn.Runtime?.startsWith("nodejs")) throw new Error(`${fn.FunctionName} runs ${fn.Runtime}, not Node.js`);
  const codeDir = path.join(workDir, `${fn.FunctionName}-code`);
  // Python's zipfile (the proof already needs Python): no zip library among the project's dependencies.
  const unzip = spawnSync("python3", ["-m", "zipfile", "-e", zipFile, codeDir], { encoding: "utf8" });
  if (unzip.status !== 0) throw new Error(`could not unpack ${zipFile}: ${unzip.stderr}`);
  const [module, exportName] = [fn.Handler!.slice(0, fn.Handler!.lastIndexOf(".")), fn.Handler!.split(".").pop()!];
  const model: FunctionModel = {
    address: `aws_lambda_function.${fn.FunctionName}`,
    key: fn.FunctionName!,
    name: fn.FunctionName!,
    arn: fn.FunctionArn!,
    codeDir,
    file: path.join(codeDir, `${module}.js`),
    exportName,
    runtime: fn.Runtime,
    timeoutSeconds: fn.Timeout!,
    variables: fn.Environment?.Variables ?? {},
    reservedConcurrency: Concurrency?.ReservedConcurrentExecutions,
  };
  return model;
}

/** The applied event source mapping as moto describes it; moto's is applied disabled (its gap), so it is taken as enabled. */
async function appliedMapping(lambda: LambdaClient, uuid: string) {
  const mapping = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
  const model: MappingModel = {
    address: `aws_lambda_event_source_mapping.${uuid}`,
    key: uuid,
    queue: mapping.EventSourceArn!,
    function: mapping.FunctionArn!,
    batchSize: mapping.BatchSize!,
    batchingWindowSeconds: mapping.MaximumBatchingWindowInSeconds ?? 0,
    reportBatchItemFailures: (mapping.FunctionResponseTypes ?? []).includes("ReportBatchItemFailures"),
    maximumConcurrency: mapping.ScalingConfig?.MaximumConcurrency,
    enabled: true,
  };
  return { model, queueArn: mapping.EventSourceArn!, functionArn: mapping.FunctionArn! };
}

/**
 * Runs the project's Lambda service (the same as `npm start`'s) for what was applied on moto, which keeps
 * the mapping but cannot run code without Docker: the mapping from `GetEventSourceMapping`, the function
 * from `GetFunction` (handler, runtime, timeout, environment, reserved concurrency), the code the zip
 * Terraform uploaded, unpacked. The function's environment points at moto. Queue durations (visibility
 * timeout, batching window) run at `timeScale` through the poller; the function timeout is as applied.
 */
export async function startLambdaServiceOnMoto(
  applied: { mappingUuid: string; zipFile: string; workDir: string },
  endpoint: string,
  region: string,
  timeScale = 1,
): Promise<LambdaOnMoto> {
  const config = emulatorClientConfig(endpoint, region);
  const lambda = new LambdaClient(config);
  const { model: mapping, queueArn, functionArn } = await appliedMapping(lambda, applied.mappingUuid);
  const fn = await appliedFunction(lambda, functionArn, applied.zipFile, applied.workDir);
  lambda.destroy();
  const sqs = new SQSClient(config);
  const queueName = queueArn.split(":").pop()!;
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["VisibilityTimeout"] }),
  );
  const polled = {
    url: QueueUrl!,
    arn: queueArn,
    name: queueName,
    visibilityTimeoutSeconds: Number(Attributes.VisibilityTimeout),
  };
  const events: PipelineEvent[] = [];
  const logsClient = new CloudWatchLogsClient(config);
  const logs = new FunctionLogWriter(logsClient);
  const service = new LambdaService({
    sqs,
    region,
    sources: [{ mapping, fn, queue: polled }],
    variables: () => ({
      ...fn.variables,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL: endpoint,
    }),
    timeScale,
    functionTimeScale: 1,
    emit: (event) => events.push(event),
    onFunctionLine: logs.write,
  });
  return {
    functionName: fn.name,
    mapping,
    events,
    logs,
    stop: async () => {
      await service.stop();
      await logs.stop();
      logsClient.destroy();
      sqs.destroy();
    },
  };
}
