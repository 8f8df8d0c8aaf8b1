/**
 * Crash-safe `--persist`: the server's process group is killed with SIGKILL again and again, at moments
 * spread over publishing, processing and the moves of poison orders to the DLQ, and restarted on the same
 * folder each time. At the end every order SNS acknowledged is stored, queued or dead-lettered, every DLQ
 * move of the last run (restored messages included) is traced, and the last run's balance holds.
 */
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LOCAL_CREDENTIALS } from "../../offline/engines/dynamodb";
import { SAMPLE_ORDER } from "../support/orders";
import { sized } from "../support/long-run";
import { interrupt, readyOf, Served, startServe } from "../support/serve";
import { synthOrderStackTo } from "../support/stacks";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-crash-"));
const started: Served[] = [];
afterAll(async () => {
  // Whatever happened, no server of this test outlives it.
  for (const { child } of started)
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  await Promise.all(started.map((served) => served.exited));
  fs.rmSync(work, { recursive: true, force: true });
});

/** When each round's SIGKILL lands, in ms after publishing starts: during publishing, processing, DLQ moves. */
// Early (while restoring and provisioning), mid-stream and late kills; `npm run test:long` kills 12 times.
const KILL_AFTER_MS = sized([0, 400, 1600], [0, 15, 40, 80, 150, 250, 400, 700, 1100, 1600, 2300, 3200]);
const VALID = 20;
const POISON = 2;

type Ready = { endpoint: string; region: string; outputs: string };
const config = (ready: Ready) => ({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
const topicOf = (ready: Ready) => JSON.parse(fs.readFileSync(ready.outputs, "utf8")).OrderSystemStack.topic_arn;

/** Publishes the round's orders; resolves with the ids SNS acknowledged before the process died. */
async function publishRound(ready: Ready, round: number, acknowledged: Set<string>): Promise<void> {
  const sns = new SNSClient({ ...config(ready), maxAttempts: 1 });
  const ids = Array.from({ length: VALID + POISON }, (_, i) => `K${round}-${i < VALID ? "OK" : "BAD"}${i}`);
  await Promise.all(
    ids.map((orderId) =>
      sns
        .send(
          new PublishCommand({
            TopicArn: topicOf(ready),
            Message: JSON.stringify({ ...SAMPLE_ORDER, orderId, ...(orderId.includes("BAD") ? { quantity: 0 } : {}) }),
          }),
        )
        .then(
          () => acknowledged.add(orderId),
          () => undefined, // the server died before answering: not acknowledged, so not owed
        ),
    ),
  );
  sns.destroy();
}

/** Every message of the DLQ, received and deleted: their order ids. */
async function drainDlq(ready: Ready): Promise<string[]> {
  const sqs = new SQSClient(config(ready));
  const dlqUrl = JSON.parse(fs.readFileSync(ready.outputs, "utf8")).OrderSystemStack.dlq_url;
  const ids: string[] = [];
  try {
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 60,
        }),
      );
      if (Messages.length === 0) return ids;
      ids.push(...Messages.map((m) => JSON.parse(m.Body!).orderId as string));
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: dlqUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  } finally {
    sqs.destroy();
  }
}

async function storedIds(ready: Ready): Promise<Set<string>> {
  const dynamodb = new DynamoDBClient(config(ready));
  const ids = new Set<string>();
  let start: Record<string, never> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: "Orders", ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) ids.add(item.orderId.S!);
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  dynamodb.destroy();
  return ids;
}

test("kill -9 at any moment loses no acknowledged message: after restarts each order is stored, queued or dead-lettered", async () => {
  const stackDir = synthOrderStackTo(path.join(work, "stack"));
  const args = [
    "--port",
    "0",
    "--stack-dir",
    stackDir,
    "--persist",
    path.join(work, "store"),
    "--run-dir",
    path.join(work, "run"),
  ];
  const acknowledged = new Set<string>();
  for (const [round, killAfter] of KILL_AFTER_MS.entries()) {
    const served = startServe(args, "node");
    started.push(served);
    const ready = await readyOf(served);
    const publishing = publishRound(ready, round, acknowledged);
    await sleep(killAfter);
    process.kill(-served.child.pid!, "SIGKILL");
    await served.exited;
    await publishing;
  }
  // The last run: everything restored settles; its balance holds and every move to the DLQ is traced.
  const last: Served = startServe(args, "node");
  started.push(last);
  const ready = await readyOf(last);
  let counts: Record<string, number> = {};
  for (let waited = 0; waited < 60_000; waited += 200) {
    counts = ((await (await fetch(`${ready.endpoint}/_local/health`)).json()) as { counts: typeof counts }).counts;
    if (counts.queued === 0) break;
    await sleep(200);
  }
  if (counts.queued !== 0) console.log(JSON.stringify(counts), last.lines.slice(-40).join("\n"));
  expect(counts.queued).toBe(0);
  const stored = await storedIds(ready);
  // Everything SNS acknowledged over all the rounds is somewhere: stored, or in the DLQ.
  const dead = new Set(await drainDlq(ready));
  expect(await interrupt(last)).toBe(0);
  const summary = JSON.parse(last.lines.filter((l) => l.startsWith("{")).pop()!);
  expect(summary.lost).toBe(0);
  expect(summary.restored + summary.arrived).toBe(summary.processed + summary.deadLettered + summary.queued);
  expect(last.lines.filter((l) => /moved to DLQ/.test(l))).toHaveLength(summary.deadLettered);

  const missing = [...acknowledged].filter((id) => !stored.has(id) && !dead.has(id));
  console.log(
    `crash test: ${KILL_AFTER_MS.length} kills, ${acknowledged.size} acknowledged orders, ${stored.size} stored, ${dead.size} dead-lettered, ${missing.length} lost`,
  );
  expect(missing).toEqual([]);
  // A poison order is never stored: each acknowledged one is in the DLQ.
  expect([...acknowledged].filter((id) => id.includes("BAD") && !dead.has(id))).toEqual([]);
  expect(acknowledged.size).toBeGreaterThan(KILL_AFTER_MS.length * POISON);
}, 180_000);
