import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundleHandler } from "../../constructs/function-bundle";
import { main, USAGE } from "../../offline/cli/command";
import { runOffline, RunOptions } from "../../offline/runtime/run";
import { readOrderLines } from "../../common/order-lines";
import { LocalPipeline } from "../../offline/runtime/pipeline";
import { loadStack } from "../../offline/runtime/stack-model";
import { saveEnv } from "../support/handler";
import { order, SAMPLE_ORDER } from "../support/orders";
import { fakeTerminal } from "../support/terminal";
import { editStack, synthOrderStackTo, TfJson } from "../support/stacks";
import { PROJECT_ROOT } from "../support/paths";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-pipeline-test-"));
const restoreEnv = saveEnv();
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
  restoreEnv();
});

const stackDir = synthOrderStackTo(path.join(work, "default"));

/** Runs the CLI's programmatic entry and keeps what it printed. */
async function run(options: RunOptions) {
  const lines: string[] = [];
  const result = await runOffline({ stackDir, ...options, write: (line) => lines.push(line) });
  return { ...result, lines, last: JSON.parse(lines[lines.length - 1]) };
}
const items = (file: string) =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
const body = (o: unknown) => JSON.stringify(o);

/** The default run's summary: the sample order stored, the invalid one dead-lettered, the balance exact. */
const DEFAULT_RUN_SUMMARY = {
  published: 2,
  arrived: 2,
  processed: 1,
  deadLettered: 1,
  redriven: 0,
  queued: 0,
  lost: 0,
  items: 1,
};

describe("npm start: the default run (sample order stored, invalid one dead-lettered, nothing lost)", () => {
  test("stores the sample order, dead-letters the invalid one after exactly 3 receives, loses nothing", async () => {
    // Prepare
    const exportFile = path.join(work, "default-items.jsonl");
    // Act
    const { last, exitCode, lines } = await run({ exportFile });
    // Assess
    expect(last).toEqual(DEFAULT_RUN_SUMMARY);
    expect(Object.keys(last)).toEqual([
      "published",
      "arrived",
      "processed",
      "deadLettered",
      "redriven",
      "queued",
      "lost",
      "items",
    ]);
    expect(exitCode).toBe(0);
    const [stored] = items(exportFile);
    expect(stored).toMatchObject(SAMPLE_ORDER);
    expect(lines.filter((l) => /received #\d+ .*order=O9877/.test(l)).map((l) => /#(\d)/.exec(l)![1])).toEqual([
      "1",
      "2",
      "3",
    ]);
    expect(lines.some((l) => /moved to DLQ .*order=O9877 OrderQueue -> DLQ after 3 receives/.test(l))).toBe(true);
    expect(lines.some((l) => /stored .*order=O9877/.test(l))).toBe(false);
  });

  test("--quiet prints the summary only", async () => {
    const { lines } = await run({ quiet: true });
    expect(lines).toHaveLength(1);
  });

  test("on a terminal, a progress line on stderr counts settled messages; the output is unchanged", async () => {
    const terminal = fakeTerminal();
    const bodies = Array.from({ length: 40 }, (_, i) => body(order({ orderId: `PROGRESS${i}` })));
    const { lines } = await run({ bodies, quiet: true, progressStream: terminal });
    expect(lines).toHaveLength(1);
    expect(terminal.text()).toContain("npm start: 40/40 (100%)");
    expect(terminal.text().endsWith("\r\u001b[2K")).toBe(true); // cleared at the end
  });
});

