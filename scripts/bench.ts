/**
 * `npm run bench`: throughput and cold-start figures measured side by side in one run (medians of
 * interleaved rounds; this machine is shared and noisy). Prints a table, then one JSON line.
 */
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import type { BenchWork, BenchWorkerData, BenchWorkerResult } from "./bench-worker";
import { bundleHandler, ORDER_PROCESSOR } from "../constructs/function-bundle";
import { synthesize } from "../common/project";
import { createTable, LOCAL_CREDENTIALS, LOCAL_REGION, startLocalDynamoDB } from "../offline/engines/dynamodb";
import { LocalPipeline } from "../offline/runtime/pipeline";
import { loadStack, StackModel } from "../offline/runtime/stack-model";
import { provision } from "../offline/runtime/provision";
import { startSnsSqs } from "../offline/engines/sns-sqs";
import { publishAll } from "../common/publish";
import { progress } from "../common/progress";
import { runMain } from "../common/run-main";
import { sampleOrderBody } from "../common/sample-order";

const ORDERS = Number(process.env.BENCH_ORDERS ?? 5000);
const BATCH = 10;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const INIT_SAMPLES = Number(process.env.BENCH_INIT_SAMPLES ?? 31);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 5);

/** dynalite in its own process, as a real server would be: the client side does not share its core. */
async function startDynaliteProcess(): Promise<{ endpoint: string; stop(): void }> {
  const child = spawn(process.execPath, [path.join(__dirname, "dynalite-server.js")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()));
    child.once("exit", (code) => reject(new Error(`dynalite exited with ${code}`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

function orderBodies(prefix: string): string[] {
  return Array.from({ length: ORDERS }, (_, i) =>
    sampleOrderBody({ orderId: `${prefix}-${i}`, userId: `U${i % 97}`, quantity: 1 + (i % 9) }),
  );
}

function batches(bodies: string[]): SQSEvent[] {
  const out: SQSEvent[] = [];
  for (let i = 0; i < bodies.length; i += BATCH) {
    out.push({
      Records: bodies
        .slice(i, i + BATCH)
        .map((body, j) => ({ messageId: `m${i + j}`, body }) as SQSEvent["Records"][number]),
    });
  }
  return out;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return ORDERS / (Number(process.hrtime.bigint() - start) / 1e9);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Milliseconds a fresh node process spends requiring a bundle (measured inside that process). */
function initMs(bundle: string): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(bundle)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const result = spawnSync(process.execPath, ["-e", script], {
    encoding: "utf8",
    env: { ...process.env, AWS_REGION: LOCAL_REGION, TABLE_NAME: "Orders" },
  });
  if (result.status !== 0) throw new Error(`requiring ${bundle} failed: ${result.stderr}`);
  return Number(result.stdout);
}

type Variant = "handler" | "put" | "naive" | "raw" | "conditional";
type BenchOrder = Record<string, string | number>;

async function createOrdersTable(endpoint: string, name: string): Promise<void> {
  await createTable({ url: endpoint }, { name, hashKey: "orderId", attributes: [{ name: "orderId", type: "S" }] });
}

/** A PutItem of an order without the handler; `conditional` adds the handler's first condition (insert only if new). */
function putRequest(table: string, o: BenchOrder, conditional: boolean): PutItemCommand {
  const item = {
    orderId: { S: String(o.orderId) },
    userId: { S: String(o.userId) },
    itemName: { S: String(o.itemName) },
    quantity: { N: String(o.quantity) },
    status: { S: String(o.status) },
    timestamp: { S: String(o.timestamp) },
  };
  return new PutItemCommand(
    conditional
      ? {
          TableName: table,
          Item: item,
          ConditionExpression: "attribute_not_exists(orderId)",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }
      : { TableName: table, Item: item },
  );
}

/** The bench's worker thread (`bench-worker.ts`), bundled as the handler is. */
const WORKER = () =>
  bundleHandler(
    path.join(__dirname, "bench-worker.ts"),
    path.join(path.dirname(ORDER_PROCESSOR.outdir), "bench-worker"),
  );

interface WorkerFigures {
  /** Orders per second, by the worker's own clock. */
  readonly rate: number;
  /** The worker thread's CPU microseconds per record. */
  readonly cpuPerRecord: number;
}

/**
 * The handler (`handler`), or the bare conditional put it makes first (`put`), over `events` in a worker
 * thread of its own (`bench-worker.ts`): its rate and its thread's CPU per record. The handler's log lines
 * are the worker's stdout, read and dropped here.
 */
function inWorker(work: BenchWork, endpoint: string, table: string, events: SQSEvent[], warm: SQSEvent[]) {
  const bundle = bundleHandler(ORDER_PROCESSOR.entry, ORDER_PROCESSOR.outdir);
  const data: BenchWorkerData = { work, bundle, table, events, warm };
  const worker = new Worker(WORKER(), {
    stdout: true,
    env: { ...process.env, TABLE_NAME: table, AWS_ENDPOINT_URL_DYNAMODB: endpoint },
    workerData: data,
  });
  worker.stdout.resume();
  return new Promise<WorkerFigures>((resolve, reject) => {
    worker.once("message", (m: BenchWorkerResult) => {
      void worker.terminate();
      if (m.error) reject(new Error(`the bench worker (${work}) failed: ${m.error}`));
      else resolve({ rate: m.records! / (m.ms! / 1000), cpuPerRecord: m.cpuMicros! / m.records! });
    });
    worker.once("error", reject);
  });
}

/** One measurement of each variant against `endpoint`, on fresh tables, in rotated order. */
async function throughputRound(
  endpoint: string,
  round: number,
  variants: Variant[],
): Promise<{ rates: Partial<Record<Variant, number>>; cpu: Partial<Record<"handler" | "put", number>> }> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const tag = `${endpoint.replace(/\D/g, "")}x${round}`;
  const cpu: Partial<Record<"handler" | "put", number>> = {};
  /** One kind of work in its worker: its rate; its CPU per record is kept in `cpu`. */
  const worker = async (work: BenchWork, table: string) => {
    const events = batches(orderBodies(`${work[0]}${tag}`));
    const figures = await inWorker(work, endpoint, table, events, batches(orderBodies(`w${work}${tag}`)).slice(0, 20));
    cpu[work] = figures.cpuPerRecord;
    return figures.rate;
  };
  const run: Record<Variant, (table: string) => Promise<number>> = {
    handler: (table) => worker("handler", table),
    // The floor of the handler's own cost: its first conditional put alone, in the same kind of worker.
    put: (table) => worker("put", table),
    // Naive baseline: parse and put each record, one after another.
    naive: (table) => {
      const events = batches(orderBodies(`n${tag}`));
      return timed(async () => {
        for (const event of events) {
          for (const record of event.Records) await client.send(putRequest(table, JSON.parse(record.body), false));
        }
      });
    },
    // The limit: PutItem calls at the handler's concurrency, no handler; and the same with its condition.
    raw: (table) => putAll(client, table, orderBodies(`r${tag}`), false),
    conditional: (table) => putAll(client, table, orderBodies(`c${tag}`), true),
  };
  const rates: Partial<Record<Variant, number>> = {};
  try {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const variant of order) {
      const table = `Bench-${variant}-${tag}`;
      await createOrdersTable(endpoint, table);
      rates[variant] = await run[variant](table);
    }
  } finally {
    client.destroy();
  }
  return { rates, cpu };
}

/** PutItem calls in batches of 10 awaited together, as the handler processes a batch. */
function putAll(client: DynamoDBClient, table: string, bodies: string[], conditional: boolean): Promise<number> {
  const orders: BenchOrder[] = bodies.map((b) => JSON.parse(b));
  return timed(async () => {
    for (let i = 0; i < orders.length; i += BATCH) {
      await Promise.all(orders.slice(i, i + BATCH).map((o) => client.send(putRequest(table, o, conditional))));
    }
  });
}

/**
 * End to end through the offline runtime (SNS Publish -> fauxqs -> the Lambda service's pollers on the
 * SQS API -> the bundle in worker threads -> dynalite), faults off, beside raw PutItem calls to an identically started local DynamoDB at the
 * pipeline's concurrency (maximum concurrency x batch size).
 */
async function pipelineRound(
  stackDir: string,
  round: number,
): Promise<{ pipeline: number; raw: number; conditional: number; concurrency: number }> {
  const pipeline = await LocalPipeline.start({ stackDir });
  let pipelineRate: number;
  let concurrency: number;
  try {
    const mapping = pipeline.stack.mappings[0];
    concurrency = (mapping.maximumConcurrency ?? 5) * mapping.batchSize;
    // Warm the execution environments first, as a steady-state pipeline would be.
    await pipeline.publishAll(
      Array.from({ length: concurrency }, (_, i) =>
        sampleOrderBody({ orderId: `warm-${round}-${i}`, userId: "U1", quantity: 1 }),
      ),
    );
    await pipeline.settled();
    const bodies = orderBodies(`p${round}`);
    pipelineRate = await timed(async () => {
      await pipeline.publishAll(bodies);
      await pipeline.settled();
    });
    const summary = await pipeline.summary();
    if (summary.lost !== 0 || summary.deadLettered !== 0)
      throw new Error(`pipeline run lost or dead-lettered orders: ${JSON.stringify(summary)}`);
  } finally {
    await pipeline.close();
  }
  const local = await startLocalDynamoDB();
  const client = new DynamoDBClient({
    endpoint: local.directEndpoint.url,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    /** PutItem calls from `concurrency` concurrent callers, as the pipeline's pollers make them. */
    const putConcurrently = async (table: string, prefix: string, conditional: boolean) => {
      await createOrdersTable(local.directEndpoint.url, table);
      const orders: BenchOrder[] = orderBodies(prefix).map((b) => JSON.parse(b));
      let next = 0;
      return timed(async () => {
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < orders.length) await client.send(putRequest(table, orders[next++], conditional));
          }),
        );
      });
    };
    const raw = await putConcurrently("Raw", `q${round}`, false);
    const conditional = await putConcurrently("RawConditional", `k${round}`, true);
    return { pipeline: pipelineRate, raw, conditional, concurrency };
  } finally {
    client.destroy();
    await local.close();
  }
}

