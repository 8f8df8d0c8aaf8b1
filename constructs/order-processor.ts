import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaEventSourceMapping } from "@cdktf/provider-aws/lib/lambda-event-source-mapping";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { Construct } from "constructs";
import { FunctionBundle, LAMBDA_RUNTIME } from "./function-bundle";
import { ORDER_CLOCK_MARGIN_VARIABLE } from "../lambda/order";
import { policyDocument } from "./policy";
import { PIPELINE_DEFAULTS, requireThat, requireWholeNumber, visibilityTimeoutFor } from "./settings";

export interface OrderProcessorProps {
  /** The function's name, e.g. `OrderProcessor`. */
  readonly functionName: string;
  /** The Orders table the function writes to. */
  readonly tableName: string;
  readonly tableArn: string;
  /** The queue the function consumes. */
  readonly queueArn: string;
  /** The queue's visibility timeout, checked against the function timeout and batching window. */
  readonly queueVisibilityTimeoutSeconds: number;
  /** ARN of the KMS key the queue is encrypted with (the function decrypts what it receives). */
  readonly kmsKeyArn: string;
  /** Days CloudWatch keeps the function's logs. */
  readonly logRetentionDays: number;
  /** @default PIPELINE_DEFAULTS.functionTimeoutSeconds */
  readonly timeoutSeconds?: number;
  /** @default PIPELINE_DEFAULTS.functionMemoryMb */
  readonly memoryMb?: number;
  /** Records per invocation. @default PIPELINE_DEFAULTS.batchSize */
  readonly batchSize?: number;
  /** @default PIPELINE_DEFAULTS.maximumBatchingWindowSeconds */
  readonly batchingWindowSeconds?: number;
  /** Concurrent invocations the queue may drive. @default PIPELINE_DEFAULTS.maximumConcurrency */
  readonly maximumConcurrency?: number;
  /** Reserved concurrency of the function; never below maximumConcurrency. @default none (unreserved) */
  readonly reservedConcurrency?: number;
  /** How far ahead of the function's clock an order's timestamp may be. @default PIPELINE_DEFAULTS.orderClockMarginSeconds */
  readonly orderClockMarginSeconds?: number;
  /** The handler bundle. @default the order processor built from `lambda/` */
  readonly bundle?: FunctionBundle;
}

/** Actions the function's role may take on one resource. */
export interface RoleGrant {
  readonly sid: string;
  readonly actions: string[];
  readonly resource: string;
}

/** CloudWatch Logs retention values AWS accepts. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** The props with their defaults applied, validated; an invalid one fails synth with what to change. */
function resolveSettings(where: string, props: OrderProcessorProps) {
  const settings = {
    timeoutSeconds: props.timeoutSeconds ?? PIPELINE_DEFAULTS.functionTimeoutSeconds,
    memoryMb: props.memoryMb ?? PIPELINE_DEFAULTS.functionMemoryMb,
    batchSize: props.batchSize ?? PIPELINE_DEFAULTS.batchSize,
    batchingWindowSeconds: props.batchingWindowSeconds ?? PIPELINE_DEFAULTS.maximumBatchingWindowSeconds,
    maximumConcurrency: props.maximumConcurrency ?? PIPELINE_DEFAULTS.maximumConcurrency,
    orderClockMarginSeconds: props.orderClockMarginSeconds ?? PIPELINE_DEFAULTS.orderClockMarginSeconds,
  };
  const { timeoutSeconds, batchSize, batchingWindowSeconds, maximumConcurrency } = settings;
  requireWholeNumber(where, "timeoutSeconds", timeoutSeconds, 1, 900);
  requireWholeNumber(where, "memoryMb", settings.memoryMb, 128, 10240);
  requireWholeNumber(where, "batchSize", batchSize, 1, 10000);
  requireWholeNumber(where, "batchingWindowSeconds", batchingWindowSeconds, 0, 300);
  requireThat(
    batchSize <= 10 || batchingWindowSeconds >= 1,
    `${where}: a batchSize above 10 (${batchSize}) needs batchingWindowSeconds of at least 1 (SQS event source rule).`,
  );
  requireWholeNumber(where, "maximumConcurrency", maximumConcurrency, 2, 1000);
  requireWholeNumber(where, "orderClockMarginSeconds", settings.orderClockMarginSeconds, 0, 366 * 24 * 3600, "seconds");
  requireThat(
    props.reservedConcurrency === undefined || props.reservedConcurrency >= maximumConcurrency,
    `${where}: reservedConcurrency (${props.reservedConcurrency}) is below maximumConcurrency (${maximumConcurrency}); throttled polls would count as receives and dead-letter good orders. Raise reservedConcurrency or lower maximumConcurrency.`,
  );
  const neededVisibility = visibilityTimeoutFor(timeoutSeconds, batchingWindowSeconds);
  requireThat(
    props.queueVisibilityTimeoutSeconds >= neededVisibility,
    `${where}: the queue's visibility timeout (${props.queueVisibilityTimeoutSeconds}s) is below 6 x timeoutSeconds + batchingWindowSeconds (${neededVisibility}s); build the queue from the same timeout and window.`,
  );
  requireThat(
    LOG_RETENTION_DAYS.includes(props.logRetentionDays),
    `${where}: logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(", ")}, got ${props.logRetentionDays}.`,
  );
  return settings;
}