describe("semantics", () => {
  test("duplicates and out-of-order updates leave one item in its newest state", async () => {
    const v = (status: string, minute: number) =>
      body(order({ status, timestamp: `2025-05-09T14:${String(minute).padStart(2, "0")}:00Z` }));
    const exportFile = path.join(work, "newest.jsonl");
    const { last } = await run({
      bodies: [v("shipped", 42), v("new", 40), v("shipped", 42), v("delivered", 45), v("new", 40), v("paid", 41)],
      exportFile,
      quiet: true,
    });
    expect(last).toMatchObject({ published: 6, processed: 6, deadLettered: 0, lost: 0, items: 1 });
    expect(items(exportFile)[0]).toMatchObject({
      orderId: "O9876",
      status: "delivered",
      timestamp: "2025-05-09T14:45:00Z",
    });
  });

  test("--redrive recovers orders dead-lettered during a DynamoDB outage, sending each back before deleting it: one the queue refuses (a control character) stays in the DLQ", async () => {
    // fauxqs's SNS delivers a control character that SQS's SendMessage refuses: what a queue refusing looks like.
    const bodies = [
      ...["A1", "A2", "A3"].map((orderId) => body(order({ orderId }))),
      `${body(order({ orderId: "R2" }))}\u0001`,
    ];
    // Internal errors only: the function's SDK retries them within 100 ms, a throttled write after up to 3 s.
    const { last, lines } = await run({ bodies, failRate: 1, failWith: "internal", redrive: true });
    // A1-A3 arrived twice (from SNS, then redriven) and left twice (to the DLQ, then processed); R2 was
    // refused by the queue at its redrive, so it never left the DLQ.
    expect(last).toEqual({
      published: 4,
      arrived: 7,
      processed: 3,
      deadLettered: 4,
      redriven: 3,
      queued: 0,
      lost: 0,
      items: 3,
    });
    expect(lines.filter((l) => /moved to DLQ/.test(l))).toHaveLength(4);
    const failures = lines.filter((l) => /^\[.*\] failed /.test(l));
    expect(failures.length).toBeGreaterThanOrEqual(9);
    expect(failures.every((l) => /reason: InternalServerError: .*injected fault/.test(l))).toBe(true);
    expect(lines.some((l) => /redrive: OrderQueue refused .*, kept in DLQ: .*Invalid characters/.test(l))).toBe(true);
  });

  test("--redrive moves what the DLQ held when it started: a poison order fails again and stays dead-lettered, moved once", async () => {
    const bodies = ["P1", "P2", "P3"].map((orderId) => body(order({ orderId, quantity: 0 })));
    const { last, lines } = await run({ bodies, redrive: true });
    // Moved to the DLQ twice each: before the redrive and after it.
    expect(last).toEqual({
      published: 3,
      arrived: 6,
      processed: 0,
      deadLettered: 6,
      redriven: 3,
      queued: 0,
      lost: 0,
      items: 0,
    });
    expect(lines.filter((l) => /moved to DLQ .* after 3 receives/.test(l))).toHaveLength(6);
  });

  test("a stack synthesized with other settings behaves accordingly (the runtime reads the JSON)", async () => {
    const changed = synthOrderStackTo(path.join(work, "changed"), { maxReceiveCount: 5, batchSize: 2 });
    const lines: string[] = [];
    const bodies = [
      ...Array.from({ length: 6 }, (_, i) => body(order({ orderId: `B${i}` }))),
      body(order({ orderId: "BAD", quantity: 0 })),
    ];
    const result = await runOffline({ stackDir: changed, bodies, write: (l) => lines.push(l) });
    expect(result.summary).toMatchObject({ published: 7, processed: 6, deadLettered: 1, lost: 0 });
    expect(lines.some((l) => /moved to DLQ .*order=BAD .*after 5 receives/.test(l))).toBe(true);
    const batchSizes = lines
      .filter((l) => /invoke .* with \d+ record/.test(l))
      .map((l) => Number(/with (\d+)/.exec(l)![1]));
    expect(Math.max(...batchSizes)).toBe(2);
  });
});

describe("Lambda failure semantics, with a misbehaving handler in the synthesized stack", () => {
  const misbehaving = path.join(work, "misbehaving");
  const bundleDir = path.join(work, "misbehaving-bundle");
  beforeAll(() => {
    fs.cpSync(stackDir, misbehaving, { recursive: true });
    bundleHandler(path.join(__dirname, "fixtures", "misbehaving-handler.ts"), bundleDir);
    editStack(misbehaving, (json: TfJson) => {
      for (const archive of Object.values<TfJson>(json.data.archive_file)) archive.source_dir = bundleDir;
      // One poller and a batching window, so that the bodies of a test arrive in one batch, as these tests need.
      for (const fn of Object.values<TfJson>(json.resource.aws_lambda_function)) fn.reserved_concurrent_executions = 1;
      for (const mapping of Object.values<TfJson>(json.resource.aws_lambda_event_source_mapping))
        mapping.maximum_batching_window_in_seconds = 20;
    });
  });
  /**
   * The function timeout is scaled to 3 s (the default), so a cold start on a busy machine never times
   * out; only the hang test scales it down (150 ms), to time out quickly.
   */
  const runMisbehaving = async (bodies: string[], dir = misbehaving, functionTimeScale = 0.1) => {
    const lines: string[] = [];
    const result = await runOffline({ stackDir: dir, bodies, functionTimeScale, write: (l) => lines.push(l) });
    return { ...result, lines };
  };

  test("a reported failure retries that record only", async () => {
    const { summary } = await runMisbehaving(["ok-1", "report-failure-1", "ok-2"]);
    expect(summary).toMatchObject({ published: 3, processed: 2, deadLettered: 1, lost: 0 });
  });

  test("a thrown error fails the whole batch", async () => {
    const { summary, lines } = await runMisbehaving(["ok-1", "throw"]);
    expect(summary).toMatchObject({ processed: 0, deadLettered: 2, lost: 0 });
    expect(lines.some((l) => /invoke failed .*handler threw on purpose/.test(l))).toBe(true);
  });

  test("an invalid partial batch response fails the whole batch", async () => {
    const { summary } = await runMisbehaving(["ok-1", "bogus-response"]);
    expect(summary).toMatchObject({ processed: 0, deadLettered: 2, lost: 0 });
  });

  test("a function timeout fails the batch and replaces the execution environment", async () => {
    const { summary, lines } = await runMisbehaving(["hang"], misbehaving, 0.005);
    expect(summary).toMatchObject({ processed: 0, deadLettered: 1, lost: 0 });
    expect(lines.filter((l) => /invoke failed .*timed out/.test(l))).toHaveLength(3);
    expect(lines.filter((l) => /cold start/.test(l))).toHaveLength(3);
  });

  test("without ReportBatchItemFailures a returned failure list is ignored and the batch deleted", async () => {
    const plain = path.join(work, "misbehaving-plain");
    fs.cpSync(misbehaving, plain, { recursive: true });
    editStack(plain, (json) => {
      for (const mapping of Object.values<TfJson>(json.resource.aws_lambda_event_source_mapping))
        delete mapping.function_response_types;
    });
    const { summary } = await runMisbehaving(["ok-1", "report-failure-1"], plain);
    expect(summary).toMatchObject({ processed: 2, deadLettered: 0, lost: 0 });
  });
});

