/**
 * `npm start -- --serve`: the synthesized stack as a local AWS endpoint. One loopback endpoint serves
 * SNS, SQS and DynamoDB (`local-aws/endpoint.ts`); the stack is provisioned through it, so the queue URLs
 * name its port; the Lambda service runs the function for every message any client publishes, until
 * SIGINT or SIGTERM. What a client needs is written to `cdktf.out/local/outputs.json` (the shape of
 * `cdktf output --outputs-file`) and printed as `ready {...}`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../common/project";
import { LOCAL_CREDENTIALS } from "./local-aws/dynamodb";
import { LocalPipeline, PipelineOptions } from "./pipeline";
import { localOutputs } from "./local-outputs";
import { PipelineEvent } from "./trace";
import { CodeWatcher, watchFunctionCode } from "./watch";

export interface ServeOptions extends Omit<PipelineOptions, "onEvent" | "onLogLine" | "endpointPort"> {
  /** Loopback port of the one endpoint; 0 picks a free one. */
  readonly port: number;
  /** Bodies to publish once ready. */
  readonly bodies?: string[];
  /** Where `outputs.json` and `logs/` go. */
  readonly localDir: string;
  readonly write: (line: string) => void;
  readonly trace: (event: PipelineEvent) => void;
  /** `--watch`: the handler entry whose folder is watched; its functions take each new bundle. */
  readonly watchEntry?: string;
  /** Resolves when the service should stop (the first SIGINT/SIGTERM). */
  readonly stopRequested: Promise<string>;
}

/** Log files per function, appended to as lines arrive (buffered streams; `close` waits until all is written). */
function functionLogs(
  dir: string,
  onError: (error: Error) => void,
): { append(fn: string, line: string): void; close(): Promise<void> } {
  fs.mkdirSync(dir, { recursive: true });
  const files = new Map<string, fs.WriteStream>();
  return {
    append(fn, line) {
      let file = files.get(fn);
      if (!file) {
        file = fs.createWriteStream(path.join(dir, `${fn}.log`), { flags: "a" });
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

/** Serves until asked to stop; returns the exit code (0, or 1 if a message was lost). */
export async function serve(options: ServeOptions): Promise<number> {
  const { write } = options;
  const logs = functionLogs(path.join(options.localDir, "logs"), (error) =>
    options.trace({ type: "warning", message: `the function's log file could not be written: ${error.message}` }),
  );
  const pipeline = await LocalPipeline.start({
    ...options,
    endpointPort: options.port,
    // The function's own lines are printed as they are (below); their digest in the trace would repeat them.
    onEvent: (event) => event.type !== "outcome" && event.type !== "log" && options.trace(event),
    onLogLine: (fn, line) => {
      logs.append(fn, line);
      write(`${fn} ${line}`);
    },
  });
  let watcher: CodeWatcher | undefined;
  try {
    if (options.watchEntry) {
      watcher = await watchFunctionCode({
        entry: options.watchEntry,
        functions: pipeline.stack.functions,
        outDir: path.join(options.localDir, "code"),
        replaceCode: (fn, file) => pipeline.replaceCode(fn, file),
        emit: options.trace,
      });
    }
    const endpoint = pipeline.endpoints.endpoint!;
    const outputsFile = path.join(options.localDir, "outputs.json");
    const stackName = path.basename(options.stackDir);
    const outputs = { [stackName]: { ...localOutputs(pipeline), endpoint } };
    fs.writeFileSync(outputsFile, `${JSON.stringify(outputs, null, 2)}\n`);
    if (options.bodies?.length) await pipeline.publishAll(options.bodies);
    const region = pipeline.stack.region;
    write(`serving ${stackName} on ${endpoint} (SNS, SQS, DynamoDB); Ctrl-C stops. In another shell:`);
    write(
      `  export AWS_ENDPOINT_URL=${endpoint} AWS_REGION=${region} AWS_DEFAULT_REGION=${region} AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey}`,
    );
    write(`  npm run orders -- --outputs ${path.relative(process.cwd(), outputsFile)} smoke`);
    if (watcher)
      write(
        `watching ${path.relative(process.cwd(), path.dirname(options.watchEntry!))} for ${watcher.functions.join(", ")}`,
      );
    const shownOutputs = path.relative(PROJECT_ROOT, outputsFile);
    write(`ready ${JSON.stringify({ endpoint, region, outputs: shownOutputs })}`);
    const signal = await options.stopRequested;
    write(`${signal}: stopping; invocations in flight finish first (Ctrl-C again stops at once)`);
    await watcher?.close();
    await pipeline.stopLambda();
    const summary = await pipeline.summary();
    write(JSON.stringify(summary));
    return summary.lost > 0 ? 1 : 0;
  } finally {
    await watcher?.close();
    await pipeline.close();
    await logs.close();
  }
}
