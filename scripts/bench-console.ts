/**
 * `npm run bench:console`: what the local console costs, measured in one run of `--serve`: its first load
 * (bytes and time to the pipeline picture), the time from a publish in the page to its journey showing
 * `stored`, and the server's CPU with the page open against none: idle, then at a steady load through the
 * endpoint, in alternating phases (no page, the page, the event stream read without a browser), so that
 * the browser's own CPU on the same cores can be told apart from what the server does for it; then the
 * console's share of the server's main thread in a CPU profile, which the noise of phases cannot hide. Needs a
 * Chromium (`npm run setup:browser`). Prints the figures, then one JSON line.
 *
 *   BENCH_CONSOLE_IDLE_SECONDS (each idle phase, 30)  BENCH_CONSOLE_SECONDS (each phase under load, 15)
 *   BENCH_CONSOLE_ROUNDS (alternations under load, 6)  BENCH_CONSOLE_RATE (orders/s under load, 200)
 *   BENCH_CONSOLE_PROFILE_SECONDS (the profiled run, 60)
 */
import { SNSClient } from "@aws-sdk/client-sns";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Browser, chromium, Page } from "playwright-core";
import { LOCAL_CREDENTIALS } from "../common/local-credentials";
import { PROJECT_ROOT, synthesize } from "../common/project";
import { publishAll } from "../common/publish";
import { runMain } from "../common/run-main";
import { sampleOrderBody } from "../common/sample-order";
import { median, runtime, usage } from "./bench-serve";
import { readyOf, servedOutputs } from "./runtime-child";

const IDLE_SECONDS = Number(process.env.BENCH_CONSOLE_IDLE_SECONDS ?? 30);
const SECONDS = Number(process.env.BENCH_CONSOLE_SECONDS ?? 15);
const RATE = Number(process.env.BENCH_CONSOLE_RATE ?? 200);
const ROUNDS = Number(process.env.BENCH_CONSOLE_ROUNDS ?? 6);
/** Idle phases of each kind (no page, the page). */
const IDLE_ROUNDS = 4;
const PROFILE_SECONDS = Number(process.env.BENCH_CONSOLE_PROFILE_SECONDS ?? 60);
const browserPath =
  process.env.CHROMIUM_PATH ||
  execFileSync("sh", ["-c", "command -v chromium || command -v google-chrome || true"], { encoding: "utf8" }).trim();

/** Until the source queues are empty (a load's backlog processed), so that an idle phase is idle. */
async function drained(endpoint: string): Promise<void> {
  for (;;) {
    const health = (await (await fetch(`${endpoint}/_local/health`)).json()) as { counts: { queued: number } };
    if (health.counts.queued === 0) return;
    await sleep(200);
  }
}

/** CPU seconds the server spends over `seconds` while `during` runs. */
async function cpuOver(pid: number, seconds: number, during: (until: number) => Promise<void>): Promise<number> {
  const before = usage(pid).cpuSeconds;
  await during(Date.now() + seconds * 1000);
  return usage(pid).cpuSeconds - before;
}

const idle = (until: number) => sleep(Math.max(0, until - Date.now()));

/** `rate` orders a second through the endpoint until `until`. */
function load(sns: SNSClient, topic: string, rate: number) {
  let n = 0;
  return async (until: number) => {
    for (let second = Date.now(); Date.now() < until; second += 1000) {
      const bodies = Array.from({ length: rate }, () => sampleOrderBody({ orderId: `CON${n++}` }));
      await publishAll(sns, topic, bodies, { oversize: "refuse" });
      await sleep(Math.max(0, second + 1000 - Date.now()));
    }
  };
}

async function firstLoad(page: Page, url: string): Promise<{ bytes: number; ms: number }> {
  let bytes = 0;
  page.on(
    "response",
    (response) =>
      void response.body().then(
        (b) => (bytes += b.length),
        () => undefined,
      ),
  );
  const started = Date.now();
  await page.goto(url);
  await picture(page);
  const ms = Date.now() - started;
  await sleep(500);
  return { bytes, ms };
}

async function publishToStored(page: Page): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.getByRole("navigation").getByRole("link", { name: "Publish" }).click();
    await page.fill("#publish-body", sampleOrderBody({ orderId: `PAGE${i}` }));
    const started = Date.now();
    await page.click("#publish-form button");
    // Watched at each animation frame (a locator's wait polls every 500 ms after its first tries).
    await page.waitForFunction(
      '/stored/.test(document.getElementById("journey-events")?.textContent ?? "")',
      undefined,
      {
        polling: "raf",
      },
    );
    samples.push(Date.now() - started);
  }
  return samples;
}

/** A client that reads the console's event stream as the page does, without a browser (the server's share alone). */
async function streamReader(endpoint: string): Promise<() => void> {
  const aborted = new AbortController();
  // The run's token, from the page as a browser gets it.
  const page = await (await fetch(`${endpoint}/_local/console/`)).text();
  const token = /name="console-token" content="([0-9a-f]+)"/.exec(page)![1];
  const response = await fetch(`${endpoint}/_local/api/stream?token=${token}`, { signal: aborted.signal });
  const reader = response.body!.getReader();
  void (async () => {
    for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return;
  })();
  return () => aborted.abort();
}

