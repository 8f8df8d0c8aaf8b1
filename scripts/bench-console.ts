/**
 * `npm run bench:console`: what the local console costs, measured in one run of `--serve`: its first load
 * (bytes and time to the pipeline picture), the time from a publish in the page to its journey showing
 * `stored`, and the server's CPU with the page open against none: idle, then at a steady load through the
 * endpoint, in alternating phases (no page, the page, the event stream read without a browser), so that
 * the browser's own CPU on the same cores can be told apart from what the server does for it. Needs a
 * Chromium (`npm run setup:browser`). Prints a table, then one JSON line.
 *
 *   BENCH_CONSOLE_IDLE_SECONDS (each idle phase, 30)  BENCH_CONSOLE_SECONDS (each phase under load, 15)
 *   BENCH_CONSOLE_ROUNDS (alternations under load, 6)  BENCH_CONSOLE_RATE (orders/s under load, 200)
 */
import { SNSClient } from "@aws-sdk/client-sns";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium, Page } from "playwright-core";
import { LOCAL_CREDENTIALS } from "../common/local-credentials";
import { synthesize } from "../common/project";
import { publishAll } from "../common/publish";
import { runMain } from "../common/run-main";
import { sampleOrderBody } from "../common/sample-order";
import { median, runtime, usage } from "./bench-serve";
import { readyOf } from "./runtime-child";

const IDLE_SECONDS = Number(process.env.BENCH_CONSOLE_IDLE_SECONDS ?? 30);
const SECONDS = Number(process.env.BENCH_CONSOLE_SECONDS ?? 15);
const RATE = Number(process.env.BENCH_CONSOLE_RATE ?? 200);
const ROUNDS = Number(process.env.BENCH_CONSOLE_ROUNDS ?? 6);
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

/** `rate` orders a second through the endpoint until `until`; `published()` counts them all. */
function load(sns: SNSClient, topic: string, rate: number) {
  let n = 0;
  const published = () => n;
  const run = async (until: number) => {
    for (let second = Date.now(); Date.now() < until; second += 1000) {
      const bodies = Array.from({ length: rate }, () => sampleOrderBody({ orderId: `CON${n++}` }));
      await publishAll(sns, topic, bodies, { oversize: "refuse" });
      await sleep(Math.max(0, second + 1000 - Date.now()));
    }
  };
  return Object.assign(run, { published });
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
  await page.locator("#node-OrderQueue .count", { hasText: /in queue/ }).waitFor();
  const ms = Date.now() - started;
  await sleep(500);
  return { bytes, ms };
}

async function publishToStored(page: Page): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.fill("#publish-body", sampleOrderBody({ orderId: `PAGE${i}` }));
    const started = Date.now();
    await page.click("#publish-form button");
    await page.locator("#journey-events", { hasText: /stored/ }).waitFor();
    samples.push(Date.now() - started);
  }
  return samples;
}

/** A client that reads the console's event stream as the page does, without a browser (the server's share alone). */
async function streamReader(endpoint: string): Promise<() => void> {
  const aborted = new AbortController();
  const response = await fetch(`${endpoint}/_local/api/stream`, { signal: aborted.signal });
  const reader = response.body!.getReader();
  void (async () => {
    for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return;
  })();
  return () => aborted.abort();
}

type Watcher = "none" | "page" | "stream";

const WATCHERS: Watcher[] = ["none", "page", "stream"];

/**
 * The server's CPU at `RATE` orders a second with each watcher in turn, `ROUNDS` times, the order rotated
 * each round (none, page, stream; page, stream, none; ...), so that what changes over a run (the table
 * grows, the heap warms) weighs on each alike. Each phase starts with the queues drained.
 */
