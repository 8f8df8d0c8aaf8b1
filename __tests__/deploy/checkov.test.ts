/**
 * Checkov, the static checker reviewers run on Terraform, on every environment's synthesized stacks
 * (`npm run test:deploy`). The checked-in configuration skips exactly the rules docs/security.md's
 * model lists as deliberate exceptions; any other failing check fails.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { missingPythonTools, venvOf } from "../support/emulator";
import { synthAppTo, TEST_ENVIRONMENTS, testConfig } from "../support/stacks";
import { PROJECT_ROOT } from "../support/paths";

const ROOT = PROJECT_ROOT;
const CONFIG = path.join(ROOT, "scripts", "checkov.yaml");

const missing = missingPythonTools();
if (missing) {
  console.warn(`CHECKOV NOT RUN: ${missing}`);
  if (process.env.CI) throw new Error(`Checkov is required in CI: ${missing}`);
}
const describeCheckov = missing ? describe.skip : describe;

interface CheckovReport {
  summary: { passed: number; failed: number; parsing_errors: number; checkov_version: string };
  results: { failed_checks: { check_id: string; resource: string; file_path: string; check_name: string }[] };
}

function checkov(files: string[], extra: string[] = []): CheckovReport[] {
  // --skip-download: Checkov would otherwise call its vendor's API for guidelines (no network here, none needed).
  const args = [
    "--framework",
    "terraform_json",
    "-o",
    "json",
    "--quiet",
    "--compact",
    "--skip-download",
    ...extra,
    "-f",
    ...files,
  ];
  const result = spawnSync(path.join(venvOf("checkov"), "bin", "checkov"), args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  // Exit code 1 means failed checks; anything else but 0 is Checkov itself failing.
  if (result.status !== 0 && result.status !== 1) throw new Error(`checkov exited ${result.status}: ${result.stderr}`);
  const reports: CheckovReport[] = [JSON.parse(result.stdout)].flat();
  // A file Checkov cannot parse is silently not checked: that must fail, not pass.
  const unparsed = reports.reduce((n, r) => n + r.summary.parsing_errors, 0);
  if (unparsed > 0) throw new Error(`checkov could not parse ${unparsed} of ${files.length} stacks`);
  return reports;
}

/**
 * Checkov 3.3.30's terraform_json parser fails on a string directly in the `terraform` block
 * (`required_version`) and then skips the whole file; the copy it checks leaves that one key out.
 */
function checkable(stackFile: string): string {
  const doc = JSON.parse(fs.readFileSync(stackFile, "utf8"));
  delete doc.terraform?.required_version;
  const copy = stackFile.replace(/cdk\.tf\.json$/, "checkov.tf.json");
  fs.writeFileSync(copy, JSON.stringify(doc));
  return copy;
}

/** The rule ids of docs/security.md's "Rules the stacks do not follow" table. */
function readmeExceptions(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, "docs", "security.md"), "utf8");
  const section = readme.split("## Rules the stacks do not follow")[1]?.split(/\n#{2,3} /)[0] ?? "";
  return [...section.matchAll(/^\| `(CKV2?_AWS_\d+)` \|/gm)].map((m) => m[1]).sort();
}

describeCheckov("Checkov on every environment's synthesized stacks", () => {
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "order-checkov-"));
  const files = Object.keys(TEST_ENVIRONMENTS).flatMap((environment) =>
    Object.values(synthAppTo(testConfig(environment), path.join(workRoot, environment))).map((dir) =>
      checkable(path.join(dir, "cdk.tf.json")),
    ),
  );
  const skipped: string[] = parse(fs.readFileSync(CONFIG, "utf8"))["skip-check"];
  afterAll(() => fs.rmSync(workRoot, { recursive: true, force: true }));

  test("the configuration skips exactly the exceptions docs/security.md's model explains", () => {
    expect([...skipped].sort()).toEqual(readmeExceptions());
    expect(skipped.length).toBeGreaterThan(0);
  });

  test("with that configuration, every check passes on all six stacks", () => {
    const reports = checkov(files, ["--config-file", CONFIG]);
    const failed = reports.flatMap((r) =>
      r.results.failed_checks.map(
        (f) => `${f.check_id} ${f.resource} (${path.relative(workRoot, f.file_path)}): ${f.check_name}`,
      ),
    );
    expect(failed).toEqual([]);
    expect(reports.reduce((n, r) => n + r.summary.passed, 0)).toBeGreaterThan(50);
  });

  test("every skipped rule really fails without the skip (no stale exception)", () => {
    const firing = new Set(checkov(files).flatMap((r) => r.results.failed_checks.map((f) => f.check_id)));
    expect(skipped.filter((id) => !firing.has(id))).toEqual([]);
  });
});
