import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  mapLimit,
  offlineTerraform,
  OfflineTerraform,
  plannedCreates,
  prepareOffline,
  runTerraformAsync,
  TerraformRun,
} from "../support/terraform";
import { resourceAddresses, synthAppTo, TEST_ENVIRONMENTS, testConfig } from "../support/stacks";
import { PROJECT_ROOT } from "../support/paths";

/** Written when the proof has run, so CI can tell it did not silently skip. */
const PROOF_RECORD = path.join(PROJECT_ROOT, "cdktf.out", "offline-terraform-proof.json");

const tools = offlineTerraform();
const available = typeof tools !== "string";
if (!available) {
  // Loud, and fatal in CI: the proof is required there (see .ci/run).
  console.warn(`OFFLINE TERRAFORM PROOF NOT RUN: ${tools}`);
  if (process.env.CI) throw new Error(`The offline Terraform proof is required in CI: ${tools}`);
}
const describeOffline = available ? describe : describe.skip;

interface StackProof {
  readonly expected: string[];
  readonly replaced: string[];
  readonly init: TerraformRun;
  readonly plan?: TerraformRun;
}

describeOffline(
  "offline Terraform proof with the real AWS provider (archive_file replaced by a zip built by the test)",
  () => {
    const terraform = tools as OfflineTerraform;
    const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "order-offline-"));
    const stacks = Object.keys(TEST_ENVIRONMENTS).flatMap((environment) => {
      const stackDirs = synthAppTo(testConfig(environment), path.join(workRoot, environment, "out"));
      return Object.entries(stackDirs).map(([stack, stackDir]) => ({ environment, stack, stackDir }));
    });
    const proofs = new Map<string, StackProof>();
    const record: Record<string, { resources: number; planned: number; replaced: string[] }> = {};

    // Terraform's plugin cache is not safe for concurrent installs (two inits filling an empty cache at
    // once can leave one without the provider's package folder), so the inits run one after another: the
    // first fills the cache, the others link it. The plans then run side by side (Terraform spends its
    // time in the provider, one process per stack). `plan` validates first, so no separate `validate`.
    beforeAll(async () => {
      const initialized: { stack: string; workDir: string }[] = [];
      for (const { stack, stackDir, environment } of stacks) {
        const synthesized = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
        const workDir = path.join(workRoot, environment, "plan", stack);
        const { replaced } = prepareOffline(stackDir, workDir);
        const init = await runTerraformAsync(terraform, workDir, [
          "init",
          "-backend=false",
          "-input=false",
          "-no-color",
        ]);
        proofs.set(stack, { expected: resourceAddresses(synthesized).sort(), replaced, init });
        if (init.status === 0) initialized.push({ stack, workDir });
      }
      await mapLimit(initialized, Math.max(2, os.availableParallelism()), async ({ stack, workDir }) => {
        const plan = await runTerraformAsync(terraform, workDir, [
          "plan",
          "-refresh=false",
          "-input=false",
          "-lock=false",
          "-json",
        ]);
        proofs.set(stack, { ...proofs.get(stack)!, plan });
      });
    });

    afterAll(() => {
      fs.mkdirSync(path.dirname(PROOF_RECORD), { recursive: true });
      fs.writeFileSync(PROOF_RECORD, JSON.stringify({ terraform: terraform.terraform, stacks: record }, null, 2));
      fs.rmSync(workRoot, { recursive: true, force: true });
    });

    test.each(stacks.map((s) => s.stack))(
      "%s: init from the mirror, then a plan that validates and creates every resource",
      (stack) => {
        const { expected, replaced, init, plan } = proofs.get(stack)!;
        expect({ step: "init", status: init.status, stderr: init.stderr }).toEqual({
          step: "init",
          status: 0,
          stderr: "",
        });
        const { created, diagnostics } = plannedCreates(plan!.stdout);
        expect({ step: "plan", status: plan!.status, diagnostics, stderr: plan!.stderr }).toEqual({
          step: "plan",
          status: 0,
          diagnostics: [],
          stderr: "",
        });
        expect(created.sort()).toEqual(expected);
        record[stack] = { resources: expected.length, planned: created.length, replaced };
      },
    );
  },
);
