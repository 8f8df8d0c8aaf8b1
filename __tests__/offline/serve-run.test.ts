/**
 * `--serve` as a server a developer leaves running: it owns its run folder, is the only TCP port of its
 * process, answers its health, runs the code it loaded whatever happens to the synthesized folder, stops
 * when npm goes away, and its summary balances every message that entered the source queues.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { LOCAL_CREDENTIALS } from "../../offline/engines/dynamodb";
import { SAMPLE_ORDER } from "../support/orders";
import { PROJECT_ROOT } from "../support/paths";
import { serve } from "../../offline/serving/serve";
import { interrupt, readyOf, Served, startServe } from "../support/serve";
import { editStack, synthOrderStackTo } from "../support/stacks";

const execFileAsync = promisify(execFile);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-serve-run-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const stackDir = synthOrderStackTo(path.join(work, "stack"));
const order = (orderId: string, extra: object = {}) => JSON.stringify({ ...SAMPLE_ORDER, orderId, ...extra });

type Ready = { endpoint: string; region: string; outputs: string };
const outputsOf = (ready: Ready) => JSON.parse(fs.readFileSync(ready.outputs, "utf8")).OrderSystemStack;
const clients = (ready: Ready) => {
  const config = { endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS };
  return { sns: new SNSClient(config), sqs: new SQSClient(config) };
};
const summaryOf = (served: Served) => JSON.parse(served.lines.filter((l) => l.startsWith("{")).pop()!);

async function health(ready: Ready) {
  const response = await fetch(`${ready.endpoint}/_local/health`);
  return {
    status: response.status,
    body: (await response.json()) as { counts: Record<string, number> } & Record<string, unknown>,
  };
}

/** Waits until the health's running balance says `predicate`. */
async function until(ready: Ready, predicate: (counts: Record<string, number>) => boolean, ms = 30_000) {
  const started = Date.now();
  for (;;) {
    const { body } = await health(ready);
    if (predicate(body.counts)) return body.counts;
    if (Date.now() - started > ms) throw new Error(`not reached within ${ms} ms: ${JSON.stringify(body.counts)}`);
    await sleep(100);
  }
}

