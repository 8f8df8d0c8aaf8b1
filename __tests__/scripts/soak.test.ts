import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runSoak } from "../../scripts/soak";
import { saveEnv } from "../support/handler";
import { synthOrderStackTo } from "../support/stacks";
import { fakeTerminal } from "../support/terminal";
import { PROJECT_ROOT } from "../support/paths";

const restoreEnv = saveEnv();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-soak-test-"));
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
  restoreEnv();
});

test("soak, 1,000 orders at a 20% DynamoDB fault rate with poison, duplicates and shuffled updates, then redrive: nothing lost", async () => {
  const terminal = fakeTerminal();
  const report = await runSoak({
    orders: 1000,
    failRate: 0.2,
    stackDir: synthOrderStackTo(work),
    progressStream: terminal,
  });
  expect(report.failures).toEqual([]);
  expect(report).toMatchObject({ ok: true, published: 1000, lost: 0, queued: 0, poison: 50 });
  // The 50 poison orders stay in the DLQ: each move to it (the valid orders the faults sent there, and the
  // poison ones twice) less what the redrive took back.
  expect(report.deadLettered - report.redriven).toBe(50);
  expect(report.redriven).toBe(50 + report.validDeadLetteredBeforeRedrive);
  // Every poison message was dead-lettered after exactly 3 receives, in both passes.
  expect(report.poisonDeadLetteredAfterExpectedReceives).toBe(100);
  expect(report.newestStateStored).toBe(report.distinctOrders);
  expect(report.items).toBe(report.distinctOrders);
  // The faults were real: the run survived hundreds of throttled or failed DynamoDB calls.
  expect(report.injectedFaults).toBeGreaterThan(100);
  // On a terminal the run shows how far it is, in both passes.
  expect(terminal.text()).toMatch(/soak: \d+\/1000 \(\d+%\).*fail rate 0\.2/);
  expect(terminal.text()).toContain("redrive, faults off");
});

test("npm run soak in a pipe prints no progress, only its report", () => {
  const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
  const result = spawnSync("npm", ["run", "--silent", "soak"], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    env: { ...process.env, SOAK_ORDERS: "60" },
  });
  expect(result.status).toBe(0);
  expect(result.stderr).toBe("");
  expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!)).toMatchObject({ ok: true, published: 60, lost: 0 });
});
