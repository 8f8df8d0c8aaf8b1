/**
 * README's "Try it locally" and docs/local.md's runbook practice, run as written: the AWS CLI (v1, from
 * .venv/awscli) against `npm start -- --serve`. Part of `npm run test:deploy`, which has the Python tools.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { copyProject } from "../../scripts/project-copy";
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

/** The sh blocks of a section of a Markdown file (its subsections included), by its heading line. */
function shellBlocksOf(file: string, heading: string): string[] {
  const lines = fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8").split("\n");
  const level = heading.split(" ")[0].length;
  const start = lines.indexOf(heading);
  let fenced = false;
  let end = lines.length;
  for (let i = start + 1; start !== -1 && i < lines.length; i++) {
    if (lines[i].startsWith("```")) fenced = !fenced;
    const next = /^(#+) /.exec(lines[i]);
    if (!fenced && next && next[1].length <= level) {
      end = i;
      break;
    }
  }
  const body = lines.slice(start, end).join("\n");
  const blocks = [...body.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (start === -1 || blocks.length === 0) throw new Error(`${file} has no sh block under "${heading}"`);
  return blocks;
}

const TRY_IT = () => shellBlocksOf("README.md", "## Try it locally")[0];
const RUNBOOK = () =>
  shellBlocksOf("docs/local.md", "### Practise the runbook: the DLQ alarm's cause, the fix, the redrive")[0];

/** A block's parts: each begins with the serving shell's `#   npm start -- ...` line, then what the other shell runs. */
function servedParts(block: string): { args: string[]; script: string }[] {
  const parts = block.split(/^#   npm start -- (.*)\n/m);
  const served: { args: string[]; script: string }[] = [];
  for (let i = 1; i < parts.length; i += 2) served.push({ args: parts[i].trim().split(/\s+/), script: parts[i + 1] });
  return served;
}

/** PATH without any folder that holds an `aws`: a newcomer with no AWS CLI of their own. */
const PATH_WITHOUT_AWS = (process.env.PATH ?? "")
  .split(path.delimiter)
  .filter((dir) => dir && !fs.existsSync(path.join(dir, "aws")))
  .join(path.delimiter);

/**
 * Runs a script with bash -euo pipefail, the README's port replaced by the served one, in `cwd`: a folder
 * standing for the project (with the project's `.venv`), whose cdktf.out/local is the server's run folder (a
 * test never writes into the user's). PATH holds no AWS CLI: the README's own lines must put the project's on it.
 */
function runScript(script: string, endpoint: string, cwd: string) {
  return spawnSync("bash", ["-euo", "pipefail", "-c", script.replaceAll("http://127.0.0.1:4566", endpoint)], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, PATH: PATH_WITHOUT_AWS },
    // stdin not a socket (Node's default pipes are socket pairs): bash would take itself for a remote
    // shell and source /etc/bash.bashrc, which fails under -u when SHLVL is unset.
    stdio: ["ignore", "pipe", "pipe"],
  });
}

(missing ? describe.skip : describe)("README: Try it locally, with the AWS CLI against --serve", () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-try-locally-"));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
  /** The user's clone: the commands run there, and its cdktf.out/local is the server's run folder, not ours. */
  const user = copyProject(path.join(work, "project"));
  const served = (args: string[], via: "npm" | "node") =>
    startServe([...args, "--run-dir", "cdktf.out/local"], via, user);

  test("publish, see it leave OrderQueue, get-item it, read its log line; a bad order reaches the DLQ after 3 receives", async () => {
    const server = served(["--port", "0", "--stack-dir", synthOrderStackTo(path.join(work, "stack"))], "npm");
    try {
      const ready = await readyOf(server);
      // As written, but on the port this run got (4566 may be taken on a shared machine).
      const result = runScript(TRY_IT(), ready.endpoint, user);
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
      const counts = [...result.stdout.matchAll(/"ApproximateNumberOfMessages": "(\d+)"/g)].map((m) => m[1]);
      expect(counts).toEqual(["0", "1"]); // OrderQueue empty, then one message in the DLQ
      expect(result.stdout).toMatch(/"orderId": \{\s*"S": "O9876"/);
      expect(result.stdout).toMatch(/"outcome":"stored".*"orderId":"O9876"/);
      // The serving shell's trace says so too (its line may trail the CLI's answer by a few milliseconds).
      await server.waitFor(/moved to DLQ .*order=O9877 OrderQueue -> DLQ after 3 receives/, 10_000);
      // A service the endpoint does not serve: botocore parses the answer (REST-JSON Lambda, JSON Logs).
      for (const [command, operation] of [
        ["lambda list-functions", "ListFunctions"],
        ["logs describe-log-groups", "DescribeLogGroups"],
      ]) {
        const refused = runScript(
          `export AWS_ENDPOINT_URL=${ready.endpoint} AWS_DEFAULT_REGION=us-east-1 \
AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_MAX_ATTEMPTS=1; "${aws}" ${command}`,
          ready.endpoint,
          user,
        );
        expect(refused.status).toBe(255);
        expect(refused.stderr.trim()).toBe(
          `An error occurred (NotImplemented) when calling the ${operation} operation: this endpoint serves sns, sqs and dynamodb; ${command.split(" ")[0]} is not emulated`,
        );
      }
    } finally {
      expect(await interrupt(server)).not.toBe(2);
    }
  }, 180_000);

  test("the runbook: an order DynamoDB failed is dead-lettered; after the fix (a restart without faults) it is redriven and stored", async () => {
    // The README's exports (the AWS CLI on PATH, the variables), as the runbook's shell has them.
    const exports = TRY_IT()
      .split("\n")
      .filter((line) => line.startsWith("export "))
      .join("\n");
    expect(exports).toMatch(/^export PATH=.*\nexport AWS_ENDPOINT_URL=/);
    const parts = servedParts(RUNBOOK());
    expect(parts.map((p) => p.args.join(" "))).toEqual([
      "--serve --persist cdktf.out/local/state --fail-rate 1",
      "--serve --persist cdktf.out/local/state",
    ]);
    const state = path.join(user, "cdktf.out", "local", "state");
    fs.rmSync(state, { recursive: true, force: true });
    const stack = synthOrderStackTo(path.join(work, "runbook-stack"));
    const outputs: string[] = [];
    const traces: string[][] = [];
    try {
      for (const part of parts) {
        // As npm runs it, so that the exit code after Ctrl-C is the runtime's (npm's own is the signal's).
        const server = served(["--port", "0", "--stack-dir", stack, ...part.args.slice(1)], "node");
        try {
          const ready = await readyOf(server);
          const result = runScript(`${exports}\n${part.script}`, ready.endpoint, user);
          expect(result.stderr).toBe("");
          expect(result.status).toBe(0);
          outputs.push(result.stdout);
        } finally {
          expect(await interrupt(server)).toBe(0);
          traces.push(server.lines);
        }
      }
    } finally {
      fs.rmSync(state, { recursive: true, force: true });
    }
    expect(traces[0].some((l) => /moved to DLQ .*order=O9878 OrderQueue -> DLQ after 3 receives/.test(l))).toBe(true);
    expect(outputs[0]).toMatch(/receives=\d+ .*"orderId":"O9878"/);
    expect(outputs[0]).toMatch(/"outcome":"failed".*"orderId":"O9878".*(Throughput|InternalServerError)/);
    expect(outputs[1]).toMatch(/moved 1 messages from \S+\/DLQ to \S+\/OrderQueue/);
    expect(outputs[1]).toMatch(/"orderId": \{\s*"S": "O9878"/);
  }, 240_000);
});