/**
 * The engines alone: what the pipeline does per message, as a bare AWS SDK loop on the same engines,
 * provisioned alike (the stack's queue settings): publish through SNS, long-poll receive in batches of the
 * mapping's size, the handler's conditional put, delete the batch, at the mapping's maximum concurrency.
 * The pipeline's throughput over this one is what the Lambda service (pollers, workers, judging) costs.
 */
async function enginesRound(stack: StackModel, round: number): Promise<number> {
  const [dynamodb, snsSqs] = await Promise.all([startLocalDynamoDB(), startSnsSqs({ region: stack.region })]);
  const config = { region: stack.region, credentials: LOCAL_CREDENTIALS };
  const sns = new SNSClient({ ...config, endpoint: snsSqs.endpoint.url });
  const sqs = new SQSClient({ ...config, endpoint: snsSqs.endpoint.url });
  const ddb = new DynamoDBClient({ ...config, endpoint: dynamodb.endpoint.url });
  const stopped = new AbortController();
  try {
    const resources = await provision(stack, { sns, sqs, dynamodbEndpoint: dynamodb.directEndpoint });
    const mapping = stack.mappings[0];
    const queue = resources.get("aws_sqs_queue", mapping.queue);
    const table = stack.tables[0].name;
    const bodies = orderBodies(`e${round}`);
    let done = 0;
    const consume = async () => {
      while (done < bodies.length) {
        const { Messages = [] } = await sqs
          .send(
            new ReceiveMessageCommand({
              QueueUrl: queue.url,
              MaxNumberOfMessages: Math.min(10, mapping.batchSize),
              WaitTimeSeconds: 20,
            }),
            { abortSignal: stopped.signal },
          )
          .catch((error) => (stopped.signal.aborted ? { Messages: [] } : Promise.reject(error)));
        if (Messages.length === 0) continue;
        await Promise.all(Messages.map((m) => ddb.send(putRequest(table, JSON.parse(m.Body!), true))));
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queue.url,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
        done += Messages.length;
        if (done >= bodies.length) stopped.abort();
      }
    };
    const topic = resources.topicToPublishTo();
    return await timed(async () => {
      const consumers = Array.from({ length: mapping.maximumConcurrency ?? 5 }, consume);
      const { stoppedBy } = await publishAll(sns, topic.arn, bodies);
      if (stoppedBy) throw stoppedBy;
      await Promise.all(consumers);
    });
  } finally {
    stopped.abort();
    for (const client of [sns, sqs, ddb]) client.destroy();
    await Promise.all([snsSqs.close(), dynamodb.close()]);
  }
}

