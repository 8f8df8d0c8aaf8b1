/**
 * `npm run bench`: throughput and cold-start figures measured side by side in one run (medians of
 * interleaved rounds; this machine is shared and noisy). Prints a table, then one JSON line.
 */
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { bundleHandler, ORDER_PROCESSOR } from "../constructs/function-bundle";
import { createTable, LOCAL_CREDENTIALS, LOCAL_REGION } from "./dynamodb";

const ORDERS = Number(process.env.BENCH_ORDERS ?? 5000);
const BATCH = 10;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const INIT_SAMPLES = Number(process.env.BENCH_INIT_SAMPLES ?? 31);

type Handler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/** dynalite in its own process, as a real server would be: the client side does not share its core. */
async function startDynaliteProcess(): Promise<{ endpoint: string; stop(): void }> {
  const child = spawn(process.execPath, ["-e", `require(${JSON.stringify(require.resolve("dynalite"))})({createTableMs:0}).listen(0,"127.0.0.1",function(){console.log(this.address().port)})`], {
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
    JSON.stringify({ orderId: `${prefix}-${i}`, userId: `U${i % 97}`, itemName: "Tablet", quantity: 1 + (i % 9), status: "new", timestamp: "2025-05-09T14:40:00Z" }),
  );
}

function batches(bodies: string[]): SQSEvent[] {
  const out: SQSEvent[] = [];
  for (let i = 0; i < bodies.length; i += BATCH) {
    out.push({ Records: bodies.slice(i, i + BATCH).map((body, j) => ({ messageId: `m${i + j}`, body }) as SQSEvent["Records"][number]) });
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
  const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", env: { ...process.env, AWS_REGION: LOCAL_REGION, TABLE_NAME: "Orders" } });
  if (result.status !== 0) throw new Error(`requiring ${bundle} failed: ${result.stderr}`);
  return Number(result.stdout);
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const bundle = bundleHandler(ORDER_PROCESSOR.entry, ORDER_PROCESSOR.outdir);
  // Inside the project (an ignored folder), so the floor bundles the same SDK from node_modules.
  const floorDir = path.join(path.dirname(ORDER_PROCESSOR.outdir), "bench-floor");
  fs.mkdirSync(floorDir, { recursive: true });
  const floorEntry = path.join(floorDir, "floor.ts");
  fs.writeFileSync(
    floorEntry,
    `import { DynamoDBClient } from "@aws-sdk/client-dynamodb";\nimport { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";\nexport const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));\n`,
  );
  const floor = bundleHandler(floorEntry, path.join(floorDir, "out"));

  const dynamo = await startDynaliteProcess();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const write = process.stdout.write.bind(process.stdout);
  const results = { handler: [] as number[], naive: [] as number[], raw: [] as number[], conditional: [] as number[] };
  const item = (o: Record<string, string | number>) => ({
    orderId: { S: String(o.orderId) },
    userId: { S: String(o.userId) },
    itemName: { S: String(o.itemName) },
    quantity: { N: String(o.quantity) },
    status: { S: String(o.status) },
    timestamp: { S: String(o.timestamp) },
  });
  /** PutItem calls, 10 at a time, no handler; `conditional` adds the handler's newer-wins condition. */
  const putAll = (table: string, prefix: string, conditional: boolean) => {
    const orders = orderBodies(prefix).map((b) => JSON.parse(b));
    return timed(async () => {
      for (let i = 0; i < orders.length; i += BATCH) {
        await Promise.all(
          orders.slice(i, i + BATCH).map((o) =>
            client.send(
              new PutItemCommand({
                TableName: table,
                Item: conditional ? { ...item(o), timestampEpoch: { N: "1746801600" } } : item(o),
                ...(conditional && {
                  ConditionExpression: "attribute_not_exists(orderId) OR attribute_not_exists(#instant) OR #instant < :instant",
                  ExpressionAttributeNames: { "#instant": "timestampEpoch" },
                  ExpressionAttributeValues: { ":instant": { N: "1746801600" } },
                }),
              }),
            ),
          ),
        );
      }
    });
  };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const tables = { handler: `BenchHandler${round}`, naive: `BenchNaive${round}`, raw: `BenchRaw${round}`, conditional: `BenchCond${round}` };
      for (const name of Object.values(tables)) await createTable(dynamo.endpoint, { name, hashKey: "orderId", attributes: [{ name: "orderId", type: "S" }] });

      process.env.TABLE_NAME = tables.handler;
      delete require.cache[bundle];
      const handler: Handler = require(bundle).handler;
      const events = batches(orderBodies(`h${round}`));
      process.stdout.write = (() => true) as typeof process.stdout.write; // the handler's log lines
      try {
        results.handler.push(
          await timed(async () => {
            for (const event of events) {
              const response = await handler(event);
              if (response.batchItemFailures.length > 0) throw new Error(`handler failed ${response.batchItemFailures.length} records`);
            }
          }),
        );
      } finally {
        process.stdout.write = write;
      }

      // Naive baseline: parse and put each record, one after another.
      const naiveEvents = batches(orderBodies(`n${round}`));
      results.naive.push(
        await timed(async () => {
          for (const event of naiveEvents) {
            for (const record of event.Records) {
              const o = JSON.parse(record.body);
              await client.send(new PutItemCommand({ TableName: tables.naive, Item: item(o) }));
            }
          }
        }),
      );

      // The limit: raw PutItem calls at the handler's concurrency; and the same with its condition.
      results.raw.push(await putAll(tables.raw, `r${round}`, false));
      results.conditional.push(await putAll(tables.conditional, `c${round}`, true));
    }
  } finally {
    client.destroy();
    dynamo.stop();
  }

  const inits = { cold: [] as number[], floor: [] as number[] };
  for (let i = 0; i < INIT_SAMPLES; i++) {
    inits.cold.push(initMs(bundle));
    inits.floor.push(initMs(floor));
  }

  const figures = {
    orders: ORDERS,
    batchSize: BATCH,
    rounds: ROUNDS,
    handlerOrdersPerSec: Math.round(median(results.handler)),
    naiveOrdersPerSec: Math.round(median(results.naive)),
    rawPutsPerSec: Math.round(median(results.raw)),
    conditionalPutsPerSec: Math.round(median(results.conditional)),
    handlerVsRaw: 0,
    handlerVsConditional: 0,
    handlerVsNaive: 0,
    bundleBytes: fs.statSync(bundle).size,
    floorBundleBytes: fs.statSync(floor).size,
    coldInitMs: Number(median(inits.cold).toFixed(1)),
    floorInitMs: Number(median(inits.floor).toFixed(1)),
    coldInitVsFloor: 0,
  };
  figures.handlerVsRaw = Number((figures.handlerOrdersPerSec / figures.rawPutsPerSec).toFixed(2));
  figures.handlerVsConditional = Number((figures.handlerOrdersPerSec / figures.conditionalPutsPerSec).toFixed(2));
  figures.handlerVsNaive = Number((figures.handlerOrdersPerSec / figures.naiveOrdersPerSec).toFixed(2));
  figures.coldInitVsFloor = Number((figures.coldInitMs / figures.floorInitMs).toFixed(2));

  const rows: [string, string, string][] = [
    ["handler (10 records concurrently per batch)", `${figures.handlerOrdersPerSec} orders/s`, `${figures.handlerVsRaw}x raw, target >= 0.9`],
    ["naive handler (sequential parse + put)", `${figures.naiveOrdersPerSec} orders/s`, `handler is ${figures.handlerVsNaive}x, target >= 5`],
    ["raw PutItem, 10 concurrent (the limit)", `${figures.rawPutsPerSec} puts/s`, ""],
    ["conditional PutItem, 10 concurrent", `${figures.conditionalPutsPerSec} puts/s`, `handler is ${figures.handlerVsConditional}x`],
    ["bundle size", `${(figures.bundleBytes / 1024).toFixed(0)} KiB`, "target <= 600 KB"],
    ["cold init (require bundle)", `${figures.coldInitMs} ms`, `${figures.coldInitVsFloor}x floor, target <= 1.2`],
    ["floor init (document client only)", `${figures.floorInitMs} ms`, `${(figures.floorBundleBytes / 1024).toFixed(0)} KiB`],
  ];
  console.log(`order processor benchmark: ${ORDERS} orders in batches of ${BATCH}, median of ${ROUNDS} interleaved rounds, dynalite in its own process`);
  for (const [what, value, note] of rows) console.log(`  ${what.padEnd(46)} ${value.padStart(16)}  ${note}`);
  console.log(JSON.stringify(figures));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
