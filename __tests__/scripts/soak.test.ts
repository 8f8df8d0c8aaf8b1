import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runSoak } from "../../scripts/soak";
import { saveEnv } from "../support/handler";
import { sized } from "../support/long-run";
import { synthOrderStackTo } from "../support/stacks";
import { fakeTerminal } from "../support/terminal";
import { PROJECT_ROOT } from "../support/paths";

const restoreEnv = saveEnv();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-soak-test-"));
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
  restoreEnv();
});

/** 1,000 orders in `npm run test:long`, 120 in `npm test`; 5% of them poison. */
const ORDERS = sized(120, 1000);
const POISON = ORDERS / 20;

test(`soak, ${ORDERS} orders at a 20% DynamoDB fault rate with poison, duplicates and shuffled updates, then redrive: nothing lost`, async () => {
  const terminal = fakeTerminal();
  const report = await runSoak({
    orders: ORDERS,
    failRate: 0.2,
    stackDir: synthOrderStackTo(work),
    progressStream: terminal,
  });
  expect(report.failures).toEqual([]);
  expect(report).toMatchObject({ ok: true, published: ORDERS, lost: 0, queued: 0, poison: POISON });
  // The poison orders stay in the DLQ: each move to it (the valid orders the faults sent there, and the
  // poison ones twice) less what the redrive took back.
  expect(report.deadLettered - report.redriven).toBe(POISON);
  expect(report.redriven).toBe(POISON + report.validDeadLetteredBeforeRedrive);
  // Every poison message was dead-lettered after exactly 3 receives, in both passes.
  expect(report.poisonDeadLetteredAfterExpectedReceives).toBe(POISON * 2);
  expect(report.newestStateStored).toBe(report.distinctOrders);
  expect(report.items).toBe(report.distinctOrders);
  // The faults were real: the run survived hundreds of throttled or failed DynamoDB calls.
  expect(report.injectedFaults).toBeGreaterThan(ORDERS / 10);
  // On a terminal the run shows how far it is, in both passes.
  expect(terminal.text()).toMatch(new RegExp(`soak: \\d+/${ORDERS} \\(\\d+%\\).*fail rate 0\\.2`));
  expect(terminal.text()).toContain("redrive, faults off");
});

test("npm run soak in a pipe prints no progress, only its report", () => {
  const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
  const result = spawnSync("npm", ["run", "--silent", "soak"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    // No faults: what is checked here is the output, and a throttled write waits up to 3 s.
    env: { ...process.env, SOAK_ORDERS: "20", SOAK_FAIL_RATE: "0" },
  });
  expect(result.status).toBe(0);
  expect(result.stderr).toBe("");
  expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!)).toMatchObject({ ok: true, published: 20, lost: 0 });
});