/** The handler's bundle, and the floor: a bundle holding only the document client, for the cold-init ratio. */
function buildBundles(): { bundle: string; floor: string } {
  const bundle = bundleHandler(ORDER_PROCESSOR.entry, ORDER_PROCESSOR.outdir);
  // Inside the project (an ignored folder), so the floor bundles the same SDK from node_modules.
  const floorDir = path.join(path.dirname(ORDER_PROCESSOR.outdir), "bench-floor");
  fs.mkdirSync(floorDir, { recursive: true });
  const floorEntry = path.join(floorDir, "floor.ts");
  fs.writeFileSync(
    floorEntry,
    `import { DynamoDBClient } from "@aws-sdk/client-dynamodb";\nimport { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";\nexport const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));\n`,
  );
  return { bundle, floor: bundleHandler(floorEntry, path.join(floorDir, "out")) };
}

/** Handler vs naive vs raw vs conditional puts, on dynalite in its own process, and again behind added latency. */
async function measureThroughput(advance: (what: string) => void) {
  const dynamo = await startDynaliteProcess();
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  // The same server behind a front that adds DynamoDB-like network latency (single-digit ms in AWS).
  const distant = await startLocalDynamoDB({ backendEndpoint: dynamo.endpoint, latencyMs: LATENCY_MS });
  const results = {
    handler: [] as number[],
    put: [] as number[],
    naive: [] as number[],
    raw: [] as number[],
    conditional: [] as number[],
  };
  const cpu = { handler: [] as number[], put: [] as number[] };
  const latent = { handler: [] as number[], naive: [] as number[] };
  try {
    // Round 0 warms the JIT and the server and is not counted; the order of the variants rotates.
    for (let round = 0; round <= ROUNDS; round++) {
      const variants: Variant[] = ["handler", "put", "naive", "raw", "conditional"];
      const measured = await throughputRound(dynamo.endpoint, round, variants);
      const slow = (await throughputRound(distant.endpoint.url, round, ["handler", "naive"])).rates;
      advance(round === 0 ? "warm-up round" : `throughput round ${round} of ${ROUNDS}`);
      if (round === 0) continue;
      for (const key of Object.keys(results) as (keyof typeof results)[]) results[key].push(measured.rates[key]!);
      cpu.handler.push(measured.cpu.handler!);
      cpu.put.push(measured.cpu.put!);
      latent.handler.push(slow.handler!);
      latent.naive.push(slow.naive!);
    }
  } finally {
    await distant.close();
    dynamo.stop();
  }
  return { results, latent, cpu };
}

