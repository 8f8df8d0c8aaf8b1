/**
 * SNS and SQS on loopback: the fauxqs engine (`fauxqs-worker.mjs`), reached only through its endpoint
 * with the AWS SDK. What the engine does not do as AWS does is listed in docs/local.md ("Engine gaps").
 */
import * as path from "node:path";
import { Worker } from "node:worker_threads";

export interface SnsSqsEngine {
  /** `http://127.0.0.1:PORT`, for the SNS and SQS clients. */
  readonly endpoint: string;
  /** Called when the engine moves a message to a dead-letter queue: the source queue's name and the message id. */
  onDeadLettered(listener: (queue: string, messageId: string) => void): void;
  /** Called when a topic accepts a message (from any client): the topic's ARN. */
  onPublished(listener: (topicArn: string) => void): void;
  /** Resolves once every event the engine reported before this call has reached its listeners. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

type WorkerMessage =
  | { type: "ready"; port: number }
  | { type: "dead-lettered"; queue: string; messageId: string }
  | { type: "published"; topicArn: string }
  | { type: "flushed" }
  | { type: "stopped" };

const WORKER_FILE = path.join(__dirname, "fauxqs-worker.mjs");

export interface SnsSqsOptions {
  /** Loopback port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** The region queue and topic ARNs are in when a request names none. */
  readonly region: string;
  /** Keep queues, topics and messages in SQLite files in this folder across restarts. */
  readonly dataDir?: string;
}

export async function startSnsSqs(options: SnsSqsOptions): Promise<SnsSqsEngine> {
  const worker = new Worker(WORKER_FILE, {
    workerData: { port: options.port ?? 0, region: options.region, dataDir: options.dataDir },
    // fauxqs imports node:sqlite (persistence), which warns that it is experimental on Node.js 22.
    execArgv: ["--disable-warning=ExperimentalWarning"],
    stdout: false,
  });
  const deadLettered: ((queue: string, messageId: string) => void)[] = [];
  const published: ((topicArn: string) => void)[] = [];
  const flushes: (() => void)[] = [];
  const stops: (() => void)[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) =>
      reject(new Error(`the SNS/SQS engine (fauxqs) exited with code ${code} while starting`)),
    );
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "ready") resolve(message.port);
      else if (message.type === "dead-lettered") deadLettered.forEach((l) => l(message.queue, message.messageId));
      else if (message.type === "published") published.forEach((l) => l(message.topicArn));
      else if (message.type === "flushed") flushes.shift()?.();
      else stops.forEach((resolveStop) => resolveStop());
    });
  });
  worker.removeAllListeners("exit");
  worker.removeAllListeners("error");
  return {
    endpoint: `http://127.0.0.1:${port}`,
    onDeadLettered: (listener) => void deadLettered.push(listener),
    onPublished: (listener) => void published.push(listener),
    flush: () =>
      new Promise<void>((resolve) => {
        flushes.push(resolve);
        worker.postMessage("flush");
      }),
    async close() {
      const stopped = new Promise<void>((resolve) => stops.push(resolve));
      worker.postMessage("stop");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
