import { BASE_NAMES, ENVIRONMENT_NAMES, resolveEnvironment, resourceNames, settingsFrom } from "../../constructs";
import { PROJECT_ROOT } from "../support/paths";

const resolve = (env: NodeJS.ProcessEnv, context: Record<string, string> = {}) =>
  resolveEnvironment(settingsFrom(env, (key) => context[key]));

describe("environment selection", () => {
  test("defaults to dev with the product's names and a zero-config state bucket", () => {
    const config = resolve({});
    expect(config.name).toBe("dev");
    expect(config.names).toMatchObject({
      stack: "OrderSystemStack",
      topic: "OrderTopic",
      queue: "OrderQueue",
      deadLetterQueue: "DLQ",
      table: "Orders",
    });
    expect(config.production).toBe(false);
    expect(config.accountId).toBeUndefined();
    expect(config.stateBucket).toMatch(/\S/);
  });

  test("ORDER_ENV selects another environment with its own derived names", () => {
    const config = resolve({ ORDER_ENV: "prod", ORDER_ACCOUNT_ID: "123456789012", ORDER_STATE_BUCKET: "acme-tfstate" });
    expect(config.names.stack).toBe("OrderSystemStack-prod");
    expect(config.names.table).toBe("Orders-prod");
    expect(config.production).toBe(true);
  });

  test("the cdktf.json context works when no variable is set, and the variable wins over it", () => {
    expect(resolve({}, { environment: "staging", stateBucket: "ctx-bucket" }).stateBucket).toBe("ctx-bucket");
    expect(resolve({ ORDER_ENV: "dev" }, { environment: "staging" }).name).toBe("dev");
  });

  test("no two environments share a resource name", () => {
    const all = ENVIRONMENT_NAMES.flatMap((env) => Object.values(resourceNames(env)));
    expect(new Set(all).size).toBe(all.length);
    expect(Object.keys(resourceNames("prod"))).toEqual(Object.keys(BASE_NAMES));
  });
});

describe("configuration errors say what to set", () => {
  test.each([
    [{ ORDER_ENV: "qa" }, /Unknown environment "qa"\. Set ORDER_ENV to one of: dev, staging, prod/],
    [{ ORDER_ENV: "prod", ORDER_STATE_BUCKET: "acme-tfstate" }, /production: set ORDER_ACCOUNT_ID/],
    [{ ORDER_ENV: "prod", ORDER_ACCOUNT_ID: "123456789012" }, /needs a Terraform state bucket: set ORDER_STATE_BUCKET/],
    [{ ORDER_ACCOUNT_ID: "12345" }, /Invalid AWS account id "12345"\. Set ORDER_ACCOUNT_ID/],
    [{ ORDER_REGION: "mars-1" }, /Invalid AWS region "mars-1"\. Set ORDER_REGION/],
    [{ ORDER_STATE_BUCKET: "Bad_Bucket" }, /Invalid state bucket name "Bad_Bucket"\. Set ORDER_STATE_BUCKET/],
    [{ ORDER_ALARM_EMAIL: "not-an-address" }, /Invalid alarm e-mail .* Set ORDER_ALARM_EMAIL/],
    [{ ORDER_REDRIVE_PRINCIPALS: "arn:aws:iam::123456789012:user/bob" }, /Invalid redrive principal .* IAM role ARNs/],
    [
      { ORDER_GITHUB_REPOSITORY: "acme/*" },
      /Invalid GitHub repository "acme\/\*"\. Set ORDER_GITHUB_REPOSITORY to owner\/name/,
    ],
    [{ ORDER_GITHUB_OIDC_PROVIDER_ARN: "arn:aws:iam::1:oidc-provider/x" }, /Invalid GitHub OIDC provider/],
  ])("%j", (env, message) => {
    expect(() => resolve(env)).toThrow(message);
  });
});

describe("bootstrap state across environments (cdktf synth prunes the stack folders it did not produce)", () => {
  test("npx cdktf synth for dev, then for staging, leaves dev's bootstrap state in place", () => {
    const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
    const fs = require("node:fs") as typeof import("node:fs");
    const os = require("node:os") as typeof import("node:os");
    const path = require("node:path") as typeof import("node:path");
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-bootstrap-"));
    const out = path.join(work, "cdktf.out");
    const stateDir = path.join(work, "terraform-state");
    const synth = (env: NodeJS.ProcessEnv) => {
      const result = spawnSync("npx", ["cdktf", "synth", "--output", out], {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        env: { ...process.env, CHECKPOINT_DISABLE: "1", ORDER_ENV: "", ORDER_BOOTSTRAP_STATE_DIR: stateDir, ...env },
      });
      expect({ status: result.status, stderr: result.stderr }).toMatchObject({ status: 0 });
    };
    try {
      synth({});
      const stackDir = path.join(out, "stacks", "OrderStateStack");
      const devBackend = path.resolve(
        stackDir,
        JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")).terraform.backend.local.path,
      );
      expect(devBackend).toBe(path.join(stateDir, "terraform.OrderStateStack.tfstate"));
      // What `cdktf deploy OrderStateStack` leaves behind: the only record of the state bucket.
      fs.mkdirSync(stateDir, { recursive: true });
      fs.writeFileSync(devBackend, '{"version":4,"resources":[]}');
      synth({ ORDER_ENV: "staging", ORDER_STATE_BUCKET: "example-order-tfstate-staging" });
      expect(fs.existsSync(path.join(out, "stacks", "OrderStateStack"))).toBe(false); // cdktf pruned dev's folder...
      expect(fs.readFileSync(devBackend, "utf8")).toBe('{"version":4,"resources":[]}'); // ...but not its state
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

test("the bootstrap stack synthesizes to the same JSON in two checkouts: no machine path in it", () => {
  const fs = require("node:fs") as typeof import("node:fs");
  const os = require("node:os") as typeof import("node:os");
  const path = require("node:path") as typeof import("node:path");
  const { synthAppTo } = require("../support/stacks") as typeof import("../support/stacks");
  const cwd = process.cwd();
  const checkouts = ["first", "second"].map((name) => fs.mkdtempSync(path.join(os.tmpdir(), `order-${name}-`)));
  try {
    const synthesized = checkouts.map((checkout) => {
      // What a checkout at another folder does: resolve the default state folder and cdktf.out there.
      process.chdir(checkout);
      const config = resolveEnvironment(settingsFrom({}));
      const stackDir = synthAppTo(config, path.join(checkout, "cdktf.out")).OrderStateStack;
      return fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8");
    });
    expect(synthesized[0]).not.toContain(checkouts[0]);
    expect(synthesized[1]).toBe(synthesized[0]);
  } finally {
    process.chdir(cwd);
    for (const checkout of checkouts) fs.rmSync(checkout, { recursive: true, force: true });
  }
});
