/**
 * Reads a synthesized stack (`cdk.tf.json`) into the model the offline runtime wires up. Nothing of
 * the stack is restated here: names, timeouts, retry counts and batch sizes all come from the JSON.
 * A resource type or attribute that would change behaviour and is not emulated is an error.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_PARTITION = "aws";

/** Types that do not change how messages flow locally (access control, encryption, logs): read, not emulated. */
const NOT_EMULATED = new Set([
  "aws_kms_key",
  "aws_kms_alias",
  "aws_kms_key_policy",
  "aws_sns_topic_policy",
  "aws_sqs_queue_policy",
  "aws_iam_role",
  "aws_iam_role_policy",
  "aws_cloudwatch_log_group",
  "aws_cloudwatch_metric_alarm",
  "aws_cloudwatch_dashboard",
]);

/** What hashicorp/aws creates a queue with when `max_message_size` is absent (and what AWS then enforces). */
const PROVIDER_DEFAULT_MAX_MESSAGE_SIZE = 262_144;

/** Per emulated type: the attributes it reads, and those that do not change local behaviour. */
const ATTRIBUTES: Record<string, { used: string[]; inert: string[] }> = {
  aws_sns_topic: { used: ["name"], inert: ["kms_master_key_id", "tags", "display_name"] },
  aws_sns_topic_subscription: {
    used: ["topic_arn", "protocol", "endpoint", "raw_message_delivery", "redrive_policy"],
    inert: ["depends_on", "confirmation_timeout_in_minutes"],
  },
  aws_sqs_queue: {
    used: ["name", "visibility_timeout_seconds", "message_retention_seconds", "max_message_size", "redrive_policy"],
    inert: [
      "kms_master_key_id",
      "kms_data_key_reuse_period_seconds",
      "sqs_managed_sse_enabled",
      "tags",
      "receive_wait_time_seconds",
    ],
  },
  aws_sqs_queue_redrive_allow_policy: { used: ["queue_url", "redrive_allow_policy"], inert: [] },
  aws_lambda_event_source_mapping: {
    used: [
      "event_source_arn",
      "function_name",
      "batch_size",
      "maximum_batching_window_in_seconds",
      "function_response_types",
      "scaling_config",
      "enabled",
    ],
    inert: ["depends_on"],
  },
  aws_lambda_function: {
    used: [
      "function_name",
      "filename",
      "handler",
      "runtime",
      "timeout",
      "environment",
      "reserved_concurrent_executions",
    ],
    inert: [
      "role",
      "architectures",
      "memory_size",
      "source_code_hash",
      "logging_config",
      "depends_on",
      "tags",
      "description",
    ],
  },
  aws_dynamodb_table: {
    used: ["name", "hash_key", "range_key", "attribute"],
    inert: ["billing_mode", "point_in_time_recovery", "server_side_encryption", "deletion_protection_enabled", "tags"],
  },
};
/** Subscriptions that notify people (alarm e-mails): no part of the order flow, so read, not emulated. */
const NOTIFY_PEOPLE = new Set(["email", "email-json", "sms"]);

export interface QueueModel {
  readonly key: string;
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  /** The largest message the queue takes, in bytes. */
  readonly maxMessageSizeBytes: number;
  readonly redrive?: { readonly deadLetterTargetArn: string; readonly maxReceiveCount: number };
  /** From the queue's redrive-allow policy: which source queues may redrive into it. */
  redriveAllow?: { readonly permission: string; readonly sourceQueueArns: string[] };
}
export interface TopicModel {
  readonly key: string;
  readonly name: string;
  readonly arn: string;
}
export interface SubscriptionModel {
  readonly key: string;
  readonly topicArn: string;
  readonly queueArn: string;
  readonly raw: boolean;
  readonly deadLetterTargetArn?: string;
}
export interface FunctionModel {
  readonly key: string;
  readonly name: string;
  readonly arn: string;
  /** Folder holding the bundle (the archive_file's source folder). */
  readonly codeDir: string;
  readonly file: string;
  readonly exportName: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  /** The function's environment variables, references resolved. */
  readonly variables: Record<string, string>;
  readonly reservedConcurrency?: number;
}
export interface MappingModel {
  readonly key: string;
  readonly queueArn: string;
  readonly functionArn: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly maximumConcurrency?: number;
  readonly enabled: boolean;
}
export interface TableModel {
  readonly key: string;
  readonly name: string;
  readonly hashKey: string;
  readonly rangeKey?: string;
  readonly attributes: { name: string; type: string }[];
}
export interface StackModel {
  readonly stackDir: string;
  readonly region: string;
  readonly topics: TopicModel[];
  readonly subscriptions: SubscriptionModel[];
  readonly queues: QueueModel[];
  readonly functions: FunctionModel[];
  readonly mappings: MappingModel[];
  readonly tables: TableModel[];
  /** Resources read but not emulated, as `type.name`. */
  readonly notEmulated: string[];
}

