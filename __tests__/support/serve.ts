/** `npm start -- --serve` as a child process, for the tests that drive it as a user's tools would. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { readyOf as readyLineOf, RuntimeChild, spawnLines } from "../../scripts/runtime-child";
import { PROJECT_ROOT } from "./paths";

export interface Served extends RuntimeChild {
  /** Resolves with the first line matching `pattern`, or rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
  /** The server's run folder (outputs.json, logs/, code/). */
  readonly runDir: string;
  /** Resolves with the first line of the function's log file matching `pattern`, or rejects after `ms`. */
  waitForLog(pattern: RegExp, ms?: number, fn?: string): Promise<string>;
}

/** Polls a function's log file in a run folder for a line matching `pattern`. */
async function logLine(runDir: string, fn: string, pattern: RegExp, ms: number): Promise<string> {
  const file = path.join(runDir, "logs", `${fn}.log`);
  for (const started = Date.now(); Date.now() - started < ms; await sleep(50)) {
    const found =
      fs.existsSync(file) &&
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .find((l) => pattern.test(l));
    if (found) return found;
  }
  throw new Error(`no line matching ${pattern} in ${file} within ${ms} ms`);
}

/**
 * Starts the runtime with `--serve`, through `npm start` or as npm runs it (`node -r esbuild-register
 * offline/cli/start.ts`): npm itself exits at once on SIGINT, so exit codes after a signal are the runtime's.
 * Each gets a run folder of its own in the temp folder unless `args` names one: a test never writes into
 * the user's `cdktf.out/local`.
 */
export function startServe(
  args: string[],
  via: "npm" | "node",
  cwd = PROJECT_ROOT,
  /** The folder relative paths are from (npm's INIT_CWD: where the user typed the command). */
  initCwd = cwd,
): Served {
  const given = args.indexOf("--run-dir");
  const runDir =
    given >= 0 ? path.resolve(initCwd, args[given + 1]) : fs.mkdtempSync(path.join(os.tmpdir(), "order-run-"));
  const all = given >= 0 ? args : ["--run-dir", runDir, ...args];
  const command =
    via === "npm"
      ? ["npm", "start", "--silent", "--", "--serve", ...all]
      : [process.execPath, "-r", "esbuild-register", "offline/cli/start.ts", "--serve", ...all];
  const served = spawnLines(command, {
    cwd,
    env: { ...process.env, CI: "true", ORDER_ENV: "", INIT_CWD: initCwd },
    stderr: "collect",
    // Its own process group, so that a signal reaches npm and the runtime alike, as Ctrl-C in a terminal does.
    detached: true,
  });
  const waitFor = async (pattern: RegExp, ms = 60_000) => (await served.at(pattern, { timeoutMs: ms })).line;
  const waitForLog = (pattern: RegExp, ms = 60_000, fn = "OrderProcessor") => logLine(runDir, fn, pattern, ms);
  return { ...served, waitFor, waitForLog, runDir };
}

/** Waits for the ready line and returns what it says. */
export const readyOf = (served: Served) => readyLineOf(served);

/** Ctrl-C: SIGINT to the process group, as a terminal sends it; resolves with the exit code. */
export async function interrupt(served: Served, signal: NodeJS.Signals = "SIGINT"): Promise<number | null> {
  if (served.child.exitCode === null) process.kill(-served.child.pid!, signal);
  return served.exited;
}
