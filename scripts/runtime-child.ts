/**
 * The offline runtime (or any command) as a child process whose output lines are watched as they
 * arrive, each with its arrival time: what `npm run bench:serve` measures and the `--serve` tests drive.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface RuntimeChild {
  readonly child: ChildProcess;
  /** `performance.now()` when it was spawned. */
  readonly started: number;
  /** Its output lines so far (stdout, and stderr when collected). */
  readonly lines: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /**
   * The first line matching `pattern` at index `from` or later, with when it arrived; rejects after
   * `timeoutMs`, or when the process exits first.
   */
  at(pattern: RegExp, options?: { from?: number; timeoutMs?: number }): Promise<{ ms: number; line: string }>;
}

export interface SpawnOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Collect stderr's lines too, or pass them through. */
  readonly stderr: "collect" | "inherit";
  /** In a process group of its own, so that a signal to the group reaches npm and the runtime alike. */
  readonly detached?: boolean;
}

export function spawnLines(command: string[], options: SpawnOptions): RuntimeChild {
  const started = performance.now();
  const child = spawn(command[0], command.slice(1), {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", options.stderr === "collect" ? "pipe" : "inherit"],
    detached: options.detached,
  });
  const lines: string[] = [];
  const arrived: number[] = [];
  const waiters = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream) => {
    let buffered = "";
    stream.on("data", (chunk: Buffer) => {
      const parts = (buffered + chunk.toString("utf8")).split("\n");
      buffered = parts.pop() ?? "";
      const now = performance.now();
      for (const line of parts) {
        lines.push(line);
        arrived.push(now);
      }
      waiters.forEach((check) => check());
    });
  };
  collect(child.stdout!);
  if (child.stderr) collect(child.stderr);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      resolve(code);
      waiters.forEach((check) => check());
    }),
  );
  const at = (pattern: RegExp, { from = 0, timeoutMs = 60_000 } = {}) =>
    new Promise<{ ms: number; line: string }>((resolve, reject) => {
      const done = (settle: () => void) => {
        waiters.delete(check);
        clearTimeout(timer);
        settle();
      };
      const fail = (why: string) =>
        done(() => reject(new Error(`no line matching ${pattern} (${why}); output:\n${lines.join("\n")}`)));
      const check = () => {
        const index = lines.findIndex((line, i) => i >= from && pattern.test(line));
        if (index >= 0) done(() => resolve({ ms: arrived[index], line: lines[index] }));
        else if (child.exitCode !== null || child.signalCode !== null) fail("it exited");
      };
      const timer = setTimeout(() => fail(`not within ${timeoutMs} ms`), timeoutMs);
      waiters.add(check);
      check();
    });
  return { child, started, lines, exited, at };
}

/**
 * The stack's outputs a `--serve` wrote, from its ready line: `outputs` is relative to the folder the
 * server was started in when the run folder is inside it, absolute otherwise (a run folder elsewhere).
 */
export function servedOutputs(ready: { outputs: string }, startedIn: string, stack = "OrderSystemStack") {
  const file = path.resolve(startedIn, ready.outputs);
  return JSON.parse(fs.readFileSync(file, "utf8"))[stack] as Record<string, string>;
}

/** The `ready {...}` line of `npm start -- --serve`: where it serves and where its outputs are. */
export async function readyOf(
  served: RuntimeChild,
  timeoutMs = 120_000,
): Promise<{ endpoint: string; region: string; outputs: string }> {
  return JSON.parse((await served.at(/^ready \{/, { timeoutMs })).line.slice("ready ".length));
}