/** A stack the offline runtime cannot run faithfully. */
export class UnsupportedStackError extends Error {
  override readonly name = "UnsupportedStackError";
}

type Json = Record<string, any>;
type Attributes = Record<string, string>;
const REFERENCE = /\$\{([^}]+)\}/g;

/**
 * Replaces every `${address.attribute}` in `value` by its attribute in `identities` (keyed by address);
 * the first reference it cannot resolve is returned as `unresolved` instead.
 */
export function resolveReferences(
  value: string,
  identities: ReadonlyMap<string, Attributes>,
): { value: string } | { unresolved: string } {
  let unresolved: string | undefined;
  const resolved = value.replace(REFERENCE, (whole, expression: string) => {
    const dot = expression.lastIndexOf(".");
    const found = identities.get(expression.slice(0, dot))?.[expression.slice(dot + 1)];
    if (found === undefined) unresolved ??= expression;
    return found ?? whole;
  });
  return unresolved === undefined ? { value: resolved } : { unresolved };
}

const localArn = (service: string, region: string, resource: string) =>
  `arn:${LOCAL_PARTITION}:${service}:${region}:${LOCAL_ACCOUNT}:${resource}`;

/**
 * The local identity of each resource type others refer to: what `${type.key.attribute}` resolves to.
 * Names must be literal (the stack makes them from the environment), so the identities are known.
 */
const IDENTITIES: Record<string, (key: string, body: Json, region: string) => Attributes> = {
  aws_sqs_queue: (key, body, region) => {
    const name = literal(body.name, `aws_sqs_queue.${key}.name`);
    return { name, arn: localArn("sqs", region, name), url: `local://sqs/${name}`, id: `local://sqs/${name}` };
  },
  aws_sns_topic: (key, body, region) => {
    const name = literal(body.name, `aws_sns_topic.${key}.name`);
    return { name, arn: localArn("sns", region, name), id: localArn("sns", region, name) };
  },
  aws_dynamodb_table: (key, body, region) => {
    const name = literal(body.name, `aws_dynamodb_table.${key}.name`);
    return { name, id: name, arn: localArn("dynamodb", region, `table/${name}`) };
  },
  aws_lambda_function: (key, body, region) => {
    const name = literal(body.function_name, `aws_lambda_function.${key}.function_name`);
    return { function_name: name, arn: localArn("lambda", region, `function:${name}`), id: name };
  },
};

/** The data sources the runtime answers, and what each answers. */
const DATA_IDENTITIES: Record<string, (key: string, body: Json) => Attributes> = {
  archive_file: (key, body) => ({ output_path: `archive:${key}`, source_dir: String(body.source_dir) }),
  aws_partition: () => ({ partition: LOCAL_PARTITION }),
  aws_caller_identity: () => ({ account_id: LOCAL_ACCOUNT }),
};

/** What every reader gets: the stack's resources of a type, the local identities, and a reference resolver. */
interface ReadContext {
  readonly stackDir: string;
  readonly region: string;
  readonly entries: (type: string) => [string, Json][];
  readonly identity: (address: string) => Attributes;
  /** Replaces every `${address.attribute}` by the local value; an unknown one is an error. */
  readonly resolve: (value: unknown, where: string) => string;
  /** Resources read but not emulated, as `type.name`; readers add to it. */
  readonly notEmulated: string[];
}

