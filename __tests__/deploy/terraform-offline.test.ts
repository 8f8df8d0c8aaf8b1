import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
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

describeOffline(
  "offline Terraform proof with the real AWS provider (archive_file replaced by a zip built by the test)",
  () => {
    const terraform = tools as OfflineTerraform;
    const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), "order-offline-"));
    const planRoot = path.join(workRoot, "plan");
    const stacks = Object.keys(TEST_ENVIRONMENTS).flatMap((environment) => {
      const stackDirs = synthAppTo(testConfig(environment), path.join(workRoot, environment, "out"));
      return Object.entries(stackDirs).map(([stack, stackDir]) => ({ stack, stackDir }));
    });
    const expected = new Map<string, { addresses: string[]; replaced: string[] }>();
    const record: Record<string, { resources: number; planned: number; replaced: string[] }> = {};
    let init: TerraformRun;
    let plan: TerraformRun;

    // Every stack is a module of one root (`module.<stack>`, its own provider configuration inside), so
    // one `init` and one `plan` load the 700 MB provider and its schema once instead of six times; the
    // plan still validates and plans each stack's own configuration. `plan` validates first, so no
    // separate `validate`.
    beforeAll(async () => {
      for (const { stack, stackDir } of stacks) {
        const synthesized = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8"));
        const { replaced } = prepareOffline(stackDir, path.join(planRoot, stack));
        expected.set(stack, { addresses: resourceAddresses(synthesized).sort(), replaced });
      }
      const modules = Object.fromEntries(stacks.map(({ stack }) => [stack, { source: `./${stack}` }]));
      fs.writeFileSync(path.join(planRoot, "main.tf.json"), JSON.stringify({ module: modules }, null, 2));
      init = await runTerraformAsync(terraform, planRoot, ["init", "-backend=false", "-input=false", "-no-color"]);
      plan =
        init.status === 0
          ? await runTerraformAsync(terraform, planRoot, [
              "plan",
              "-refresh=false",
              "-input=false",
              "-lock=false",
              "-json",
            ])
          : { status: null, stdout: "", stderr: "not planned: init failed" };
    });

    afterAll(() => {
      fs.mkdirSync(path.dirname(PROOF_RECORD), { recursive: true });
      fs.writeFileSync(PROOF_RECORD, JSON.stringify({ terraform: terraform.terraform, stacks: record }, null, 2));
      fs.rmSync(workRoot, { recursive: true, force: true });
    });

    test.each(stacks.map((s) => s.stack))(
      "%s: init from the mirror, then a plan that validates and creates every resource",
      (stack) => {
        const { addresses, replaced } = expected.get(stack)!;
        expect({ step: "init", status: init.status, stderr: init.stderr }).toEqual({
          step: "init",
          status: 0,
          stderr: "",
        });
        const { created, diagnostics } = plannedCreates(plan.stdout);
        // This stack's diagnostics: those in its files, and those no file is named for.
        const its = diagnostics
          .filter((d) => d.file === undefined || d.file.startsWith(`${stack}/`))
          .map((d) => d.text);
        // One plan covers every stack: an error in another stack stops this one's plan too, and says where.
        const failedElsewhere =
          plan.status !== 0 && its.length === 0
            ? { "plan stopped by errors in": [...new Set(diagnostics.map((d) => d.file?.split("/")[0]))] }
            : {};
        expect({
          step: "plan",
          status: plan.status,
          diagnostics: its,
          ...failedElsewhere,
          stderr: plan.stderr,
        }).toEqual({
          step: "plan",
          status: 0,
          diagnostics: [],
          stderr: "",
        });
        const prefix = `module.${stack}.`;
        const planned = created.filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length));
        expect(planned.sort()).toEqual(addresses);
        record[stack] = { resources: addresses.length, planned: planned.length, replaced };
      },
    );
  },
);
