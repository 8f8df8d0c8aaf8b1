/**
 * What every operator command shares: the stack outputs it reads, its I/O, and the errors an operator
 * can fix (exit code 2, with what to do).
 */
import { LOCAL_CREDENTIALS } from "../common/local-credentials";
import { SQSClient } from "@aws-sdk/client-sqs";
import { setTimeout as sleep } from "node:timers/promises";
import * as fs from "node:fs";
import { Progress } from "../common/progress";

/** What the commands need from the stack's outputs. */
export interface StackOutputs {
  readonly topic_arn: string;
  readonly queue_url: string;
  readonly dlq_url: string;
  readonly dlq_arn: string;
  readonly table_name: string;
  /** The order processor (older stacks name it only in `verify`). */
  readonly function_name?: string;
  /** OrderQueue's ARN (older stacks lack the output). */
  readonly queue_arn?: string;
  /** The subscription's delivery DLQ (older stacks lack the outputs). */
  readonly delivery_dlq_url?: string;
  readonly delivery_dlq_arn?: string;
  readonly alarm_topic_arn?: string;
  /** The operators' console's policy documents, for their role (older stacks lack them). */
  readonly operator_console_policies?: { readonly read: string; readonly changes: string };
  /** What `verify` compares with the deployed resources (older stacks lack the output). */
  readonly verify?: VerifyExpectations;
  /**
   * Set only in the outputs `npm start -- --serve` writes: its local endpoint. Their `verify` holds
   * only what the local engines can answer.
   */
  readonly endpoint?: string;
}

/** The stack's `verify` output: the resources' identities and their settings as configured. */
export interface VerifyExpectations {
  readonly function_name: string;
  readonly role_arn: string;
  /** Each resource the role may act on, with exactly the actions it needs there. */
  readonly role_access: { readonly resource: string; readonly actions: string[] }[];
  readonly key_arn: string;
  /** OrderQueue and the roles its policy lets send besides SNS (older stacks lack them). */
  readonly queue_arn?: string;
  readonly redrive_principal_arns?: string[];
  /** Receives before OrderQueue dead-letters a message (older stacks lack it). */
  readonly max_receive_count?: number;
  readonly subscription_arn: string;
  readonly raw_message_delivery: boolean;
  readonly event_source_mapping_uuid: string;
  readonly batch_size: number;
  readonly maximum_batching_window_in_seconds: number;
  readonly maximum_concurrency: number;
  readonly function_response_types: string[];
  readonly alarm_names: string[];
  /** The operations dashboard and the resources its metrics must name (older stacks lack them). */
  readonly dashboard_name?: string;
  readonly dashboard_resources?: string[];
  /** The operators' console: each grant of its read and changes policies (older stacks lack it). */
  readonly console_access?: {
    readonly read: { readonly sid: string; readonly resource: string; readonly actions: string[] }[];
    readonly changes: { readonly sid: string; readonly resource: string; readonly actions: string[] }[];
  };
}

/**
 * Whether an endpoint answered that it does not offer the operation, whoever it is: AWS's query protocol
 * says `InvalidAction` ("Unknown action: ..."), its JSON protocols `UnknownOperationException`, an endpoint
 * that does not serve the service `NotImplemented` (HTTP 501, as `npm start -- --serve` answers IAM, Lambda,
 * KMS and CloudWatch). Returns the answer to show, or undefined for any other error.
 */
export function unsupportedOperation(error: unknown): string | undefined {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const named = /^(InvalidAction|UnknownOperation(Exception)?|NotImplemented|UnsupportedOperation(Exception)?)$/;
  if (!named.test(e?.name ?? "") && e?.$metadata?.httpStatusCode !== 501) return undefined;
  return `${e.name}: ${e.message ?? ""}`.trim();
}

/** A problem the operator can fix; the message says how. Exit code 2. */
export class OperatorError extends Error {
  override readonly name = "OperatorError";
}

