import { App, Testing } from "cdktf";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  EnvironmentConfig,
  OrderSystemStack,
  OrderSystemStackProps,
  resolveEnvironment,
  settingsFrom,
  StateStack,
} from "../../constructs";

/** The configuration each environment is tested with, as a user would set it. */
export const TEST_ENVIRONMENTS: Record<string, NodeJS.ProcessEnv> = {
  // The zero-configuration default: no account, so the caller's account is looked up.
  dev: {},
  staging: {
    ORDER_ENV: "staging",
    ORDER_ACCOUNT_ID: "111111111111",
    ORDER_STATE_BUCKET: "example-order-tfstate-staging",
    ORDER_GITHUB_REPOSITORY: "acme/order-pipeline",
  },
  prod: {
    ORDER_ENV: "prod",
    ORDER_ACCOUNT_ID: "222222222222",
    ORDER_STATE_BUCKET: "example-order-tfstate-prod",
    ORDER_REGION: "eu-west-1",
    ORDER_ALARM_EMAIL: "ops@example.com",
    ORDER_GITHUB_REPOSITORY: "acme/order-pipeline",
    ORDER_REDRIVE_PRINCIPALS: "arn:aws:iam::222222222222:role/order-operator, arn:aws:iam::222222222222:role/oncall",
  },
};

export function testConfig(environment: string): EnvironmentConfig {
  return resolveEnvironment(settingsFrom(TEST_ENVIRONMENTS[environment]));
}

export type TfJson = Record<string, any>;

/** The OrderSystemStack of an environment, synthesized and parsed. */
export function synthOrderStack(config: EnvironmentConfig, pipeline?: OrderSystemStackProps["pipeline"]): TfJson {
  return JSON.parse(Testing.synth(new OrderSystemStack(Testing.app(), { config, pipeline })));
}

export function synthStateStack(config: EnvironmentConfig): TfJson {
  return JSON.parse(Testing.synth(new StateStack(Testing.app(), { config })));
}

/** Synthesizes the real app (assets included) into `outdir`; returns each stack's folder. */
export function synthAppTo(config: EnvironmentConfig, outdir: string): Record<string, string> {
  fs.mkdirSync(outdir, { recursive: true });
  const app = new App({ outdir });
  const stacks = [new StateStack(app, { config }), new OrderSystemStack(app, { config })];
  app.synth();
  return Object.fromEntries(stacks.map((stack) => [stack.node.id, path.join(outdir, "stacks", stack.node.id)]));
}

/** The only resource of a type; fails when there is none or several. */
export function only(json: TfJson, type: string): { name: string; body: TfJson } {
  const entries = Object.entries<TfJson>(json.resource?.[type] ?? {});
  if (entries.length !== 1) throw new Error(`expected exactly one ${type}, found ${entries.length}`);
  return { name: entries[0][0], body: entries[0][1] };
}

export function resourcesOf(json: TfJson, type: string): { name: string; body: TfJson }[] {
  return Object.entries<TfJson>(json.resource?.[type] ?? {}).map(([name, body]) => ({ name, body }));
}

/** The resource a resource's name is looked up by, e.g. `aws_sqs_queue` named "DLQ". */
export function byName(json: TfJson, type: string, name: string): { name: string; body: TfJson } {
  const found = resourcesOf(json, type).filter((r) => r.body.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  return found[0];
}

/** `${aws_x.name.attr}` for a resource, as references appear in the synthesized JSON. */
export function ref(type: string, name: string, attribute: string): string {
  return `\${${type}.${name}.${attribute}}`;
}

/** Every resource as `type.name`. */
export function resourceAddresses(json: TfJson): string[] {
  return Object.entries<TfJson>(json.resource ?? {}).flatMap(([type, byName]) =>
    Object.keys(byName).map((name) => `${type}.${name}`),
  );
}

/** Every IAM-style policy document in the stack: resource policies, key policy, role policies, trust policies. */
export function policiesOf(json: TfJson): { where: string; document: TfJson }[] {
  const out: { where: string; document: TfJson }[] = [];
  for (const [type, resources] of Object.entries<TfJson>(json.resource ?? {})) {
    for (const [name, body] of Object.entries<TfJson>(resources)) {
      for (const key of ["policy", "assume_role_policy"]) {
        if (typeof body[key] === "string")
          out.push({ where: `${type}.${name}.${key}`, document: JSON.parse(body[key]) });
      }
    }
  }
  return out;
}

export function asList<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Synthesizes the dev OrderSystemStack (assets included) with pipeline settings into `outdir`; returns its folder. */
export function synthOrderStackTo(outdir: string, pipeline?: OrderSystemStackProps["pipeline"]): string {
  fs.mkdirSync(outdir, { recursive: true });
  const app = new App({ outdir });
  const stack = new OrderSystemStack(app, { config: testConfig("dev"), pipeline });
  app.synth();
  return path.join(outdir, "stacks", stack.node.id);
}

/** Rewrites a synthesized stack's JSON in place (as a user editing the stack would). */
export function editStack(stackDir: string, edit: (json: TfJson) => void): void {
  const file = path.join(stackDir, "cdk.tf.json");
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  edit(json);
  fs.writeFileSync(file, JSON.stringify(json, null, 2));
}