/** The offline pipeline end to end, against the engines alone and raw and conditional puts at its concurrency. */
async function measurePipeline(advance: (what: string) => void) {
  const stackDir = synthesize();
  const stack = loadStack(stackDir);
  const runs = { pipeline: [] as number[], engines: [] as number[], raw: [] as number[], conditional: [] as number[] };
  let concurrency = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated: in odd rounds the engines alone go first.
    const engines = round % 2 ? await enginesRound(stack, round) : undefined;
    const r = await pipelineRound(stackDir, round);
    runs.engines.push(engines ?? (await enginesRound(stack, round)));
    runs.pipeline.push(r.pipeline);
    runs.raw.push(r.raw);
    runs.conditional.push(r.conditional);
    concurrency = r.concurrency;
    advance(`pipeline round ${round + 1} of ${ROUNDS}`);
  }
  return { runs, concurrency };
}

function measureInits(bundles: { bundle: string; floor: string }, advance: (what: string) => void) {
  const inits = { cold: [] as number[], floor: [] as number[] };
  for (let i = 0; i < INIT_SAMPLES; i++) {
    inits.cold.push(initMs(bundles.bundle));
    inits.floor.push(initMs(bundles.floor));
    advance(`cold init sample ${i + 1} of ${INIT_SAMPLES}`);
  }
  return inits;
}

