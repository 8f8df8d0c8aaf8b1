/**
 * `npm run soak:serve`: `npm start -- --serve` left running as a developer leaves it. Orders go through the
 * endpoint at a steady rate (default 20 a second, 5% poison) for a bounded time (default 30 minutes); the
 * server's resident memory is sampled as it runs (growth beyond the stored items' size is a leak), every
 * publish must succeed and no `error:` line may appear, and after Ctrl-C the summary's balance must be
 * exact: everything published processed or dead-lettered, nothing lost. Prints a table, then one JSON line.
 *
 *   SOAK_SERVE_MINUTES (30)  SOAK_SERVE_RATE (orders/s, 20)  SOAK_SERVE_POISON (share, 0.05)
 */
import { SNSClient } from "@aws-sdk/client-sns";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LOCAL_CREDENTIALS } from "../common/local-credentials";
import { PROJECT_ROOT, synthesize } from "../common/project";
import { publishAll } from "../common/publish";
import { runMain } from "../common/run-main";
import { sampleOrderBody } from "../common/sample-order";
import { readyOf, servedOutputs, spawnLines } from "./runtime-child";

const MINUTES = Number(process.env.SOAK_SERVE_MINUTES ?? 30);
const RATE = Number(process.env.SOAK_SERVE_RATE ?? 20);
const POISON = Number(process.env.SOAK_SERVE_POISON ?? 0.05);

function rssMiB(pid: number): number {
  const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1];
  return Math.round(Number(rss) / 1024);
}

/** The n-th order of the run: every (1/POISON)-th one is poison (quantity 0). */
function orderBody(n: number): string {
  const poison = POISON > 0 && n % Math.round(1 / POISON) === 0;
  return sampleOrderBody({ orderId: `LONG${n}`, ...(poison ? { quantity: 0 } : {}) });
}

/** Publishes `rate` orders a second for `minutes`, sampling the server's memory; what was acknowledged. */
async function publishSteadily(sns: SNSClient, topic: string, run: { minutes: number; rate: number; pid: number }) {
  const { minutes, rate, pid } = run;
  const samples: { minute: number; rssMiB: number; published: number }[] = [];
  const started = Date.now();
  const end = started + minutes * 60_000;
  let published = 0;
  let poison = 0;
  let publishErrors = 0;
  let nextSample = started;
  samples.push({ minute: 0, rssMiB: rssMiB(pid), published: 0 });
  // One second's orders at a time, then wait for the next second: a steady rate, whatever a publish costs.
  for (let second = 0; Date.now() < end; second++) {
    const bodies = Array.from({ length: rate }, (_, i) => orderBody(published + i));
    const { results } = await publishAll(sns, topic, bodies, { oversize: "refuse" });
    for (const [i, result] of results.entries()) {
      if ("messageId" in result) {
        published += 1;
        if (JSON.parse(bodies[i]).quantity === 0) poison += 1;
      } else publishErrors += 1;
    }
    if (Date.now() >= nextSample) {
      samples.push({ minute: (Date.now() - started) / 60_000, rssMiB: rssMiB(pid), published });
      nextSample += Math.max(10_000, (minutes * 60_000) / 30);
    }
    await sleep(Math.max(0, started + (second + 1) * 1000 - Date.now()));
  }
  return { started, samples, published, poison, publishErrors };
}

export async function soakServe(minutes = MINUTES, rate = RATE) {
  if (!(minutes > 0 && rate > 0)) throw new Error("SOAK_SERVE_MINUTES and SOAK_SERVE_RATE must be positive numbers");
  const stackDir = synthesize();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "order-soak-serve-"));
  const command = [process.execPath, "-r", "esbuild-register", "offline/cli/start.ts", "--serve", "--port", "0"];
  const served = spawnLines([...command, "--stack-dir", stackDir, "--run-dir", runDir], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ORDER_ENV: "" },
    stderr: "collect",
  });
  try {
    const ready = await readyOf(served);
    const topic = servedOutputs(ready, PROJECT_ROOT).topic_arn;
    const sns = new SNSClient({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
    const run = await publishSteadily(sns, topic, { minutes, rate, pid: served.child.pid! });
    const { samples, publishErrors, poison, published } = run;
    sns.destroy();
    // Let what is queued settle, then stop as Ctrl-C does and read the balance.
    for (let waited = 0; waited < 60_000; waited += 500) {
      const health = (await (await fetch(`${ready.endpoint}/_local/health`)).json()) as { counts: { queued: number } };
      if (health.counts.queued === 0) break;
      await sleep(500);
    }
    samples.push({ minute: (Date.now() - run.started) / 60_000, rssMiB: rssMiB(served.child.pid!), published });
    served.child.kill("SIGINT");
    const exitCode = await served.exited;
    const summary = JSON.parse(served.lines.filter((l) => l.startsWith("{")).pop() ?? "{}");
    const errorLines = served.lines.filter((l) => /^error:|warning/.test(l));
    const balanced =
      summary.lost === 0 &&
      summary.published === published &&
      summary.processed + summary.deadLettered === published &&
      summary.deadLettered === poison;
    return { minutes, rate, published, poison, publishErrors, errorLines, exitCode, summary, samples, balanced };
  } finally {
    if (served.child.exitCode === null && served.child.signalCode === null) served.child.kill("SIGKILL");
    await served.exited;
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

runMain(module, async () => {
  const report = await soakServe();
  for (const s of report.samples)
    console.log(
      `minute ${s.minute.toFixed(1).padStart(5)}  rss ${String(s.rssMiB).padStart(4)} MiB  published ${s.published}`,
    );
  for (const line of report.errorLines.slice(0, 20)) console.log(`server said: ${line}`);
  console.log(
    `soak:serve: ${report.published} published (${report.poison} poison) over ${report.minutes} min at ${report.rate}/s; ${report.publishErrors} publish errors; ${report.errorLines.length} error lines; balance ${report.balanced ? "exact" : "WRONG"}; exit ${report.exitCode}`,
  );
  const { samples, ...rest } = report;
  console.log(JSON.stringify({ ...rest, errorLines: report.errorLines.length, samples }));
  return report.balanced && report.publishErrors === 0 && report.errorLines.length === 0 && report.exitCode === 0
    ? 0
    : 1;
});
