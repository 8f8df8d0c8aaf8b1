/**
 * The synthesized order pipeline on this machine: SNS and SQS on the fauxqs engine, DynamoDB on dynalite
 * (`engines/`), the stack provisioned on them through the AWS SDK (`engines/provision.ts`), and the
 * project's Lambda service (`lambda-service/`) running the function's real bundle for each event source
 * mapping. Every published body is accounted for (`accounting.ts`).
 */
import { SNSClient } from "@aws-sdk/client-sns";
import { ChangeMessageVisibilityBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { setTimeout as sleep } from "node:timers/promises";
import * as fs from "node:fs";
import * as path from "node:path";
import { PipelineSummary, RunAccounting } from "./accounting";
import { Emit, EventStream, orderIdOf, PipelineEvent } from "./events";
import { functionVariables } from "./lambda-service/environment-pool";
import { LambdaService } from "./lambda-service/lambda-service";
import { LOCAL_CREDENTIALS, LocalDynamoDB, scanTable, startLocalDynamoDB } from "../engines/dynamodb";
import { EndpointOptions, ServiceEndpoint, startServiceEndpoint } from "../engines/endpoint";
import { EngineAddress, privateSocketDir, sdkTransport } from "../engines/engine-address";
import type { FaultKind } from "../engines/dynamodb-front";
import { messagesIn } from "../../common/move-messages";
import { provision } from "./provision";
import { EngineDeadLetter, PeekedMessage, QueueDepth, SnsSqsEngine, startSnsSqs } from "../engines/sns-sqs";
import { discardMessage, redriveDeadLetters, redriveQueue, RedriveResult } from "./redrive";
import { QueueResource, ResourceRegistry } from "./registry";
import { publishAll, PublishResult } from "../../common/publish";
import { deadLetterTargets, loadStack, StackModel, withCodeCopiedTo } from "./stack-model";

export type { PipelineSummary } from "./accounting";
export type { PipelineEvent } from "./events";

export interface PipelineOptions {
  /** Folder of the synthesized stack (holding cdk.tf.json). */
  readonly stackDir: string;
  /** Factor applied to queue durations (visibility timeout, batching window). @default 0.001 */
  readonly timeScale?: number;
  /** Factor applied to the function timeout, which bounds real handler work. @default 0.1 */
  readonly functionTimeScale?: number;
  /** Share of DynamoDB requests answered with throttling / internal errors. @default 0 */
  readonly failRate?: number;
  /** The errors `failRate` injects: throttling, internal or both. @default "both" */
  readonly failWith?: FaultKind;
  /** Seed of the fault dice. @default 1 */
  readonly seed?: number;
  /**
   * The run's event stream, subscribed to before the start (the trace, the journal, the log files): with
   * it, events carry the order ids and the function's log lines. Without it, only the run's accounting
   * listens, and the function's lines are dropped (a bench's run).
   */
  readonly events?: EventStream;
  /**
   * Serve SNS, SQS and DynamoDB on one loopback endpoint (on `endpoint.port`, 0: a free one) and provision
   * through it; the engines then listen on Unix sockets in a private folder, so it is the only TCP port.
   */
  readonly endpoint?: EndpointOptions;
  /** Keep queues, messages and items in this folder across runs. */
  readonly dataDir?: string;
  /** Run a copy of each function's code made in this folder at start (`run-folder.ts`). */
  readonly codeDir?: string;
  /** Called if an engine fails while the pipeline runs (the pipeline cannot go on). */
  readonly onEngineFailure?: (error: Error) => void;
}

export type { PublishResult } from "../../common/publish";

/** Engines, clients and the provisioned stack: what a run needs besides the Lambda service. */
interface LocalAws {
  readonly snsSqs: SnsSqsEngine;
  readonly dynamodb: LocalDynamoDB;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  /** Every resource of the stack, by address, with the engine's identity (built by provisioning). */
  readonly resources: ResourceRegistry;
  /** The one endpoint, when serving. */
  readonly endpoint?: ServiceEndpoint;
  /** Removes the engines' socket folder, when serving. */
  readonly removeSockets?: () => void;
  /** Messages in the source queues at start (`--persist`), counted before any client could send one. */
  readonly restored?: number;
}

/** The queues by role and each topic's subscribers, by name: worked out once, read by every count and event. */
interface Roles {
  /** Every queue that is no queue's dead-letter queue: where messages are processed from. */
  readonly sources: string[];
  readonly deadLetters: string[];
  readonly all: string[];
  /** By topic ARN: the topic's name and its subscribers' queues. */
  readonly topics: ReadonlyMap<string, { name: string; queues: string[] }>;
}

function rolesOf(resources: ResourceRegistry): Roles {
  const dead = new Set(resources.deadLetterQueues());
  const queues = resources.all("aws_sqs_queue");
  const topics = new Map(
    resources.all("aws_sns_topic").map((topic) => [
      topic.arn,
      {
        name: topic.name,
        queues: resources.subscriptionsOf(topic.address).map((s) => resources.get("aws_sqs_queue", s.model.queue).name),
      },
    ]),
  );
  return {
    sources: queues.filter((q) => !dead.has(q)).map((q) => q.name),
    deadLetters: [...dead].map((q) => q.name),
    all: queues.map((q) => q.name),
    topics,
  };
}

/** Starts what is given, in order; if one fails, closes those already started and rethrows. */
async function startAll<T extends { close(): Promise<void> }>(starters: (() => Promise<T>)[]): Promise<T[]> {
  const started: T[] = [];
  try {
    for (const start of starters) started.push(await start());
    return started;
  } catch (error) {
    await Promise.all(started.map((s) => s.close()));
    throw error;
  }
}

/** Closes the one endpoint and the engines. */
async function closeEngines(aws: Pick<LocalAws, "snsSqs" | "dynamodb" | "endpoint" | "removeSockets">): Promise<void> {
  await aws.endpoint?.close();
  await Promise.all([aws.snsSqs.close(), aws.dynamodb.close()]);
  aws.removeSockets?.();
}

/** The fault dice's settings: how often, which errors, from which seed. */
const faultsOf = ({ failRate, failWith, seed }: PipelineOptions) => ({ failRate, failWith, seed });

async function startLocalAws(stack: StackModel, options: PipelineOptions): Promise<LocalAws> {
  const dataDir = (engine: string) => {
    if (!options.dataDir) return undefined;
    fs.mkdirSync(path.join(options.dataDir, engine), { recursive: true });
    return path.join(options.dataDir, engine);
  };
  const sockets = options.endpoint ? privateSocketDir() : undefined;
  let started: [LocalDynamoDB, SnsSqsEngine];
  try {
    started = (await startAll<LocalDynamoDB | SnsSqsEngine>([
      () => startLocalDynamoDB({ ...faultsOf(options), dataDir: dataDir("dynamodb"), socketPath: sockets?.socket }),
      () =>
        startSnsSqs({
          region: stack.region,
          dataDir: dataDir("sns-sqs"),
          socketPath: sockets?.socket("sns-sqs"),
          reportBodies: options.events !== undefined,
        }),
    ])) as [LocalDynamoDB, SnsSqsEngine];
  } catch (error) {
    sockets?.remove();
    throw error;
  }
  const [dynamodb, snsSqs] = started;
  let endpoint: ServiceEndpoint | undefined;
  try {
    const restored = options.dataDir ? await restoredIn(snsSqs, stack) : undefined;
    if (options.endpoint) {
      const targets = { sns: snsSqs.endpoint, sqs: snsSqs.endpoint, dynamodb: dynamodb.handler };
      endpoint = await startServiceEndpoint(options.endpoint, targets);
    }
    const config = { region: stack.region, credentials: LOCAL_CREDENTIALS };
    // Provisioned through the one endpoint when serving, so that the queue URLs the engine makes name its port.
    const provisioning = endpoint && {
      sns: new SNSClient({ ...config, endpoint: endpoint.url }),
      sqs: new SQSClient({ ...config, endpoint: endpoint.url }),
    };
    // The runtime's own calls (publish, the pollers, the counts) go to the engine directly: no extra hop.
    // A queue URL names the endpoint's port; the engine finds a queue by its name, whatever the URL's host.
    const sns = new SNSClient({ ...config, ...sdkTransport(snsSqs.endpoint) });
    const sqs = new SQSClient({ ...config, ...sdkTransport(snsSqs.endpoint), useQueueUrlAsEndpoint: false });
    try {
      const clients = provisioning ?? { sns, sqs };
      const resources = await provision(stack, { ...clients, dynamodbEndpoint: dynamodb.directEndpoint });
      return { snsSqs, dynamodb, sns, sqs, resources, endpoint, removeSockets: sockets?.remove, restored };
    } finally {
      provisioning?.sns.destroy();
      provisioning?.sqs.destroy();
    }
  } catch (error) {
    await closeEngines({ snsSqs, dynamodb, endpoint, removeSockets: sockets?.remove });
    throw error;
  }
}

/**
 * What the engine reports, as events: each publish it accepted, from any client (the AWS CLI's as much as
 * this runtime's), with its message id and order; and each move to a DLQ, with the receives it counted.
 */
function wireEngineEvents(
  aws: LocalAws,
  roles: Roles,
  emit: Emit,
  orderIdOf: (body: string) => string | undefined,
): void {
  aws.snsSqs.onDeadLettered((moved) => emit(deadLetteredEvent(aws.resources, moved, orderIdOf)));
  aws.snsSqs.onPublished(({ topicArn, messageId, body }) => {
    const topic = roles.topics.get(topicArn) ?? { name: topicArn.split(":").pop()!, queues: [] };
    const orderId = body === undefined ? undefined : orderIdOf(body);
    emit({ type: "published", topic: topic.name, queues: topic.queues, messageId, orderId });
  });
}

/** A move to a DLQ as an event: from which queue to which, after how many receives, with the order's id. */
function deadLetteredEvent(
  resources: ResourceRegistry,
  moved: EngineDeadLetter,
  orderIdOf: (body: string) => string | undefined,
): PipelineEvent {
  const { queue: queueName, messageId, body, receives } = moved;
  const queue = resources.find("aws_sqs_queue", queueName);
  const target = queue?.model.redrive && resources.get("aws_sqs_queue", queue.model.redrive.deadLetterTarget);
  return {
    type: "dead-lettered",
    queue: queueName,
    target: target ? target.name : "its dead-letter queue",
    messageId,
    receives,
    orderId: orderIdOf(body),
    body,
  };
}

/** The Lambda service running the stack's event source mappings on the engines. */
function lambdaServiceFor(
  stack: StackModel,
  aws: LocalAws,
  options: { timeScale: number; functionTimeScale: number; emit: Emit; detail: boolean },
): LambdaService {
  return new LambdaService({
    sqs: aws.sqs,
    region: stack.region,
    sources: stack.mappings.map((mapping) => ({
      mapping,
      fn: aws.resources.get("aws_lambda_function", mapping.function).model,
      queue: aws.resources.get("aws_sqs_queue", mapping.queue),
    })),
    // Serving, the function reaches DynamoDB as any client does, through the one endpoint (the only TCP port).
    variables: (fn) => functionVariables(fn, stack.region, aws.endpoint?.url ?? aws.dynamodb.endpoint.url),
    timeScale: options.timeScale,
    functionTimeScale: options.functionTimeScale,
    emit: options.emit,
    detail: options.detail,
  });
}

/** The trace's event for a body SNS refused, with SNS's reason (an accepted one is traced from the engine). */
function rejectedEvent(
  result: PublishResult,
  body: string,
  topic: string,
  orderIdOf: (body: string) => string | undefined,
): PipelineEvent | undefined {
  const orderId = orderIdOf(body);
  if (!("refused" in result)) return undefined;
  const { code, message } = result.refused;
  const reason = code ? `${code}: ${message}`.trim() : message;
  return { type: "rejected", topic, reason, orderId, bytes: Buffer.byteLength(body) };
}

export class LocalPipeline {
  /** The run's events; the accounting is its first subscriber. */
  readonly events: EventStream;
  private readonly accounting = new RunAccounting();
  private readonly lambda: LambdaService;
  private readonly emit: Emit;
  private readonly orderIdOf: (body: string) => string | undefined;
  private readonly roles: Roles;
  private lastInFlight = 0;
  private closed = false;

  private constructor(
    options: PipelineOptions,
    readonly stack: StackModel,
    private readonly aws: LocalAws,
  ) {
    const timeScale = positive(options.timeScale ?? 0.001, "time scale");
    const functionTimeScale = positive(options.functionTimeScale ?? 0.1, "function time scale");
    const detail = options.events !== undefined;
    this.events = options.events ?? new EventStream();
    this.events.subscribe(this.accounting.record);
    this.emit = this.events.emit;
    this.orderIdOf = detail ? orderIdOf : () => undefined;
    this.lambda = lambdaServiceFor(stack, aws, { timeScale, functionTimeScale, emit: this.emit, detail });
    this.roles = rolesOf(aws.resources);
    wireEngineEvents(aws, this.roles, this.emit, this.orderIdOf);
    if (options.onEngineFailure) aws.snsSqs.onFailure(options.onEngineFailure);
  }

  /** Loads the stack, starts the engines, provisions the stack on them and starts the Lambda service. */
  static async start(options: PipelineOptions): Promise<LocalPipeline> {
    // Load before starting anything, so an unsupported stack fails fast and leaves nothing running.
    const loaded = loadStack(options.stackDir);
    const stack = options.codeDir ? withCodeCopiedTo(loaded, options.codeDir) : loaded;
    const aws = await startLocalAws(stack, options);
    try {
      if (options.dataDir) await releaseAbandoned(aws, options.events?.emit);
      return new LocalPipeline(options, stack, aws);
    } catch (error) {
      await closeEngines(aws);
      throw error;
    }
  }

  /** `--watch`: the function runs `file` from its next invocation on, in fresh execution environments. */
  replaceCode(functionName: string, file: string): void {
    const fn = this.resources.find("aws_lambda_function", functionName);
    if (!fn) throw new Error(`no function ${functionName} in the stack`);
    this.lambda.replaceCode(fn.model, file);
  }

  /** Where the engines listen: SNS and SQS (fauxqs), DynamoDB (the fault-injecting front of dynalite), and the one endpoint when serving. */
  get endpoints(): { snsSqs: EngineAddress; dynamodb: EngineAddress; endpoint?: string } {
    return { snsSqs: this.aws.snsSqs.endpoint, dynamodb: this.aws.dynamodb.endpoint, endpoint: this.aws.endpoint?.url };
  }

  /** The one endpoint, when serving. */
  get endpoint(): ServiceEndpoint | undefined {
    return this.aws.endpoint;
  }

  /** Every resource of the stack by address, with the engine's identity; `find` takes any identity. */
  get resources(): ResourceRegistry {
    return this.aws.resources;
  }

  get dynamodb(): LocalDynamoDB {
    return this.aws.dynamodb;
  }

  /** Publishes one message body to a topic (by address, name or ARN; the only topic feeding a queue when omitted). */
  async publish(body: string, topic?: string): Promise<PublishResult> {
    return (await this.publishAll([body], topic))[0];
  }

  /** Publishes through SNS's API (its rules apply); a refused body is traced and counted, an accepted one the engine traces. */
  async publishAll(bodies: string[], topic?: string): Promise<PublishResult[]> {
    if (this.closed) throw new Error("the pipeline is closed");
    const target = this.resources.topicToPublishTo(topic);
    const { results, stoppedBy } = await publishAll(this.aws.sns, target.arn, bodies, { oversize: "ask-sns" });
    results.forEach((result, i) => {
      const event = rejectedEvent(result, bodies[i], target.name, this.orderIdOf);
      if (event) this.emit(event);
    });
    if (stoppedBy) throw stoppedBy;
    return results;
  }

  /** Resolves when the polled queues are empty and nothing is pending; rejects after `maxMs`; `onWait` while waiting. */
  async settled(maxMs = 600_000, onWait?: () => void): Promise<void> {
    const started = Date.now();
    while (this.lambda.busy || (await this.inFlight()) > 0) {
      if (Date.now() - started > maxMs) {
        const seconds = Math.round(maxMs / 1000);
        throw new Error(
          `the pipeline did not settle within ${seconds} s: ${this.lastInFlight} messages still queued or in flight`,
        );
      }
      onWait?.();
      await sleep(50);
    }
    onWait?.();
  }

  /** Deliveries to queues so far, and how many of them have left the polled queues (processed or dead-lettered). */
  progress(): { delivered: number; settled: number } {
    return this.accounting.progress(this.lastInFlight);
  }

  /** Messages in polled queues (waiting or in flight), as the engine counts them. */
  async inFlight(): Promise<number> {
    this.lastInFlight = await countIn(this.aws.sqs, this.lambda.polledQueues);
    return this.lastInFlight;
  }

  /** The engine's dead-letter queues (some queue's or subscription's target). */
  deadLetterQueues(): QueueResource[] {
    return this.resources.deadLetterQueues();
  }

  /** Up to `max` of a queue's messages as the engine holds them, without receiving them (`SnsSqsEngine.peek`). */
  peek(queueName: string, max: number): Promise<{ messages: PeekedMessage[]; total: number }> {
    return this.aws.snsSqs.peek(queueName, max);
  }

  /** Moves every dead-lettered message back to the queue it came from (see `redrive.ts`). Returns how many moved. */
  redrive(): Promise<number> {
    return redriveDeadLetters(this.aws.sqs, this.resources, this.emit);
  }

  /** Moves one dead-letter queue's messages (or only `messageId`) back to its source queue, each a journey step. */
  redriveQueue(dlqName: string, messageId?: string): Promise<RedriveResult> {
    return redriveQueue(this.aws.sqs, this.resources, { dlqName, messageId }, this.emit);
  }

  /** Deletes one message from a dead-letter queue (not redriven: counted apart); whether it was there. */
  discard(dlqName: string, messageId: string): Promise<boolean> {
    return discardMessage(this.aws.sqs, this.resources, { dlqName, messageId }, this.emit);
  }

  setFailRate(rate: number): void {
    this.aws.dynamodb.setFailRate(rate);
  }

  async items(tableName = this.stack.tables[0]?.name): Promise<Record<string, unknown>[]> {
    if (!tableName) return [];
    return scanTable(this.aws.dynamodb.directEndpoint, tableName);
  }

  /** Queues holding messages that no enabled event source mapping consumes (a disabled mapping's queue). */
  async unconsumed(): Promise<{ queue: string; messages: number }[]> {
    const skipped = new Set<unknown>([...this.lambda.polledQueues, ...this.deadLetterQueues()]);
    const others = this.resources.all("aws_sqs_queue").filter((q) => !skipped.has(q));
    const counts = await Promise.all(others.map((q) => messagesIn(this.aws.sqs, q.url)));
    return others.map((q, i) => ({ queue: q.name, messages: counts[i] })).filter((q) => q.messages > 0);
  }

  /** The balance of the source queues from the engine's counts (`accounting.ts`), and the table's items. */
  async summary(): Promise<PipelineSummary> {
    return (await this.liveCounts((await this.items()).length)).balance;
  }

  /** Messages the topics accepted so far (from any client). */
  get published(): number {
    return this.accounting.published;
  }

  /** Each function's record outcomes so far (from its outcome lines; a run with an event stream reads them). */
  outcomesPerFunction(): [string, Record<string, number>][] {
    return [...this.accounting.outcomes].map(([fn, counts]) => [fn, { ...counts }]);
  }

  /** Messages each topic accepted so far, by topic name. */
  publishedPerTopic(): Record<string, number> {
    return Object.fromEntries(this.accounting.publishedTo);
  }

  /**
   * The balance (without reading the table: `items` as given) and what each queue holds now, by name: two
   * messages to the engine and no request through the endpoint, what a live view can afford often.
   */
  liveCounts(items = 0): Promise<{ balance: PipelineSummary; queues: Readonly<Record<string, QueueDepth>> }> {
    return engineCounts(this.aws.snsSqs, this.roles, this.accounting, { restored: this.aws.restored, items });
  }

  /** Stops polling; invocations in flight finish first. The engines keep serving until `close`. */
  async stopLambda(): Promise<void> {
    await this.lambda.stop();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.lambda.stop();
    this.aws.sns.destroy();
    this.aws.sqs.destroy();
    await closeEngines(this.aws);
  }
}

/**
 * Messages a killed server had in flight stay invisible for the queue's own (unscaled) visibility timeout,
 * minutes on the run's compressed clock: before anything polls, they are made visible again, as their
 * scaled timeout would have done long ago.
 */
async function releaseAbandoned(aws: LocalAws, emit?: (event: PipelineEvent) => void): Promise<void> {
  const leases = await aws.snsSqs.inFlight(sourceQueues(aws.resources).map((q) => q.name));
  for (const queue of new Set(leases.map((lease) => lease.queue))) {
    const url = aws.resources.find("aws_sqs_queue", queue)!.url;
    const handles = leases.filter((lease) => lease.queue === queue).map((lease) => lease.receiptHandle);
    for (let start = 0; start < handles.length; start += 10)
      await aws.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: handles.slice(start, start + 10).map((handle, i) => ({
            Id: String(i),
            ReceiptHandle: handle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    emit?.({
      type: "warning",
      message: `${handles.length} message${handles.length === 1 ? " was" : "s were"} in flight in ${queue} when the last server stopped: visible again now`,
    });
  }
}

/** The balance from the engine's counts, and what each queue holds now (`LocalPipeline.liveCounts`). */
async function engineCounts(
  snsSqs: SnsSqsEngine,
  roles: Roles,
  accounting: RunAccounting,
  state: { restored?: number; items: number },
) {
  const counts = await snsSqs.flush(); // every event the engine reported so far is counted
  const queues = await snsSqs.depths(roles.all);
  const held = (name: string) =>
    queues[name] ? queues[name].visible + queues[name].inFlight + queues[name].delayed : 0;
  const balance = accounting.summary({
    counts,
    sourceQueues: roles.sources,
    deadLetterQueues: roles.deadLetters,
    queued: roles.sources.reduce((sum, name) => sum + held(name), 0),
    ...state,
  });
  return { balance, queues };
}

/**
 * What `--persist` kept in the source queues, read from the engine before the endpoint accepts a request
 * (a message a client sends later is an arrival, never also restored). A queue not created yet holds none.
 */
async function restoredIn(snsSqs: SnsSqsEngine, stack: StackModel): Promise<number> {
  const dead = deadLetterTargets(stack);
  const depths = await snsSqs.depths(stack.queues.filter((q) => !dead.has(q.address)).map((q) => q.name));
  return Object.values(depths).reduce((sum, d) => sum + d.visible + d.inFlight + d.delayed, 0);
}

/** The queues messages are processed from: every queue that is no queue's dead-letter queue. */
function sourceQueues(resources: ResourceRegistry): QueueResource[] {
  const dead = new Set(resources.deadLetterQueues());
  return resources.all("aws_sqs_queue").filter((q) => !dead.has(q));
}

/** Messages in the queues (waiting, in flight or delayed), as the engine counts them. */
async function countIn(sqs: SQSClient, queues: readonly { url: string }[]): Promise<number> {
  const counts = await Promise.all(queues.map((q) => messagesIn(sqs, q.url)));
  return counts.reduce((a, b) => a + b, 0);
}

function positive(value: number, what: string): number {
  if (!(value > 0)) throw new Error(`${what} must be a positive number, got ${value}`);
  return value;
}
