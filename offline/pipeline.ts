/**
 * The synthesized order pipeline, wired in process: SNS topics fan out to SQS queues (`sns.ts`,
 * `sqs.ts`), event source mappings poll them in batches (`event-source-poller.ts`) and invoke the
 * function's real bundle in Lambda-like execution environments (`environment-pool.ts`,
 * `lambda-host.ts`), the function writes to tables on a local DynamoDB-API server (`dynamodb.ts`), and
 * every delivery is accounted for (`accounting.ts`).
 */
import { setTimeout as sleep } from "node:timers/promises";
import * as fs from "node:fs";
import { PipelineSummary, RunAccounting } from "./accounting";
import { createTable, LocalDynamoDB, scanTable, startLocalDynamoDB } from "./dynamodb";
import { EnvironmentPool, functionVariables } from "./environment-pool";
import { EventSourcePoller } from "./event-source-poller";
import { Emit, logLineEvent, orderIdOf, PipelineEvent } from "./events";
import { ExecutionEnvironment } from "./lambda-host";
import { deadLetterTargets, redriveDeadLetters } from "./redrive";
import { fanOut, resolveTopic } from "./sns";
import { createQueues, LocalQueue, QueueEvent } from "./sqs";
import { FunctionModel, loadStack, StackModel, UnsupportedStackError } from "./stack-model";

export type { PipelineSummary } from "./accounting";
export type { PipelineEvent } from "./events";

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

export class LocalPipeline {
  readonly queues = new Map<string, LocalQueue>();
  private readonly pollers: EventSourcePoller[] = [];
  private readonly running: Promise<void>[] = [];
  private readonly accounting = new RunAccounting();
  private readonly pool: EnvironmentPool;
  private readonly emit: Emit;
  /** Without a listener nothing is traced: no order ids are parsed and log lines are dropped in the worker. */
  private readonly orderIdOf: (body: string) => string | undefined;
  private readonly timeScale: number;
  private readonly functionTimeScale: number;
  private closed = false;

  private constructor(
    options: PipelineOptions,
    readonly stack: StackModel,
    readonly dynamodb: LocalDynamoDB,
  ) {
    this.timeScale = positive(options.timeScale ?? 0.001, "time scale");
    this.functionTimeScale = positive(options.functionTimeScale ?? 0.1, "function time scale");
    const emit = options.onEvent ?? (() => undefined);
    const tracing = options.onEvent !== undefined;
    this.emit = emit;
    this.orderIdOf = tracing ? orderIdOf : () => undefined;
    const onLogLine = (line: string) => {
      const event = logLineEvent(line);
      if (event) emit(event);
    };
    this.pool = new EnvironmentPool(
      (fn) =>
        new ExecutionEnvironment(
          fn,
          functionVariables(fn, stack.region, dynamodb.endpoint),
          tracing ? onLogLine : undefined,
        ),
      (fn, started) => emit({ type: "cold-start", function: fn.name, environment: started }),
    );
  }

  /** Loads the stack, starts DynamoDB with the stack's tables, and starts polling. */
  static async start(options: PipelineOptions): Promise<LocalPipeline> {
    // Load before starting anything, so an unsupported stack fails fast and leaves nothing running.
    const stack = loadStack(options.stackDir);
    const dynamodb = await startLocalDynamoDB({ failRate: options.failRate, seed: options.seed });
    try {
      const pipeline = new LocalPipeline(options, stack, dynamodb);
      for (const table of stack.tables) await createTable(dynamodb.directEndpoint, table);
      pipeline.createQueues();
      pipeline.startPollers();
      return pipeline;
    } catch (error) {
      await dynamodb.close();
      throw error;
    }
  }

  private createQueues(): void {
    const onQueueEvent = queueEventHandler(this.accounting, this.emit, this.orderIdOf);
    for (const [arn, queue] of createQueues(this.stack.queues, this.timeScale, onQueueEvent))
      this.queues.set(arn, queue);
  }

  /** As many pollers per enabled mapping as its maximum concurrency (capped by reserved concurrency). */
  private startPollers(): void {
    const context = {
      pool: this.pool,
      accounting: this.accounting,
      region: this.stack.region,
      timeScale: this.timeScale,
      functionTimeScale: this.functionTimeScale,
      emit: this.emit,
      orderIdOf: this.orderIdOf,
      isClosed: () => this.closed,
    };
    for (const mapping of this.stack.mappings.filter((m) => m.enabled)) {
      const fn: FunctionModel = this.stack.functions.find((f) => f.arn === mapping.functionArn)!;
      const concurrency = Math.min(mapping.maximumConcurrency ?? DEFAULT_POLLERS, fn.reservedConcurrency ?? Infinity);
      if (concurrency < 1) {
        throw new UnsupportedStackError(
          `${fn.name} has no concurrency to run (reserved concurrency ${fn.reservedConcurrency}).`,
        );
      }
      const poller = new EventSourcePoller(mapping, fn, this.queues.get(mapping.queueArn)!, context);
      this.pollers.push(poller);
      for (let slot = 0; slot < concurrency; slot++) this.running.push(poller.run());
    }
  }

