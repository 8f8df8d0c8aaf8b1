/**
 * Faults found by trying to break `--serve` as an attacker and a careless user would, each held here by
 * a test that failed before its fix: redrive and delete under `--persist` that hid other messages, a
 * message the Lambda service could not read (kept by `--persist`) that ended the server on every start, a
 * false "lost" when a client publishes while a `--persist` server starts, a run folder held by a zombie,
 * journeys without bound, an outputs file whose DLQ is the source queue, and dead letters dropped at stop
 * without a word. The endpoint's own refusals are in `endpoint.test.ts`, the browser's in `console.test.ts`.
 */
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Journal } from "../../offline/runtime/journal";
import { functionLineEvent } from "../../offline/runtime/events";
import { LOCAL_CREDENTIALS } from "../../offline/engines/dynamodb";
import { claimFolder, FolderInUseError } from "../../offline/serving/run-folder";
import { serve } from "../../offline/serving/serve";
import { loadOutputs } from "../../operator/io";
import { order } from "../support/orders";
import { synthOrderStackTo } from "../support/stacks";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-faults-"));
const stackDir = synthOrderStackTo(path.join(work, "stack"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

interface Running {
  readonly url: string;
  readonly lines: string[];
  /** Stops it as Ctrl-C does; resolves with the exit code. */
  stop(): Promise<number>;
}

/** `--serve` in this process, on its own run folder. */
async function serveHere(options: { dataDir?: string; port?: number } = {}): Promise<Running> {
  const lines: string[] = [];
  let requestStop!: (reason: string) => void;
  let ready!: (url: string) => void;
  const readyAt = new Promise<string>((resolve) => (ready = resolve));
  const exited = serve({
    stackDir,
    port: options.port ?? 0,
    runDir: fs.mkdtempSync(path.join(work, "run-")),
    dataDir: options.dataDir,
    stopRequested: new Promise<string>((resolve) => (requestStop = resolve)),
    trace: () => undefined,
    write: (line) => {
      lines.push(line);
      if (line.startsWith("ready ")) ready(JSON.parse(line.slice(6)).endpoint);
    },
  });
  const failed = exited.then((code) => Promise.reject(new Error(`serve exited ${code}:\n${lines.join("\n")}`)));
  const url = await Promise.race([readyAt, failed]);
  failed.catch(() => undefined);
  return { url, lines, stop: () => (requestStop("SIGINT"), exited) };
}

/** The console's API, with the run's token taken from its page as a browser gets it. */
async function consoleApi(url: string) {
  const page: string = await (await fetch(`${url}/_local/console/`)).text();
  const token = /name="console-token" content="([0-9a-f]+)"/.exec(page)![1];
  return async (route: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const response = await fetch(`${url}/_local/api/${route}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "x-console-token": token, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
}

/** The running balance, from `/_local/health`. */
async function counts(url: string): Promise<Record<string, number>> {
  const health = (await (await fetch(`${url}/_local/health`)).json()) as { counts: Record<string, number> };
  return health.counts;
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
}

/** One step of a journey, as the console's API words it. */
type Step = { at: number; label: string; text: string; messageId?: string };

const sns = (url: string) => new SNSClient({ endpoint: url, region: "us-east-1", credentials: LOCAL_CREDENTIALS });
const TOPIC = "arn:aws:sns:us-east-1:000000000000:OrderTopic";
const invalid = (id: string) => JSON.stringify({ ...order({ orderId: id }), quantity: "3" });

/** Writes rows into OrderQueue of a stopped `--persist` store, as a store written by an older version holds them. */
function storeMessages(dataDir: string, rows: { id: string; body: string; attributes?: object }[]): void {
  const script = `
    const { DatabaseSync } = require("node:sqlite");
    const md5 = (text) => require("node:crypto").createHash("md5").update(text).digest("hex");
    const db = new DatabaseSync(process.argv[1]);
    const insert = db.prepare("INSERT INTO sqs_messages (message_id, queue_name, body, md5_of_body, message_attributes, md5_of_message_attributes, sent_timestamp, approximate_receive_count) VALUES (?, 'OrderQueue', ?, ?, ?, '', ?, 0)");
    for (const row of JSON.parse(process.argv[2])) insert.run(row.id, row.body, md5(row.body), JSON.stringify(row.attributes ?? {}), Date.now());
    db.close();`;
  execFileSync(
    process.execPath,
    [
      "--disable-warning=ExperimentalWarning",
      "-e",
      script,
      path.join(dataDir, "sns-sqs", "fauxqs.db"),
      JSON.stringify(rows),
    ],
    { stdio: "pipe" },
  );
}

test("under --persist, redriving one of 7 DLQ messages from the console hides none; all, and a delete, too", async () => {
  const dataDir = fs.mkdtempSync(path.join(work, "persist-"));
  const server = await serveHere({ dataDir });
  const client = sns(server.url);
  try {
    const api = await consoleApi(server.url);
    for (let i = 1; i <= 7; i++) await client.send(new PublishCommand({ TopicArn: TOPIC, Message: invalid(`RD${i}`) }));
    await until("7 dead-lettered", async () => (await counts(server.url)).deadLettered === 7);
    const [{ messages }] = (await api("dlq")).body;
    expect(messages).toHaveLength(7);
    const one = await api("dlq/redrive", { queue: "DLQ", messageId: messages[0].messageId });
    expect(one).toMatchObject({ status: 200, body: { moved: 1, from: "DLQ", to: "OrderQueue" } });
    expect((await api("dlq")).body[0].messages.length).toBeGreaterThanOrEqual(6);
    // The redriven order fails again: back in the DLQ after three more receives.
    await until("back in the DLQ", async () => (await counts(server.url)).deadLettered === 8);
    expect((await api("dlq")).body[0].messages).toHaveLength(7);
    expect((await api("dlq/redrive", { queue: "DLQ" })).body).toMatchObject({ moved: 7 });
    await until("all back in the DLQ", async () => (await counts(server.url)).deadLettered === 15);
    expect((await api("dlq")).body[0].messages).toHaveLength(7);
    // A redrive sends each message anew: the DLQ's messages have new ids now.
    const [{ messages: now }] = (await api("dlq")).body;
    expect((await api("dlq/delete", { queue: "DLQ", messageId: now[1].messageId })).body).toEqual({
      deleted: true,
      queue: "DLQ",
    });
    expect((await api("dlq")).body[0].messages).toHaveLength(6);
  } finally {
    client.destroy();
    expect(await server.stop()).toBe(0);
  }
  expect(server.lines).toContain(
    `note: DLQ held 6 messages: kept in ${dataDir} (npm run orders -- dlq list shows them after the next start)`,
  );
}, 90_000);

test("a message the Lambda service cannot read (kept by --persist): logged, counted, dead-lettered; the server lives", async () => {
  const dataDir = fs.mkdtempSync(path.join(work, "persist-"));
  expect(await (await serveHere({ dataDir })).stop()).toBe(0);
  const badBinary = { a: { DataType: "Binary", BinaryValue: "!!notbase64!!" } };
  storeMessages(dataDir, [
    { id: "unreadable-1", body: JSON.stringify(order({ orderId: "BIN1" })), attributes: badBinary },
    { id: "readable-1", body: JSON.stringify(order({ orderId: "BIN2" })) },
  ]);
  const server = await serveHere({ dataDir });
  try {
    await until("dead-lettered and processed", async () => {
      const now = await counts(server.url);
      return now.deadLettered === 1 && now.processed === 1;
    });
    const balance = await counts(server.url);
    expect(balance).toMatchObject({ restored: 2, processed: 1, deadLettered: 1, unreadable: 1, lost: 0 });
    const api = await consoleApi(server.url);
    const [{ messages }] = (await api("dlq")).body;
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ messageId: "unreadable-1", orderId: "BIN1" });
    expect(messages[0].cause.outcome).toBe("unreadable");
    expect(messages[0].cause.line).toMatch(/'a' is Binary but its value is not base64/);
    expect((await api("items/BIN2")).body.item).toMatchObject({ orderId: "BIN2" });
  } finally {
    expect(await server.stop()).toBe(0);
  }
}, 60_000);

test("a client publishing while a --persist server starts: nothing counted twice, the balance holds", async () => {
  const dataDir = fs.mkdtempSync(path.join(work, "persist-"));
  expect(await (await serveHere({ dataDir })).stop()).toBe(0);
  storeMessages(
    dataDir,
    Array.from({ length: 20 }, (_, i) => ({ id: `kept-${i}`, body: JSON.stringify(order({ orderId: `KEPT${i}` })) })),
  );
  const port = await freePort();
  // No retries (the SDK's backoff would wait past the start): each loop tries again at once.
  const client = new SNSClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: "us-east-1",
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  let publishing = true;
  let published = 0;
  // From before the port opens: the first publishes land while the server is still starting.
  const publisher = async () => {
    while (publishing) {
      try {
        await client.send(
          new PublishCommand({ TopicArn: TOPIC, Message: JSON.stringify(order({ orderId: `P${published}` })) }),
        );
        published += 1;
      } catch {
        await sleep(1);
      }
    }
  };
  const publishers = Promise.all([publisher(), publisher(), publisher(), publisher()]);
  const server = await serveHere({ dataDir, port });
  try {
    await until("20 more published", async () => published >= 20);
    publishing = false;
    await publishers;
    await until("settled", async () => (await counts(server.url)).queued === 0);
  } finally {
    client.destroy();
    publishing = false;
    expect(await server.stop()).toBe(0);
  }
  const summary = JSON.parse(server.lines[server.lines.length - 1]);
  expect(summary).toMatchObject({ restored: 20, arrived: published, processed: 20 + published, lost: 0 });
}, 60_000);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("the run folder's claim", () => {
  const holderIn = (dir: string, holder: object) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "server.json"), JSON.stringify({ startedAt: "then", ...holder }));
  };
  const claim = (dir: string) => claimFolder(dir, "the run folder", "use --run-dir");

  test("a holder killed but not yet reaped (a zombie) is gone: its folder is taken over", async () => {
    // `sleep 30` replaces the shell and never reaps its child, which exits after it: that child stays a zombie.
    const parent = spawn("sh", ["-c", "sleep 0.3 & echo $!; exec sleep 30"], { stdio: ["ignore", "pipe", "ignore"] });
    const zombie = Number((await new Promise<Buffer>((resolve) => parent.stdout.once("data", resolve))).toString());
    try {
      const state = () => fs.readFileSync(`/proc/${zombie}/stat`, "utf8");
      await until("a zombie", async () => /\) Z /.test(state()));
      const dir = path.join(work, "zombie-held");
      holderIn(dir, { pid: zombie });
      (await claim(dir)).release();
    } finally {
      parent.kill();
    }
  });

  test("a live holder whose endpoint nothing answers is gone; one without an endpoint yet still holds", async () => {
    const alive = spawn("sleep", ["30"]);
    try {
      const port = await freePort();
      const dir = path.join(work, "endpoint-gone");
      holderIn(dir, { pid: alive.pid, endpoint: `http://127.0.0.1:${port}` });
      (await claim(dir)).release();
      holderIn(dir, { pid: alive.pid });
      await expect(claim(dir)).rejects.toThrow(FolderInUseError);
    } finally {
      alive.kill();
    }
  });
});

