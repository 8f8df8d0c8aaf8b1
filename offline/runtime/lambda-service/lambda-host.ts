/**
 * One Lambda execution environment: the function's real bundle loaded in a worker thread with the
 * function's own environment variables (and nothing of this process's), invoked one event at a
 * time, and terminated when an invocation outlives the function timeout, as Lambda does.
 */
import * as path from "node:path";
import { createInterface } from "node:readline";
import { Worker } from "node:worker_threads";
import { FunctionModel } from "../stack-model";

/** The worker's own source file: a real module, type-checked, not a string. */
const WORKER_FILE = path.join(__dirname, "lambda-worker.js");
/** Lambda's limit on an on-demand function's init phase. */
const INIT_LIMIT_MS = 10_000;

export type InvocationResult =
  { kind: "returned"; value: unknown } | { kind: "error"; error: string } | { kind: "timeout" };

export class ExecutionEnvironment {
  private readonly worker: Worker;
  private pending?: { id: string; resolve: (r: InvocationResult) => void };
  private invocations = 0;
  private terminated = false;
  /** Its number among the environments the pool started (1, 2, ...), for the trace. */
  number = 0;

  /** Whether it has not run an invocation yet (the next one is its cold start). */
  get cold(): boolean {
    return this.invocations === 0;
  }

  constructor(
    readonly fn: FunctionModel,
    /** The worker's environment variables: the function's own, nothing of this process's. */
    variables: Record<string, string>,
    /** Receives the handler's log lines (its stdout, line by line); without it they are dropped. */
    onLogLine?: (line: string) => void,
  ) {
    this.initialized = new Promise<boolean>((resolve) => {
      this.markInitialized = () => resolve(true);
      setTimeout(() => resolve(false), INIT_LIMIT_MS).unref();
    });
    this.worker = new Worker(WORKER_FILE, {
      env: variables,
      // None of this process's Node.js options: inherited, `npm start`'s `-r esbuild-register` made every
      // cold start compile the function's bundle with esbuild once more (about 250 ms of a 575 KB bundle).
      execArgv: [],
      // The function's stdout as a stream of this process (not printed): read as Lambda collects it, by line.
      stdout: true,
      workerData: { file: fn.file, exportName: fn.exportName, functionName: fn.name },
    });
    createInterface({ input: this.worker.stdout, crlfDelay: Infinity }).on("line", (line) => {
      if (line.trim()) onLogLine?.(line);
    });
    this.worker.on("message", (message: { id: string; result?: unknown; error?: string; initialized?: boolean }) => {
      if (message.initialized) return this.markInitialized();
      if (!this.pending || this.pending.id !== message.id) return;
      const { resolve } = this.pending;
      this.pending = undefined;
      resolve(
        message.error !== undefined
          ? { kind: "error", error: message.error }
          : { kind: "returned", value: message.result },
      );
    });
    this.worker.on("error", (error) => this.finish({ kind: "error", error: String(error.stack ?? error) }));
    this.worker.on("exit", () => this.finish({ kind: "error", error: "the execution environment exited" }));
  }

  /** Resolves true when the bundle is loaded (or failed to load: the invocation reports it), false after the init limit. */
  private readonly initialized: Promise<boolean>;
  private markInitialized: () => void = () => undefined;

  get isCold(): boolean {
    return this.invocations === 0;
  }

  /**
   * Invokes the handler; `timeoutMs` is real time, `scale` maps it back to the stack's time for the context.
   * As in Lambda, the timeout starts after the init phase (loading the bundle), which has its own limit:
   * a cold start on a busy machine is not a function timeout.
   */
  async invoke(event: unknown, timeoutMs: number, scale: number): Promise<InvocationResult> {
    if (this.terminated) return { kind: "error", error: "the execution environment was terminated" };
    if (!(await this.initialized)) {
      void this.terminate();
      return { kind: "error", error: `the init phase did not end within ${INIT_LIMIT_MS / 1000} s` };
    }
    if (this.terminated) return { kind: "error", error: "the execution environment was terminated" };
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
    this.markInitialized();
    if (!this.pending) return;
    const { resolve } = this.pending;
    this.pending = undefined;
    resolve(result);
  }
}