/**
 * The function's role: Lambda may assume it, and it may do exactly what the handler needs, one grant
 * per resource (`access`, also what `orders verify` simulates).
 */
function leastPrivilegeRole(scope: Construct, props: OrderProcessorProps, logGroup: CloudwatchLogGroup) {
  const role = new IamRole(scope, "Role", {
    name: `${props.functionName}Role`,
    assumeRolePolicy: policyDocument([
      {
        Sid: "LambdaAssumesRole",
        Effect: "Allow",
        Principal: { Service: "lambda.amazonaws.com" },
        Action: "sts:AssumeRole",
      },
    ]),
  });
  const access: RoleGrant[] = [
    { sid: "WriteOwnLogs", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resource: `${logGroup.arn}:*` },
    // The handler's one storage call: a conditional PutItem.
    { sid: "StoreOrders", actions: ["dynamodb:PutItem"], resource: props.tableArn },
    {
      sid: "ConsumeOrderQueue",
      actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
      resource: props.queueArn,
    },
    { sid: "DecryptOrderMessages", actions: ["kms:Decrypt"], resource: props.kmsKeyArn },
  ];
  const rolePolicy = new IamRolePolicy(scope, "RolePolicy", {
    name: "OrderProcessorAccess",
    role: role.id,
    policy: policyDocument(
      access.map((grant) => ({ Sid: grant.sid, Effect: "Allow", Action: grant.actions, Resource: grant.resource })),
    ),
  });
  return { role, access, rolePolicy };
}

/**
 * The order processor: the bundled handler, its log group, a least-privilege role, and the event
 * source mapping that feeds it OrderQueue batches with partial batch responses.
 */
export class OrderProcessor extends Construct {
  public readonly fn: LambdaFunction;
  public readonly role: IamRole;
  public readonly rolePolicy: IamRolePolicy;
  /** Everything the role may do: one grant per resource (the role policy is made from these). */
  public readonly access: RoleGrant[];
  public readonly logGroup: CloudwatchLogGroup;
  public readonly eventSourceMapping: LambdaEventSourceMapping;
  public readonly bundle: FunctionBundle;

  constructor(scope: Construct, id: string, props: OrderProcessorProps) {
    super(scope, id);
    const settings = resolveSettings(`OrderProcessor "${id}"`, props);
    const { timeoutSeconds, memoryMb, batchSize, batchingWindowSeconds, maximumConcurrency } = settings;
    this.bundle = props.bundle ?? new FunctionBundle(this, "Bundle");
    // Exists before the function's first log line, or Lambda creates its own without retention.
    this.logGroup = new CloudwatchLogGroup(this, "LogGroup", {
      name: `/aws/lambda/${props.functionName}`,
      retentionInDays: props.logRetentionDays,
    });
    ({
      role: this.role,
      access: this.access,
      rolePolicy: this.rolePolicy,
    } = leastPrivilegeRole(this, props, this.logGroup));
    this.fn = new LambdaFunction(this, "Function", {
      functionName: props.functionName,
      role: this.role.arn,
      runtime: LAMBDA_RUNTIME.runtime,
      architectures: [LAMBDA_RUNTIME.architecture],
      handler: LAMBDA_RUNTIME.handler,
      filename: this.bundle.filename,
      sourceCodeHash: this.bundle.sourceCodeHash,
      timeout: timeoutSeconds,
      memorySize: memoryMb,
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment: {
        variables: {
          TABLE_NAME: props.tableName,
          [ORDER_CLOCK_MARGIN_VARIABLE]: String(settings.orderClockMarginSeconds),
        },
      },
      loggingConfig: { logFormat: "JSON", logGroup: this.logGroup.name },
      dependsOn: [this.logGroup, this.rolePolicy],
    });
    this.eventSourceMapping = new LambdaEventSourceMapping(this, "QueueTrigger", {
      eventSourceArn: props.queueArn,
      functionName: this.fn.arn,
      batchSize,
      maximumBatchingWindowInSeconds: batchingWindowSeconds,
      functionResponseTypes: ["ReportBatchItemFailures"],
      scalingConfig: { maximumConcurrency },
      // Creating the mapping checks that the role may read the queue.
      dependsOn: [this.rolePolicy],
    });
  }
}
