/**
 * `npm run bench:console`: what the local console costs, measured in one run of `--serve`: its first load
 * (bytes and time to the pipeline picture), the server's CPU with the page open against none (idle, then
 * at a steady load through the endpoint), and the time from a publish in the page to its journey showing
 * `stored`. Needs a Chromium (`npm run setup:browser`). Prints a table, then one JSON line.
 *
 *   BENCH_CONSOLE_SECONDS (per phase, 30)  BENCH_CONSOLE_RATE (orders/s under load, 200)
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

const SECONDS = Number(process.env.BENCH_CONSOLE_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_CONSOLE_RATE ?? 200);
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

export async function benchConsole() {
  if (!browserPath) throw new Error("no Chromium: run `npm run setup:browser` or set CHROMIUM_PATH");
  const served = runtime(["--serve", "--port", "0", "--stack-dir", synthesize()]);
  const browser = await chromium.launch({ executablePath: browserPath });
  try {
    const ready = await readyOf(served);
    const pid = served.child.pid!;
    const topic = JSON.parse(fs.readFileSync(ready.outputs, "utf8")).OrderSystemStack.topic_arn;
    const sns = new SNSClient({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
    const busy = load(sns, topic, RATE);
    const cpu = { idleNoPage: 0, idlePage: 0, loadNoPage: 0, loadPage: 0 };
    await busy(Date.now() + SECONDS * 1000); // warm-up, not measured: both sides then run warm
    await drained(ready.endpoint);
    cpu.idleNoPage = await cpuOver(pid, SECONDS, idle);
    cpu.loadNoPage = await cpuOver(pid, SECONDS, busy);
    await drained(ready.endpoint);
    const page = await browser.newPage();
    const loaded = await firstLoad(page, `${ready.endpoint}/_local/console/`);
    cpu.idlePage = await cpuOver(pid, SECONDS, idle);
    cpu.loadPage = await cpuOver(pid, SECONDS, busy);
    await drained(ready.endpoint);
    const stored = await publishToStored(page);
    sns.destroy();
    return {
      firstLoadBytes: loaded.bytes,
      firstLoadMs: loaded.ms,
      cpuSeconds: cpu,
      idlePageVsNone: Number((cpu.idlePage / Math.max(cpu.idleNoPage, 0.01)).toFixed(2)),
      loadPageVsNone: Number((cpu.loadPage / cpu.loadNoPage).toFixed(3)),
      publishToStoredMs: { median: median(stored), samples: stored },
      seconds: SECONDS,
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
    `server CPU over ${r.seconds} s idle: ${r.cpuSeconds.idleNoPage.toFixed(2)} s without a page, ${r.cpuSeconds.idlePage.toFixed(2)} s with one`,
  );
  console.log(
    `server CPU over ${r.seconds} s at ${r.rate} orders/s: ${r.cpuSeconds.loadNoPage.toFixed(2)} s without a page, ${r.cpuSeconds.loadPage.toFixed(2)} s with one (${r.loadPageVsNone}x)`,
  );
  console.log(`publish in the page to its journey showing stored: median ${r.publishToStoredMs.median} ms`);
  console.log(JSON.stringify(r));
  return 0;
});
