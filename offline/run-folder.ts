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
import type { StackModel } from "./stack-model";

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

/** Whether a process runs (one of another user counts: it exists). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
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
 * Claims `dir` for this process: a holder file created exclusively; one left by a process that no longer
 * runs is taken over. `what` and `howElse` word the error when a running server holds it.
 */
export function claimFolder(dir: string, what: string, howElse: string): FolderClaim {
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
      if (holder && holder.pid !== process.pid && isRunning(holder.pid)) {
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

/**
 * The stack with each function's code copied into `codeDir/<function name>/` (the folder the bundle is in,
 * as it is now): the server runs this copy, whatever later happens to the synthesized stack folder.
 */
export function withCodeCopiedTo(stack: StackModel, codeDir: string): StackModel {
  const functions = stack.functions.map((fn) => {
    const copy = path.join(codeDir, fn.name);
    fs.rmSync(copy, { recursive: true, force: true });
    fs.cpSync(fn.codeDir, copy, { recursive: true });
    return { ...fn, codeDir: copy, file: path.join(copy, path.relative(fn.codeDir, fn.file)) };
  });
  return { ...stack, functions };
}