export interface OrdersIO {
  readonly out: (line: string) => void;
  /** Standard input's bytes ("-"), for `publish -`. */
  readonly readInput: (file: string) => string | Buffer;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** A progress line for long commands; draws only on a terminal. @default progress() on stderr */
  readonly progress?: (label: string) => Progress;
  /** How long a serving command (`console`) serves. @default until Ctrl-C or SIGTERM */
  readonly untilStopped?: () => Promise<void>;
}

export const defaultIO: OrdersIO = {
  out: (line) => console.log(line),
  readInput: (file) => fs.readFileSync(file === "-" ? 0 : file),
  sleep: (ms) => sleep(ms),
  now: () => Date.now(),
};

export function loadOutputs(file: string, stack: string, env: NodeJS.ProcessEnv = process.env): StackOutputs {
  const fix = `npx cdktf output ${stack} --outputs-file ${file}`;
  if (!fs.existsSync(file)) throw new OperatorError(`No stack outputs at ${file}. Write them with: ${fix}`);
  let all: Record<string, any>;
  try {
    all = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    throw new OperatorError(`${file} is not JSON (empty or cut short?). Write it again with: ${fix}`);
  }
  if (typeof all !== "object" || all === null || Array.isArray(all))
    throw new OperatorError(
      `${file} is not an outputs file (a JSON object keyed by stack). Write it again with: ${fix}`,
    );
  const outputs = all[stack];
  if (!outputs)
    throw new OperatorError(
      `${file} has no outputs of ${stack} (it has: ${Object.keys(all).join(", ") || "none"}). Write them with: ${fix}`,
    );
  for (const key of ["topic_arn", "queue_url", "dlq_url", "dlq_arn", "table_name"]) {
    if (typeof outputs[key] !== "string")
      throw new OperatorError(`${file} lacks ${stack}.${key}; deploy the current stack, then: ${fix}`);
  }
  for (const key of ["topic_arn", "dlq_arn", "alarm_topic_arn", "queue_arn", "delivery_dlq_arn"]) {
    if (outputs[key] !== undefined && !/^arn:aws[a-z-]*:(sns|sqs):[a-z0-9-]+:\d{12}:[\w-]+$/.test(outputs[key]))
      throw new OperatorError(
        `${file}: ${stack}.${key} is not an SNS or SQS ARN ("${String(outputs[key]).slice(0, 80)}"). Write the file again with: ${fix}`,
      );
  }
  if (outputs.endpoint !== undefined && !isLoopbackOrigin(outputs.endpoint))
    throw new OperatorError(
      `${file}: ${stack}.endpoint must be a local endpoint (http://127.0.0.1:PORT or http://localhost:PORT), got "${String(outputs.endpoint).slice(0, 80)}". Write the file again with: ${fix}`,
    );
  checkQueueUrls(outputs, `${file}: ${stack}`, fix, configuredSqsEndpoint(env));
  // A redrive moves a DLQ's messages to the source queue: the same queue would receive what it sends.
  for (const dlq of ["dlq_url", "delivery_dlq_url"])
    if (outputs[dlq] !== undefined && outputs[dlq] === outputs.queue_url)
      throw new OperatorError(
        `${file}: ${stack}.${dlq} names the source queue itself (${String(outputs.queue_url).slice(0, 120)}): a dead-letter queue must be a queue of its own. Write the file again with: ${fix}`,
      );
  if (outputs.queue_arn !== undefined && outputs.dlq_arn === outputs.queue_arn)
    throw new OperatorError(
      `${file}: ${stack}.dlq_arn names the source queue itself: a dead-letter queue must be a queue of its own. Write the file again with: ${fix}`,
    );
  return outputs;
}

function isLoopbackOrigin(value: unknown): boolean {
  try {
    const url = new URL(String(value));
    return (
      url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname) && url.pathname === "/"
    );
  } catch {
    return false;
  }
}

/** SQS's endpoint of a region, as its queue URLs name it (`amazonaws.com.cn` in the China partition). */
function sqsOrigin(partition: string, region: string): string {
  return `https://sqs.${region}.amazonaws.com${partition === "aws-cn" ? ".cn" : ""}`;
}

/**
 * Every queue URL must name the queue of its ARN (its account and name) on the region's SQS endpoint or
 * the outputs' local endpoint: a URL edited to name another host or queue would otherwise receive the
 * requests, and the messages a move takes out of a DLQ. Where an older stack has no ARN output for a queue,
 * the URL must name the account and region of the topic's ARN.
 */