function readDocument(stackDir: string): Json {
  const file = path.join(stackDir, "cdk.tf.json");
  if (!fs.existsSync(file)) {
    throw new UnsupportedStackError(`${file} does not exist; synthesize the stack first (npx cdktf synth).`);
  }
  return JSON.parse(fs.readFileSync(file, "utf8")) as Json;
}

/** Refuses what the runtime cannot run faithfully; returns the resources it reads but does not emulate. */
function checkSupported(doc: Json): string[] {
  for (const type of Object.keys(doc.data ?? {})) {
    if (!(type in DATA_IDENTITIES)) {
      const supported = Object.keys(DATA_IDENTITIES).join(", ");
      throw new UnsupportedStackError(
        `data source ${type} is not supported by the offline runtime (it supports ${supported}).`,
      );
    }
  }
  const notEmulated: string[] = [];
  for (const [type, byName] of Object.entries<Json>(doc.resource ?? {})) {
    if (NOT_EMULATED.has(type)) {
      notEmulated.push(...Object.keys(byName).map((name) => `${type}.${name}`));
      continue;
    }
    const attributes = ATTRIBUTES[type];
    if (!attributes) {
      const runs = Object.keys(ATTRIBUTES).join(", ");
      throw new UnsupportedStackError(
        `resource type ${type} (${Object.keys(byName).join(", ")}) is not supported by the offline runtime; it runs ${runs}.`,
      );
    }
    for (const [name, body] of Object.entries<Json>(byName)) {
      const unknown = Object.keys(body).find(
        (a) => a !== "//" && !attributes.used.includes(a) && !attributes.inert.includes(a),
      );
      if (unknown !== undefined) {
        throw new UnsupportedStackError(
          `${type}.${name} sets "${unknown}", which would change behaviour and is not emulated by the offline runtime.`,
        );
      }
    }
  }
  return notEmulated;
}

function readContext(stackDir: string, doc: Json, notEmulated: string[]): ReadContext {
  const region: string = doc.provider?.aws?.[0]?.region ?? "us-east-1";
  const entries = (type: string) => Object.entries<Json>(doc.resource?.[type] ?? {});
  const identities = new Map<string, Attributes>();
  for (const [type, identify] of Object.entries(IDENTITIES)) {
    for (const [key, body] of entries(type)) identities.set(`${type}.${key}`, identify(key, body, region));
  }
  for (const [type, identify] of Object.entries(DATA_IDENTITIES)) {
    for (const [key, body] of Object.entries<Json>(doc.data?.[type] ?? {}))
      identities.set(`data.${type}.${key}`, identify(key, body));
  }
  const resolve = (value: unknown, where: string): string => {
    const result = resolveReferences(String(value), identities);
    if ("value" in result) return result.value;
    throw new UnsupportedStackError(
      `${where} refers to \${${result.unresolved}}, which the offline runtime cannot resolve.`,
    );
  };
  return { stackDir, region, entries, identity: (address) => identities.get(address)!, resolve, notEmulated };
}

type QueueFinder = (arnOrUrl: string, where: string) => QueueModel;

function queueFinder(queues: QueueModel[]): QueueFinder {
  return (arnOrUrl, where) => {
    const queue = queues.find((q) => q.arn === arnOrUrl || q.url === arnOrUrl);
    if (!queue) throw new UnsupportedStackError(`${where} names ${arnOrUrl}, which is not a queue of this stack.`);
    return queue;
  };
}

