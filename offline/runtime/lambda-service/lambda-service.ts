/**
 * The Lambda service for SQS event source mappings, the one part of AWS this project plays itself (no
 * emulator runs Lambda code without Docker): per enabled mapping, as many pollers as its maximum
 * concurrency (capped by the function's reserved concurrency), each invoking the real bundle in
 * worker-thread execution environments. It needs only an SQS endpoint: the offline runtime points it
 * at fauxqs, the deploy proof at moto.
 */
import { Message, SQSClient } from "@aws-sdk/client-sqs";
import { RunAccounting } from "../accounting";
import { Emit, logLineEvent, orderIdOf } from "../trace";
import { FunctionModel, MappingModel, UnsupportedStackError } from "../stack-model";
import { EnvironmentPool } from "./environment-pool";
import { EventSourcePoller, PolledQueue } from "./event-source-poller";
import { ExecutionEnvironment } from "./lambda-host";
import { watchUnreadable } from "./unreadable-messages";
import { VisibilityScheduler } from "./visibility";

/** The line the service logs for a message it could not pass to the function. */
function unreadableLine(message: Message, queue: string, reason: string): string {
  return JSON.stringify({
    level: "ERROR",
    source: "lambda",
    outcome: "unreadable",
    queue,
    messageId: message.MessageId,
    orderId: orderIdOf(message.Body ?? ""),
    reason: `${reason}: not passed to the function; it fails this receive`,
  });
}

/** Lambda starts polling a queue with five concurrent batches when no maximum is configured. */
const DEFAULT_POLLERS = 5;

export interface LambdaServiceOptions {
  readonly sqs: SQSClient;
  readonly region: string;
  /** Each event source mapping, with its function and the engine's queue. */
  readonly sources: EventSource[];
  /** What the function sees: its variables, region, credentials, endpoints. */
  readonly variables: (fn: FunctionModel) => Record<string, string>;
  /** Factor applied to queue durations (batching window, visibility timeout). */
  readonly timeScale: number;
  /** Factor applied to the function timeout. */
  readonly functionTimeScale: number;
  readonly accounting: RunAccounting;
  /** Every trace event; without it nothing is traced (no order ids parsed, log lines dropped in the worker). */
  readonly onEvent?: Emit;
  /** Every line the function logs, as it is (its JSON outcome lines and EMF lines included). */
  readonly onLogLine?: (fn: string, line: string) => void;
  readonly orderIdOf: (body: string) => string | undefined;
}

/** An event source mapping as the service runs it: its settings, its function, and the queue as the engine knows it. */
export interface EventSource {
  readonly mapping: MappingModel;
  readonly fn: FunctionModel;
  readonly queue: PolledQueue;
}

/** A record the function failed with, remembered until it succeeds or the engine dead-letters it. */
export interface FailedRecord {
  readonly receives: number;
  readonly body: string;
}

export class LambdaService {
  readonly pollers: EventSourcePoller[] = [];
  private readonly running: Promise<void>[] = [];
  private readonly stopping = new AbortController();
  private readonly pool: EnvironmentPool;
  private readonly visibility: VisibilityScheduler;
  private readonly failed = new Map<string, FailedRecord>();
  /** Messages received that could not be read (`unreadable-messages.ts`). */
  private readonly unreadable = new Set<string>();

  constructor(private readonly options: LambdaServiceOptions) {
    const emit = options.onEvent ?? (() => undefined);
    const forwardLogs = options.onEvent !== undefined || options.onLogLine !== undefined;
    const onLogLine = (fn: FunctionModel) => (line: string) => {
      options.onLogLine?.(fn.name, line);
      const event = logLineEvent(line);
      if (event) emit(event);
    };
    this.pool = new EnvironmentPool(
      (fn) => new ExecutionEnvironment(fn, options.variables(fn), forwardLogs ? onLogLine(fn) : undefined),
      (fn, started) => emit({ type: "cold-start", function: fn.name, environment: started }),
    );
    this.visibility = new VisibilityScheduler(options.sqs, (error) =>
      emit({ type: "warning", message: `ChangeMessageVisibilityBatch failed: ${error.message}` }),
    );
    const unreadable = watchUnreadable(options.sqs);
    const context = {
      ...options,
      unreadable: (messageId: string) => unreadable.take(messageId),
      onUnreadable: (message: Message, fn: FunctionModel, queue: string, reason: string) => {
        this.unreadable.add(message.MessageId!);
        options.accounting.unreadable = this.unreadable.size;
        // Said in the function's log, as Lambda's own lines are: the function never saw the message.
        onLogLine(fn)(unreadableLine(message, queue, reason));
      },
      pool: this.pool,
      visibility: this.visibility,
      emit,
      stopped: this.stopping.signal,
      onRecordFailed: (message: Message, receives: number) =>
        this.failed.set(message.MessageId!, { receives, body: message.Body ?? "" }),
      onRecordDeleted: (messageId: string) => this.failed.delete(messageId),
    };
    for (const { mapping, fn, queue } of options.sources.filter((s) => s.mapping.enabled)) {
      const concurrency = Math.min(mapping.maximumConcurrency ?? DEFAULT_POLLERS, fn.reservedConcurrency ?? Infinity);
      if (concurrency < 1) {
        throw new UnsupportedStackError(
          `${fn.name} has no concurrency to run (reserved concurrency ${fn.reservedConcurrency}).`,
        );
      }
      const poller = new EventSourcePoller(mapping, fn, queue, context);
      this.pollers.push(poller);
      for (let slot = 0; slot < concurrency; slot++) this.running.push(poller.run());
    }
  }

  /** The queues the pollers read. */
  get polledQueues(): PolledQueue[] {
    return [...new Set(this.pollers.map((p) => p.queue))];
  }

  /** Invocations running, or failed messages waiting for their visibility timeout. */
  get busy(): boolean {
    return this.options.accounting.active > 0 || this.visibility.pending > 0;
  }

  /** What is known of a message the function failed with; forgotten once asked (it was dead-lettered). */
  takeFailed(messageId: string): FailedRecord | undefined {
    const record = this.failed.get(messageId);
    this.failed.delete(messageId);
    return record;
  }

  /**
   * Replaces a function's code (a bundle file exporting the same handler): the next invocation runs it in
   * a fresh execution environment; one in flight finishes on the old code.
   */
  replaceCode(fn: FunctionModel, file: string): void {
    this.pool.replaceCode(fn, file);
  }

  /** Stops polling (a long poll ends at once), waits for invocations in flight, ends every environment. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.running);
    await this.visibility.stop();
    await this.pool.terminateAll();
  }
}
