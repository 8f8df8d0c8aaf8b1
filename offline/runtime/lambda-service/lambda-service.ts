/**
 * The Lambda service for SQS event source mappings, the one part of AWS this project plays itself (no
 * emulator runs Lambda code without Docker): per enabled mapping, as many pollers as its maximum
 * concurrency (capped by the function's reserved concurrency), each invoking the real bundle in
 * worker-thread execution environments. It needs only an SQS endpoint: the offline runtime points it
 * at fauxqs, the deploy proof at moto.
 */
import { Message, SQSClient } from "@aws-sdk/client-sqs";
import { Emit, functionLineEvent, orderIdOf } from "../events";
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
  /** The run's event stream: every receive, invocation, function line, delete and retry is said here. */
  readonly emit: Emit;
  /**
   * Read the function's log lines and name each message's order in the events (what a trace, a log file
   * or the console needs); without it the function's lines are dropped in its worker. @default true
   */
  readonly detail?: boolean;
  /**
   * Each line the function logs, with the execution environment that logged it (its number), as Lambda
   * hands them to CloudWatch Logs: a stream per environment. Read even without `detail`.
   */
  readonly onFunctionLine?: (fn: FunctionModel, environment: number, line: string) => void;
}

/** An event source mapping as the service runs it: its settings, its function, and the queue as the engine knows it. */
export interface EventSource {
  readonly mapping: MappingModel;
  readonly fn: FunctionModel;
  readonly queue: PolledQueue;
}

export class LambdaService {
  readonly pollers: EventSourcePoller[] = [];
  private readonly running: Promise<void>[] = [];
  private readonly stopping = new AbortController();
  private readonly pool: EnvironmentPool;
  private readonly visibility: VisibilityScheduler;
  /** Invocations running now. */
  private readonly invocations = { active: 0 };

  constructor(options: LambdaServiceOptions) {
    const { emit } = options;
    const detail = options.detail ?? true;
    const onLogLine = (fn: FunctionModel) => (line: string) => emit(functionLineEvent(fn.name, line));
    const { onFunctionLine } = options;
    this.pool = new EnvironmentPool((fn) => {
      const lines = (environment: () => number) => (line: string) => {
        if (detail) onLogLine(fn)(line);
        onFunctionLine?.(fn, environment(), line);
      };
      const environment: ExecutionEnvironment = new ExecutionEnvironment(
        fn,
        options.variables(fn),
        detail || onFunctionLine ? lines(() => environment.number) : undefined,
      );
      return environment;
    });
    this.visibility = new VisibilityScheduler(options.sqs, (error) =>
      emit({ type: "warning", message: `ChangeMessageVisibilityBatch failed: ${error.message}` }),
    );
    const context = {
      ...options,
      orderIdOf: detail ? orderIdOf : () => undefined,
      invocations: this.invocations,
      unreadable: watchUnreadable(options.sqs).take,
      // Said in the function's log, as Lambda's own lines are: the function never saw the message.
      onUnreadable: (message: Message, fn: FunctionModel, queue: string, reason: string) =>
        onLogLine(fn)(unreadableLine(message, queue, reason)),
      pool: this.pool,
      visibility: this.visibility,
      stopped: this.stopping.signal,
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
    return this.invocations.active > 0 || this.visibility.pending > 0;
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