describe("stacks the runtime cannot run faithfully fail clearly", () => {
  const variant = (name: string, edit: (json: TfJson) => void) => {
    const dir = path.join(work, name);
    fs.cpSync(stackDir, dir, { recursive: true });
    editStack(dir, edit);
    return dir;
  };

  test.each([
    [
      "a FIFO queue",
      (j: TfJson) => (Object.values<TfJson>(j.resource.aws_sqs_queue)[0].fifo_queue = true),
      /sets "fifo_queue", which would change behaviour and is not emulated/,
    ],
    [
      "a filter policy",
      (j: TfJson) => (Object.values<TfJson>(j.resource.aws_sns_topic_subscription)[0].filter_policy = "{}"),
      /sets "filter_policy"/,
    ],
    [
      "an unknown resource type",
      (j: TfJson) => (j.resource.aws_sns_platform_application = { x: {} }),
      /resource type aws_sns_platform_application .* is not supported/,
    ],
    [
      "a Python function",
      (j: TfJson) => (Object.values<TfJson>(j.resource.aws_lambda_function)[0].runtime = "python3.12"),
      /runtime python3.12; the offline runtime runs Node.js functions only/,
    ],
  ])("%s", (name, edit, message) => {
    expect(() => loadStack(variant(name.replace(/\W+/g, "-"), edit))).toThrow(message);
  });

  test("a missing stack says to synthesize", async () => {
    await expect(LocalPipeline.start({ stackDir: path.join(work, "nowhere") })).rejects.toThrow(
      /synthesize the stack first/,
    );
  });
});

describe("the CLI", () => {
  test("rejects a bad option value with what is allowed", async () => {
    await expect(main(["--fail-rate", "2"])).rejects.toThrow(/--fail-rate must be a number from 0 to 1, got "2"/);
    await expect(main(["--fail-with", "timeout"])).rejects.toThrow(
      /--fail-with must be one of both, throttling, internal, got "timeout"/,
    );
    await expect(main(["--orders", path.join(work, "missing.jsonl")])).rejects.toThrow(/does not exist/);
  });

  test("--help documents every option", async () => {
    const log = jest.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      expect(await main(["--help"])).toBe(0);
      expect(log).toHaveBeenCalledWith(USAGE);
    } finally {
      log.mockRestore();
    }
    for (const option of ["--orders", "--fail-rate", "--fail-with", "--redrive", "--export", "--quiet"])
      expect(USAGE).toContain(option);
  });
});

