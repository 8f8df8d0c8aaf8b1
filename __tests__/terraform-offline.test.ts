import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { offlineTerraform, OfflineTerraform, prepareOffline, runTerraform } from "./support/terraform";
import { resourceAddresses, synthAppTo, TEST_ENVIRONMENTS, testConfig } from "./support/stacks";

/** Written when the proof has run, so CI can tell it did not silently skip. */
const PROOF_RECORD = path.join(__dirname, "..", "cdktf.out", "offline-terraform-proof.json");

const tools = offlineTerraform();
const available = typeof tools !== "string";
if (!available) {
  // Loud, and fatal in CI: the proof is required there (see .ci/run).
  console.warn(`OFFLINE TERRAFORM PROOF NOT RUN: ${tools}`);
  if (process.env.CI) throw new Error(`The offline Terraform proof is required in CI: ${tools}`);
}
const describeOffline = available ? describe : describe.skip;

describeOffline("offline Terraform proof with the real AWS provider (archive_file replaced by a zip built by the test)", () => {
  const terraform = tools as OfflineTerraform;
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "order-offline-"));
  const record: Record<string, { resources: number; planned: number; replaced: string[] }> = {};

  afterAll(() => {
    fs.mkdirSync(path.dirname(PROOF_RECORD), { recursive: true });
    fs.writeFileSync(PROOF_RECORD, JSON.stringify({ terraform: terraform.terraform, stacks: record }, null, 2));
    fs.rmSync(workRoot, { recursive: true, force: true });
  });

  describe.each(Object.keys(TEST_ENVIRONMENTS))("environment %s", (environment) => {
    const config = testConfig(environment);
    const stackDirs = synthAppTo(config, path.join(workRoot, environment, "out"));

    test.each(Object.keys(stackDirs))("%s: init from the mirror, validate, and plan every resource", (stack) => {
      const stackDir = stackDirs[stack];
      const synthesized = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
      const workDir = path.join(workRoot, environment, "plan", stack);
      const { replaced } = prepareOffline(stackDir, workDir);

      const init = runTerraform(terraform, workDir, ["init", "-backend=false", "-input=false", "-no-color"]);
      expect({ step: "init", status: init.status, stderr: init.stderr }).toEqual({ step: "init", status: 0, stderr: "" });

      const validate = runTerraform(terraform, workDir, ["validate", "-json", "-no-color"]);
      const validation = JSON.parse(validate.stdout);
      expect({ valid: validation.valid, diagnostics: validation.diagnostics }).toEqual({ valid: true, diagnostics: [] });

      const plan = runTerraform(terraform, workDir, ["plan", "-refresh=false", "-input=false", "-lock=false", "-no-color", "-out=tfplan"]);
      expect({ step: "plan", status: plan.status, stderr: plan.stderr }).toEqual({ step: "plan", status: 0, stderr: "" });

      const show = runTerraform(terraform, workDir, ["show", "-json", "tfplan"]);
      const changes: { address: string; change: { actions: string[] } }[] = JSON.parse(show.stdout).resource_changes;
      const created = changes.filter((c) => c.change.actions.includes("create")).map((c) => c.address).sort();
      const expected = resourceAddresses(synthesized).sort();
      expect(created).toEqual(expected);
      record[stack] = { resources: expected.length, planned: created.length, replaced };
    });
  });
});