/** TCP ports a process listens on (Linux: its socket inodes in /proc/net/tcp and tcp6, state LISTEN). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set(
    fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((inode): inode is string => inode !== undefined),
  );
  return ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((table) =>
    fs
      .readFileSync(table, "utf8")
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[3] === "0A" && inodes.has(fields[9]))
      .map((fields) => parseInt(fields[1].split(":")[1], 16)),
  );
}

describe("one server", () => {
  const runDir = path.join(work, "run");
  let served: Served;
  let ready: Ready;
  beforeAll(async () => {
    // A log file left by an earlier run: a fresh start begins it again.
    fs.mkdirSync(path.join(runDir, "logs"), { recursive: true });
    fs.writeFileSync(path.join(runDir, "logs", "OrderProcessor.log"), "A LINE OF AN EARLIER RUN\n");
    served = startServe(["--port", "0", "--stack-dir", stackDir, "--run-dir", runDir], "node");
    ready = await readyOf(served);
  }, 60_000);
  afterAll(async () => {
    if (served.child.exitCode === null) process.kill(-served.child.pid!, "SIGKILL");
    await served.exited;
  });

  test("the endpoint is the only TCP port its process listens on (the engines are on Unix sockets)", () => {
    expect(listeningPorts(served.child.pid!)).toEqual([Number(new URL(ready.endpoint).port)]);
  });

  test("GET /_local/health answers JSON: each service, the stack, the run folder, uptime, the running balance", async () => {
    const { status, body } = await health(ready);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: "running",
      services: { sns: "running", sqs: "running", dynamodb: "running", lambda: "running" },
      stack: "OrderSystemStack",
      runFolder: runDir,
      counts: { published: 0, arrived: 0, lost: 0, queued: 0 },
    });
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  test("a second server in the same run folder exits 2 naming the first (pid, endpoint) and --run-dir", async () => {
    const second = startServe(["--port", "0", "--stack-dir", stackDir, "--run-dir", runDir], "node");
    expect(await second.exited).toBe(2);
    const said = second.lines.join("\n");
    expect(said).toContain(`pid ${served.child.pid} serving on ${ready.endpoint}`);
    expect(said).toMatch(/--run-dir DIR/);
    // The first one's outputs are untouched.
    expect(outputsOf(ready).endpoint).toBe(ready.endpoint);
  }, 60_000);

  test("it runs the code it loaded: the synthesized folder replaced (a synth of another environment) changes nothing", async () => {
    // What `cdktf synth` does to the stack folder the server was started from: gone, then written again.
    const moved = `${stackDir}-moved`;
    fs.renameSync(stackDir, moved);
    try {
      const { sns } = clients(ready);
      await sns.send(new PublishCommand({ TopicArn: outputsOf(ready).topic_arn, Message: order("AFTER-SYNTH") }));
      sns.destroy();
      await served.waitForLog(/"outcome":"stored".*"orderId":"AFTER-SYNTH"/, 20_000);
    } finally {
      fs.renameSync(moved, stackDir);
    }
    const logFile = path.join(runDir, "logs", "OrderProcessor.log");
    const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
    for (let waited = 0; !log().includes("AFTER-SYNTH") && waited < 5000; waited += 50) await sleep(50);
    expect(log()).toContain("AFTER-SYNTH");
    expect(log()).not.toContain("A LINE OF AN EARLIER RUN");
  }, 60_000);
});

test("the summary balances every inflow (SNS, a direct SendMessage, a redrive by the CLI, messages kept by --persist) and says what Ctrl-C left queued", async () => {
  const persist = path.join(work, "balance-store");
  const runDir = path.join(work, "balance-run");
  const common = ["--port", "0", "--persist", persist, "--run-dir", runDir];
  // A first run stopped with 30 orders still queued (its event source mapping disabled): counted, and kept.
  const disabled = `${stackDir}-disabled`;
  fs.cpSync(stackDir, disabled, { recursive: true });
  editStack(disabled, (json) => {
    for (const mapping of Object.values<{ enabled: boolean }>(json.resource.aws_lambda_event_source_mapping))
      mapping.enabled = false;
  });
  const bodiesFile = path.join(work, "many.jsonl");
  fs.writeFileSync(bodiesFile, Array.from({ length: 30 }, (_, i) => `${order(`MANY${i}`)}\n`).join(""));
  const first = startServe([...common, "--stack-dir", disabled, "--orders", bodiesFile], "node");
  await readyOf(first);
  expect(await interrupt(first)).toBe(0);
  const stopped = summaryOf(first);
  expect(stopped).toMatchObject({ published: 30, arrived: 30, processed: 0, queued: 30, restored: 0, lost: 0 });
  expect(first.lines).toContain(
    `note: ${stopped.queued} messages were still queued: kept in ${persist}; the next --serve with --persist ${persist} processes them`,
  );

  const second = startServe([...common, "--stack-dir", stackDir], "node");
  try {
    const ready = await readyOf(second);
    const { sns, sqs } = clients(ready);
    const outputs = outputsOf(ready);
    await sns.send(new PublishCommand({ TopicArn: outputs.topic_arn, Message: order("BAL-SNS") }));
    await sns.send(new PublishCommand({ TopicArn: outputs.topic_arn, Message: order("BAL-BAD", { quantity: 0 }) }));
    await sqs.send(new SendMessageCommand({ QueueUrl: outputs.queue_url, MessageBody: order("BAL-DIRECT") }));
    [sns, sqs].forEach((c) => c.destroy());
    await until(ready, (c) => c.deadLettered === 1 && c.queued === 0);
    const redriven = await execFileAsync(
      "npm",
      ["run", "orders", "--silent", "--", "--outputs", ready.outputs, "dlq", "redrive"],
      { cwd: PROJECT_ROOT, encoding: "utf8" },
    );
    expect(redriven.stdout).toMatch(/moved 1 message/);
    await until(ready, (c) => c.deadLettered === 2 && c.queued === 0);
  } finally {
    expect(await interrupt(second)).toBe(0);
  }
  const summary = summaryOf(second);
  expect(summary).toMatchObject({
    restored: stopped.queued,
    published: 2,
    arrived: 4, // two from SNS, one sent straight to the queue, one redriven
    deadLettered: 2, // BAL-BAD, before and after its redrive
    redriven: 1,
    queued: 0,
    lost: 0,
  });
  expect(summary.processed).toBe(stopped.queued + 2);
  expect(summary.restored + summary.arrived).toBe(summary.processed + summary.deadLettered + summary.queued);
}, 120_000);

test("a second server on a --persist folder in use exits 2 naming the other process", async () => {
  const persist = path.join(work, "shared-store");
  const first = startServe(["--port", "0", "--stack-dir", stackDir, "--persist", persist], "node");
  try {
    await readyOf(first);
    const second = startServe(["--port", "0", "--stack-dir", stackDir, "--persist", persist], "node");
    expect(await second.exited).toBe(2);
    expect(second.lines.join("\n")).toContain(
      `the --persist folder ${persist} is in use by another server (pid ${first.child.pid}`,
    );
  } finally {
    expect(await interrupt(first)).toBe(0);
  }
}, 90_000);

test("npm killed: the server stops with its summary instead of holding the port", async () => {
  const served = startServe(["--port", "0", "--stack-dir", stackDir], "npm");
  const ready = await readyOf(served);
  const port = Number(new URL(ready.endpoint).port);
  process.kill(served.child.pid!, "SIGKILL"); // npm only, not its process group
  const connects = () =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => (socket.destroy(), resolve(true)));
      socket.on("error", () => resolve(false));
    });
  // Stopped: the port is free and the run folder released (the claim goes last, after the engines close).
  const holder = path.join(served.runDir, "server.json");
  const killed = Date.now();
  while (((await connects()) || fs.existsSync(holder)) && Date.now() - killed < 10_000) await sleep(100);
  expect(await connects()).toBe(false);
  expect(fs.existsSync(holder)).toBe(false);
}, 90_000);

test("a fatal error while serving (what an uncaught exception or a failed engine raises) stops it with an error line, the summary and exit 1", async () => {
  const lines: string[] = [];
  let fail: (error: Error) => void = () => undefined;
  const code = serve({
    stackDir,
    port: 0,
    runDir: path.join(work, "fatal-run"),
    write: (line) => lines.push(line),
    trace: () => undefined,
    stopRequested: new Promise<string>((_, reject) => (fail = reject)),
  });
  for (let waited = 0; !lines.some((l) => l.startsWith("ready ")) && waited < 30_000; waited += 50) await sleep(50);
  fail(new Error("the SNS/SQS engine (fauxqs) stopped (exit code 1)"));
  expect(await code).toBe(1);
  expect(lines).toContain(
    "error: the SNS/SQS engine (fauxqs) stopped (exit code 1); stopping (the summary below may be incomplete)",
  );
  expect(JSON.parse(lines.at(-1)!)).toMatchObject({ published: 0, lost: 0 });
  expect(fs.existsSync(path.join(work, "fatal-run", "server.json"))).toBe(false);
}, 60_000);