const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
const rate = (samples: number[]) => Math.round(median(samples));

type Throughput = Awaited<ReturnType<typeof measureThroughput>>;
type PipelineRuns = Awaited<ReturnType<typeof measurePipeline>>;

/** The medians, and the ratios the README's targets are stated in. */
function figuresFrom(
  t: Throughput,
  p: PipelineRuns,
  inits: ReturnType<typeof measureInits>,
  bundles: { bundle: string; floor: string },
) {
  const handler = rate(t.results.handler);
  const put = rate(t.results.put);
  const handlerCpuMicros = Math.round(median(t.cpu.handler));
  const putCpuMicros = Math.round(median(t.cpu.put));
  const naive = rate(t.results.naive);
  const raw = rate(t.results.raw);
  const conditional = rate(t.results.conditional);
  const latentHandler = rate(t.latent.handler);
  const latentNaive = rate(t.latent.naive);
  const coldInitMs = Number(median(inits.cold).toFixed(1));
  const floorInitMs = Number(median(inits.floor).toFixed(1));
  const pipeline = rate(p.runs.pipeline);
  const engines = rate(p.runs.engines);
  const pipelineRaw = rate(p.runs.raw);
  const pipelineConditional = rate(p.runs.conditional);
  return {
    orders: ORDERS,
    batchSize: BATCH,
    rounds: ROUNDS,
    handlerOrdersPerSec: handler,
    naiveOrdersPerSec: naive,
    rawPutsPerSec: raw,
    conditionalPutsPerSec: conditional,
    handlerCpuMicrosPerRecord: handlerCpuMicros,
    putCpuMicrosPerRecord: putCpuMicros,
    handlerCpuVsPut: ratio(handlerCpuMicros, putCpuMicros),
    putInWorkerPerSec: put,
    handlerVsPutInWorker: ratio(handler, put),
    handlerVsRaw: ratio(handler, raw),
    handlerVsConditional: ratio(handler, conditional),
    handlerVsNaive: ratio(handler, naive),
    latencyMs: LATENCY_MS,
    handlerOrdersPerSecWithLatency: latentHandler,
    naiveOrdersPerSecWithLatency: latentNaive,
    handlerVsNaiveWithLatency: ratio(latentHandler, latentNaive),
    bundleBytes: fs.statSync(bundles.bundle).size,
    floorBundleBytes: fs.statSync(bundles.floor).size,
    coldInitMs,
    floorInitMs,
    coldInitVsFloor: ratio(coldInitMs, floorInitMs),
    pipelineOrdersPerSec: pipeline,
    pipelineRawPutsPerSec: pipelineRaw,
    pipelineConcurrency: p.concurrency,
    pipelineConditionalPutsPerSec: pipelineConditional,
    enginesOrdersPerSec: engines,
    pipelineVsEngines: ratio(pipeline, engines),
    pipelineVsRaw: ratio(pipeline, pipelineRaw),
    pipelineVsConditional: ratio(pipeline, pipelineConditional),
  };
}

