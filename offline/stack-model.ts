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
]);

/** Per emulated type: the attributes it reads, and those that do not change local behaviour. */
const ATTRIBUTES: Record<string, { used: string[]; inert: string[] }> = {
  aws_sns_topic: { used: ["name"], inert: ["kms_master_key_id", "tags", "display_name"] },
  aws_sns_topic_subscription: {
    used: ["topic_arn", "protocol", "endpoint", "raw_message_delivery", "redrive_policy"],
    inert: ["depends_on", "confirmation_timeout_in_minutes"],
  },
  aws_sqs_queue: {
    used: ["name", "visibility_timeout_seconds", "message_retention_seconds", "redrive_policy"],
    inert: [
      "kms_master_key_id",
      "kms_data_key_reuse_period_seconds",
      "sqs_managed_sse_enabled",
      "tags",
      "receive_wait_time_seconds",
      "max_message_size",
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
const DATA_SOURCES = new Set(["archive_file", "aws_partition", "aws_caller_identity"]);

export interface QueueModel {
  readonly key: string;
  readonly name: string;
  readonly arn: string;
  readonly url: string;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
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
  readonly environment: Record<string, string>;
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
const REFERENCE = /\$\{([^}]+)\}/g;

export function loadStack(stackDir: string): StackModel {
  const file = path.join(stackDir, "cdk.tf.json");
  if (!fs.existsSync(file))
    throw new UnsupportedStackError(`${file} does not exist; synthesize the stack first (npx cdktf synth).`);
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as Json;
  const resources: Json = doc.resource ?? {};
  const region: string = doc.provider?.aws?.[0]?.region ?? "us-east-1";

  for (const type of Object.keys(doc.data ?? {})) {
    if (!DATA_SOURCES.has(type))
      throw new UnsupportedStackError(
        `data source ${type} is not supported by the offline runtime (it supports ${[...DATA_SOURCES].join(", ")}).`,
      );
  }
  const notEmulated: string[] = [];
  for (const [type, byName] of Object.entries<Json>(resources)) {
    if (NOT_EMULATED.has(type)) {
      notEmulated.push(...Object.keys(byName).map((name) => `${type}.${name}`));
      continue;
    }
    const attributes = ATTRIBUTES[type];
    if (!attributes)
      throw new UnsupportedStackError(
        `resource type ${type} (${Object.keys(byName).join(", ")}) is not supported by the offline runtime; it runs ${Object.keys(ATTRIBUTES).join(", ")}.`,
      );
    for (const [name, body] of Object.entries<Json>(byName)) {
      for (const attribute of Object.keys(body)) {
        if (attribute === "//" || attributes.used.includes(attribute) || attributes.inert.includes(attribute)) continue;
        throw new UnsupportedStackError(
          `${type}.${name} sets "${attribute}", which would change behaviour and is not emulated by the offline runtime.`,
        );
      }
    }
  }

  const entries = (type: string) => Object.entries<Json>(resources[type] ?? {});
  const queueArn = (name: string) => `arn:${LOCAL_PARTITION}:sqs:${region}:${LOCAL_ACCOUNT}:${name}`;
  const attributesOf = new Map<string, Record<string, string>>();
  for (const [key, body] of entries("aws_sqs_queue")) {
    const name = literal(body.name, `aws_sqs_queue.${key}.name`);
    attributesOf.set(`aws_sqs_queue.${key}`, {
      name,
      arn: queueArn(name),
      url: `local://sqs/${name}`,
      id: `local://sqs/${name}`,
    });
  }
  for (const [key, body] of entries("aws_sns_topic")) {
    const name = literal(body.name, `aws_sns_topic.${key}.name`);
    const arn = `arn:${LOCAL_PARTITION}:sns:${region}:${LOCAL_ACCOUNT}:${name}`;
    attributesOf.set(`aws_sns_topic.${key}`, { name, arn, id: arn });
  }
  for (const [key, body] of entries("aws_dynamodb_table")) {
    const name = literal(body.name, `aws_dynamodb_table.${key}.name`);
    attributesOf.set(`aws_dynamodb_table.${key}`, {
      name,
      id: name,
      arn: `arn:${LOCAL_PARTITION}:dynamodb:${region}:${LOCAL_ACCOUNT}:table/${name}`,
    });
  }
  for (const [key, body] of entries("aws_lambda_function")) {
    const name = literal(body.function_name, `aws_lambda_function.${key}.function_name`);
    const arn = `arn:${LOCAL_PARTITION}:lambda:${region}:${LOCAL_ACCOUNT}:function:${name}`;
    attributesOf.set(`aws_lambda_function.${key}`, { function_name: name, arn, id: name });
  }
  for (const [key, body] of Object.entries<Json>(doc.data?.archive_file ?? {})) {
    attributesOf.set(`data.archive_file.${key}`, {
      output_path: `archive:${key}`,
      source_dir: String(body.source_dir),
    });
  }
  for (const key of Object.keys(doc.data?.aws_partition ?? {}))
    attributesOf.set(`data.aws_partition.${key}`, { partition: LOCAL_PARTITION });
  for (const key of Object.keys(doc.data?.aws_caller_identity ?? {}))
    attributesOf.set(`data.aws_caller_identity.${key}`, { account_id: LOCAL_ACCOUNT });

  /** Replaces every `${address.attribute}` by the local value; an unknown one is an error. */
  const resolve = (value: unknown, where: string): string =>
    String(value).replace(REFERENCE, (_, expression: string) => {
      const dot = expression.lastIndexOf(".");
      const found = attributesOf.get(expression.slice(0, dot))?.[expression.slice(dot + 1)];
      if (found === undefined)
        throw new UnsupportedStackError(
          `${where} refers to \${${expression}}, which the offline runtime cannot resolve.`,
        );
      return found;
    });

  const queues: QueueModel[] = entries("aws_sqs_queue").map(([key, body]) => {
    const a = attributesOf.get(`aws_sqs_queue.${key}`)!;
    const redrive = body.redrive_policy
      ? JSON.parse(resolve(body.redrive_policy, `aws_sqs_queue.${key}.redrive_policy`))
      : undefined;
    return {
      key,
      name: a.name,
      arn: a.arn,
      url: a.url,
      visibilityTimeoutSeconds: body.visibility_timeout_seconds ?? 30,
      retentionSeconds: body.message_retention_seconds ?? 345600,
      redrive: redrive
        ? { deadLetterTargetArn: redrive.deadLetterTargetArn, maxReceiveCount: Number(redrive.maxReceiveCount) }
        : undefined,
    };
  });
  const queueBy = (arnOrUrl: string, where: string) => {
    const queue = queues.find((q) => q.arn === arnOrUrl || q.url === arnOrUrl);
    if (!queue) throw new UnsupportedStackError(`${where} names ${arnOrUrl}, which is not a queue of this stack.`);
    return queue;
  };
  for (const queue of queues)
    if (queue.redrive) queueBy(queue.redrive.deadLetterTargetArn, `aws_sqs_queue.${queue.key}.redrive_policy`);
  for (const [key, body] of entries("aws_sqs_queue_redrive_allow_policy")) {
    const target = queueBy(
      resolve(body.queue_url, `aws_sqs_queue_redrive_allow_policy.${key}.queue_url`),
      `aws_sqs_queue_redrive_allow_policy.${key}`,
    );
    const policy = JSON.parse(resolve(body.redrive_allow_policy, `aws_sqs_queue_redrive_allow_policy.${key}`));
    target.redriveAllow = { permission: policy.redrivePermission, sourceQueueArns: policy.sourceQueueArns ?? [] };
  }

  const topics: TopicModel[] = entries("aws_sns_topic").map(([key]) => {
    const a = attributesOf.get(`aws_sns_topic.${key}`)!;
    return { key, name: a.name, arn: a.arn };
  });
  const subscriptions: SubscriptionModel[] = [];
  for (const [key, body] of entries("aws_sns_topic_subscription")) {
    const where = `aws_sns_topic_subscription.${key}`;
    if (NOTIFY_PEOPLE.has(body.protocol)) {
      notEmulated.push(where);
      continue;
    }
    if (body.protocol !== "sqs")
      throw new UnsupportedStackError(
        `${where} uses protocol "${body.protocol}"; the offline runtime delivers to SQS only.`,
      );
    const topicArn = resolve(body.topic_arn, `${where}.topic_arn`);
    if (!topics.some((t) => t.arn === topicArn))
      throw new UnsupportedStackError(`${where} subscribes to ${topicArn}, which is not a topic of this stack.`);
    const queue = queueBy(resolve(body.endpoint, `${where}.endpoint`), `${where}.endpoint`);
    const redrive = body.redrive_policy
      ? JSON.parse(resolve(body.redrive_policy, `${where}.redrive_policy`))
      : undefined;
    if (redrive) queueBy(redrive.deadLetterTargetArn, `${where}.redrive_policy`);
    subscriptions.push({
      key,
      topicArn,
      queueArn: queue.arn,
      raw: body.raw_message_delivery === true || body.raw_message_delivery === "true",
      deadLetterTargetArn: redrive?.deadLetterTargetArn,
    });
  }

  const functions: FunctionModel[] = entries("aws_lambda_function").map(([key, body]) => {
    const where = `aws_lambda_function.${key}`;
    const a = attributesOf.get(where)!;
    if (!String(body.runtime).startsWith("nodejs"))
      throw new UnsupportedStackError(
        `${where} uses runtime ${body.runtime}; the offline runtime runs Node.js functions only.`,
      );
    const filename = resolve(body.filename, `${where}.filename`);
    const archive = /^archive:(.+)$/.exec(filename);
    if (!archive)
      throw new UnsupportedStackError(`${where}.filename must come from an archive_file data source, got ${filename}.`);
    const codeDir = path.resolve(stackDir, attributesOf.get(`data.archive_file.${archive[1]}`)!.source_dir);
    const [module, exportName] = String(body.handler).split(/\.(?=[^.]+$)/);
    const file = path.join(codeDir, `${module}.js`);
    if (!fs.existsSync(file))
      throw new UnsupportedStackError(
        `${where}: handler ${body.handler} needs ${file}, which does not exist; build the bundle (npm run build) and synthesize again.`,
      );
    const environment: Record<string, string> = {};
    for (const [name, value] of Object.entries(body.environment?.variables ?? {}))
      environment[name] = resolve(value, `${where}.environment.${name}`);
    return {
      key,
      name: a.function_name,
      arn: a.arn,
      codeDir,
      file,
      exportName,
      runtime: body.runtime,
      timeoutSeconds: body.timeout ?? 3,
      environment,
      reservedConcurrency: body.reserved_concurrent_executions,
    };
  });

  const mappings: MappingModel[] = entries("aws_lambda_event_source_mapping").map(([key, body]) => {
    const where = `aws_lambda_event_source_mapping.${key}`;
    const queue = queueBy(resolve(body.event_source_arn, `${where}.event_source_arn`), `${where}.event_source_arn`);
    const functionRef = resolve(body.function_name, `${where}.function_name`);
    const fn = functions.find((f) => f.arn === functionRef || f.name === functionRef);
    if (!fn) throw new UnsupportedStackError(`${where} invokes ${functionRef}, which is not a function of this stack.`);
    const types: string[] = body.function_response_types ?? [];
    const unknown = types.filter((t) => t !== "ReportBatchItemFailures");
    if (unknown.length > 0)
      throw new UnsupportedStackError(`${where}: function_response_types ${unknown.join(", ")} not supported.`);
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

  const tables: TableModel[] = entries("aws_dynamodb_table").map(([key, body]) => ({
    key,
    name: attributesOf.get(`aws_dynamodb_table.${key}`)!.name,
    hashKey: body.hash_key,
    rangeKey: body.range_key,
    attributes: body.attribute ?? [],
  }));

  return { stackDir, region, topics, subscriptions, queues, functions, mappings, tables, notEmulated };
}

function literal(value: unknown, where: string): string {
  if (typeof value !== "string" || value.includes("${"))
    throw new UnsupportedStackError(
      `${where} must be a literal name for the offline runtime, got ${JSON.stringify(value)}.`,
    );
  return value;
}
