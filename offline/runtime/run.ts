/**
 * `npm start` without `--serve`: runs the synthesized order pipeline once, publishes the given bodies, waits
 * for every message to settle (and, with `redrive`, for the redriven ones), and ends with the summary. The
 * end-to-end tests drive it as `runOffline`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { progress, ProgressStream } from "../../common/progress";
import { sampleOrderBody } from "../../common/sample-order";
import { synthesize } from "../../common/project";
import { EventStream, PipelineEvent } from "./events";
import { LocalPipeline, PipelineSummary } from "./pipeline";
import { StackModel } from "./stack-model";
import { traceWriter } from "./trace";
import type { FaultKind } from "../engines/dynamodb-front";

/** The sample order, and an invalid one (quantity as a string) to show the DLQ. */
export const DEFAULT_BODIES = [
  sampleOrderBody(),
  sampleOrderBody({ orderId: "O9877", quantity: "3", timestamp: "2025-05-09T14:41:00Z" }),
];

export interface RunOptions {
  readonly bodies?: string[];
  readonly failRate?: number;
  readonly failWith?: FaultKind;
  readonly redrive?: boolean;
  readonly exportFile?: string;
  readonly quiet?: boolean;
  readonly timeScale?: number;
  readonly functionTimeScale?: number;
  readonly seed?: number;
  /** A synthesized stack folder; when absent the app is synthesized and the environment's stack used. */
  readonly stackDir?: string;
  readonly maxSeconds?: number;
  /** Where lines go. @default console.log */
  readonly write?: (line: string) => void;
  readonly colour?: boolean;
  /** Where the progress line is drawn (only if it is a terminal). @default process.stderr */
  readonly progressStream?: ProgressStream;
}

export interface RunResult {
  readonly summary: PipelineSummary;
  readonly inFlight: number;
  readonly exitCode: number;
}

/** The run's first lines: what is emulated, and what is read but not emulated. */
function describeRun(stackDir: string, stack: StackModel): string[] {
  const where = path.relative(process.cwd(), stackDir) || stackDir;
  const notEmulated = [...new Set(stack.notEmulated.map((resource) => resource.split(".")[0]))].join(", ");
  return [
    `offline run of ${where}: ${stack.topics.length} topic and ${stack.queues.length} queues on fauxqs, ${stack.tables.length} table on dynalite, ${stack.functions.length} function in the local Lambda service`,
    `not emulated (access control, encryption, logs): ${notEmulated}`,
  ];
}

export async function runOffline(options: RunOptions = {}): Promise<RunResult> {
  const bar = progress("npm start", { stream: options.progressStream });
  const emit = options.write ?? ((line: string) => console.log(line));
  // The progress line (stderr, terminals only) steps aside for every line of the trace.
  const write = (line: string) => {
    bar.clear();
    emit(line);
  };
  const stackDir = options.stackDir ?? synthesize();
  const trace = options.quiet ? undefined : traceWriter(write, options.colour ?? false);
  const pipeline = await LocalPipeline.start({
    stackDir,
    timeScale: options.timeScale,
    functionTimeScale: options.functionTimeScale,
    failRate: options.failRate,
    failWith: options.failWith,
    seed: options.seed,
    events: trace && traced(trace),
  });
  let inFlight = 0;
  try {
    if (!options.quiet) for (const line of describeRun(stackDir, pipeline.stack)) write(line);
    const maxMs = (options.maxSeconds ?? 600) * 1000;
    await pipeline.publishAll(options.bodies ?? DEFAULT_BODIES);
    const show = (phase: string) => () => {
      const { delivered, settled } = pipeline.progress();
      bar.update(settled, delivered, phase);
    };
    try {
      await pipeline.settled(maxMs, show("messages settled"));
      if (options.redrive) {
        pipeline.setFailRate(0);
        await pipeline.redrive();
        await pipeline.settled(maxMs, show("redrive"));
      }
    } catch (error) {
      write(`error: ${(error as Error).message}`);
    }
    bar.clear();
    inFlight = await pipeline.inFlight();
    if (options.exportFile) {
      const count = await exportItems(pipeline, options.exportFile);
      if (!options.quiet) write(`exported ${count} items to ${options.exportFile}`);
    }
    const summary = await pipeline.summary();
    if (inFlight > 0) write(`error: ${inFlight} messages still queued or in flight`);
    for (const { queue, messages } of await pipeline.unconsumed())
      write(
        `note: ${messages} message${messages === 1 ? "" : "s"} wait${messages === 1 ? "s" : ""} in ${queue}: no enabled event source mapping consumes it (the stack's mapping is disabled); they are queued, not lost`,
      );
    write(JSON.stringify(summary));
    return { summary, inFlight, exitCode: summary.lost > 0 || inFlight > 0 ? 1 : 0 };
  } finally {
    await pipeline.close();
  }
}

/** `--export`: the table's items as JSON lines. */
async function exportItems(pipeline: LocalPipeline, file: string): Promise<number> {
  const items = await pipeline.items();
  fs.writeFileSync(file, items.map((item) => JSON.stringify(item)).join("\n") + (items.length ? "\n" : ""));
  return items.length;
}

/** A stream the trace subscribes to. */
function traced(trace: (event: PipelineEvent) => void): EventStream {
  const events = new EventStream();
  events.subscribe(trace);
  return events;
}
