/**
 * SNS and SQS on loopback: the fauxqs engine (`fauxqs-worker.mjs`), reached only through its endpoint
 * with the AWS SDK. What the engine does not do as AWS does is listed in docs/local.md ("Engine gaps").
 */
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { EngineAddress } from "./engine-address";
import { bundledWorker } from "./worker-bundle";

/** Per queue, by name: messages that entered it, were deleted from it, were moved from it to its DLQ. */
export type QueueCounts = Readonly<Record<string, { entered: number; deleted: number; deadLettered: number }>>;

/** What a queue holds now: waiting, in flight (received, not yet deleted) and delayed messages. */
export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export interface SnsSqsEngine {
  /** Where the SNS and SQS clients reach it (`sdkTransport`). */
  readonly endpoint: EngineAddress;
  /** Called when the engine moves a message to a dead-letter queue (from the source queue `queue`). */
  onDeadLettered(listener: (moved: EngineDeadLetter) => void): void;
  /** Called when a topic accepts a message (from any client): the topic's ARN, the message id, its body (`reportBodies`). */
  onPublished(listener: (published: EnginePublish) => void): void;
  /** Called if the engine stops or fails while it should be running. */
  onFailure(listener: (error: Error) => void): void;
  /**
   * Resolves once every event the engine reported before this call has reached its listeners, with the
   * engine's counts per queue since it started.
   */
  flush(): Promise<QueueCounts>;
  /**
   * What these queues (by name) hold now, counted as GetQueueAttributes counts them, in one message to the
   * engine instead of a request per queue: what a live view can afford four times a second.
   */
  depths(queues: readonly string[]): Promise<Readonly<Record<string, QueueDepth>>>;
  /**
   * Up to `max` of a queue's messages as the engine holds them (waiting, in flight, delayed), read from its
   * state (fauxqs's `inspectQueue`), not received: a look changes no receive count. Bodies cut to `bodyChars`.
   */
  peek(queue: string, max: number, bodyChars?: number): Promise<{ messages: PeekedMessage[]; total: number }>;
  /** The receipt handles of the messages in flight in these queues (fauxqs's `inspectQueue`). */
  inFlight(queues: readonly string[]): Promise<{ queue: string; receiptHandle: string }[]>;
  close(): Promise<void>;
}

/** A message the engine moved to a dead-letter queue: the source queue, and the receives it was delivered in. */
export interface EngineDeadLetter {
  readonly queue: string;
  readonly messageId: string;
  readonly body: string;
  readonly receives: number;
}

/** A message a topic accepted. */
export interface EnginePublish {
  readonly topicArn: string;
  readonly messageId: string;
  /** Only with `reportBodies`. */
  readonly body?: string;
}

/** A message as the engine holds it. */
export interface PeekedMessage {
  readonly messageId: string;
  readonly body: string;
  /** Receives so far (a message moved to a DLQ keeps the count its source queue gave it). */
  readonly receiveCount: number;
  readonly sentTimestamp: number;
}

type WorkerMessage =
  | { type: "peeked"; messages: PeekedMessage[]; total: number }
  | { type: "ready"; port: number }
  | ({ type: "dead-lettered" } & EngineDeadLetter)
  | { type: "in-flight"; leases: { queue: string; receiptHandle: string }[] }
  | ({ type: "published" } & EnginePublish)
  | { type: "flushed"; counts: QueueCounts }
  | { type: "depths"; depths: Record<string, QueueDepth> }
  | { type: "stopped" };

const WORKER_FILE = path.join(__dirname, "fauxqs-worker.mjs");

export interface SnsSqsOptions {
  /** Loopback port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** The region queue and topic ARNs are in when a request names none. */
  readonly region: string;
  /** Keep queues, topics and messages in SQLite files in this folder across restarts. */
  readonly dataDir?: string;
  /** Listen on this Unix socket instead of a loopback port. */
  readonly socketPath?: string;
  /** Report each published body (`onPublished`), for a run that traces. @default false */
  readonly reportBodies?: boolean;
}

/** The worker runs `fauxqs-worker.mjs` bundled with fauxqs (`worker-bundle.ts`: a start costs a third of the CPU). */
async function startWorker(options: SnsSqsOptions): Promise<Worker> {
  return new Worker(await bundledWorker(WORKER_FILE), {
    workerData: {
      port: options.port ?? 0,
      region: options.region,
      dataDir: options.dataDir,
      socketPath: options.socketPath,
      reportBodies: options.reportBodies ?? false,
    },
    // fauxqs imports node:sqlite (persistence), which warns that it is experimental on Node.js 22.
    execArgv: ["--disable-warning=ExperimentalWarning"],
    stdout: false,
  });
}

/** Posts a request to the worker; resolves with its answer (answers come in the order of the requests). */
function ask<T>(worker: Worker, waiting: ((answer: T) => void)[], request: unknown): Promise<T> {
  return new Promise<T>((resolve) => {
    waiting.push(resolve);
    worker.postMessage(request);
  });
}

export async function startSnsSqs(options: SnsSqsOptions): Promise<SnsSqsEngine> {
  const worker = await startWorker(options);
  const deadLettered: ((moved: EngineDeadLetter) => void)[] = [];
  const inFlights: ((leases: { queue: string; receiptHandle: string }[]) => void)[] = [];
  const published: ((published: EnginePublish) => void)[] = [];
  const flushes: ((counts: QueueCounts) => void)[] = [];
  const depths: ((depths: Record<string, QueueDepth>) => void)[] = [];
  const peeks: ((answer: { messages: PeekedMessage[]; total: number }) => void)[] = [];
  const stops: (() => void)[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) =>
      reject(new Error(`the SNS/SQS engine (fauxqs) exited with code ${code} while starting`)),
    );
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "ready") resolve(message.port);
      else if (message.type === "dead-lettered") deadLettered.forEach((l) => l(message));
      else if (message.type === "in-flight") inFlights.shift()?.(message.leases);
      else if (message.type === "published") published.forEach((l) => l(message));
      else if (message.type === "flushed") flushes.shift()?.(message.counts);
      else if (message.type === "depths") depths.shift()?.(message.depths);
      else if (message.type === "peeked") peeks.shift()?.(message);
      else stops.shift()?.();
    });
  });
  worker.removeAllListeners("exit");
  worker.removeAllListeners("error");
  const failures: ((error: Error) => void)[] = [];
  let closing = false;
  const failed = (error: Error) => !closing && failures.forEach((listener) => listener(error));
  worker.on("error", (error) => failed(new Error(`the SNS/SQS engine (fauxqs) failed: ${error.message}`)));
  worker.on("exit", (code) => failed(new Error(`the SNS/SQS engine (fauxqs) stopped (exit code ${code})`)));
  return {
    endpoint: options.socketPath
      ? { url: "http://localhost", socketPath: options.socketPath }
      : { url: `http://127.0.0.1:${port}` },
    onDeadLettered: (listener) => void deadLettered.push(listener),
    onPublished: (listener) => void published.push(listener),
    onFailure: (listener) => void failures.push(listener),
    flush: () => ask(worker, flushes, "flush"),
    depths: (queues) => ask(worker, depths, { type: "depths", queues }),
    inFlight: (queues) => ask(worker, inFlights, { type: "in-flight", queues }),
    peek: (queue, max, bodyChars = 64 * 1024) => ask(worker, peeks, { type: "peek", queue, max, bodyChars }),
    async close() {
      closing = true;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
      await Promise.race([ask(worker, stops, "stop"), timeout]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
