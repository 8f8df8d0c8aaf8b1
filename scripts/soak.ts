/**
 * `npm run soak`: the reliability run. Publishes orders with poison bodies, duplicates and shuffled
 * updates through the offline pipeline while DynamoDB fails a share of requests, then redrives the
 * DLQ with faults off, and checks that nothing was lost, every poison message was dead-lettered
 * after exactly maxReceiveCount receives, and every valid order is stored in its newest state.
 */
import { synthesize } from "../common/project";
import { EventStream } from "../offline/runtime/events";
import { LocalPipeline, PipelineSummary } from "../offline/runtime/pipeline";
import { Progress, progress, ProgressStream } from "../common/progress";
import { seededRandom } from "../common/random";
import { runMain } from "../common/run-main";
import { sampleOrderBody } from "../common/sample-order";

export interface SoakOptions {
  readonly orders: number;
  readonly failRate?: number;
  readonly poisonShare?: number;
  readonly duplicateShare?: number;
  readonly seed?: number;
  readonly stackDir?: string;
  /** Where the progress line is drawn (only if it is a terminal). @default process.stderr */
  readonly progressStream?: ProgressStream;
}

export interface SoakReport extends PipelineSummary {
  ok: boolean;
  failures: string[];
  failRate: number;
  poison: number;
  duplicates: number;
  distinctOrders: number;
  updates: number;
  poisonDeadLetteredAfterExpectedReceives: number;
  validDeadLetteredBeforeRedrive: number;
  newestStateStored: number;
  injectedFaults: number;
  seconds: number;
  ordersPerSec: number;
}

const STATUSES = ["new", "paid", "shipped", "delivered"];
/** Bodies the handler must reject: each breaks one rule of the order schema, or is not JSON. */
const POISON = [
  (id: string) => sampleOrderBody({ orderId: id, userId: "U1", quantity: "3" }),
  (id: string) => sampleOrderBody({ orderId: id, userId: "U1", quantity: 0 }),
  (id: string) => sampleOrderBody({ orderId: id, userId: "U1", itemName: "  ", quantity: 1 }),
  (id: string) => sampleOrderBody({ orderId: id, userId: "U1", quantity: 1, status: "lost" }),
  (id: string) => sampleOrderBody({ orderId: id, userId: "U1", quantity: 1, timestamp: "2025-02-30T14:40:00Z" }),
  (id: string) => `{"orderId":"${id}" this is not JSON`,
];

/** The workload: bodies in publish order, which are poison, and each order's newest state. */
export function soakWorkload(options: SoakOptions) {
  const random = seededRandom(options.seed ?? 7);
  const poison = Math.round(options.orders * (options.poisonShare ?? 0.05));
  const duplicates = Math.round(options.orders * (options.duplicateShare ?? 0.1));
  const versions = options.orders - poison - duplicates;
  const newest = new Map<string, Record<string, unknown>>();
  const valid: string[] = [];
  let order = 0;
  while (valid.length < versions) {
    // Each order gets 1-3 versions with increasing timestamps: updates, published shuffled below.
    const id = `SOAK-${order++}`;
    const count = Math.min(versions - valid.length, 1 + Math.floor(random() * 3));
    for (let v = 0; v < count; v++) {
      const item = {
        orderId: id,
        userId: `U${order % 50}`,
        itemName: `Item ${order}`,
        quantity: 1 + v,
        status: STATUSES[v],
        timestamp: new Date(Date.UTC(2025, 4, 9, 12, 0, v)).toISOString(),
      };
      valid.push(JSON.stringify(item));
      newest.set(id, item);
    }
  }
  const poisonBodies = Array.from({ length: poison }, (_, i) => POISON[i % POISON.length](`POISON-${i}`));
  const duplicateBodies = Array.from({ length: duplicates }, () => valid[Math.floor(random() * valid.length)]);
  const bodies = [...valid, ...poisonBodies, ...duplicateBodies];
  for (let i = bodies.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [bodies[i], bodies[j]] = [bodies[j], bodies[i]];
  }
  return { bodies, poisonBodies: new Set(poisonBodies), newest, poison, duplicates, updates: versions - newest.size };
}

type Workload = ReturnType<typeof soakWorkload>;

/** Whether a stored item is exactly an order's newest state (every field, nothing more). */
export function inNewestState(expected: Record<string, unknown>, item: Record<string, unknown> = {}): boolean {
  const same = JSON.stringify(item, Object.keys(expected)) === JSON.stringify(expected);
  return same && Object.keys(item).length === Object.keys(expected).length;
}

/** How many orders are stored exactly in their newest state. */
export function countNewestStored(newest: Workload["newest"], items: Map<string, Record<string, unknown>>): number {
  return [...newest].filter(([id, expected]) => inNewestState(expected, items.get(id))).length;
}