function checkQueueUrls(outputs: StackOutputs, where: string, fix: string, configured: string | undefined): void {
  const [, partition, , region, account] = outputs.topic_arn.split(":");
  const urls: [string, string | undefined, string | undefined][] = [
    ["queue_url", outputs.queue_url, outputs.queue_arn ?? outputs.verify?.queue_arn],
    ["dlq_url", outputs.dlq_url, outputs.dlq_arn],
    ["delivery_dlq_url", outputs.delivery_dlq_url, outputs.delivery_dlq_arn],
  ];
  for (const [key, url, arn] of urls) {
    if (url === undefined) continue;
    const [, , , arnRegion = region, arnAccount = account, name] = (arn ?? "").split(":");
    // The endpoint the requests go to: the outputs' local one, else the region's or the one configured.
    const origins = outputs.endpoint
      ? [new URL(outputs.endpoint).origin]
      : [sqsOrigin(partition, arnRegion), ...(configured ? [configured] : [])];
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    const segments = parsed?.pathname.split("/") ?? [];
    const fine =
      parsed !== undefined &&
      origins.includes(parsed.origin) &&
      parsed.search === "" &&
      parsed.hash === "" &&
      segments.length === 3 &&
      segments[1] === arnAccount &&
      (name === undefined || segments[2] === name) &&
      /^[\w-]{1,80}$/.test(segments[2]);
    if (!fine)
      throw new OperatorError(
        `${where}.${key} ("${String(url).slice(0, 120)}") is not the URL of ${arn ?? `a queue of account ${account}`} on ${origins.join(" or ")}; nothing was sent. Write the file again with: ${fix}`,
      );
  }
}

/** The SQS endpoint set by the SDK's standard variables, as an origin. */
function configuredSqsEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  const value = env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL;
  return value && URL.canParse(value) ? new URL(value).origin : undefined;
}

/**
 * The SQS client of the commands: requests go to the outputs' local endpoint when there is one, else to the
 * configured or regional endpoint, never to a host taken from a queue URL (the SDK's default follows it).
 */
export function sqsClientFor(outputs: StackOutputs): SQSClient {
  return new SQSClient({ region: regionOf(outputs.dlq_arn), useQueueUrlAsEndpoint: false, ...endpointOf(outputs) });
}

/**
 * The client settings that send every request to the outputs' local endpoint, if they name one, with the
 * local credentials (it accepts any; none need to be configured for it).
 */
export function endpointOf(outputs: StackOutputs): {
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
} {
  return outputs.endpoint ? { endpoint: outputs.endpoint, credentials: { ...LOCAL_CREDENTIALS } } : {};
}

/** A resource's name: the last segment of its ARN or queue URL. */
export const lastSegment = (arnOrUrl: string) => arnOrUrl.split(/[/:]/).pop() ?? arnOrUrl;

/** The region of an ARN, so the commands need no AWS_REGION. */
export function regionOf(arn: string): string {
  return arn.split(":")[3];
}

/** AWS errors an operator can fix, as what to do; `permission` names what a refused call needs. */
export function friendly(error: unknown, permission?: string): never {
  const name = (error as { name?: string })?.name ?? "";
  if (
    permission &&
    /^(AccessDenied|AccessDeniedException|AuthorizationError|AuthorizationErrorException)$/.test(name)
  ) {
    throw new OperatorError(
      `AWS refused the call (${name}: ${(error as Error).message}). The caller needs ${permission ?? "the command's permissions"}; docs/operations.md lists each command's permissions under "The orders CLI".`,
    );
  }
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(String((error as Error)?.message))) {
    throw new OperatorError(
      "No AWS credentials found. Sign in (e.g. aws sso login --profile <profile>) and set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then run the command again.",
    );
  }
  if (name === "ExpiredTokenException" || name === "ExpiredToken")
    throw new OperatorError(
      "Your AWS session has expired. Sign in again (e.g. aws sso login), then run the command again.",
    );
  throw error;
}