describe("--orders and --export as a user writes them", () => {
  test("a line that is not valid UTF-8 is refused with its number, never altered", () => {
    const bytes = Buffer.concat([
      Buffer.from(`${body(order({ orderId: "OK1" }))}\n{"orderId":"caf`),
      Buffer.from([0xe9]),
      Buffer.from('"}\n'),
    ]);
    expect(() => readOrderLines("--orders", "orders.jsonl", bytes)).toThrow(
      /--orders: line 2 of orders\.jsonl is not valid UTF-8; save the file as UTF-8 \(nothing was published\)/,
    );
  });

  test("a UTF-8 byte order mark is not part of line 1; CRLF line ends and blank lines are not bodies", () => {
    const text = `${body(order({ orderId: "BOM1" }))}\r\n\r\n${body(order({ orderId: "BOM2", itemName: "Café ☕" }))}\r\n`;
    const { lines, warning } = readOrderLines(
      "--orders",
      "orders.jsonl",
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]),
    );
    const bodies = lines.map((l) => l.body);
    expect(bodies.map((b) => JSON.parse(b).orderId)).toEqual(["BOM1", "BOM2"]);
    expect(JSON.parse(bodies[1]).itemName).toBe("Café ☕");
    expect(warning).toBeUndefined();
  });

  test("a file with no JSON object on any line (a pretty-printed array) gets a warning that the format is JSON lines", () => {
    const pretty = JSON.stringify([order({ orderId: "A1" })], null, 2);
    expect(readOrderLines("--orders", "orders.json", Buffer.from(pretty)).warning).toMatch(
      /no line of orders\.json is a JSON object: --orders reads JSON lines/,
    );
  });

  test("relative paths are the user's (INIT_CWD), and --export into a missing folder fails before the run", async () => {
    const saved = process.env.INIT_CWD;
    process.env.INIT_CWD = work;
    try {
      await expect(main(["--orders", "mine.jsonl"])).rejects.toThrow(
        `--orders: ${path.join(work, "mine.jsonl")} does not exist`,
      );
      const started = Date.now();
      await expect(main(["--export", "no-such-folder/items.jsonl"])).rejects.toThrow(
        `--export: the folder ${path.join(work, "no-such-folder")} does not exist`,
      );
      expect(Date.now() - started).toBeLessThan(1000); // nothing was synthesized or run
    } finally {
      if (saved === undefined) delete process.env.INIT_CWD;
      else process.env.INIT_CWD = saved;
    }
  });
});

describe("the run's accounting: published = processed + dead-lettered + lost, in every run", () => {
  test("a body SNS refuses at Publish (300 KB) is named with SNS's error and counted as rejected, not published or lost", async () => {
    const big = body(order({ orderId: "BIG1", itemName: "x".repeat(256), note: "y".repeat(300_000) }));
    const { last, lines, exitCode } = await run({ bodies: [body(order({ orderId: "SMALL1" })), big] });
    expect(last).toEqual({
      published: 1,
      arrived: 1,
      processed: 1,
      deadLettered: 0,
      redriven: 0,
      queued: 0,
      lost: 0,
      items: 1,
      rejected: 1,
    });
    expect(exitCode).toBe(0);
    const rejected = lines.filter((l) => /rejected/.test(l) && !l.startsWith("{"));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/order=BIG1 by OrderTopic: InvalidParameterException: .*Message too long/);
  });

  test("a disabled event source mapping's messages are queued, not lost, and the run says why", async () => {
    const disabled = path.join(work, "disabled-mapping");
    fs.cpSync(stackDir, disabled, { recursive: true });
    editStack(disabled, (json) => {
      for (const mapping of Object.values<TfJson>(json.resource.aws_lambda_event_source_mapping))
        mapping.enabled = false;
    });
    const { summary, exitCode, lines } = await run({ stackDir: disabled });
    expect(summary).toMatchObject({ published: 2, processed: 0, deadLettered: 0, lost: 0, queued: 2 });
    expect(exitCode).toBe(0);
    expect(lines).toContain(
      "note: 2 messages wait in OrderQueue: no enabled event source mapping consumes it (the stack's mapping is disabled); they are queued, not lost",
    );
  });
});

describe("npm start as a user runs it", () => {
  test("synthesizes, runs, prints the summary as the last line and exits 0; --orders reads JSON lines", () => {
    const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
    const orders = path.join(work, "orders.jsonl");
    fs.writeFileSync(orders, `${body(order({ orderId: "CLI1" }))}\n\n${body(order({ orderId: "CLI2" }))}\n`);
    const run = (args: string[]) => {
      const result = spawnSync("npm", ["start", "--silent", "--", ...args], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        env: { ...process.env, CI: "true", ORDER_ENV: "" },
      });
      expect(result.status).toBe(0);
      // stderr is a pipe here, not a terminal: no progress line.
      expect(result.stderr).not.toMatch(/npm start: \d/);
      return result.stdout;
    };
    const lines = run([]).trim().split("\n");
    expect(JSON.parse(lines[lines.length - 1])).toEqual(DEFAULT_RUN_SUMMARY);
    expect(lines.some((l) => /\u001b\[/.test(l))).toBe(false); // no colour when not on a terminal
    // The stack this file synthesized (the default run above proved the synthesis).
    expect(JSON.parse(run(["--orders", orders, "--quiet", "--stack-dir", stackDir]).trim())).toEqual({
      published: 2,
      arrived: 2,
      processed: 2,
      deadLettered: 0,
      redriven: 0,
      queued: 0,
      lost: 0,
      items: 2,
    });
  });

  test("a bad option exits 2 with the reason and where to look", () => {
    const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
    const result = spawnSync("npm", ["start", "--silent", "--", "--fail-rate", "7"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--fail-rate must be a number from 0 to 1, got "7"[\s\S]*npm start -- --help/);
  });
});
