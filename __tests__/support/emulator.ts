import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { PROJECT_ROOT } from "./paths";
import { replaceArchives } from "./terraform";

/** The project-local virtualenv of one Python tool, which `npm run setup:python` fills from scripts/python/<tool>.txt. */
export const venvOf = (tool: "moto" | "checkov" | "awscli") => path.join(PROJECT_ROOT, ".venv", tool);
/** The account moto answers for (STS GetCallerIdentity); stacks that pin an account pin this one. */
export const MOTO_ACCOUNT_ID = "123456789012";
/** The AWS services the stacks use, each pointed at the emulator. */
const SERVICES = ["cloudwatch", "dynamodb", "iam", "kms", "lambda", "logs", "s3", "sns", "sqs", "sts"];
export const EMULATOR_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" };

/** What is missing for the Python tools, or undefined when they are installed. */
export function missingPythonTools(): string | undefined {
  for (const [tool, command] of [
    ["moto", "moto_server"],
    ["checkov", "checkov"],
  ] as const) {
    const file = path.join(venvOf(tool), "bin", command);
    if (!fs.existsSync(file))
      return `${command} is not installed in .venv/${tool}; run \`npm run setup:python\` (needs python3 with venv and pip)`;
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Emulator {
  readonly endpoint: string;
  readonly version: string;
  stop(): Promise<void>;
}

/**
 * Starts moto server on a free loopback port and waits until it answers. Its request log goes to
 * `logFile`, not a pipe: the tests run Terraform synchronously, and a pipe nobody reads would fill up
 * and stall the emulator.
 */
export async function startMoto(logFile: string): Promise<Emulator> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const log = fs.openSync(logFile, "a");
  const child: ChildProcess = spawn(
    path.join(venvOf("moto"), "bin", "moto_server"),
    ["-H", "127.0.0.1", "-p", String(port)],
    { stdio: ["ignore", log, log] },
  );
  fs.closeSync(log);
  const stderr = () => fs.readFileSync(logFile, "utf8").slice(-4000);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto server exited (${child.exitCode}): ${stderr()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto server did not answer on ${endpoint} within 30 s: ${stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const version =
    fs
      .readdirSync(path.join(venvOf("moto"), "lib"))
      .flatMap((python) => fs.readdirSync(path.join(venvOf("moto"), "lib", python, "site-packages")))
      .find((name) => /^moto-[\d.]+\.dist-info$/.test(name))
      ?.replace(/^moto-([\d.]+)\.dist-info$/, "$1") ?? "unknown";
  return {
    endpoint,
    version,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** The AWS SDK's view of the emulator: endpoint and fake credentials, for clients the tests create. */
export function emulatorClientConfig(endpoint: string, region: string) {
  return { endpoint, region, credentials: EMULATOR_CREDENTIALS, forcePathStyle: true };
}

type Json = Record<string, any>;

/**
 * Copies a synthesized stack into `workDir`, pointed at the emulator, and otherwise as synthesized:
 * the provider keeps its region, default tags and `allowed_account_ids` (checked against moto's STS),
 * `aws_caller_identity` is really read, and the S3 backend stays (its endpoint comes from the
 * returned `-backend-config` file at `init`). Only the `archive_file` data source is replaced by a zip
 * of the same folder, because the archive provider is not installable here.
 */
export function prepareForEmulator(
  stackDir: string,
  workDir: string,
  endpoint: string,
): { backendConfig?: string; gaps: string[] } {
  const doc = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as Json;
  fs.mkdirSync(workDir, { recursive: true });
  const emulated = replaceArchives(doc, stackDir, workDir);
  emulated.provider.aws = emulated.provider.aws.map((provider: Json) => ({
    ...provider,
    access_key: EMULATOR_CREDENTIALS.accessKeyId,
    secret_key: EMULATOR_CREDENTIALS.secretAccessKey,
    s3_use_path_style: true,
    skip_credentials_validation: true,
    skip_metadata_api_check: "true",
    endpoints: [Object.fromEntries(SERVICES.map((service) => [service, endpoint]))],
  }));
  // The bootstrap's local state stays with this copy, not in the project's terraform-state folder.
  if (emulated.terraform?.backend?.local)
    emulated.terraform.backend.local.path = path.join(workDir, "terraform.tfstate");
  const gaps = applyEmulatorWorkarounds(emulated);
  fs.writeFileSync(path.join(workDir, "main.tf.json"), JSON.stringify(emulated, null, 2));
  if (!emulated.terraform?.backend?.s3) return { gaps };
  const backendConfig = path.join(workDir, "emulator.s3.tfbackend");
  fs.writeFileSync(
    backendConfig,
    [
      `endpoints = { s3 = "${endpoint}", sts = "${endpoint}" }`,
      "use_path_style = true",
      `access_key = "${EMULATOR_CREDENTIALS.accessKeyId}"`,
      `secret_key = "${EMULATOR_CREDENTIALS.secretAccessKey}"`,
      "skip_credentials_validation = true",
      "skip_metadata_api_check = true",
      "skip_requesting_account_id = true",
      "",
    ].join("\n"),
  );
  return { backendConfig, gaps };
}

/**
 * The emulator's gaps, each worked around for one resource type in the proof's copy only (docs/testing.md
 * lists them). Returns what was changed, e.g. `aws_s3_bucket_policy.X: ...`.
 */
export function applyEmulatorWorkarounds(doc: Json): string[] {
  const gaps: string[] = [];
  // moto applies S3 bucket policies without their conditions, so the TLS-only statement (a Deny on
  // s3:* when aws:SecureTransport is false) would deny every request. AWS evaluates the condition.
  for (const [name, policy] of Object.entries<Json>(doc.resource?.aws_s3_bucket_policy ?? {})) {
    const document = JSON.parse(policy.policy);
    const kept = document.Statement.filter((statement: Json) => !(statement.Effect === "Deny" && statement.Condition));
    if (kept.length === document.Statement.length) continue;
    gaps.push(
      `aws_s3_bucket_policy.${name}: conditional Deny statements dropped (moto ignores conditions in bucket policies)`,
    );
    policy.policy = JSON.stringify({ ...document, Statement: kept });
  }
  // moto neither stores nor returns SQS's RedriveAllowPolicy attribute, so the provider would wait
  // for it forever. The DLQ's redrive-allow policy is planned by the offline proof instead.
  for (const name of Object.keys(doc.resource?.aws_sqs_queue_redrive_allow_policy ?? {})) {
    gaps.push(
      `aws_sqs_queue_redrive_allow_policy.${name}: not applied (moto does not keep the RedriveAllowPolicy queue attribute)`,
    );
  }
  if (doc.resource?.aws_sqs_queue_redrive_allow_policy) delete doc.resource.aws_sqs_queue_redrive_allow_policy;
  // moto's Lambda does not keep a function's LoggingConfig, so every plan would add it again.
  for (const [name, fn] of Object.entries<Json>(doc.resource?.aws_lambda_function ?? {})) {
    if (!fn.logging_config) continue;
    delete fn.logging_config;
    gaps.push(`aws_lambda_function.${name}: logging_config not applied (moto's Lambda does not keep LoggingConfig)`);
  }
  // moto runs an enabled SQS event source mapping on every SendMessage: it "invokes" the function (no
  // code runs without Docker) and deletes the messages, so orders sent to OrderQueue would vanish.
  for (const [name, mapping] of Object.entries<Json>(doc.resource?.aws_lambda_event_source_mapping ?? {})) {
    mapping.enabled = false;
    gaps.push(
      `aws_lambda_event_source_mapping.${name}: applied disabled (moto consumes the queue's messages without running the function)`,
    );
  }
  // moto returns a queue's RedrivePolicy as JSON with spaces, which this provider version reports as a
  // change of the compact JSON it wrote (AWS returns it compact).
  for (const [name, queue] of Object.entries<Json>(doc.resource?.aws_sqs_queue ?? {})) {
    if (!queue.redrive_policy) continue;
    queue.lifecycle = {
      ...queue.lifecycle,
      ignore_changes: [...(queue.lifecycle?.ignore_changes ?? []), "redrive_policy"],
    };
    gaps.push(
      `aws_sqs_queue.${name}: redrive_policy changes ignored on re-plan (moto returns the JSON with whitespace)`,
    );
  }
  return gaps;
}
