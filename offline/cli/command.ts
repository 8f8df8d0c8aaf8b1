/**
 * The `npm start` command: its options, its help, and what each mode runs (`runtime/run.ts` once, or
 * `serving/serve.ts` until stopped, with the process's signals and parent watched). `start.ts` calls `main`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { ORDER_PROCESSOR } from "../../constructs/handler-bundle";
import { readOrderLines, userPath } from "../../common/order-lines";
import { synthesisDir, synthesize } from "../../common/project";
import { runOffline } from "../runtime/run";
import { traceWriter } from "../runtime/trace";
import { isRunning } from "../serving/run-folder";
import { serve, ServeOptions } from "../serving/serve";
import { FAULT_KINDS, FaultKind } from "../engines/dynamodb-front";

export const USAGE = `Usage: npm start -- [options]

Runs the synthesized OrderSystemStack offline: SNS -> SQS (+ DLQ) on fauxqs -> the Lambda bundle -> DynamoDB
on dynalite, all spoken to through the AWS SDK.
Without options it publishes the sample order and one invalid order.

Options:
  --orders FILE        publish each line of FILE (JSON lines in UTF-8, "-" for stdin) as one message body, as is
  --fail-rate R        answer a share R (0..1) of DynamoDB requests with throttling/internal errors
  --fail-with KIND     the errors --fail-rate injects: both (default, half each), throttling or internal
  --redrive            afterwards, move DLQ messages back to the queue and process them with faults off
  --export FILE        write the table's items as JSON lines to FILE at the end (its folder must exist)
  --quiet              print the summary only
  --time-scale S       factor on queue durations (visibility timeout, batching window); default 0.001
  --function-time-scale F  factor on the function timeout; default 0.1
  --seed N             seed of the fault dice; default 1
  --stack-dir DIR      run an already synthesized stack folder instead of synthesizing (cdktf.out/stacks/<stack>)
  --max-seconds N      give up (exit 1) if the pipeline has not settled after N seconds; default 600
  --serve              stay up as a local AWS endpoint (SNS, SQS, DynamoDB) until Ctrl-C; writes
                       outputs.json to its run folder and prints "ready {...}" when it can be used;
                       GET /_local/health on the endpoint answers how it is doing
  --port N             the endpoint's loopback port with --serve; default 4566, 0 picks a free one
  --run-dir DIR        with --serve, the run folder (outputs.json, logs/, the code it runs); default
                       cdktf.out/local. One server per run folder: a second one exits 2 naming the first
  --allow-origin URL   with --serve, let pages from this origin call the endpoint (repeatable); other
                       pages get 403 (requests without Origin or Referer, as CLIs and SDKs send, pass)
  --no-console         with --serve, do not serve the local console (on by default at /_local/console/:
                       it costs nothing until a page opens it, and only this machine's pages reach it)
  --persist DIR        with --serve, keep queues, messages and items in DIR across restarts
  --watch              with --serve, bundle lambda/ again on every change; the next batch runs the new code
                       in fresh execution environments (a build error keeps the old code and is printed)
  -h, --help           this help

The environment is chosen as for synthesis (ORDER_ENV, default dev); relative paths are from the folder
npm was run in. The last line printed is always the summary, a balance over the source queues (those that are
no queue's DLQ), from the engine's own counts:
{"published":N,"arrived":A,"processed":P,"deadLettered":D,"redriven":R,"queued":Q,"lost":L,"items":I}
where restored + A = P + D + Q + L ("restored": messages kept by --persist; "rejected": bodies SNS refused,
shown when there are any). The exit code is 1 if L is not 0, or (without --serve) messages are still in flight.`;

function number(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`${name} must be a number from ${min} to ${max}, got "${value}"`);
  return n;
}

function faultKind(value: string | undefined): FaultKind | undefined {
  if (value === undefined) return undefined;
  const kind = FAULT_KINDS.find((k) => k === value);
  if (!kind) throw new Error(`--fail-with must be one of ${FAULT_KINDS.join(", ")}, got "${value}"`);
  return kind;
}

/** The options `npm start` accepts. */
export const OPTIONS = {
  orders: { type: "string" },
  "fail-rate": { type: "string" },
  "fail-with": { type: "string" },
  redrive: { type: "boolean" },
  export: { type: "string" },
  quiet: { type: "boolean" },
  "time-scale": { type: "string" },
  "function-time-scale": { type: "string" },
  seed: { type: "string" },
  "stack-dir": { type: "string" },
  "max-seconds": { type: "string" },
  serve: { type: "boolean" },
  port: { type: "string" },
  persist: { type: "string" },
  "run-dir": { type: "string" },
  "allow-origin": { type: "string", multiple: true },
  "no-console": { type: "boolean" },
  watch: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const exportFile = values.export ? userPath(values.export) : undefined;
  // Checked before the run: a missing folder must not cost a whole run and its summary.
  if (exportFile && !fs.existsSync(path.dirname(exportFile)))
    throw new Error(
      `--export: the folder ${path.dirname(exportFile)} does not exist; create it, or name a file in an existing folder`,
    );
  const orders = values.orders ? readOrderLines("--orders", values.orders) : undefined;
  if (orders?.warning) console.error(orders.warning);
  const serveOnly = ["port", "persist", "run-dir", "allow-origin", "watch", "no-console"] as const;
  const misplaced = serveOnly.filter((name) => values[name] !== undefined);
  if (!values.serve && misplaced.length > 0)
    throw new Error(
      `${misplaced.map((name) => `--${name}`).join(", ")} go${misplaced.length === 1 ? "es" : ""} with --serve`,
    );
  const common = {
    bodies: orders?.lines.map((l) => l.body),
    failRate: number(values["fail-rate"], "--fail-rate", 0, 1),
    failWith: faultKind(values["fail-with"]),
    timeScale: number(values["time-scale"], "--time-scale", 1e-6, 1),
    functionTimeScale: number(values["function-time-scale"], "--function-time-scale", 1e-6, 1),
    seed: number(values.seed, "--seed", 0, 2 ** 32),
    stackDir: values["stack-dir"],
  };
  if (values.serve) {
    const port = number(values.port, "--port", 0, 65535) ?? DEFAULT_PORT;
    return serveUntilStopped({
      ...common,
      port,
      allowOrigins: (values["allow-origin"] ?? []).map(originOf),
      runDir: values["run-dir"] ? userPath(values["run-dir"]) : path.join(synthesisDir(), "local"),
      dataDir: values.persist ? userPath(values.persist) : undefined,
      watchEntry: values.watch ? ORDER_PROCESSOR.entry : undefined,
      console: !values["no-console"],
    });
  }
  const result = await runOffline({
    ...common,
    redrive: values.redrive,
    exportFile,
    quiet: values.quiet,
    maxSeconds: number(values["max-seconds"], "--max-seconds", 1, 86400),
    colour: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  });
  return result.exitCode;
}

