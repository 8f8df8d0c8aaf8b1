import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ENVIRONMENT_NAMES, resourceNames } from "../../constructs/environments";
import { LAMBDA_RUNTIME } from "../../constructs/function-bundle";
import { PROJECT_ROOT } from "../support/paths";

type Json = Record<string, any>;
const load = (name: string): Json =>
  parse(fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", name), "utf8"));
const main = load("infrastructure.yml");
const environment = load("environment.yml");
const steps = (job: Json): Json[] => job.steps ?? [];
const runs = (job: Json) =>
  steps(job)
    .map((s) => s.run ?? "")
    .join("\n");
const uses = (job: Json, action: string) => steps(job).find((s) => String(s.uses ?? "").startsWith(`${action}@`));

describe("the GitHub workflow", () => {
  test("runs on pull requests and on pushes to main, reading the repository only by default", () => {
    expect(main.on.pull_request).toBeDefined();
    expect(main.on.push.branches).toEqual(["main"]);
    expect(main.permissions).toEqual({ contents: "read" });
    expect(environment.permissions).toEqual({ contents: "read", "id-token": "write" });
  });

  test("tests with the README's commands and Terraform pinned, then synthesizes", () => {
    const test = main.jobs.test;
    expect(runs(test)).toMatch(/^npm ci$/m);
    expect(runs(test)).toMatch(/^npm test$/m);
    // The deploy proof on moto and Checkov, as in .ci/run.
    expect(runs(test)).toMatch(/^npm run setup:python\nnpm run test:deploy$/m);
    expect(runs(test)).toMatch(/npx cdktf synth/);
    expect(uses(test, "hashicorp/setup-terraform")?.with.terraform_version).toBeDefined();
    // The offline Terraform proof needs the AWS provider from a local mirror.
    expect(runs(test)).toMatch(/providers mirror[\s\S]*ORDER_TF_PROVIDER_MIRROR/);
  });

  test("diffs every environment on pull requests with OIDC credentials and publishes the diff", () => {
    const diff = main.jobs.diff;
    expect(diff.if).toMatch(/pull_request/);
    expect(diff.needs).toBe("test");
    expect(diff.strategy.matrix.environment).toEqual(["dev", "staging", "prod"]);
    expect(diff.with.command).toBe("diff");
    expect(diff.permissions).toEqual({ contents: "read", "id-token": "write" });
    const job = environment.jobs.diff;
    expect(uses(job, "aws-actions/configure-aws-credentials")?.with["role-to-assume"]).toBe(
      "${{ vars[format('AWS_PLAN_ROLE_ARN_{0}', inputs.environment)] }}",
    );
    expect(uses(job, "hashicorp/setup-terraform")?.with.terraform_version).toBe("1.11.4");
    expect(runs(job)).toMatch(/npx cdktf diff "\$STACK"/);
    expect(runs(job)).toMatch(/GITHUB_STEP_SUMMARY/);
    expect(job.environment).toBeUndefined();
  });

  test("deploys dev, then staging, then prod from main, each in its GitHub environment", () => {
    expect(main.jobs["deploy-dev"].if).toMatch(/refs\/heads\/main/);
    expect(main.jobs["deploy-staging"].needs).toBe("deploy-dev");
    expect(main.jobs["deploy-prod"].needs).toBe("deploy-staging");
    for (const [name, env] of [
      ["deploy-dev", "dev"],
      ["deploy-staging", "staging"],
      ["deploy-prod", "prod"],
    ]) {
      expect(main.jobs[name].with).toEqual({ environment: env, command: "deploy" });
    }
    const job = environment.jobs.deploy;
    expect(job.environment).toBe("${{ inputs.environment }}");
    expect(uses(job, "aws-actions/configure-aws-credentials")?.with["role-to-assume"]).toBe(
      "${{ vars[format('AWS_DEPLOY_ROLE_ARN_{0}', inputs.environment)] }}",
    );
    expect(runs(job)).toMatch(/npx cdktf deploy "\$STACK" --auto-approve/);
  });

  test("each deploy is followed by orders verify on the outputs it wrote, without paging anyone", () => {
    const commands = runs(environment.jobs.deploy).split("\n");
    const deploy = commands.findIndex((command) => command.startsWith("npx cdktf deploy"));
    expect(commands[deploy]).toMatch(/--outputs-file outputs\.json$/);
    expect(commands.slice(deploy + 1)).toEqual(['npm run orders -- verify --stack "$STACK" --outputs outputs.json']);
  });

  test("a pull request's code never sees a deploy role, and fork pull requests (no OIDC token) are not diffed", () => {
    const text = fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", "environment.yml"), "utf8");
    const diffJob = text.slice(text.indexOf("\n  diff:"), text.indexOf("\n  deploy:"));
    expect(diffJob).not.toMatch(/DEPLOY_ROLE/);
    expect(main.jobs.diff.if).toContain("github.event.pull_request.head.repo.full_name == github.repository");
    // The roles the synthesized bootstrap stack trusts are this repository's.
    expect(environment.env.ORDER_GITHUB_REPOSITORY).toBe("${{ github.repository }}");
  });

  test("every action is pinned by full commit SHA, its version in a comment", () => {
    // GitHub's hardening guide: a tag can be moved, a commit SHA cannot.
    const lines = ["infrastructure.yml", "environment.yml"]
      .flatMap((name) => fs.readFileSync(path.join(PROJECT_ROOT, ".github", "workflows", name), "utf8").split("\n"))
      .filter((line) => /^\s*-?\s*uses:\s*[\w-]+\//.test(line));
    expect(lines.length).toBeGreaterThan(6);
    for (const line of lines) expect(line.trim()).toMatch(/^(- )?uses: [\w-]+\/[\w-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
  });

  test("sets up the Node.js major of .nvmrc, package.json's engines and the Lambda runtime", () => {
    const root = PROJECT_ROOT;
    const nvmrc = fs.readFileSync(path.join(root, ".nvmrc"), "utf8").trim();
    const engines: string = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).engines.node;
    expect(engines).toBe(`>=${nvmrc}`);
    expect(LAMBDA_RUNTIME.runtime).toBe(`nodejs${nvmrc}.x`);
    const setups = [main.jobs.test, environment.jobs.diff, environment.jobs.deploy].map(
      (job) => uses(job, "actions/setup-node")?.with,
    );
    for (const setup of setups) expect(setup).toEqual({ "node-version-file": ".nvmrc", cache: "npm" });
  });

  test.each(ENVIRONMENT_NAMES)("the stack it diffs and deploys for %s is that environment's stack", (env) => {
    // Evaluate the workflow's `a == 'x' && 'y' || format('z{0}', a)` expression for this environment.
    const m = /inputs\.environment == '(\w+)' && '([\w-]+)' \|\| format\('([\w-]*)\{0\}', inputs\.environment\)/.exec(
      environment.env.STACK,
    );
    expect(m).not.toBeNull();
    const [, special, specialStack, prefix] = m!;
    expect(env === special ? specialStack : `${prefix}${env}`).toBe(resourceNames(env).stack);
  });
});