function readQueues(ctx: ReadContext): QueueModel[] {
  return ctx.entries("aws_sqs_queue").map(([key, body]) => {
    const a = ctx.identity(`aws_sqs_queue.${key}`);
    const redrive = body.redrive_policy
      ? JSON.parse(ctx.resolve(body.redrive_policy, `aws_sqs_queue.${key}.redrive_policy`))
      : undefined;
    return {
      key,
      name: a.name,
      arn: a.arn,
      url: a.url,
      visibilityTimeoutSeconds: body.visibility_timeout_seconds ?? 30,
      retentionSeconds: body.message_retention_seconds ?? 345600,
      maxMessageSizeBytes: body.max_message_size ?? PROVIDER_DEFAULT_MAX_MESSAGE_SIZE,
      redrive: redrive
        ? { deadLetterTargetArn: redrive.deadLetterTargetArn, maxReceiveCount: Number(redrive.maxReceiveCount) }
        : undefined,
    };
  });
}

/** Checks every redrive target, and records each dead-letter queue's redrive-allow policy. */
function readRedriveTargets(ctx: ReadContext, queues: QueueModel[], queueBy: QueueFinder): void {
  for (const queue of queues) {
    if (queue.redrive) queueBy(queue.redrive.deadLetterTargetArn, `aws_sqs_queue.${queue.key}.redrive_policy`);
  }
  for (const [key, body] of ctx.entries("aws_sqs_queue_redrive_allow_policy")) {
    const where = `aws_sqs_queue_redrive_allow_policy.${key}`;
    const target = queueBy(ctx.resolve(body.queue_url, `${where}.queue_url`), where);
    const policy = JSON.parse(ctx.resolve(body.redrive_allow_policy, where));
    target.redriveAllow = { permission: policy.redrivePermission, sourceQueueArns: policy.sourceQueueArns ?? [] };
  }
}

function readTopics(ctx: ReadContext): TopicModel[] {
  return ctx.entries("aws_sns_topic").map(([key]) => {
    const a = ctx.identity(`aws_sns_topic.${key}`);
    return { key, name: a.name, arn: a.arn };
  });
}

function readSubscriptions(ctx: ReadContext, topics: TopicModel[], queueBy: QueueFinder): SubscriptionModel[] {
  const subscriptions: SubscriptionModel[] = [];
  for (const [key, body] of ctx.entries("aws_sns_topic_subscription")) {
    const where = `aws_sns_topic_subscription.${key}`;
    if (NOTIFY_PEOPLE.has(body.protocol)) {
      ctx.notEmulated.push(where);
      continue;
    }
    if (body.protocol !== "sqs") {
      throw new UnsupportedStackError(
        `${where} uses protocol "${body.protocol}"; the offline runtime delivers to SQS only.`,
      );
    }
    const topicArn = ctx.resolve(body.topic_arn, `${where}.topic_arn`);
    if (!topics.some((t) => t.arn === topicArn)) {
      throw new UnsupportedStackError(`${where} subscribes to ${topicArn}, which is not a topic of this stack.`);
    }
    const queue = queueBy(ctx.resolve(body.endpoint, `${where}.endpoint`), `${where}.endpoint`);
    const redrive = body.redrive_policy
      ? JSON.parse(ctx.resolve(body.redrive_policy, `${where}.redrive_policy`))
      : undefined;
    if (redrive) queueBy(redrive.deadLetterTargetArn, `${where}.redrive_policy`);
    const raw = body.raw_message_delivery === true || body.raw_message_delivery === "true";
    subscriptions.push({ key, topicArn, queueArn: queue.arn, raw, deadLetterTargetArn: redrive?.deadLetterTargetArn });
  }
  return subscriptions;
}

/** The bundle's folder (the archive_file's source) and the handler's file and export. */
function readCode(ctx: ReadContext, where: string, body: Json) {
  const filename = ctx.resolve(body.filename, `${where}.filename`);
  const archive = /^archive:(.+)$/.exec(filename);
  if (!archive) {
    throw new UnsupportedStackError(`${where}.filename must come from an archive_file data source, got ${filename}.`);
  }
  const codeDir = path.resolve(ctx.stackDir, ctx.identity(`data.archive_file.${archive[1]}`).source_dir);
  const [module, exportName] = String(body.handler).split(/\.(?=[^.]+$)/);
  const file = path.join(codeDir, `${module}.js`);
  if (!fs.existsSync(file)) {
    throw new UnsupportedStackError(
      `${where}: handler ${body.handler} needs ${file}, which does not exist; build the bundle (npm run build) and synthesize again.`,
    );
  }
  return { codeDir, file, exportName };
}