/** What the soak promises: nothing lost, only poison dead-lettered (after exactly maxReceiveCount receives), every order in its newest state. */
function judgeSoak(run: {
  workload: Workload;
  summary: PipelineSummary;
  items: Map<string, Record<string, unknown>>;
  deadLettered: { body?: string; receives: number }[];
  maxReceiveCount?: number;
}) {
  const { workload, summary, deadLettered, maxReceiveCount } = run;
  const isPoison = (d: { body?: string }) => d.body !== undefined && workload.poisonBodies.has(d.body);
  const failures: string[] = [];
  const poisonDeadLetteredAfterExpectedReceives = deadLettered.filter(
    (d) => isPoison(d) && d.receives === maxReceiveCount,
  ).length;
  const wrongReceives = deadLettered.filter((d) => d.receives !== maxReceiveCount);
  if (wrongReceives.length > 0) {
    failures.push(
      `${wrongReceives.length} messages were dead-lettered after a receive count other than ${maxReceiveCount}`,
    );
  }
  // Each poison message is dead-lettered twice: in the faulty pass and again after the redrive.
  if (poisonDeadLetteredAfterExpectedReceives !== 2 * workload.poison) {
    failures.push(
      `expected ${2 * workload.poison} poison dead-letterings after ${maxReceiveCount} receives, saw ${poisonDeadLetteredAfterExpectedReceives}`,
    );
  }
  if (summary.lost !== 0) failures.push(`${summary.lost} messages lost`);
  // What is in the DLQ at the end: every move to it, less what the redrive took back.
  const inDlq = summary.deadLettered - summary.redriven;
  if (inDlq !== workload.poison) {
    failures.push(`${inDlq} messages in the DLQ at the end, expected the ${workload.poison} poison ones`);
  }
  if (summary.processed + inDlq !== summary.published) {
    failures.push(`processed ${summary.processed} + in the DLQ ${inDlq} != published ${summary.published}`);
  }
  const newestStateStored = countNewestStored(workload.newest, run.items);
  if (newestStateStored !== workload.newest.size) {
    failures.push(`${workload.newest.size - newestStateStored} orders not stored in their newest state`);
  }
  if ([...run.items.keys()].some((id) => id.startsWith("POISON"))) failures.push("a poison order was stored");
  return { failures, poisonDeadLetteredAfterExpectedReceives, newestStateStored };
}

/** The progress line: messages settled of delivered, with the faults injected so far. */
function showProgress(bar: Progress, pipeline: LocalPipeline, detail: string): void {
  const { delivered, settled } = pipeline.progress();
  bar.update(settled, delivered, `${detail}, ${pipeline.dynamodb.stats.injectedFaults} faults injected`);
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const failRate = options.failRate ?? 0.2;
  const workload = soakWorkload(options);
  const stackDir = options.stackDir ?? synthesize();
  const deadLettered: { body?: string; receives: number }[] = [];
  const events = new EventStream();
  events.subscribe((event) => {
    if (event.type === "dead-lettered") deadLettered.push({ body: event.body, receives: event.receives ?? 0 });
  });
  const pipeline = await LocalPipeline.start({ stackDir, failRate, seed: options.seed ?? 7, events });
  const started = performance.now();
  try {
    const maxReceiveCount = pipeline.stack.queues.find((q) => q.redrive)?.redrive?.maxReceiveCount;
    const bar = progress("soak", { stream: options.progressStream });
    const show = (phase: string) => () => showProgress(bar, pipeline, `${phase}, ${deadLettered.length} dead-lettered`);
    await pipeline.publishAll(workload.bodies);
    await pipeline.settled(undefined, show(`${workload.bodies.length} published, fail rate ${failRate}`));
    const firstPass = [...deadLettered];
    pipeline.setFailRate(0);
    await pipeline.redrive();
    await pipeline.settled(undefined, show("redrive, faults off"));
    bar.clear();
    const seconds = (performance.now() - started) / 1000;
    const summary = await pipeline.summary();
    const items = new Map((await pipeline.items()).map((item) => [item.orderId as string, item]));

    const verdict = judgeSoak({ workload, summary, items, deadLettered, maxReceiveCount });
    const { failures, poisonDeadLetteredAfterExpectedReceives, newestStateStored } = verdict;
    return {
      ...summary,
      ok: failures.length === 0,
      failures,
      failRate,
      poison: workload.poison,
      duplicates: workload.duplicates,
      distinctOrders: workload.newest.size,
      updates: workload.updates,
      poisonDeadLetteredAfterExpectedReceives,
      validDeadLetteredBeforeRedrive: firstPass.filter(
        (d) => !(d.body !== undefined && workload.poisonBodies.has(d.body)),
      ).length,
      newestStateStored,
      injectedFaults: pipeline.dynamodb.stats.injectedFaults,
      seconds: Number(seconds.toFixed(1)),
      ordersPerSec: Math.round(summary.published / seconds),
    };
  } finally {
    await pipeline.close();
  }
}

runMain(module, async () => {
  const report = await runSoak({
    orders: Number(process.env.SOAK_ORDERS ?? 10_000),
    failRate: Number(process.env.SOAK_FAIL_RATE ?? 0.2),
  });
  console.log(
    `soak: ${report.published} published (${report.poison} poison, ${report.duplicates} duplicates, ${report.updates} updates of ${report.distinctOrders} orders), fail rate ${report.failRate}, ${report.injectedFaults} injected DynamoDB faults, ${report.seconds} s`,
  );
  for (const failure of report.failures) console.log(`FAILED: ${failure}`);
  console.log(JSON.stringify(report));
  return report.ok ? 0 : 1;
});
