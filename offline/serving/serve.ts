/**
 * `npm start -- --serve`: the synthesized stack as a local AWS endpoint. One loopback endpoint serves
 * SNS, SQS and DynamoDB (`engines/endpoint.ts`); the stack is provisioned through it, so the queue URLs
 * name its port; the Lambda service runs the function for every message any client publishes, until
 * stopped. The server owns a run folder (`run-folder.ts`: outputs, logs, the code it runs), answers
 * `GET /_local/health`, and always ends with the summary's balance: stopped by a signal, by its parent
 * going away, or by an engine failing (then exit 1 after an `error:` line).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../common/project";
import { LOCAL_CREDENTIALS } from "../../common/local-credentials";
import { LocalPipeline, PipelineOptions, PipelineSummary } from "../runtime/pipeline";
import { localOutputs } from "./local-outputs";
import { claimFolder, FolderClaim, runFolderPaths } from "./run-folder";
import { EventStream, PipelineEvent } from "../runtime/events";
import { CodeWatcher, watchFunctionCode } from "./watch";
import { Console, createConsole } from "../console/console";
import { Journal } from "../runtime/journal";
import { Series } from "../runtime/series";
import { localSource } from "./local-source";

export interface ServeOptions extends Omit<PipelineOptions, "events" | "endpoint" | "codeDir" | "onEngineFailure"> {
  /** Loopback port of the one endpoint; 0 picks a free one. */
  readonly port: number;
  /** Origins whose pages may call the endpoint besides its own (`--allow-origin`). */
  readonly allowOrigins?: readonly string[];
  /** Bodies to publish once ready. */
  readonly bodies?: string[];
  /** The run folder: `outputs.json`, `logs/`, `code/` (`run-folder.ts`). */
  readonly runDir: string;
  readonly write: (line: string) => void;
  readonly trace: (event: PipelineEvent) => void;
  /** `--watch`: the handler entry whose folder is watched; its functions take each new bundle. */
  readonly watchEntry?: string;
  /** Resolves with a reason when the service should stop (a signal, the parent gone); rejects on a fatal error. */
  readonly stopRequested: Promise<string>;
  /** How long a request may take to arrive in full (tests shorten it). @default Node.js's 300 s */
  readonly requestTimeoutMs?: number;
  /** Serve the local console at `/_local/console/`. @default true */
  readonly console?: boolean;
}

/**
 * What the serving terminal shows: one readable line per outcome (the function's outcome lines, as the
 * trace words them), and what needs a person (moves to a DLQ, refusals, failed invocations, warnings, new
 * code, cold starts). The steps of each message (received, invoked, deleted, retried) are in the console's
 * journey; the function's own lines, its metrics included, are in its log file.
 */
const TERMINAL_EVENTS: ReadonlySet<PipelineEvent["type"]> = new Set([
  "outcome",
  "dead-lettered",
  "rejected",
  "invocation-failed",
  "redriven",
  "discarded",
  "code-updated",
  "warning",
]);

function shownOnTerminal(event: PipelineEvent): boolean {
  if (event.type === "log") return !event.metrics;
  if (event.type === "invoked") return event.cold;
  return TERMINAL_EVENTS.has(event.type);
}

/** Log files per function (fresh, or appended to with --persist), written as lines arrive; `close` waits for them. */
function functionLogs(
  dir: string,
  append: boolean,
  onError: (error: Error) => void,
): { append(fn: string, line: string): void; close(): Promise<void> } {
  fs.mkdirSync(dir, { recursive: true });
  // A fresh start begins its logs again (a --persist run carries on with the state, and its logs).
  if (!append) for (const name of fs.readdirSync(dir)) if (name.endsWith(".log")) fs.rmSync(path.join(dir, name));
  const files = new Map<string, fs.WriteStream>();
  return {
    append(fn, line) {
      let file = files.get(fn);
      if (!file) {
        file = fs.createWriteStream(path.join(dir, `${fn}.log`), { flags: append ? "a" : "w" });
        // A log file that cannot be written (disk full, removed folder) is said once; serving goes on.
        file.once("error", onError);
        files.set(fn, file);
      }
      file.write(`${line}\n`);
    },
    close: () =>
      Promise.all([...files.values()].map((file) => new Promise<void>((resolve) => file.end(resolve)))).then(
        () => undefined,
      ),
  };
}