async function underLoad(
  pid: number,
  endpoint: string,
  busy: ReturnType<typeof load>,
  open: () => Promise<() => Promise<void>>,
) {
  const cpu: Record<Watcher, number[]> = { none: [], page: [], stream: [] };
  const orders: Record<Watcher, number> = { none: 0, page: 0, stream: 0 };
  for (let round = 0; round < ROUNDS; round++)
    for (let i = 0; i < WATCHERS.length; i++) {
      const watcher = WATCHERS[(round + i) % WATCHERS.length];
      const close = watcher === "page" ? await open() : watcher === "stream" ? await streamReader(endpoint) : undefined;
      await sleep(1000);
      const before = busy.published();
      cpu[watcher].push(await cpuOver(pid, SECONDS, busy));
      orders[watcher] += busy.published() - before;
      await close?.();
      await drained(endpoint);
    }
  return { cpu, orders };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const seconds = (values: number[]) => values.map((v) => Number(v.toFixed(2)));

export async function benchConsole() {
  if (!browserPath) throw new Error("no Chromium: run `npm run setup:browser` or set CHROMIUM_PATH");
  const served = runtime(["--serve", "--port", "0", "--stack-dir", synthesize()]);
  const browser = await chromium.launch({ executablePath: browserPath });
  try {
    const ready = await readyOf(served);
    const pid = served.child.pid!;
    const consoleUrl = `${ready.endpoint}/_local/console/`;
    const topic = JSON.parse(fs.readFileSync(ready.outputs, "utf8")).OrderSystemStack.topic_arn;
    const sns = new SNSClient({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
    const busy = load(sns, topic, RATE);
    // Warm-up, not measured: a new server spends about twice the CPU per order in its first 30 s of load.
    await busy(Date.now() + 60_000);
    await drained(ready.endpoint);
    const idleNoPage = await cpuOver(pid, IDLE_SECONDS, idle);
    const page = await browser.newPage();
    const loaded = await firstLoad(page, consoleUrl);
    await sleep(3000); // the first answers (the table's count among them) are in: what follows is idle
    const idlePage = await cpuOver(pid, IDLE_SECONDS, idle);
    const stored = await publishToStored(page);
    await page.close();
    const openPage = async () => {
      const opened = await browser.newPage();
      await opened.goto(consoleUrl);
      await opened.locator("#node-OrderQueue .count", { hasText: /in queue/ }).waitFor();
      return () => opened.close();
    };
    const { cpu: perWatcher, orders } = await underLoad(pid, ready.endpoint, busy, openPage);
    // Server CPU per 1,000 orders published in the phases of each watcher (the publisher may fall behind).
    const per1000 = (w: Watcher) => Number(((sum(perWatcher[w]) / orders[w]) * 1000).toFixed(3));
    sns.destroy();
    return {
      firstLoadBytes: loaded.bytes,
      firstLoadMs: loaded.ms,
      cpuSeconds: {
        idleNoPage,
        idlePage,
        loadNoPage: sum(perWatcher.none),
        loadPage: sum(perWatcher.page),
        loadStream: sum(perWatcher.stream),
      },
      perRound: { none: seconds(perWatcher.none), page: seconds(perWatcher.page), stream: seconds(perWatcher.stream) },
      idlePageVsNone: Number((idlePage / Math.max(idleNoPage, 0.01)).toFixed(2)),
      orders,
      cpuSecondsPer1000Orders: { none: per1000("none"), page: per1000("page"), stream: per1000("stream") },
      loadPageVsNone: Number((per1000("page") / per1000("none")).toFixed(3)),
      loadStreamVsNone: Number((per1000("stream") / per1000("none")).toFixed(3)),
      publishToStoredMs: { median: median(stored), samples: stored },
      idleSeconds: IDLE_SECONDS,
      seconds: SECONDS,
      rounds: ROUNDS,
      rate: RATE,
    };
  } finally {
    await browser.close();
    await served.stop();
  }
}

runMain(module, async () => {
  const r = await benchConsole();
  console.log(`first load: ${r.firstLoadBytes} bytes, pipeline picture after ${r.firstLoadMs} ms`);
  console.log(
    `server CPU over ${r.idleSeconds} s idle: ${r.cpuSeconds.idleNoPage.toFixed(2)} s without a page, ${r.cpuSeconds.idlePage.toFixed(2)} s with one`,
  );
  const per = r.cpuSecondsPer1000Orders;
  console.log(
    `server CPU at ${r.rate} orders/s, ${r.rounds} rounds of ${r.seconds} s phases (CPU s per phase: ${JSON.stringify(r.perRound)})`,
  );
  console.log(
    `  per 1,000 orders: ${per.none} s without a page, ${per.page} s with one (${r.loadPageVsNone}x), ${per.stream} s with the stream read without a browser (${r.loadStreamVsNone}x)`,
  );
  console.log(`publish in the page to its journey showing stored: median ${r.publishToStoredMs.median} ms`);
  console.log(JSON.stringify(r));
  return 0;
});
