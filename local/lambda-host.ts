/**
 * One Lambda execution environment: the function's real bundle loaded in a worker thread with the
 * function's own environment variables (and nothing of this process's), invoked one event at a
 * time, and terminated when an invocation outlives the function timeout, as Lambda does.
 */
import { Worker } from "node:worker_threads";
import { FunctionModel } from "./stack-model";

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
// Log lines travel on the same channel as results, so the trace keeps their order.
process.stdout.write = (chunk, encoding, callback) => {
  if (workerData.forwardLogs) parentPort.postMessage({ log: String(chunk) });
  if (typeof encoding === "function") encoding(); else if (typeof callback === "function") callback();
  return true;
};
let handler, initError;
try {
  handler = require(workerData.file)[workerData.exportName];
  if (typeof handler !== "function") throw new Error(workerData.file + " does not export a function named " + workerData.exportName);
} catch (error) { initError = error; }
parentPort.on("message", async ({ id, event, deadline, scale }) => {
  if (initError) return parentPort.postMessage({ id, error: String(initError && initError.stack || initError) });
  const context = {
    functionName: workerData.functionName,
    awsRequestId: id,
    // In the stack's (unscaled) time, so the handler's own deadline margin keeps its meaning.
    getRemainingTimeInMillis: () => Math.max(0, (deadline - Date.now()) / scale),
  };
  try {
    const result = await handler(event, context);
    parentPort.postMessage({ id, result: result === undefined ? null : result });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.stack || error) });
  }
});
`;

export type InvocationResult = { kind: "returned"; value: unknown } | { kind: "error"; error: string } | { kind: "timeout" };

export class ExecutionEnvironment {
  private readonly worker: Worker;
  private pending?: { id: string; resolve: (r: InvocationResult) => void };
  private invocations = 0;
  private terminated = false;

  constructor(
    readonly fn: FunctionModel,
    environment: Record<string, string>,
    /** Receives the handler's log lines; without it they are dropped in the worker. */
    onLogLine?: (line: string) => void,
  ) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      env: environment,
      workerData: { file: fn.file, exportName: fn.exportName, functionName: fn.name, forwardLogs: onLogLine !== undefined },
    });
    let buffered = "";
    this.worker.on("message", (message: { id: string; result?: unknown; error?: string; log?: string }) => {
      if (message.log !== undefined) {
        buffered += message.log;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) if (line.trim()) onLogLine?.(line);
        return;
      }
      if (!this.pending || this.pending.id !== message.id) return;
      const { resolve } = this.pending;
      this.pending = undefined;
      resolve(message.error !== undefined ? { kind: "error", error: message.error } : { kind: "returned", value: message.result });
    });
    this.worker.on("error", (error) => this.finish({ kind: "error", error: String(error.stack ?? error) }));
    this.worker.on("exit", () => this.finish({ kind: "error", error: "the execution environment exited" }));
  }

  get isCold(): boolean {
    return this.invocations === 0;
  }

  /** Invokes the handler; `timeoutMs` is real time, `scale` maps it back to the stack's time for the context. */
  invoke(event: unknown, timeoutMs: number, scale: number): Promise<InvocationResult> {
    if (this.terminated) return Promise.resolve({ kind: "error", error: "the execution environment was terminated" });
    this.invocations += 1;
    const id = `invoke-${this.invocations}-${Math.random().toString(36).slice(2)}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.pending?.id !== id) return;
        this.pending = undefined;
        void this.terminate();
        resolve({ kind: "timeout" });
      }, timeoutMs);
      this.pending = {
        id,
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
      };
      this.worker.postMessage({ id, event, deadline: Date.now() + timeoutMs, scale });
    });
  }

  get alive(): boolean {
    return !this.terminated;
  }

  async terminate(): Promise<void> {
    if (this.terminated) return;
    this.terminated = true;
    await this.worker.terminate();
  }

  private finish(result: InvocationResult): void {
    this.terminated = true;
    if (!this.pending) return;
    const { resolve } = this.pending;
    this.pending = undefined;
    resolve(result);
  }
}
