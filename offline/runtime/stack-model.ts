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

/**
 * What AWS applies when an attribute is absent from the configuration (the provider sends nothing, or
 * hashicorp/aws's own default, which is AWS's): the stack sets each of them, a hand-written stack may not.
 */
const AWS_DEFAULTS = {
  /** aws_sqs_queue: SQS's defaults (AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html). */
  visibilityTimeoutSeconds: 30,
  messageRetentionSeconds: 345_600,
  maxMessageSizeBytes: 262_144,
  /** aws_lambda_function: Lambda's default timeout. */
  functionTimeoutSeconds: 3,
  /** aws_lambda_event_source_mapping on SQS: Lambda's default batch size. */
  sqsBatchSize: 10,
} as const;

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

/**
 * Every model names its resource by its Terraform address (`aws_sqs_queue.OrderQueue`), and refers to
 * other resources by theirs: the one identity that is the stack's, whatever an engine later calls it.
 */
interface Addressed {
  /** `type.key`, as Terraform and `${...}` references name it. */
  readonly address: string;
  readonly key: string;
}
export interface QueueModel extends Addressed {
  readonly name: string;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  /** The largest message the queue takes, in bytes. */
  readonly maxMessageSizeBytes: number;
  /** The dead-letter queue's address, and after how many receives a message goes there. */
  readonly redrive?: { readonly deadLetterTarget: string; readonly maxReceiveCount: number };
  /** From the queue's redrive-allow policy: which source queues (by address) may redrive into it. */
  redriveAllow?: { readonly permission: string; readonly sourceQueues: string[] };
}
export interface TopicModel extends Addressed {
  readonly name: string;
}
export interface SubscriptionModel extends Addressed {
  readonly topic: string;
  readonly queue: string;
  readonly raw: boolean;
  readonly deadLetterTarget?: string;
}
export interface FunctionModel extends Addressed {
  readonly name: string;
  /** The function's ARN: the local Lambda service's identity of it. */
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
export interface MappingModel extends Addressed {
  readonly queue: string;
  readonly function: string;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
  readonly maximumConcurrency?: number;
  readonly enabled: boolean;
}
export interface TableModel extends Addressed {
  readonly name: string;
  readonly hashKey: string;
  readonly rangeKey?: string;
  readonly attributes: { name: string; type: string }[];
}
/** A CloudWatch alarm: read for the picture (an alarm is not emulated), what it watches and whom it tells. */
export interface AlarmModel extends Addressed {
  readonly name: string;
  readonly metric: string;
  /** The address of the queue, function or topic its dimension names, if the stack holds it. */
  readonly watches?: string;
  /** The addresses of the topics its actions publish to. */
  readonly notifies: string[];
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
  readonly alarms: AlarmModel[];
  /** Resources read but not emulated, as `type.name`. */
  readonly notEmulated: string[];
}

/** A stack the offline runtime cannot run faithfully. */
/** The addresses of the queues that are some queue's or subscription's dead-letter target. */
export function deadLetterTargets(stack: StackModel): Set<string | undefined> {
  return new Set([
    ...stack.queues.map((q) => q.redrive?.deadLetterTarget),
    ...stack.subscriptions.map((s) => s.deadLetterTarget),
  ]);
}

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
 * What `${type.key.attribute}` resolves to while reading, per resource type others refer to. A value
 * only has to identify its resource (`refersTo` maps it back to the address); the engines' own ARNs and
 * URLs come with provisioning. Names must be literal (the stack makes them from the environment).
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
  /** The address of the resource of `type` that a resolved value (its ARN, URL or name) identifies; else an error. */
  readonly refersTo: (value: string, type: string, where: string) => string;
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

/** What a reference to each type is called in errors. */
const KIND: Record<string, string> = {
  aws_sqs_queue: "queue",
  aws_sns_topic: "topic",
  aws_lambda_function: "function",
  aws_dynamodb_table: "table",
};

function readContext(stackDir: string, doc: Json, notEmulated: string[]): ReadContext {
  const region: string = doc.provider?.aws?.[0]?.region ?? "us-east-1";
  const entries = (type: string) => Object.entries<Json>(doc.resource?.[type] ?? {});
  const identities = new Map<string, Attributes>();
  /** Each identifying value of a resource (ARN, URL, name), per type: its address. */
  const addresses = new Map<string, string>();
  for (const [type, identify] of Object.entries(IDENTITIES)) {
    for (const [key, body] of entries(type)) {
      const attributes = identify(key, body, region);
      identities.set(`${type}.${key}`, attributes);
      for (const value of Object.values(attributes)) addresses.set(`${type} ${value}`, `${type}.${key}`);
    }
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
  const refersTo = (value: string, type: string, where: string): string => {
    const address = addresses.get(`${type} ${value}`);
    if (!address)
      throw new UnsupportedStackError(`${where} names ${value}, which is not a ${KIND[type]} of this stack.`);
    return address;
  };
  return { stackDir, region, entries, identity: (address) => identities.get(address)!, resolve, refersTo, notEmulated };
}

function readQueues(ctx: ReadContext): QueueModel[] {
  return ctx.entries("aws_sqs_queue").map(([key, body]) => {
    const address = `aws_sqs_queue.${key}`;
    const redrive = body.redrive_policy
      ? JSON.parse(ctx.resolve(body.redrive_policy, `${address}.redrive_policy`))
      : undefined;
    return {
      address,
      key,
      name: ctx.identity(address).name,
      visibilityTimeoutSeconds: body.visibility_timeout_seconds ?? AWS_DEFAULTS.visibilityTimeoutSeconds,
      retentionSeconds: body.message_retention_seconds ?? AWS_DEFAULTS.messageRetentionSeconds,
      maxMessageSizeBytes: body.max_message_size ?? AWS_DEFAULTS.maxMessageSizeBytes,
      redrive: redrive && {
        deadLetterTarget: ctx.refersTo(redrive.deadLetterTargetArn, "aws_sqs_queue", `${address}.redrive_policy`),
        maxReceiveCount: Number(redrive.maxReceiveCount),
      },
    };
  });
}

/** Records each dead-letter queue's redrive-allow policy. */
function readRedriveAllowPolicies(ctx: ReadContext, queues: QueueModel[]): void {
  for (const [key, body] of ctx.entries("aws_sqs_queue_redrive_allow_policy")) {
    const where = `aws_sqs_queue_redrive_allow_policy.${key}`;
    const address = ctx.refersTo(ctx.resolve(body.queue_url, `${where}.queue_url`), "aws_sqs_queue", where);
    const policy = JSON.parse(ctx.resolve(body.redrive_allow_policy, where));
    const sourceQueues = ((policy.sourceQueueArns ?? []) as string[]).map((arn) =>
      ctx.refersTo(arn, "aws_sqs_queue", `${where}.redrive_allow_policy`),
    );
    queues.find((q) => q.address === address)!.redriveAllow = { permission: policy.redrivePermission, sourceQueues };
  }
}

function readTopics(ctx: ReadContext): TopicModel[] {
  return ctx.entries("aws_sns_topic").map(([key]) => {
    const address = `aws_sns_topic.${key}`;
    return { address, key, name: ctx.identity(address).name };
  });
}

function readSubscriptions(ctx: ReadContext): SubscriptionModel[] {
  const subscriptions: SubscriptionModel[] = [];
  for (const [key, body] of ctx.entries("aws_sns_topic_subscription")) {
    const address = `aws_sns_topic_subscription.${key}`;
    if (NOTIFY_PEOPLE.has(body.protocol)) {
      ctx.notEmulated.push(address);
      continue;
    }
    if (body.protocol !== "sqs") {
      throw new UnsupportedStackError(
        `${address} uses protocol "${body.protocol}"; the offline runtime delivers to SQS only.`,
      );
    }
    const reference = (value: unknown, type: string, attribute: string) =>
      ctx.refersTo(ctx.resolve(value, `${address}.${attribute}`), type, `${address}.${attribute}`);
    const redrive = body.redrive_policy
      ? JSON.parse(ctx.resolve(body.redrive_policy, `${address}.redrive_policy`))
      : undefined;
    subscriptions.push({
      address,
      key,
      topic: reference(body.topic_arn, "aws_sns_topic", "topic_arn"),
      queue: reference(body.endpoint, "aws_sqs_queue", "endpoint"),
      raw: body.raw_message_delivery === true || body.raw_message_delivery === "true",
      deadLetterTarget: redrive && reference(redrive.deadLetterTargetArn, "aws_sqs_queue", "redrive_policy"),
    });
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
    const address = `aws_lambda_function.${key}`;
    const a = ctx.identity(address);
    if (!String(body.runtime).startsWith("nodejs")) {
      throw new UnsupportedStackError(
        `${address} uses runtime ${body.runtime}; the offline runtime runs Node.js functions only.`,
      );
    }
    const variables: Record<string, string> = {};
    for (const [name, value] of Object.entries(body.environment?.variables ?? {})) {
      variables[name] = ctx.resolve(value, `${address}.environment.${name}`);
    }
    return {
      address,
      key,
      name: a.function_name,
      arn: a.arn,
      ...readCode(ctx, address, body),
      runtime: body.runtime,
      timeoutSeconds: body.timeout ?? AWS_DEFAULTS.functionTimeoutSeconds,
      variables,
      reservedConcurrency: body.reserved_concurrent_executions,
    };
  });
}

function readMappings(ctx: ReadContext): MappingModel[] {
  return ctx.entries("aws_lambda_event_source_mapping").map(([key, body]) => {
    const address = `aws_lambda_event_source_mapping.${key}`;
    const types: string[] = body.function_response_types ?? [];
    const unknown = types.filter((t) => t !== "ReportBatchItemFailures");
    if (unknown.length > 0) {
      throw new UnsupportedStackError(`${address}: function_response_types ${unknown.join(", ")} not supported.`);
    }
    const reference = (value: unknown, type: string, attribute: string) =>
      ctx.refersTo(ctx.resolve(value, `${address}.${attribute}`), type, `${address}.${attribute}`);
    return {
      address,
      key,
      queue: reference(body.event_source_arn, "aws_sqs_queue", "event_source_arn"),
      function: reference(body.function_name, "aws_lambda_function", "function_name"),
      batchSize: body.batch_size ?? AWS_DEFAULTS.sqsBatchSize,
      batchingWindowSeconds: body.maximum_batching_window_in_seconds ?? 0,
      reportBatchItemFailures: types.includes("ReportBatchItemFailures"),
      maximumConcurrency: body.scaling_config?.maximum_concurrency,
      enabled: body.enabled ?? true,
    };
  });
}

function readTables(ctx: ReadContext): TableModel[] {
  return ctx.entries("aws_dynamodb_table").map(([key, body]) => ({
    address: `aws_dynamodb_table.${key}`,
    key,
    name: ctx.identity(`aws_dynamodb_table.${key}`).name,
    hashKey: body.hash_key,
    rangeKey: body.range_key,
    attributes: body.attribute ?? [],
  }));
}

/**
 * Each alarm with the resource its dimension names (a queue, function or topic of the stack) and its action
 * topics. Only drawn, never run: a value the runtime cannot resolve leaves that link out rather than failing.
 */
function readAlarms(ctx: ReadContext, named: { address: string; name: string }[]): AlarmModel[] {
  const tryResolve = (value: unknown, where: string) => {
    try {
      return ctx.resolve(value, where);
    } catch {
      return undefined;
    }
  };
  return ctx.entries("aws_cloudwatch_metric_alarm").map(([key, body]) => {
    const address = `aws_cloudwatch_metric_alarm.${key}`;
    const watched = Object.values<unknown>(body.dimensions ?? {}).map((v) => tryResolve(v, `${address}.dimensions`));
    const notifies = ((body.alarm_actions ?? []) as unknown[]).flatMap((action) => {
      const arn = tryResolve(action, `${address}.alarm_actions`);
      try {
        return arn ? [ctx.refersTo(arn, "aws_sns_topic", `${address}.alarm_actions`)] : [];
      } catch {
        return [];
      }
    });
    return {
      address,
      key,
      name: tryResolve(body.alarm_name, `${address}.alarm_name`) ?? key,
      metric: String(body.metric_name),
      watches: named.find((resource) => watched.includes(resource.name))?.address,
      notifies,
    };
  });
}

export function loadStack(stackDir: string): StackModel {
  const doc = readDocument(stackDir);
  const ctx = readContext(stackDir, doc, checkSupported(doc));
  const queues = readQueues(ctx);
  readRedriveAllowPolicies(ctx, queues);
  const topics = readTopics(ctx);
  const functions = readFunctions(ctx);
  return {
    stackDir,
    region: ctx.region,
    topics,
    subscriptions: readSubscriptions(ctx),
    queues,
    functions,
    mappings: readMappings(ctx),
    tables: readTables(ctx),
    alarms: readAlarms(ctx, [...queues, ...functions, ...topics]),
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

/**
 * The stack with each function's code copied into `codeDir/<function name>/` (the folder the bundle is in,
 * as it is now): the server runs this copy, whatever later happens to the synthesized stack folder.
 */
export function withCodeCopiedTo(stack: StackModel, codeDir: string): StackModel {
  const functions = stack.functions.map((fn) => {
    const copy = path.join(codeDir, fn.name);
    fs.rmSync(copy, { recursive: true, force: true });
    fs.cpSync(fn.codeDir, copy, { recursive: true });
    return { ...fn, codeDir: copy, file: path.join(copy, path.relative(fn.codeDir, fn.file)) };
  });
  return { ...stack, functions };
}