test("a journey is bounded: the newest steps of an order published 5,000 times, and how many were let go", () => {
  const journal = new Journal();
  for (let i = 0; i < 5000; i++)
    journal.record({
      type: "published",
      topic: "OrderTopic",
      queues: ["OrderQueue"],
      messageId: `m${i}`,
      orderId: "DUP",
    });
  const { events, omitted } = journal.journey("DUP");
  expect(events).toHaveLength(200);
  expect(omitted).toBe(4800);
  expect(events[events.length - 1].event).toMatchObject({ messageId: "m4999" });
});

test("the orders CLI refuses outputs whose DLQ is the source queue (a redrive would send it to itself)", () => {
  const file = path.join(work, "outputs.json");
  const url = "https://sqs.us-east-1.amazonaws.com/123456789012/OrderQueue";
  const outputs = {
    topic_arn: "arn:aws:sns:us-east-1:123456789012:OrderTopic",
    queue_url: url,
    dlq_url: url,
    dlq_arn: "arn:aws:sqs:us-east-1:123456789012:OrderQueue",
    table_name: "Orders",
  };
  fs.writeFileSync(file, JSON.stringify({ OrderSystemStack: outputs }));
  expect(() => loadOutputs(file, "OrderSystemStack", {})).toThrow(/dlq_url names the source queue itself/);
  fs.writeFileSync(
    file,
    JSON.stringify({
      OrderSystemStack: {
        ...outputs,
        dlq_url: url.replace("OrderQueue", "DLQ"),
        dlq_arn: outputs.dlq_arn.replace("OrderQueue", "DLQ"),
      },
    }),
  );
  expect(loadOutputs(file, "OrderSystemStack", {}).dlq_url).toMatch(/DLQ$/);
});