/** The port LocalStack and other local AWS tools use, so existing `AWS_ENDPOINT_URL` settings work. */
const DEFAULT_PORT = 4566;

/** `--allow-origin`'s value as an origin (`scheme://host[:port]`), or an error saying what is expected. */
function originOf(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.origin !== value.replace(/\/$/, ""))
    throw new Error(
      `--allow-origin takes an origin such as http://localhost:3000 (scheme, host, port; no path), got "${value}"`,
    );
  return url.origin;
}

/** The parent process, and npm's own process when npm ran this one through a shell (`npm start`). */
function watchedAncestors(): number[] {
  const parent = process.ppid;
  if (!process.env.npm_lifecycle_event) return [parent];
  let grandparent: number | undefined;
  try {
    // Linux: field 4 of /proc/PID/stat, after the command in parentheses.
    grandparent = Number(fs.readFileSync(`/proc/${parent}/stat`, "utf8").split(") ")[1].split(" ")[1]);
  } catch {
    const ps = spawnSync("ps", ["-o", "ppid=", "-p", String(parent)], { encoding: "utf8" });
    grandparent = Number(ps.stdout.trim());
  }
  return Number.isInteger(grandparent) && grandparent! > 1 ? [parent, grandparent!] : [parent];
}

/**
 * `--serve` until the first SIGINT, SIGTERM or SIGHUP (the terminal closed), or until its parent (npm) is
 * gone; a second signal stops at once. An error nothing else caught stops it too, with the summary (exit 1).
 */
async function serveUntilStopped(
  options: Omit<ServeOptions, "write" | "trace" | "stopRequested" | "stackDir"> & { stackDir?: string },
): Promise<number> {
  let stopping = false;
  let parentWatch: NodeJS.Timeout | undefined;
  const stopRequested = new Promise<string>((resolve, reject) => {
    const stop = (reason: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      resolve(reason);
    };
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => stop(signal));
    // npm killed (or its terminal gone): it stops rather than hold the port as an orphan.
    const watched = watchedAncestors();
    parentWatch = setInterval(() => {
      const gone = watched.find((pid) => !isRunning(pid));
      if (gone !== undefined && !stopping) stop(`parent process ${gone} exited`);
    }, 500);
    // A reader that went away (the terminal, npm's pipe) must not turn the summary into a crash.
    process.stdout.on("error", () => undefined);
    process.on("uncaughtException", (error) => {
      if (stopping) throw error;
      stopping = true;
      reject(new Error(`unexpected failure: ${error.stack ?? error.message}`));
    });
  });
  const write = (line: string) => console.log(line);
  try {
    return await serve({
      ...options,
      stackDir: options.stackDir ?? synthesize(),
      write,
      trace: traceWriter(write, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR),
      stopRequested,
    });
  } finally {
    clearInterval(parentWatch);
  }
}
