/**
 * The synthesized order pipeline, wired in process: SNS topics fan out to SQS queues, event source
 * mappings poll them in batches and invoke the function's real bundle in Lambda-like execution
 * environments, the function writes to tables on a local DynamoDB-API server (dynalite).
 */
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { createTable, LOCAL_CREDENTIALS, LocalDynamoDB, scanTable, startLocalDynamoDB } from "./dynamodb";
import { ExecutionEnvironment } from "./lambda-host";
import { LocalQueue, QueueEvent, QueueMessage } from "./sqs";
import { FunctionModel, loadStack, MappingModel, StackModel, TopicModel, UnsupportedStackError } from "./stack-model";

/** Lambda starts polling a queue with five concurrent batches when no maximum is configured. */
const DEFAULT_POLLERS = 5;

export interface PipelineOptions {
  /** Folder of the synthesized stack (holding cdk.tf.json). */
  readonly stackDir: string;
  /** Factor applied to queue durations (visibility timeout, batching window, retention). @default 0.001 */
  readonly timeScale?: number;
  /** Factor applied to the function timeout, which bounds real handler work. @default 0.1 */
  readonly functionTimeScale?: number;
  /** Share of DynamoDB requests answered with throttling / internal errors. @default 0 */
  readonly failRate?: number;
  /** Seed of the fault dice. @default 1 */
  readonly seed?: number;
  /** Receives every event, for the trace. */
  readonly onEvent?: (event: PipelineEvent) => void;
}

export type PipelineEvent =
  | { type: "published"; topic: string; queue: string; messageId: string; traceId: string; orderId?: string }
  | { type: "invoked"; function: string; records: number }
  | { type: "received"; queue: string; messageId: string; receiveCount: number; orderId?: string }
  | { type: "outcome"; outcome: string; messageId?: string; orderId?: string; reason?: string }
  | { type: "deleted"; queue: string; messageId: string }
  | { type: "returned"; queue: string; messageId: string; visibleInMs: number }
  | {
      type: "dead-lettered";
      queue: string;
      target: string;
      messageId: string;
      traceId: string;
      receives: number;
      orderId?: string;
    }
  | { type: "expired"; queue: string; messageId: string }
  | { type: "cold-start"; function: string; environment: number }
  | { type: "invocation-failed"; function: string; reason: string; records: number }
  | { type: "redriven"; from: string; to: string; count: number }
  | { type: "log"; line: string };

/** The run's accounting: published = processed + dead-lettered + lost. */
export interface PipelineSummary {
  published: number;
  processed: number;
  deadLettered: number;
  redriven: number;
  lost: number;
  items: number;
}

interface Poller {
  readonly mapping: MappingModel;
  readonly fn: FunctionModel;
  readonly queue: LocalQueue;
}

export class LocalPipeline {
  readonly stack: StackModel;
  readonly queues = new Map<string, LocalQueue>();
  private readonly pollers: Poller[] = [];
  /** Warm execution environments waiting for an invocation, per function; busy ones are not here. */
  private readonly idle = new Map<string, ExecutionEnvironment[]>();
  private readonly allEnvironments: ExecutionEnvironment[] = [];
  private readonly timeScale: number;
  private readonly functionTimeScale: number;
  private active = 0;
  private closed = false;
  private environments = 0;
  private readonly running: Promise<void>[] = [];
  private readonly counts = { published: 0, deliveries: 0, processed: 0, redriven: 0, expired: 0 };

  private constructor(
    options: PipelineOptions,
    stack: StackModel,
    readonly dynamodb: LocalDynamoDB,
  ) {
    this.stack = stack;
    this.timeScale = positive(options.timeScale ?? 0.001, "time scale");
    this.functionTimeScale = positive(options.functionTimeScale ?? 0.1, "function time scale");
    this.emit = options.onEvent ?? (() => undefined);
    this.tracing = options.onEvent !== undefined;
  }

  /** Without a listener nothing is traced: no order ids are parsed and log lines are dropped in the worker. */
  private readonly tracing: boolean;

  private orderIdOf(body: string): string | undefined {
    return this.tracing ? orderIdOf(body) : undefined;
  }

  private readonly emit: (event: PipelineEvent) => void;

  /** Loads the stack, starts DynamoDB with the stack's tables, and starts polling. */
  static async start(options: PipelineOptions): Promise<LocalPipeline> {
    // Load before starting anything, so an unsupported stack fails fast and leaves nothing running.
    const stack = loadStack(options.stackDir);
    const dynamodb = await startLocalDynamoDB({ failRate: options.failRate, seed: options.seed });
    try {
      const pipeline = new LocalPipeline(options, stack, dynamodb);
      await pipeline.wire();
      return pipeline;
    } catch (error) {
      await dynamodb.close();
      throw error;
    }
  }