function readFunctions(ctx: ReadContext): FunctionModel[] {
  return ctx.entries("aws_lambda_function").map(([key, body]) => {
    const where = `aws_lambda_function.${key}`;
    const a = ctx.identity(where);
    if (!String(body.runtime).startsWith("nodejs")) {
      throw new UnsupportedStackError(
        `${where} uses runtime ${body.runtime}; the offline runtime runs Node.js functions only.`,
      );
    }
    const variables: Record<string, string> = {};
    for (const [name, value] of Object.entries(body.environment?.variables ?? {})) {
      variables[name] = ctx.resolve(value, `${where}.environment.${name}`);
    }
    return {
      key,
      name: a.function_name,
      arn: a.arn,
      ...readCode(ctx, where, body),
      runtime: body.runtime,
      timeoutSeconds: body.timeout ?? 3,
      variables,
      reservedConcurrency: body.reserved_concurrent_executions,
    };
  });
}

function readMappings(ctx: ReadContext, functions: FunctionModel[], queueBy: QueueFinder): MappingModel[] {
  return ctx.entries("aws_lambda_event_source_mapping").map(([key, body]) => {
    const where = `aws_lambda_event_source_mapping.${key}`;
    const queue = queueBy(ctx.resolve(body.event_source_arn, `${where}.event_source_arn`), `${where}.event_source_arn`);
    const functionRef = ctx.resolve(body.function_name, `${where}.function_name`);
    const fn = functions.find((f) => f.arn === functionRef || f.name === functionRef);
    if (!fn) throw new UnsupportedStackError(`${where} invokes ${functionRef}, which is not a function of this stack.`);
    const types: string[] = body.function_response_types ?? [];
    const unknown = types.filter((t) => t !== "ReportBatchItemFailures");
    if (unknown.length > 0) {
      throw new UnsupportedStackError(`${where}: function_response_types ${unknown.join(", ")} not supported.`);
    }
    return {
      key,
      queueArn: queue.arn,
      functionArn: fn.arn,
      batchSize: body.batch_size ?? 10,
      batchingWindowSeconds: body.maximum_batching_window_in_seconds ?? 0,
      reportBatchItemFailures: types.includes("ReportBatchItemFailures"),
      maximumConcurrency: body.scaling_config?.maximum_concurrency,
      enabled: body.enabled ?? true,
    };
  });
}

function readTables(ctx: ReadContext): TableModel[] {
  return ctx.entries("aws_dynamodb_table").map(([key, body]) => ({
    key,
    name: ctx.identity(`aws_dynamodb_table.${key}`).name,
    hashKey: body.hash_key,
    rangeKey: body.range_key,
    attributes: body.attribute ?? [],
  }));
}

export function loadStack(stackDir: string): StackModel {
  const doc = readDocument(stackDir);
  const ctx = readContext(stackDir, doc, checkSupported(doc));
  const queues = readQueues(ctx);
  const queueBy = queueFinder(queues);
  readRedriveTargets(ctx, queues, queueBy);
  const topics = readTopics(ctx);
  const subscriptions = readSubscriptions(ctx, topics, queueBy);
  const functions = readFunctions(ctx);
  const mappings = readMappings(ctx, functions, queueBy);
  const tables = readTables(ctx);
  return {
    stackDir,
    region: ctx.region,
    topics,
    subscriptions,
    queues,
    functions,
    mappings,
    tables,
    notEmulated: ctx.notEmulated,
  };
}

function literal(value: unknown, where: string): string {
  if (typeof value !== "string" || value.includes("${"))
    throw new UnsupportedStackError(
      `${where} must be a literal name for the offline runtime, got ${JSON.stringify(value)}.`,
    );
  return value;
}