/** The run folder and, with --persist, the store: claimed for this server, or an error naming the holder. */
async function claimFolders(options: ServeOptions): Promise<FolderClaim[]> {
  const claims = [
    await claimFolder(options.runDir, "the run folder", "run another server beside it with --run-dir DIR"),
  ];
  try {
    if (options.dataDir)
      claims.push(
        await claimFolder(options.dataDir, "the --persist folder", "give this server another --persist folder"),
      );
  } catch (error) {
    claims.forEach((claim) => claim.release());
    throw error;
  }
  return claims;
}

/** What `GET /_local/health` answers. */
function healthReport(pipeline: LocalPipeline, runDir: string, started: number) {
  return async () => ({
    status: "running",
    // Who answers: a later server tells a live holder of the run folder from another process on its port.
    pid: process.pid,
    services: { sns: "running", sqs: "running", dynamodb: "running", lambda: "running" },
    stack: path.basename(pipeline.stack.stackDir),
    region: pipeline.stack.region,
    runFolder: runDir,
    uptimeSeconds: Math.round((Date.now() - started) / 1000),
    counts: await pipeline.summary(),
  });
}

/** A path as printed: relative to the project when it is in it (npm runs commands there), else absolute. */
function shownPath(file: string): string {
  const relative = path.relative(PROJECT_ROOT, file);
  return relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
}

/** The lines that tell a developer how to use the endpoint. */
function readyLines(
  pipeline: LocalPipeline,
  outputsFile: string,
  watcher?: CodeWatcher,
  watchEntry?: string,
  consolePath?: string,
): string[] {
  const endpoint = pipeline.endpoint!.url;
  const region = pipeline.stack.region;
  const lines = [
    `serving ${path.basename(pipeline.stack.stackDir)} on ${endpoint} (SNS, SQS, DynamoDB; health: ${endpoint}/_local/health); Ctrl-C stops. In another shell:`,
    `  export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=${region} AWS_DEFAULT_REGION=${region} AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey}`,
    `  npm run orders -- --outputs ${shownPath(outputsFile)} smoke`,
  ];
  if (consolePath) lines.push(`console: ${endpoint}${consolePath} (open it in a browser on this machine)`);
  if (watcher)
    lines.push(
      `watching ${path.relative(process.cwd(), path.dirname(watchEntry!))} for ${watcher.functions.join(", ")}`,
    );
  return lines;
}

/** What became of the messages still queued at stop. */
function queuedNote(summary: PipelineSummary, dataDir?: string): string | undefined {
  if (summary.queued === 0) return undefined;
  const what = `${summary.queued} message${summary.queued === 1 ? " was" : "s were"} still queued`;
  return dataDir
    ? `note: ${what}: kept in ${dataDir}; the next --serve with --persist ${dataDir} processes them`
    : `note: ${what}: discarded with the engines (start with --persist DIR to keep queued messages across restarts)`;
}

/** What became of the messages the dead-letter queues held at stop (they are not in the balance's `queued`). */
async function deadLetteredNote(pipeline: LocalPipeline, dataDir?: string): Promise<string | undefined> {
  const { queues } = await pipeline.liveCounts();
  const held = pipeline
    .deadLetterQueues()
    .map((q) => ({ name: q.name, count: queues[q.name] ? queues[q.name].visible + queues[q.name].inFlight : 0 }))
    .filter((q) => q.count > 0);
  if (held.length === 0) return undefined;
  const what = held.map((q) => `${q.name} held ${q.count} message${q.count === 1 ? "" : "s"}`).join(", ");
  return dataDir
    ? `note: ${what}: kept in ${dataDir} (npm run orders -- dlq list shows them after the next start)`
    : `note: ${what}: discarded with the engines (start with --persist DIR to keep dead letters across restarts)`;
}

/** Waits for the stop; true if it came as a fatal error (said in an `error:` line). */
async function untilStopped(stop: Promise<string>, write: (line: string) => void): Promise<boolean> {
  try {
    write(`${await stop}: stopping; invocations in flight finish first (Ctrl-C again stops at once)`);
    return false;
  } catch (error) {
    write(`error: ${(error as Error).message}; stopping (the summary below may be incomplete)`);
    return true;
  }
}