  private async wire(): Promise<void> {
    for (const table of this.stack.tables) await createTable(this.dynamodb.directEndpoint, table);
    const onQueueEvent = (event: QueueEvent) => {
      if (event.type === "dead-lettered") {
        this.emit({
          type: "dead-lettered",
          queue: event.queue.name,
          target: event.target.name,
          messageId: event.message.messageId,
          traceId: event.message.traceId,
          receives: event.message.receiveCount,
          orderId: this.orderIdOf(event.message.body),
        });
      } else {
        this.counts.expired += 1;
        this.emit({ type: "expired", queue: event.queue.name, messageId: event.message.messageId });
      }
    };
    for (const model of this.stack.queues)
      this.queues.set(model.arn, new LocalQueue(model, this.timeScale, onQueueEvent));
    for (const queue of this.queues.values()) {
      if (queue.model.redrive) queue.deadLetterQueue = this.queues.get(queue.model.redrive.deadLetterTargetArn);
    }
    for (const mapping of this.stack.mappings) {
      if (!mapping.enabled) continue;
      const fn = this.stack.functions.find((f) => f.arn === mapping.functionArn)!;
      const concurrency = Math.min(mapping.maximumConcurrency ?? DEFAULT_POLLERS, fn.reservedConcurrency ?? Infinity);
      if (concurrency < 1)
        throw new UnsupportedStackError(
          `${fn.name} has no concurrency to run (reserved concurrency ${fn.reservedConcurrency}).`,
        );
      const poller: Poller = { mapping, fn, queue: this.queues.get(mapping.queueArn)! };
      this.pollers.push(poller);
      for (let slot = 0; slot < concurrency; slot++) this.running.push(this.poll(poller));
    }
  }

  /** Publishes one message body to a topic (by name or ARN; the only topic when omitted); returns each delivery's trace id. */
  publish(body: string, topic?: string): string[] {
    if (this.closed) throw new Error("the pipeline is closed");
    const target = this.topic(topic);
    this.counts.published += 1;
    const traceIds: string[] = [];
    for (const subscription of this.stack.subscriptions.filter((s) => s.topicArn === target.arn)) {
      const queue = this.queues.get(subscription.queueArn)!;
      const message = queue.send(subscription.raw ? body : snsEnvelope(target, body));
      this.counts.deliveries += 1;
      traceIds.push(message.traceId);
      this.emit({
        type: "published",
        topic: target.name,
        queue: queue.name,
        messageId: message.messageId,
        traceId: message.traceId,
        orderId: this.orderIdOf(body),
      });
    }
    return traceIds;
  }

  /**
   * Resolves when every polled queue is empty and no invocation runs; rejects after `maxMs`.
   * `onWait` is called while waiting (e.g. to draw progress from `progress()`).
   */
  async settled(maxMs = 600_000, onWait?: () => void): Promise<void> {
    const started = Date.now();
    while (!this.isSettled()) {
      if (Date.now() - started > maxMs)
        throw new Error(
          `the pipeline did not settle within ${Math.round(maxMs / 1000)} s: ${this.inFlight()} messages still queued or in flight`,
        );
      onWait?.();
      await sleep(5);
    }
    onWait?.();
  }

  /** Deliveries to queues so far, and how many of them have left the polled queues (processed, dead-lettered or expired). */
  progress(): { delivered: number; settled: number } {
    return {
      delivered: this.counts.deliveries + this.counts.redriven,
      settled: this.counts.deliveries + this.counts.redriven - this.inFlight(),
    };
  }

  /** Messages still in polled queues (waiting or in flight). */
  inFlight(): number {
    return this.pollers.reduce((n, p) => n + p.queue.size, 0);
  }

  /** Queues that are some queue's dead-letter target. */
  deadLetterQueues(): LocalQueue[] {
    const arns = new Set([
      ...this.stack.queues.map((q) => q.redrive?.deadLetterTargetArn),
      ...this.stack.subscriptions.map((s) => s.deadLetterTargetArn),
    ]);
    return [...this.queues.values()].filter((q) => arns.has(q.arn));
  }