  /** Publishes one message body to a topic (by name or ARN; the only topic when omitted); returns each delivery's trace id. */
  publish(body: string, topic?: string): string[] {
    if (this.closed) throw new Error("the pipeline is closed");
    const target = resolveTopic(this.stack, topic);
    this.accounting.published += 1;
    const deliveries = fanOut(this.stack, target, body, (arn) => this.queues.get(arn)!);
    for (const { queue, message } of deliveries) {
      this.accounting.deliveries += 1;
      const { messageId, traceId } = message;
      this.emit({
        type: "published",
        topic: target.name,
        queue: queue.name,
        messageId,
        traceId,
        orderId: this.orderIdOf(body),
      });
    }
    return deliveries.map(({ message }) => message.traceId);
  }

  /**
   * Resolves when every polled queue is empty and no invocation runs; rejects after `maxMs`.
   * `onWait` is called while waiting (e.g. to draw progress from `progress()`).
   */
  async settled(maxMs = 600_000, onWait?: () => void): Promise<void> {
    const started = Date.now();
    while (this.accounting.active > 0 || this.inFlight() > 0) {
      if (Date.now() - started > maxMs) {
        const seconds = Math.round(maxMs / 1000);
        throw new Error(
          `the pipeline did not settle within ${seconds} s: ${this.inFlight()} messages still queued or in flight`,
        );
      }
      onWait?.();
      await sleep(5);
    }
    onWait?.();
  }

  /** Deliveries to queues so far, and how many of them have left the polled queues (processed, dead-lettered or expired). */
  progress(): { delivered: number; settled: number } {
    return this.accounting.progress(this.inFlight());
  }

  /** Messages still in polled queues (waiting or in flight). */
  inFlight(): number {
    return this.pollers.reduce((n, p) => n + p.queue.size, 0);
  }

  /** Queues that are some queue's (or subscription's) dead-letter target. */
  deadLetterQueues(): LocalQueue[] {
    return deadLetterTargets(this.stack, [...this.queues.values()]);
  }

  /** Moves every dead-lettered message back to the queue it came from (see `redrive.ts`). Returns how many moved. */
  redrive(): number {
    const moved = redriveDeadLetters([...this.queues.values()], this.deadLetterQueues(), this.emit);
    this.accounting.redriven += moved;
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

  /** Queues holding messages that no enabled event source mapping consumes (a disabled mapping's queue). */
  unconsumed(): { queue: string; messages: number }[] {
    const polled = new Set(this.pollers.map((p) => p.queue));
    const deadLetterQueues = new Set(this.deadLetterQueues());
    return [...this.queues.values()]
      .filter((q) => !polled.has(q) && !deadLetterQueues.has(q) && q.size > 0)
      .map((q) => ({ queue: q.name, messages: q.size }));
  }

  async summary(): Promise<PipelineSummary> {
    const deadLettered = this.deadLetterQueues().reduce((n, q) => n + q.size, 0);
    const queued = this.unconsumed().reduce((n, q) => n + q.messages, 0);
    return this.accounting.summary({
      deadLettered,
      inFlight: this.inFlight(),
      queued,
      items: (await this.items()).length,
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const queue of this.queues.values()) queue.close();
    await Promise.all(this.running);
    await this.pool.terminateAll();
    await this.dynamodb.close();
  }
}

/** A queue's expiries and dead-letterings, as trace events; an expiry is counted for the summary. */
function queueEventHandler(
  accounting: RunAccounting,
  emit: Emit,
  orderIdOf: (body: string) => string | undefined,
): (event: QueueEvent) => void {
  return (event) => {
    const { messageId, traceId, receiveCount, body } = event.message;
    if (event.type === "expired") {
      accounting.expired += 1;
      return emit({ type: "expired", queue: event.queue.name, messageId });
    }
    emit({
      type: "dead-lettered",
      queue: event.queue.name,
      target: event.target.name,
      messageId,
      traceId,
      receives: receiveCount,
      orderId: orderIdOf(body),
    });
  };
}

function positive(value: number, what: string): number {
  if (!(value > 0)) throw new Error(`${what} must be a positive number, got ${value}`);
  return value;
}
