/**
 * A server's run folder (`--serve`; `cdktf.out/local` unless `--run-dir DIR`): what one server owns.
 *
 *   server.json    the server holding the folder (pid, endpoint): a second server there exits 2 naming it
 *   outputs.json   what clients need (`cdktf output --outputs-file`'s shape, plus `endpoint`)
 *   logs/          the function's log lines, one file per function (fresh on each start; kept with --persist)
 *   code/          the function code the server loaded at start, so a synth or a build elsewhere does not
 *                  change what is serving (`--watch` replaces it there)
 *
 * A `--persist` folder is claimed the same way (its `server.json`), so two servers never share one store.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** What a claim records: which process holds the folder, and where it serves. */
interface Holder {
  readonly pid: number;
  readonly endpoint?: string;
  readonly startedAt: string;
}

/** A folder another running server holds (exit 2): which one, and how to run another beside it. */
export class FolderInUseError extends Error {
  override readonly name = "FolderInUseError";
}

const HOLDER_FILE = "server.json";

/**
 * Whether a process runs (one of another user counts: it exists). A zombie (killed, not yet reaped by its
 * parent; in a container whose PID 1 never reaps, forever) answers a signal but runs no more: Linux's
 * `/proc/<pid>/stat` names its state, `Z` (or `X`, dead).
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return true; // no /proc (not Linux), or it ended just now: the signal's answer stands
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/**
 * Whether the holder is still the server it recorded: its process runs and, once it recorded an endpoint,
 * that endpoint answers as it (`/_local/health` names its pid). Only a sure sign counts as gone: nothing
 * listening there, or another process answering; a server too busy to answer in time still holds the folder.
 */
async function stillHolds(holder: Holder): Promise<boolean> {
  if (!isRunning(holder.pid)) return false;
  if (!holder.endpoint) return true;
  try {
    const response = await fetch(`${holder.endpoint}/_local/health`, { signal: AbortSignal.timeout(3000) });
    const health = (await response.json()) as { pid?: unknown };
    return health.pid === undefined || health.pid === holder.pid;
  } catch (error) {
    const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
    return cause?.code !== "ECONNREFUSED";
  }
}

function readHolder(file: string): Holder | undefined {
  try {
    const holder = JSON.parse(fs.readFileSync(file, "utf8")) as Holder;
    return Number.isInteger(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

export interface FolderClaim {
  /** Records where this server serves (for the next one's error). */
  setEndpoint(endpoint: string): void;
  release(): void;
}

/**
 * Claims `dir` for this process: a holder file created exclusively; one left by a server that no longer
 * runs (`stillHolds`) is taken over. `what` and `howElse` word the error when a running server holds it.
 */
export async function claimFolder(dir: string, what: string, howElse: string): Promise<FolderClaim> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, HOLDER_FILE);
  const write = (holder: Holder, flag: "wx" | "w") => fs.writeFileSync(file, `${JSON.stringify(holder)}\n`, { flag });
  const me: Holder = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      write(me, "wx");
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const holder = readHolder(file);
      if (holder && holder.pid !== process.pid && (await stillHolds(holder))) {
        const where = holder.endpoint ? ` serving on ${holder.endpoint}` : "";
        throw new FolderInUseError(
          `${what} ${dir} is in use by another server (pid ${holder.pid}${where}, started ${holder.startedAt}): stop it, or ${howElse}`,
        );
      }
      fs.rmSync(file, { force: true }); // left by a server that no longer runs
    }
  }
  let released = false;
  return {
    setEndpoint: (endpoint) => write({ ...me, endpoint }, "w"),
    release() {
      if (released) return;
      released = true;
      if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
    },
  };
}

/** The run folder's parts. */
export function runFolderPaths(dir: string): { outputsFile: string; logsDir: string; codeDir: string } {
  return {
    outputsFile: path.join(dir, "outputs.json"),
    logsDir: path.join(dir, "logs"),
    codeDir: path.join(dir, "code"),
  };
}