  /**
   * Moves every dead-lettered message back to the queue it came from, as SQS's message-move task
   * does, honouring the dead-letter queue's redrive-allow policy. Returns how many moved.
   */
  redrive(): number {
    let moved = 0;
    for (const dlq of this.deadLetterQueues()) {
      const sources = [...this.queues.values()].filter((q) => q.deadLetterQueue === dlq);
      if (dlq.size === 0 || sources.length === 0) continue;
      const allow = dlq.model.redriveAllow;
      for (const source of sources) {
        const permitted =
          !allow ||
          allow.permission === "allowAll" ||
          (allow.permission === "byQueue" && allow.sourceQueueArns.includes(source.arn));
        if (!permitted)
          throw new Error(
            `${dlq.name}'s redrive-allow policy (${allow?.permission}) does not let messages move back to ${source.name}.`,
          );
      }
      if (sources.length > 1)
        throw new Error(
          `${dlq.name} is the dead-letter queue of several queues; the offline redrive needs one source.`,
        );
      const messages = dlq.drain();
      for (const message of messages)
        sources[0].send(message.body, { traceId: message.traceId, sentAt: performance.now() });
      moved += messages.length;
      this.emit({ type: "redriven", from: dlq.name, to: sources[0].name, count: messages.length });
    }
    this.counts.redriven += moved;
    return moved;
  }

  setFailRate(rate: number): void {
    this.dynamodb.setFailRate(rate);
  }

  async items(tableName = this.stack.tables[0]?.name): Promise<Record<string, unknown>[]> {
    if (!tableName) return [];
    return scanTable(this.dynamodb.directEndpoint, tableName);
  }

  /** Writes a table's items as JSON lines. */
  async exportItems(file: string, tableName?: string): Promise<number> {
    const items = await this.items(tableName);
    fs.writeFileSync(file, items.map((item) => JSON.stringify(item)).join("\n") + (items.length ? "\n" : ""));
    return items.length;
  }

  async summary(): Promise<PipelineSummary> {
    const deadLettered = this.deadLetterQueues().reduce((n, q) => n + q.size, 0);
    const items = (await this.items()).length;
    const accounted = this.counts.processed + deadLettered + this.inFlight();
    return {
      published: this.counts.published,
      processed: this.counts.processed,
      deadLettered,
      redriven: this.counts.redriven,
      lost: Math.max(0, this.counts.deliveries - accounted) + this.counts.expired,
      items,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const queue of this.queues.values()) queue.close();
    await Promise.all(this.running);
    await Promise.all(this.allEnvironments.map((env) => env.terminate()));
    await this.dynamodb.close();
  }

  private isSettled(): boolean {
    return this.active === 0 && this.inFlight() === 0;
  }

  /** The named topic, or when unnamed the one topic that feeds a queue (the alarm topic does not). */
  private topic(nameOrArn?: string): TopicModel {
    const feeding = this.stack.topics.filter((t) => this.stack.subscriptions.some((s) => s.topicArn === t.arn));
    const topic =
      nameOrArn === undefined
        ? feeding.length === 1
          ? feeding[0]
          : undefined
        : this.stack.topics.find((t) => t.name === nameOrArn || t.arn === nameOrArn);
    if (!topic)
      throw new Error(
        nameOrArn === undefined
          ? `${feeding.length} topics feed queues; name the one to publish to`
          : `no topic ${nameOrArn} in the stack`,
      );
    return topic;
  }

  /** One poller of an event source mapping: receive a batch, invoke, delete successes. */
  private async poll(poller: Poller): Promise<void> {
    const { queue, mapping } = poller;
    const windowMs = mapping.batchingWindowSeconds * 1000 * this.timeScale;
    while (!this.closed) {
      if (queue.visibleCount(1) === 0) {
        await queue.waitForMessages();
        continue;
      }
      if (windowMs > 0 && queue.visibleCount(mapping.batchSize) < mapping.batchSize) await sleep(windowMs);
      const batch = queue.receive(mapping.batchSize);
      if (batch.length === 0) continue;
      this.active += 1;
      try {
        await this.invoke(poller, batch);
      } finally {
        this.active -= 1;
      }
    }
  }

  /** A warm environment of the function if one is idle (as Lambda reuses them), else a cold one. */
  private acquire(fn: FunctionModel): ExecutionEnvironment {
    const idle = this.idle.get(fn.arn) ?? [];
    this.idle.set(fn.arn, idle);
    while (idle.length > 0) {
      const warm = idle.pop()!;
      if (warm.alive) return warm;
    }
    const environment = new ExecutionEnvironment(
      fn,
      this.functionEnvironment(fn),
      this.tracing ? (line) => this.onLogLine(line) : undefined,
    );
    this.allEnvironments.push(environment);
    this.environments += 1;
    this.emit({ type: "cold-start", function: fn.name, environment: this.environments });
    return environment;
  }