/** The report's rows: what, the figure, the ratio and target it is read against. */
function reportRows(f: ReturnType<typeof figuresFrom>): [string, string, string][] {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  return [
    [
      "handler (10 records concurrently per batch)",
      `${f.handlerOrdersPerSec} orders/s`,
      `${f.handlerVsRaw}x raw, target >= 0.9`,
    ],
    [
      "naive handler (sequential parse + put)",
      `${f.naiveOrdersPerSec} orders/s`,
      `handler is ${f.handlerVsNaive}x, target >= 5`,
    ],
    [
      "handler's CPU per record (its worker thread)",
      `${f.handlerCpuMicrosPerRecord} us`,
      `${f.handlerCpuVsPut}x the bare put's, target <= 1.25`,
    ],
    [
      "bare conditional put, same SDK, same worker",
      `${f.putCpuMicrosPerRecord} us/record`,
      `${f.putInWorkerPerSec} puts/s; handler is ${f.handlerVsPutInWorker}x`,
    ],
    ["raw PutItem, 10 concurrent (the limit)", `${f.rawPutsPerSec} puts/s`, ""],
    [
      "conditional PutItem, 10 concurrent",
      `${f.conditionalPutsPerSec} puts/s`,
      `handler is ${f.handlerVsConditional}x`,
    ],
    [
      `handler, ${LATENCY_MS} ms DynamoDB latency`,
      `${f.handlerOrdersPerSecWithLatency} orders/s`,
      `${f.handlerVsNaiveWithLatency}x naive`,
    ],
    [`naive handler, ${LATENCY_MS} ms DynamoDB latency`, `${f.naiveOrdersPerSecWithLatency} orders/s`, ""],
    ["bundle size", kib(f.bundleBytes), "target <= 600 KB"],
    ["cold init (require bundle)", `${f.coldInitMs} ms`, `${f.coldInitVsFloor}x floor, target <= 1.2`],
    ["floor init (document client only)", `${f.floorInitMs} ms`, kib(f.floorBundleBytes)],
    [
      "offline pipeline end to end, faults off",
      `${f.pipelineOrdersPerSec} orders/s`,
      `${f.pipelineVsEngines}x the engines alone, target >= 0.9; ${f.pipelineVsRaw}x raw`,
    ],
    [
      "engines alone (SDK loop: publish, receive, put, delete)",
      `${f.enginesOrdersPerSec} orders/s`,
      "the floor the pipeline is held to",
    ],
    [`raw PutItem, ${f.pipelineConcurrency} concurrent, in-process dynalite`, `${f.pipelineRawPutsPerSec} puts/s`, ""],
    [
      `conditional PutItem, ${f.pipelineConcurrency} concurrent, in-process`,
      `${f.pipelineConditionalPutsPerSec} puts/s`,
      `pipeline is ${f.pipelineVsConditional}x`,
    ],
  ];
}

function report(f: ReturnType<typeof figuresFrom>): void {
  console.log(
    `order processor benchmark: ${ORDERS} orders in batches of ${BATCH}, median of ${ROUNDS} interleaved rounds, dynalite in its own process`,
  );
  for (const [what, value, note] of reportRows(f)) console.log(`  ${what.padEnd(46)} ${value.padStart(16)}  ${note}`);
  console.log(JSON.stringify(f));
}

async function main(): Promise<void> {
  const bundles = buildBundles();
  // Steps: warm-up and measured throughput rounds, pipeline rounds, cold-init samples.
  const bar = progress("bench");
  const steps = ROUNDS + 1 + ROUNDS + INIT_SAMPLES;
  let step = 0;
  const advance = (what: string) => bar.update(++step, steps, what);
  const throughput = await measureThroughput(advance);
  const pipeline = await measurePipeline(advance);
  const inits = measureInits(bundles, advance);
  bar.clear();
  report(figuresFrom(throughput, pipeline, inits, bundles));
}

runMain(
  module,
  async () => {
    await main();
    return 0;
  },
  { exitCodeOf: () => 1 },
);