test("looking at the DLQ ten times changes nothing in it; at stop without --persist, a note names what it held", async () => {
  const server = await serveHere();
  const client = sns(server.url);
  try {
    await client.send(new PublishCommand({ TopicArn: TOPIC, Message: invalid("DROPPED1") }));
    await until("dead-lettered", async () => (await counts(server.url)).deadLettered === 1);
    const api = await consoleApi(server.url);
    for (let look = 0; look < 10; look++) {
      const [{ messages }] = (await api("dlq")).body;
      expect(messages).toHaveLength(1);
      // The receives its source queue gave it, read from the engine: a look is not a receive.
      expect(messages[0]).toMatchObject({ orderId: "DROPPED1", receives: 3 });
      expect(messages[0].cause.outcome).toBe("invalid");
    }
  } finally {
    client.destroy();
    expect(await server.stop()).toBe(0);
  }
  expect(server.lines).toContain(
    "note: DLQ held 1 message: discarded with the engines (start with --persist DIR to keep dead letters across restarts)",
  );
}, 60_000);

test("a dead-lettered message keeps its cause (the function's last failure line) after 3,000 newer log lines", () => {
  const journal = new Journal();
  const failure = JSON.stringify({
    level: "ERROR",
    outcome: "invalid",
    messageId: "m-bad",
    orderId: "BAD1",
    reason: "quantity",
  });
  journal.record(functionLineEvent("OrderProcessor", failure));
  journal.record({
    type: "dead-lettered",
    queue: "OrderQueue",
    target: "DLQ",
    messageId: "m-bad",
    orderId: "BAD1",
    receives: 3,
  });
  for (let i = 0; i < 3000; i++)
    journal.record(
      functionLineEvent(
        "OrderProcessor",
        JSON.stringify({ level: "INFO", outcome: "stored", messageId: `m${i}`, orderId: `O${i}` }),
      ),
    );
  expect(journal.deadLetter("m-bad", "BAD1")).toMatchObject({ cause: { line: failure }, receives: 3 });
});

