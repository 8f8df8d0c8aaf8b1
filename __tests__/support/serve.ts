/** `npm start -- --serve` as a child process, for the tests that drive it as a user's tools would. */
import { ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_ROOT } from "./paths";

export interface Served {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** Resolves with the first line matching `pattern`, or rejects after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<string>;
}

/**
 * Starts the runtime with `--serve`, through `npm start` or as npm runs it (`node -r esbuild-register
 * offline/start.ts`): npm itself exits at once on SIGINT, so exit codes after a signal are the runtime's.
 */
export function startServe(args: string[], via: "npm" | "node", cwd = PROJECT_ROOT): Served {
  const command =
    via === "npm"
      ? ["npm", "start", "--silent", "--", "--serve", ...args]
      : [process.execPath, "-r", "esbuild-register", "offline/start.ts", "--serve", ...args];
  const child = spawn(command[0], command.slice(1), {
    cwd,
    env: { ...process.env, CI: "true", ORDER_ENV: "" },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so that a signal reaches npm and the runtime alike, as Ctrl-C in a terminal does.
    detached: true,
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let buffered = "";
    stream.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      lines.push(...parts);
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitFor = async (pattern: RegExp, ms = 60_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const line = lines.find((l) => pattern.test(l));
      if (line) return line;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`no line matching ${pattern}; output:\n${lines.join("\n")}`);
      await sleep(20);
    }
  };
  return { child, lines, exited, waitFor };
}

/** Waits for the ready line and returns what it says. */
export async function readyOf(served: Served): Promise<{ endpoint: string; region: string; outputs: string }> {
  return JSON.parse((await served.waitFor(/^ready \{/, 120_000)).slice("ready ".length));
}

/** Ctrl-C: SIGINT to the process group, as a terminal sends it; resolves with the exit code. */
export async function interrupt(served: Served, signal: NodeJS.Signals = "SIGINT"): Promise<number | null> {
  if (served.child.exitCode === null) process.kill(-served.child.pid!, signal);
  return served.exited;
}
