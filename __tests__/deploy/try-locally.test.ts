/**
 * README's "Try it locally", run as written: the AWS CLI (v1, from .venv/awscli) against
 * `npm start -- --serve`. Part of `npm run test:deploy`, which has the Python tools.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { venvOf } from "../support/emulator";
import { PROJECT_ROOT } from "../support/paths";
import { interrupt, readyOf, startServe } from "../support/serve";
import { synthOrderStackTo } from "../support/stacks";

const aws = path.join(venvOf("awscli"), "bin", "aws");
const missing = fs.existsSync(aws) ? undefined : `${aws} is missing; run \`npm run setup:python\``;
if (missing) {
  console.warn(`TRY-LOCALLY WALKTHROUGH NOT RUN: ${missing}`);
  if (process.env.CI) throw new Error(`The README walkthrough is required in CI: ${missing}`);
}

/** The first sh block of a README section. */
function shellBlockOf(section: string): string {
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");
  const start = readme.indexOf(`## ${section}\n`);
  const body = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const block = /```sh\n([\s\S]*?)```/.exec(body);
  if (start === -1 || !block) throw new Error(`README has no sh block under "## ${section}"`);
  return block[1];
}

(missing ? describe.skip : describe)("README: Try it locally, with the AWS CLI against --serve", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-try-locally-"));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test("publish, see it leave OrderQueue, get-item it, read its log line; a bad order reaches the DLQ after 3 receives", async () => {
    fs.rmSync(path.join(PROJECT_ROOT, "cdktf.out", "local", "logs"), { recursive: true, force: true });
    const served = startServe(["--port", "0", "--stack-dir", synthOrderStackTo(path.join(work, "stack"))], "npm");
    try {
      const ready = await readyOf(served);
      // As written, but on the port this run got (4566 may be taken on a shared machine).
      const script = shellBlockOf("Try it locally").replaceAll("http://127.0.0.1:4566", ready.endpoint);
      const result = spawnSync("bash", ["-euo", "pipefail", "-c", script], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        env: { ...process.env, PATH: `${path.dirname(aws)}:${process.env.PATH}` },
      });
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
      const counts = [...result.stdout.matchAll(/"ApproximateNumberOfMessages": "(\d+)"/g)].map((m) => m[1]);
      expect(counts).toEqual(["0", "1"]); // OrderQueue empty, then one message in the DLQ
      expect(result.stdout).toMatch(/"orderId": \{\s*"S": "O9876"/);
      expect(result.stdout).toMatch(/"outcome":"stored".*"orderId":"O9876"/);
      // The serving shell's trace says so too (its line may trail the CLI's answer by a few milliseconds).
      await served.waitFor(/moved to DLQ .*order=O9877 OrderQueue -> DLQ after 3 receives/, 10_000);
    } finally {
      expect(await interrupt(served)).not.toBe(2);
    }
  }, 180_000);
});