type Watcher = "none" | "page" | "stream";

/**
 * The server's CPU over `seconds` while `during` runs, with each watcher in turn, `rounds` times, the
 * order rotated each round (none, page, stream; page, stream, none; ...), so that what changes over a run
 * (the table grows, the heap warms, the machine's other load comes and goes) weighs on each alike. Each
 * phase starts with the queues drained and its watcher connected.
 */
async function alternate(
  run: { pid: number; endpoint: string; open: () => Promise<() => Promise<void>> },
  watchers: Watcher[],
  rounds: number,
  seconds: number,
  during: (until: number) => Promise<void>,
): Promise<Record<Watcher, number[]>> {
  const cpu: Record<Watcher, number[]> = { none: [], page: [], stream: [] };
  for (let round = 0; round < rounds; round++)
    for (let i = 0; i < watchers.length; i++) {
      const watcher = watchers[(round + i) % watchers.length];
      await drained(run.endpoint);
      const close =
        watcher === "page" ? await run.open() : watcher === "stream" ? await streamReader(run.endpoint) : undefined;
      await sleep(3000); // the page's first answers (the table's count among them) are in
      cpu[watcher].push(await cpuOver(run.pid, seconds, during));
      await close?.();
    }
  return cpu;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const round3 = (v: number) => Number(v.toFixed(3));
/** `with_ / without` over all phases, and phase by phase within each round: the median and the range. */
function compare(with_: number[], without: number[]) {
  const each = with_.map((v, i) => v / without[i]).sort((a, b) => a - b);
  return {
    overall: round3(sum(with_) / sum(without)),
    roundMedian: round3(median(each)),
    roundMin: round3(each[0]),
    roundMax: round3(each[each.length - 1]),
  };
}

/** A `--serve` run (with `env` added), its topic, and an SNS client to it; `stop` ends both. */
async function serveWithTopic(env: NodeJS.ProcessEnv = {}) {
  const served = runtime(["--serve", "--port", "0", "--stack-dir", synthesize()], undefined, env);
  try {
    const ready = await readyOf(served);
    const topic: string = servedOutputs(ready, PROJECT_ROOT).topic_arn;
    const sns = new SNSClient({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
    const stop = async () => (sns.destroy(), await served.stop());
    return { pid: served.child.pid!, endpoint: ready.endpoint, topic, sns, stop };
  } catch (error) {
    await served.stop();
    throw error;
  }
}

/** Until the page draws the pipeline picture with its counts. */
const picture = (page: Page) => page.locator("#node-OrderQueue .count", { hasText: /in queue/ }).waitFor();

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/**
 * The console's share of the server's main thread, from a V8 CPU profile (`--cpu-prof`) of a server of
 * its own run at `RATE` orders a second for `PROFILE_SECONDS` with the page open: the samples whose stack
 * holds a frame of `offline/console/` or its local source (the feed, its batches and their writes, the page's
 * requests), and those of the journal and the chart's series (kept with or without a page), against every
 * sample that was not idle. Precise where the phases above are noisy; the engine's and the function's
 * threads, which a page does not make busier, are not in it.
 */
async function profiledShare(browser: Browser): Promise<{ busySamples: number; console: number; journal: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "order-bench-profile-"));
  const served = await serveWithTopic({ NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` });
  const page = await browser.newPage();
  try {
    await page.goto(`${served.endpoint}/_local/console/`);
    await load(served.sns, served.topic, RATE)(Date.now() + PROFILE_SECONDS * 1000);
  } finally {
    await page.close();
    await served.stop();
  }
  const main = fs.readdirSync(dir).find((f) => f.includes(`.${served.pid}.0.`))!; // thread 0: the main thread
  const profile = JSON.parse(fs.readFileSync(path.join(dir, main), "utf8")) as {
    nodes: ProfileNode[];
    samples: number[];
  };
  fs.rmSync(dir, { recursive: true, force: true });
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const kindOf = new Map<number, "idle" | "console" | "journal" | "other">();
  const classify = (id: number) => {
    if (byId.get(id)!.callFrame.functionName === "(idle)") return "idle";
    let kind: "console" | "journal" | "other" = "other";
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const { url } = byId.get(at)!.callFrame;
      if (url.includes("/offline/console/") || url.includes("/offline/serving/local-source.ts")) return "console";
      if (url.includes("/offline/runtime/journal.ts") || url.includes("/offline/runtime/series.ts")) kind = "journal";
    }
    return kind;
  };
  const counts = { idle: 0, console: 0, journal: 0, other: 0 };
  for (const sample of profile.samples) {
    if (!kindOf.has(sample)) kindOf.set(sample, classify(sample));
    counts[kindOf.get(sample)!] += 1;
  }
  const busySamples = profile.samples.length - counts.idle;
  return { busySamples, console: round3(counts.console / busySamples), journal: round3(counts.journal / busySamples) };
}

export async function benchConsole() {
  if (!browserPath) throw new Error("no Chromium: run `npm run setup:browser` or set CHROMIUM_PATH");
  const browser = await chromium.launch({ executablePath: browserPath });
  let served: Awaited<ReturnType<typeof serveWithTopic>> | undefined;
  try {
    served = await serveWithTopic();
    const consoleUrl = `${served.endpoint}/_local/console/`;
    const busy = load(served.sns, served.topic, RATE);
    // Warm-up, not measured: a new server spends about twice the CPU per order in its first 30 s of load;
    // and the page then opens on a run with a history (a table, log lines, the chart's points).
    await busy(Date.now() + 60_000);
    await drained(served.endpoint);
    const page = await browser.newPage({ bypassCSP: true }); // for the frame-by-frame watch below
    const loaded = await firstLoad(page, consoleUrl);
    const stored = await publishToStored(page);
    await page.close();
    const open = async () => {
      const opened = await browser.newPage();
      await opened.goto(consoleUrl);
      await picture(opened);
      return () => opened.close();
    };
    const run = { pid: served.pid, endpoint: served.endpoint, open };
    // After a load the server's heap settles for a while (a major collection lands in whichever phase is
    // first): 15 s before the idle phases.
    await sleep(15_000);
    const idleCpu = await alternate(run, ["none", "page"], IDLE_ROUNDS, IDLE_SECONDS, idle);
    await busy(Date.now() + 15_000); // warm again after the idle phases, not measured
    const loadCpu = await alternate(run, ["none", "page", "stream"], ROUNDS, SECONDS, busy);
    await served.stop();
    return report({ loaded, stored, idleCpu, loadCpu, profiled: await profiledShare(browser) });
  } finally {
    await served?.stop();
    await browser.close();
  }
}

function report(r: {
  loaded: { bytes: number; ms: number };
  stored: number[];
  idleCpu: Record<Watcher, number[]>;
  loadCpu: Record<Watcher, number[]>;
  profiled: Awaited<ReturnType<typeof profiledShare>>;
}) {
  const phases = (cpu: Record<Watcher, number[]>) =>
    Object.fromEntries(Object.entries(cpu).map(([w, values]) => [w, values.map((v) => Number(v.toFixed(2)))]));
  return {
    firstLoadBytes: r.loaded.bytes,
    firstLoadMs: r.loaded.ms,
    publishToStoredMs: { median: median(r.stored), samples: r.stored },
    idle: {
      rounds: IDLE_ROUNDS,
      seconds: IDLE_SECONDS,
      cpuSeconds: phases(r.idleCpu),
      pageVsNone: compare(r.idleCpu.page, r.idleCpu.none),
    },
    load: {
      rate: RATE,
      seconds: SECONDS,
      rounds: ROUNDS,
      ordersPerPhase: RATE * SECONDS,
      cpuSeconds: phases(r.loadCpu),
      pageVsNone: compare(r.loadCpu.page, r.loadCpu.none),
      streamVsNone: compare(r.loadCpu.stream, r.loadCpu.none),
    },
    profile: { seconds: PROFILE_SECONDS, rate: RATE, ...r.profiled },
  };
}

runMain(module, async () => {
  const r = await benchConsole();
  const ratio = (c: ReturnType<typeof compare>) =>
    `${c.overall}x (phase by phase: median ${c.roundMedian}x, ${c.roundMin}-${c.roundMax})`;
  const total = (values: number[]) => sum(values).toFixed(2);
  console.log(`first load: ${r.firstLoadBytes} bytes, pipeline picture after ${r.firstLoadMs} ms`);
  console.log(`publish in the page to its journey showing stored: median ${r.publishToStoredMs.median} ms`);
  const { idle: i, load: l } = r;
  console.log(
    `server CPU idle, ${i.rounds} x ${i.seconds} s each: ${total(i.cpuSeconds.none)} s without a page, ${total(i.cpuSeconds.page)} s with one: ${ratio(i.pageVsNone)}`,
  );
  console.log(`server CPU at ${l.rate} orders/s, ${l.rounds} x ${l.seconds} s each (${JSON.stringify(l.cpuSeconds)}):`);
  console.log(`  with a page against none: ${ratio(l.pageVsNone)}`);
  console.log(`  with the event stream read without a browser against none: ${ratio(l.streamVsNone)}`);
  const p = r.profile;
  console.log(
    `CPU profile, ${p.seconds} s at ${p.rate} orders/s with the page open: the console's code ${(p.console * 100).toFixed(1)}% of the main thread's busy samples (${p.busySamples}); the journal and the chart's series ${(p.journal * 100).toFixed(1)}%`,
  );
  console.log(JSON.stringify(r));
  return 0;
});