/** Stops the Lambda service, then writes what was left queued and the summary; returns the exit code. */
async function stopWithSummary(
  pipeline: LocalPipeline,
  dataDir: string | undefined,
  write: (line: string) => void,
  failed: boolean,
): Promise<number> {
  await pipeline.stopLambda();
  const summary = await pipeline.summary().catch((error: Error) => {
    write(`error: the summary could not be read from the engines: ${error.message}`);
    return undefined;
  });
  if (!summary) return 1;
  const notes = [queuedNote(summary, dataDir), await deadLetteredNote(pipeline, dataDir).catch(() => undefined)];
  for (const note of notes) if (note) write(note);
  const lost = Math.abs(summary.lost);
  if (lost !== 0)
    write(`error: the balance does not hold: ${summary.lost} message${lost === 1 ? "" : "s"} unaccounted for`);
  write(JSON.stringify(summary));
  return failed || lost !== 0 ? 1 : 0;
}

/** `--watch`: the watcher of the function's sources, whose builds the pipeline runs; none without it. */
async function watchIfAsked(pipeline: LocalPipeline, options: ServeOptions): Promise<CodeWatcher | undefined> {
  if (!options.watchEntry) return undefined;
  return watchFunctionCode({
    entry: options.watchEntry,
    functions: pipeline.stack.functions,
    outDir: path.join(runFolderPaths(options.runDir).codeDir, "watch"),
    replaceCode: (fn, file) => pipeline.replaceCode(fn, file),
    emit: pipeline.events.emit,
  });
}

/** Writes the outputs, answers the health and, unless turned off, the console: what clients see. */
function openUp(
  pipeline: LocalPipeline,
  options: ServeOptions,
  kept?: { journal: Journal; series: Series },
): Console | undefined {
  const endpoint = pipeline.endpoint!;
  const outputs = { [path.basename(options.stackDir)]: { ...localOutputs(pipeline), endpoint: endpoint.url } };
  fs.writeFileSync(runFolderPaths(options.runDir).outputsFile, `${JSON.stringify(outputs, null, 2)}\n`);
  endpoint.setHealth(healthReport(pipeline, options.runDir, Date.now()));
  if (!kept) return undefined;
  const local = createConsole(localSource(pipeline, kept.journal, kept.series));
  endpoint.setConsole((request, response) => local.handle(request, response));
  return local;
}

/** Serves until asked to stop; returns the exit code (0; 1 if the balance shows a loss or an engine failed). */
export async function serve(options: ServeOptions): Promise<number> {
  const { write } = options;
  const claims = await claimFolders(options);
  const paths = runFolderPaths(options.runDir);
  const logs = functionLogs(paths.logsDir, Boolean(options.dataDir), (error) =>
    options.trace({ type: "warning", message: `the function's log file could not be written: ${error.message}` }),
  );
  let engineFailed: (error: Error) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => (engineFailed = reject));
  let pipeline: LocalPipeline | undefined;
  let watcher: CodeWatcher | undefined;
  let localConsole: Console | undefined;
  // The run's one event stream and its subscribers: the log files, the console's journal and chart, the terminal.
  const events = new EventStream();
  events.subscribe((event) => {
    if (event.type === "log" || event.type === "outcome") logs.append(event.function, event.line);
  });
  const kept = options.console === false ? undefined : { journal: new Journal(), series: new Series() };
  if (kept) events.subscribe(kept.journal.record);
  if (kept) events.subscribe(kept.series.record);
  events.subscribe((event) => shownOnTerminal(event) && options.trace(event));
  try {
    pipeline = await LocalPipeline.start({
      ...options,
      endpoint: { port: options.port, allowOrigins: options.allowOrigins, requestTimeoutMs: options.requestTimeoutMs },
      codeDir: path.join(paths.codeDir, "loaded"),
      onEngineFailure: (error) => engineFailed(error),
      events,
    });
    const running = pipeline;
    watcher = await watchIfAsked(running, options);
    const endpoint = running.endpoint!;
    claims[0].setEndpoint(endpoint.url);
    localConsole = openUp(running, options, kept);
    if (options.bodies?.length) await running.publishAll(options.bodies);
    for (const line of readyLines(running, paths.outputsFile, watcher, options.watchEntry, localConsole?.path))
      write(line);
    const shown = shownPath(paths.outputsFile);
    write(`ready ${JSON.stringify({ endpoint: endpoint.url, region: running.stack.region, outputs: shown })}`);
    const failed = await untilStopped(Promise.race([options.stopRequested, failure]), write);
    await watcher?.close();
    return await stopWithSummary(running, options.dataDir, write, failed);
  } finally {
    localConsole?.close();
    await watcher?.close();
    await pipeline?.close();
    await logs.close();
    claims.forEach((claim) => claim.release());
  }
}
