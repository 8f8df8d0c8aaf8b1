/**
 * `npm run bench:serve`: what `npm start -- --serve` costs, measured in one run on a synthesized stack:
 * start to `ready` (no synth), a `--watch` reload (save to new code serving), the idle cost (CPU
 * seconds over the first 30 s with no traffic and over the next 30 s, and resident memory) and throughput through the endpoint from an
 * outside SDK client, side by side with `npm start -- --orders` on the same orders. Prints a table, then
 * one JSON line.
 */
import { AttributeValue, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { messagesIn } from "../common/move-messages";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { runMain } from "../common/run-main";
import { sampleOrderBody } from "../common/sample-order";
import { LOCAL_CREDENTIALS } from "../offline/engines/dynamodb";
import { publishAll } from "../common/publish";
import { PROJECT_ROOT, synthesize } from "../common/project";
import { copyProject } from "./project-copy";
import { readyOf, servedOutputs, spawnLines } from "./runtime-child";

const ORDERS = Number(process.env.BENCH_SERVE_ORDERS ?? 2000);
const SAMPLES = Number(process.env.BENCH_SERVE_SAMPLES ?? 5);
const IDLE_SECONDS = Number(process.env.BENCH_SERVE_IDLE_SECONDS ?? 30);

/** The runtime as `npm start` runs it; SIGINT stops it as Ctrl-C does. */
export function runtime(args: string[], cwd = PROJECT_ROOT, env: NodeJS.ProcessEnv = {}) {
  // A server gets a run folder of its own: the bench never touches the user's cdktf.out/local.
  const runDir = args.includes("--serve")
    ? ["--run-dir", fs.mkdtempSync(path.join(os.tmpdir(), "order-bench-run-"))]
    : [];
  const command = [process.execPath, "-r", "esbuild-register", "offline/cli/start.ts", ...args, ...runDir];
  const child = spawnLines(command, { cwd, env: { ...process.env, ORDER_ENV: "", ...env }, stderr: "inherit" });
  const stop = async () => {
    if (child.child.exitCode === null) child.child.kill("SIGINT");
    await child.exited;
  };
  return { ...child, stop, runDir: runDir[1] };
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** CPU seconds (user + system) of a process so far, and its resident memory in MiB. */
export function usage(pid: number): { cpuSeconds: number; rssMiB: number } {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1];
  return { cpuSeconds: ticks / 100, rssMiB: Number(rss) / 1024 };
}

async function measureReady(stackDir: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const served = runtime(["--serve", "--port", "0", "--stack-dir", stackDir]);
    samples.push((await served.at(/^ready \{/)).ms - served.started);
    await served.stop();
  }
  return samples;
}

/**
 * Two windows of idle, one after the other: the first from 2 s after `ready` holds V8's one-off work after
 * a start (its memory reducer collects the start's garbage about 10 s in, on its helper threads); the
 * second is what an idle server costs for as long as it is left running.
 */
async function measureIdle(stackDir: string): Promise<{ afterStart: number; steady: number; rssMiB: number }> {
  const served = runtime(["--serve", "--port", "0", "--stack-dir", stackDir]);
  await readyOf(served);
  await sleep(2000);
  const start = usage(served.child.pid!);
  await sleep(IDLE_SECONDS * 1000);
  const middle = usage(served.child.pid!);
  await sleep(IDLE_SECONDS * 1000);
  const end = usage(served.child.pid!);
  await served.stop();
  return {
    afterStart: middle.cpuSeconds - start.cpuSeconds,
    steady: end.cpuSeconds - middle.cpuSeconds,
    rssMiB: end.rssMiB,
  };
}

function sns(ready: { endpoint: string; region: string }): SNSClient {
  return new SNSClient({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
}

/**
 * An outside SDK client publishing through the endpoint with the publisher `npm start -- --orders` uses (the
 * same batches, the same calls in flight), so the two runs differ only by the endpoint's hop.
 */
const publish = (client: SNSClient, topicArn: string, bodies: string[]) => publishAll(client, topicArn, bodies);

/** When a line holding `text` is in the function's log file of a run folder (polled every 5 ms; the terminal shows outcomes only). */
async function logged(runDir: string, text: string): Promise<number> {
  const file = path.join(runDir, "logs", "OrderProcessor.log");
  for (;;) {
    if (fs.existsSync(file) && fs.readFileSync(file, "utf8").includes(text)) return performance.now();
    await sleep(5);
  }
}

/** Save to new code serving, `SAMPLES` times: to the `code updated` line, and to a batch running the new code. */
async function measureReload(work: string, stackDir: string): Promise<{ updated: number[]; running: number[] }> {
  const project = copyProject(path.join(work, "project"));
  const served = runtime(["--serve", "--port", "0", "--stack-dir", stackDir, "--watch"], project);
  const ready = await readyOf(served);
  const topic = servedOutputs(ready, project).topic_arn;
  const client = sns(ready);
  const logFile = path.join(project, "lambda", "log.ts");
  const original = fs.readFileSync(logFile, "utf8");
  const updated: number[] = [];
  const running: number[] = [];
  for (let i = 1; i <= SAMPLES; i++) {
    const mark = served.lines.length;
    const saved = performance.now();
    fs.writeFileSync(logFile, original.replace("message: `order ${fields.outcome}`", `message: \`order edit ${i}\``));
    updated.push((await served.at(/code updated +OrderProcessor/, { from: mark })).ms - saved);
    await publish(client, topic, [sampleOrderBody({ orderId: `RELOAD-${i}` })]);
    running.push((await logged(served.runDir!, `"message":"order edit ${i}"`)) - saved);
  }
  client.destroy();
  await served.stop();
  return { updated, running };
}

async function measureThroughput(work: string, stackDir: string): Promise<{ endpoint: number; batch: number }> {
  const bodies = Array.from({ length: ORDERS }, (_, i) =>
    sampleOrderBody({ orderId: `T-${i}`, quantity: 1 + (i % 9) }),
  );
  const served = runtime(["--serve", "--port", "0", "--stack-dir", stackDir]);
  const ready = await readyOf(served);
  const outputs = servedOutputs(ready, PROJECT_ROOT);
  const client = sns(ready);
  const config = { endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS };
  const sqs = new SQSClient(config);
  const dynamodb = new DynamoDBClient(config);
  const start = performance.now();
  await publish(client, outputs.topic_arn, bodies);
  // Done when the engine's OrderQueue holds nothing (waiting or in flight); then the table must hold every order.
  while ((await messagesIn(sqs, outputs.queue_url)) > 0) await sleep(20);
  const endpoint = ORDERS / ((performance.now() - start) / 1000);
  let stored = 0;
  let page: Record<string, AttributeValue> | undefined;
  do {
    const answer = await dynamodb.send(
      new ScanCommand({ TableName: outputs.table_name, Select: "COUNT", ExclusiveStartKey: page }),
    );
    stored += answer.Count ?? 0;
    page = answer.LastEvaluatedKey;
  } while (page);
  for (const c of [client, sqs, dynamodb]) c.destroy();
  await served.stop();
  if (stored !== ORDERS) throw new Error(`the endpoint run stored ${stored} of ${ORDERS} orders`);
  const file = path.join(work, "orders.jsonl");
  fs.writeFileSync(file, `${bodies.join("\n")}\n`);
  const run = runtime(["--orders", file, "--stack-dir", stackDir]);
  // From where it starts publishing (its trace prints "published" lines only once all are published).
  const first = await run.at(/^not emulated /);
  const last = await run.at(/^\{"published":/);
  await run.stop();
  return { endpoint, batch: ORDERS / ((last.ms - first.ms) / 1000) };
}

async function main(): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-bench-serve-"));
  try {
    const stackDir = synthesize();
    const ready = await measureReady(stackDir);
    const reload = await measureReload(work, stackDir);
    const idle = await measureIdle(stackDir);
    const throughput = await measureThroughput(work, stackDir);
    const figures = {
      readyMsMedian: Math.round(median(ready)),
      reloadToUpdatedMsMedian: Math.round(median(reload.updated)),
      reloadToNewCodeRunningMsMedian: Math.round(median(reload.running)),
      idleCpuSecondsAfterStart: Number(idle.afterStart.toFixed(2)),
      idleCpuSecondsSteady: Number(idle.steady.toFixed(2)),
      idleSeconds: IDLE_SECONDS,
      idleRssMiB: Math.round(idle.rssMiB),
      endpointOrdersPerSecond: Math.round(throughput.endpoint),
      batchOrdersPerSecond: Math.round(throughput.batch),
      endpointToBatch: Number((throughput.endpoint / throughput.batch).toFixed(2)),
    };
    console.log(`npm start -- --serve, ${SAMPLES} samples each, ${ORDERS} orders:`);
    for (const [key, value] of Object.entries(figures)) console.log(`  ${key.padEnd(34)} ${value}`);
    console.log(JSON.stringify(figures));
    return 0;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

runMain(module, main);