test("an order published by an outside client (the SDK): its journey starts with the publish and its message id", async () => {
  const server = await serveHere();
  const client = sns(server.url);
  try {
    const { MessageId } = await client.send(
      new PublishCommand({ TopicArn: TOPIC, Message: JSON.stringify(order({ orderId: "OUTSIDE1" })) }),
    );
    await until("stored", async () => (await counts(server.url)).processed === 1);
    const api = await consoleApi(server.url);
    const { steps } = (await api("orders/OUTSIDE1")).body as { steps: Step[] };
    expect(steps[0]).toMatchObject({ label: "published", messageId: MessageId });
    expect(steps[0].text).toBe(`to OrderTopic → OrderQueue, message ${MessageId}`);
    const labels = steps.map((s) => s.label);
    expect(labels).toEqual(expect.arrayContaining(["received #1", "invoked", "stored", "deleted"]));
    expect(labels.indexOf("stored")).toBeGreaterThan(labels.indexOf("invoked"));
  } finally {
    client.destroy();
    expect(await server.stop()).toBe(0);
  }
}, 60_000);

test("a redrive is a step of the order's journey, a redriven order that fails again says so, a delete is no redrive", async () => {
  const server = await serveHere();
  const client = sns(server.url);
  try {
    await client.send(new PublishCommand({ TopicArn: TOPIC, Message: invalid("AGAIN1") }));
    await until("dead-lettered", async () => (await counts(server.url)).deadLettered === 1);
    const api = await consoleApi(server.url);
    const [{ messages }] = (await api("dlq")).body;
    expect((await api("dlq/redrive", { queue: "DLQ", messageId: messages[0].messageId })).body).toMatchObject({
      moved: 1,
    });
    await until("back in the DLQ", async () => (await counts(server.url)).deadLettered === 2);
    const { steps } = (await api("orders/AGAIN1")).body as { steps: Step[] };
    const redriven = steps.find((step) => step.label === "redriven")!;
    expect(redriven.text).toBe(`DLQ → OrderQueue, now message ${redriven.messageId}`);
    // The redriven message (its new id) is received again, fails again and is moved again: said as such.
    const moves = steps.filter((step) => step.label.startsWith("moved to DLQ"));
    expect(moves.map((step) => step.label)).toEqual(["moved to DLQ", "moved to DLQ again"]);
    expect(moves[1].messageId).toBe(redriven.messageId);
    expect(moves[1].text).toMatch(/after its redrive: the redrive did not fix it$/);
    const [{ messages: now }] = (await api("dlq")).body;
    expect(now[0]).toMatchObject({ messageId: redriven.messageId, receives: 3, cause: { outcome: "invalid" } });
    expect((await api("dlq/delete", { queue: "DLQ", messageId: now[0].messageId })).body.deleted).toBe(true);
    expect(await counts(server.url)).toMatchObject({ redriven: 1, discarded: 1, deadLettered: 2, lost: 0 });
    const after = (await api("orders/AGAIN1")).body as { steps: Step[] };
    expect(after.steps.at(-1)).toMatchObject({ label: "deleted", text: "from DLQ by hand (not redriven)" });
  } finally {
    client.destroy();
    expect(await server.stop()).toBe(0);
  }
}, 60_000);