  private async invoke(poller: Poller, batch: QueueMessage[]): Promise<void> {
    const { queue, fn, mapping } = poller;
    const environment = this.acquire(fn);
    for (const message of batch)
      this.emit({
        type: "received",
        queue: queue.name,
        messageId: message.messageId,
        receiveCount: message.receiveCount,
        orderId: this.orderIdOf(message.body),
      });
    const event: SQSEvent = { Records: batch.map((message) => sqsRecord(message, queue, this.stack.region)) };
    this.emit({ type: "invoked", function: fn.name, records: batch.length });
    const result = await environment.invoke(
      event,
      fn.timeoutSeconds * 1000 * this.functionTimeScale,
      this.functionTimeScale,
    );
    if (environment.alive) this.idle.get(fn.arn)!.push(environment);

    const wholeBatch = new Set(batch.map((m) => m.messageId));
    let failed: Set<string>;
    if (result.kind === "timeout") {
      failed = wholeBatch;
      this.emit({
        type: "invocation-failed",
        function: fn.name,
        reason: `timed out after ${fn.timeoutSeconds} s (scaled)`,
        records: batch.length,
      });
    } else if (result.kind === "error") {
      failed = wholeBatch;
      this.emit({
        type: "invocation-failed",
        function: fn.name,
        reason: result.error.split("\n")[0],
        records: batch.length,
      });
    } else if (mapping.reportBatchItemFailures) {
      const reported = partialFailures(result.value, wholeBatch);
      failed = reported ?? wholeBatch;
      if (reported === undefined) {
        this.emit({
          type: "invocation-failed",
          function: fn.name,
          reason: "invalid partial batch response: the whole batch is retried",
          records: batch.length,
        });
      }
    } else {
      failed = new Set();
    }
    for (const message of batch) {
      if (failed.has(message.messageId)) {
        queue.release(message);
        this.emit({
          type: "returned",
          queue: queue.name,
          messageId: message.messageId,
          visibleInMs: Math.max(0, message.visibleAt - performance.now()),
        });
      } else if (queue.delete(message)) {
        this.counts.processed += 1;
        this.emit({ type: "deleted", queue: queue.name, messageId: message.messageId });
      } else {
        queue.release(message);
      }
    }
  }

  /** What Lambda gives the function: its variables, region, credentials; here also the local endpoint. */
  private functionEnvironment(fn: FunctionModel): Record<string, string> {
    return {
      ...fn.environment,
      AWS_REGION: this.stack.region,
      AWS_DEFAULT_REGION: this.stack.region,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: this.dynamodb.endpoint,
    };
  }

  private onLogLine(line: string): void {
    let entry: Record<string, unknown> | undefined;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = undefined;
    }
    if (entry && typeof entry.outcome === "string") {
      this.emit({
        type: "outcome",
        outcome: entry.outcome,
        messageId: entry.messageId as string,
        orderId: entry.orderId as string | undefined,
        reason: entry.reason as string | undefined,
      });
    } else if (!entry || !("_aws" in entry)) {
      this.emit({ type: "log", line });
    }
  }
}

/** The failed message ids of a partial batch response, or undefined when the response is invalid. */
function partialFailures(value: unknown, ids: Set<string>): Set<string> | undefined {
  if (value === null || value === undefined) return new Set();
  if (typeof value !== "object") return undefined;
  const failures = (value as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return undefined;
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = failure?.itemIdentifier;
    if (typeof id !== "string" || !ids.has(id)) return undefined;
    failed.add(id);
  }
  return failed;
}

function sqsRecord(message: QueueMessage, queue: LocalQueue, region: string): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle!,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: now,
      SenderId: "LOCAL",
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(message.body).digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: queue.arn,
    awsRegion: region,
  };
}

function snsEnvelope(topic: TopicModel, message: string): string {
  return JSON.stringify({
    Type: "Notification",
    MessageId: randomUUID(),
    TopicArn: topic.arn,
    Message: message,
    Timestamp: new Date().toISOString(),
    SignatureVersion: "1",
    Signature: "LOCAL",
    SigningCertURL: "https://localhost/SimpleNotificationService.pem",
    UnsubscribeURL: "https://localhost/?Action=Unsubscribe",
  });
}

function orderIdOf(body: string): string | undefined {
  try {
    let parsed = JSON.parse(body);
    if (parsed?.Type === "Notification" && typeof parsed.Message === "string") parsed = JSON.parse(parsed.Message);
    return typeof parsed?.orderId === "string" ? parsed.orderId.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

function positive(value: number, what: string): number {
  if (!(value > 0)) throw new Error(`${what} must be a positive number, got ${value}`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
