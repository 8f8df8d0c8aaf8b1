/**
 * `npm run bench`'s worker thread: one kind of work over SQS events, in a thread of its own as an
 * execution environment runs the handler, measured by the thread's own clock and CPU time
 * (`process.threadCpuUsage`), so the main thread, dynalite's process and the other worker do not count.
 *
 * - `handler`: the order processor's bundle (parse, validate, conditional put, log line, metrics);
 * - `put`: the bare conditional PutItem the handler makes first, through the same SDK (the document
 *   client, configured as the handler's), ten records of a batch at once as the handler does: the floor
 *   the handler's own cost is measured against.
 *
 * Warmed first by other events, as a warm Lambda environment is. Its stdout (the handler's log lines)
 * goes to the main thread, which drops it. Bundled by the bench (esbuild) and type-checked with the rest.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { parentPort, workerData } from "node:worker_threads";

export type BenchWork = "handler" | "put";

export interface BenchWorkerData {
  readonly work: BenchWork;
  /** The handler's bundle (for `handler`). */
  readonly bundle: string;
  readonly table: string;
  readonly events: SQSEvent[];
  readonly warm: SQSEvent[];
}

export interface BenchWorkerResult {
  /** Wall-clock milliseconds over `events`. */
  readonly ms?: number;
  /** This thread's CPU microseconds (user + system) over `events`. */
  readonly cpuMicros?: number;
  readonly records?: number;
  readonly error?: string;
}

type Run = (event: SQSEvent) => Promise<void>;

function handlerRun(bundle: string): Run {
  const { handler } = require(bundle) as { handler: (event: SQSEvent) => Promise<SQSBatchResponse> };
  return async (event) => {
    const { batchItemFailures } = await handler(event);
    if (batchItemFailures.length > 0) throw new Error(`${batchItemFailures.length} records failed`);
  };
}

function putRun(table: string): Run {
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 } }),
  );
  return async (event) => {
    await Promise.all(
      event.Records.map((record) =>
        client.send(
          new PutCommand({
            TableName: table,
            Item: JSON.parse(record.body),
            ConditionExpression: "attribute_not_exists(orderId)",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        ),
      ),
    );
  };
}

async function measure(data: BenchWorkerData): Promise<BenchWorkerResult> {
  const run = data.work === "handler" ? handlerRun(data.bundle) : putRun(data.table);
  for (const event of data.warm) await run(event);
  const cpu = process.threadCpuUsage();
  const started = performance.now();
  for (const event of data.events) await run(event);
  const ms = performance.now() - started;
  const used = process.threadCpuUsage(cpu);
  const records = data.events.reduce((sum, event) => sum + event.Records.length, 0);
  return { ms, cpuMicros: used.user + used.system, records };
}

if (parentPort) {
  measure(workerData as BenchWorkerData).then(
    (result) => parentPort!.postMessage(result),
    (error: Error) => parentPort!.postMessage({ error: String(error) }),
  );
}
