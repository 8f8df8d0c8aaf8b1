/**
 * `npm run walk`: the walk of one order under `--serve`, measured: which of the project's files its path
 * runs through, from a publish by an outside SDK client at the endpoint to the item in the table and the
 * console's live batch, and how many of each file's functions it enters. V8's precise coverage counts
 * each function's calls in this process (the server's main thread: the endpoint, the runtime, the
 * console); the function itself runs in a worker, whose files are listed apart. One order first warms
 * everything up; the second is the one measured. Prints a table, then one JSON line.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import * as fs from "node:fs";
import * as http from "node:http";
import * as inspector from "node:inspector/promises";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LOCAL_CREDENTIALS } from "../common/local-credentials";
import { PROJECT_ROOT, synthesize } from "../common/project";
import { runMain } from "../common/run-main";
import { sampleOrderBody } from "../common/sample-order";
import { serve } from "../offline/serving/serve";

interface Walk {
  readonly files: { file: string; functions: number; calls: number }[];
  readonly workerFiles: string[];
}

/** The project's own files (not its dependencies, not this script) that ran, with functions entered and calls. */
function projectFiles(coverage: inspector.Profiler.ScriptCoverage[]): Walk["files"] {
  const files: Walk["files"] = [];
  for (const script of coverage) {
    if (!script.url.startsWith("file://")) continue;
    const file = path.relative(PROJECT_ROOT, new URL(script.url).pathname);
    if (file.startsWith("..") || file.includes("node_modules") || file.startsWith("scripts/")) continue;
    if (file === "common/sample-order.ts") continue; // this script's own order body
    // A function's first range covers it whole; its count is how many times it was entered.
    const entered = script.functions.filter((fn) => fn.functionName !== "" && fn.ranges[0].count > 0);
    if (entered.length === 0) continue;
    files.push({ file, functions: entered.length, calls: entered.reduce((sum, fn) => sum + fn.ranges[0].count, 0) });
    if (process.env.WALK_NAMES)
      console.log(file, entered.map((fn) => `${fn.functionName}:${fn.ranges[0].count}`).join(" "));
  }
  return files.sort((a, b) => a.file.localeCompare(b.file));
}

/** The console's live stream, as an open page reads it: resolves `until` once a batch holds `text`. */
function openStream(endpoint: string, token: string) {
  let received = "";
  const waiting: { text: RegExp; resolve: () => void }[] = [];
  const request = http.get(`${endpoint}/_local/api/stream?token=${token}`, (response) =>
    response.on("data", (chunk: Buffer) => {
      received += chunk.toString("utf8");
      for (const w of waiting.filter((w) => w.text.test(received))) w.resolve();
    }),
  );
  return {
    until: (text: RegExp) => new Promise<void>((resolve) => waiting.push({ text, resolve })),
    close: () => request.destroy(),
  };
}

/** Publishes one order as an outside client does, and waits until the console's batch counts it processed. */
async function publishOne(sns: SNSClient, stream: ReturnType<typeof openStream>, orderId: string, processed: number) {
  const counted = stream.until(
    new RegExp(`"orders":\\["${orderId}"\\][^\\n]*|"processed":${processed}[^\\n]*"orders":\\[[^\\]]*"${orderId}"`),
  );
  await sns.send(
    new PublishCommand({
      TopicArn: "arn:aws:sns:us-east-1:000000000000:OrderTopic",
      Message: sampleOrderBody({ orderId }),
    }),
  );
  await stream.until(new RegExp(`"processed":${processed}\\b`));
  await counted;
}

async function main(): Promise<number> {
  const stackDir = synthesize();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "order-walk-"));
  let stop!: (reason: string) => void;
  let ready!: (endpoint: string) => void;
  const endpointReady = new Promise<string>((resolve) => (ready = resolve));
  const served = serve({
    stackDir,
    port: 0,
    runDir,
    stopRequested: new Promise((resolve) => (stop = resolve)),
    trace: () => undefined,
    write: (line) => line.startsWith("ready ") && ready(JSON.parse(line.slice(6)).endpoint),
  });
  const endpoint = await endpointReady;
  const page = await (await fetch(`${endpoint}/_local/console/`)).text();
  const token = /name="console-token" content="([0-9a-f]+)"/.exec(page)![1];
  const sns = new SNSClient({ endpoint, region: "us-east-1", credentials: LOCAL_CREDENTIALS });
  const session = new inspector.Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.startPreciseCoverage", { callCount: true, detailed: false });
    const stream = openStream(endpoint, token);
    await sleep(200); // the page's stream is open before the first publish
    await publishOne(sns, stream, "WALK-WARM", 1);
    await sleep(300); // the last batch of the first order has gone out
    await session.post("Profiler.takePreciseCoverage"); // resets the counts: only the next order is counted
    await publishOne(sns, stream, "WALK1", 2);
    await sleep(300);
    stream.close();
    const { result } = await session.post("Profiler.takePreciseCoverage");
    const files = projectFiles(result);
    const walk: Walk = {
      files,
      workerFiles: ["offline/runtime/lambda-service/lambda-worker.js", "the bundle of lambda/"],
    };
    for (const f of files)
      console.log(`${String(f.functions).padStart(4)} functions ${String(f.calls).padStart(5)} calls  ${f.file}`);
    const offline = files.filter((f) => f.file.startsWith("offline/"));
    console.log(
      `${files.length} files of the project (${offline.length} in offline/), most functions in one file: ${Math.max(...files.map((f) => f.functions))}; in the function's worker: ${walk.workerFiles.join(", ")}`,
    );
    console.log(JSON.stringify(walk));
    return 0;
  } finally {
    session.disconnect();
    sns.destroy();
    stop("walk measured");
    await served;
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

runMain(module, main);