test("the table node counts the table's items, not the messages processed: duplicates and stale versions are no items", async () => {
  const server = await serveHere();
  const client = sns(server.url);
  const dynamodb = new DynamoDBClient({ endpoint: server.url, region: "us-east-1", credentials: LOCAL_CREDENTIALS });
  try {
    const bodies = [
      order({ orderId: "TWICE1", timestamp: "2025-05-09T10:00:00Z" }),
      order({ orderId: "TWICE1", timestamp: "2025-05-09T10:00:00Z" }), // the same message again: a duplicate
      order({ orderId: "TWICE1", timestamp: "2025-05-09T09:00:00Z" }), // an older version: stale
      order({ orderId: "ONCE1" }),
    ];
    // One at a time, so each sees the one before it in the table.
    for (const [i, body] of bodies.entries()) {
      await client.send(new PublishCommand({ TopicArn: TOPIC, Message: JSON.stringify(body) }));
      await until(`message ${i + 1} processed`, async () => (await counts(server.url)).processed === i + 1);
    }
    const api = await consoleApi(server.url);
    const { counts: live } = (await api("state")).body;
    const { Count } = await dynamodb.send(new ScanCommand({ TableName: "Orders", Select: "COUNT" }));
    expect(Count).toBe(2);
    expect(live.items).toEqual({ Orders: Count });
    expect(live.balance.processed).toBe(4);
    expect(live.outcomes.OrderProcessor).toEqual({ stored: 2, duplicate: 1, stale: 1 });
  } finally {
    client.destroy();
    dynamodb.destroy();
    expect(await server.stop()).toBe(0);
  }
}, 60_000);
