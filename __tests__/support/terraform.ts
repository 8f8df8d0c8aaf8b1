import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { zipFolder } from "./zip";

/** Points at a folder holding `registry.terraform.io/hashicorp/aws/<version>/...`; overrides the disk search. */
export const MIRROR_VARIABLE = "ORDER_TF_PROVIDER_MIRROR";
const AWS_PROVIDER_VERSION = "5.100.0";
const SEARCH_DEPTH = 5;
const NOT_SEARCHED = new Set(["proc", "sys", "dev", "run", "tmp", "node_modules", ".git", "cdktf.out"]);

export function terraformVersion(): string | undefined {
  const result = spawnSync("terraform", ["version", "-json"], {
    encoding: "utf8",
    env: { ...process.env, CHECKPOINT_DISABLE: "1" },
  });
  if (result.status !== 0) return undefined;
  return JSON.parse(result.stdout).terraform_version as string;
}

/** A mirror in the unpacked layout (`aws/5.100.0/<platform>/`) or the packed one (`terraform providers mirror`'s zips). */
function hasAwsProvider(mirror: string): boolean {
  const dir = path.join(mirror, "registry.terraform.io", "hashicorp", "aws");
  if (fs.existsSync(path.join(dir, AWS_PROVIDER_VERSION))) return true;
  try {
    return fs
      .readdirSync(dir)
      .some((name) => name.startsWith(`terraform-provider-aws_${AWS_PROVIDER_VERSION}_`) && name.endsWith(".zip"));
  } catch {
    return false;
  }
}

/** Finds a filesystem mirror of hashicorp/aws: the env override, then a bounded breadth-first search of the disk. */
export function findProviderMirror(): string | undefined {
  const override = process.env[MIRROR_VARIABLE];
  if (override) {
    if (!hasAwsProvider(override)) {
      throw new Error(
        `${MIRROR_VARIABLE}=${override} holds no registry.terraform.io/hashicorp/aws/${AWS_PROVIDER_VERSION}; point it at the folder that contains registry.terraform.io.`,
      );
    }
    return override;
  }
  let level = [os.homedir(), path.parse(process.cwd()).root];
  const seen = new Set<string>();
  for (let depth = 0; depth <= SEARCH_DEPTH && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      if (seen.has(dir)) continue;
      seen.add(dir);
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) {
        if (!entry.isDirectory() || NOT_SEARCHED.has(entry.name)) continue;
        if (entry.name === "registry.terraform.io" && hasAwsProvider(dir)) return dir;
        next.push(path.join(dir, entry.name));
      }
    }
    level = next;
  }
  return undefined;
}

export interface OfflineTerraform {
  readonly terraform: string;
  readonly mirror: string;
  readonly cliConfig: string;
}

/** What is missing for the offline check, or the tools to run it with. */
export function offlineTerraform(): OfflineTerraform | string {
  const terraform = terraformVersion();
  if (!terraform) return "the terraform CLI (>= 1.10) is not on PATH; install it to run the offline Terraform proof";
  const mirror = findProviderMirror();
  if (!mirror) {
    return `no filesystem mirror of hashicorp/aws ${AWS_PROVIDER_VERSION} was found; set ${MIRROR_VARIABLE} to the folder that contains registry.terraform.io`;
  }
  // A private CLI config: only the mirror, no registry, no checkpoint calls, and one plugin cache so every
  // stack's `init` links the same provider installation instead of copying 700 MB.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "order-tf-"));
  const cliConfig = path.join(home, "terraform.rc");
  const pluginCache = path.join(home, "plugin-cache");
  fs.mkdirSync(pluginCache);
  fs.writeFileSync(
    cliConfig,
    `disable_checkpoint = true\nplugin_cache_dir = ${JSON.stringify(pluginCache)}\nprovider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n`,
  );
  return { terraform, mirror, cliConfig };
}

/** Fake, well-formed credentials: the provider never calls AWS during this check. */
export const FAKE_ACCOUNT_ID = "123456789012";
const OFFLINE_PROVIDER_FLAGS = {
  access_key: "AKIAIOSFODNN7EXAMPLE",
  secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  skip_credentials_validation: true,
  skip_requesting_account_id: true,
  skip_metadata_api_check: "true",
  skip_region_validation: true,
};

type Json = Record<string, any>;

/** Replaces every `${data.<type>.<name>.<attr>}` in the document's strings by a literal. */
function substitute(node: unknown, references: Map<string, string>): unknown {
  if (typeof node === "string") {
    let out = node;
    for (const [reference, value] of references) out = out.split(`\${${reference}}`).join(value);
    return out;
  }
  if (Array.isArray(node)) return node.map((item) => substitute(item, references));
  if (node && typeof node === "object")
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, substitute(v, references)]));
  return node;
}

/**
 * Replaces each `archive_file` data source of a synthesized stack by a zip built in `workDir` from the
 * same folder (the archive provider is not installable here), and drops that provider. Returns the
 * document with every reference to the zips resolved.
 */
export function replaceArchives(
  doc: Json,
  stackDir: string,
  workDir: string,
  references = new Map<string, string>(),
): Json {
  for (const [name, archive] of Object.entries<Json>(doc.data?.archive_file ?? {})) {
    const zipPath = path.join(workDir, `${name}.zip`);
    const hash = zipFolder(path.resolve(stackDir, archive.source_dir), zipPath);
    references.set(`data.archive_file.${name}.output_path`, zipPath);
    references.set(`data.archive_file.${name}.output_base64sha256`, hash);
  }
  if (doc.data) {
    delete doc.data.archive_file;
    if (Object.keys(doc.data).length === 0) delete doc.data;
  }
  delete doc.provider?.archive;
  delete doc.terraform?.required_providers?.archive;
  const replaced = substitute(doc, references) as Json;
  const unresolved = JSON.stringify(replaced).match(/\$\{data\.archive_file\.[^}]+\}/);
  if (unresolved) throw new Error(`preparing the stack left a reference it cannot resolve: ${unresolved[0]}`);
  return replaced;
}

/**
 * Makes a synthesized stack plannable offline and writes it to `workDir/main.tf.json`:
 * - each `archive_file` data source is replaced by a zip this check builds from the same folder;
 * - `aws_caller_identity` (an STS call) is replaced by a fixed account id;
 * - the AWS provider gets fake credentials and the skip-* flags; `allowed_account_ids` is dropped,
 *   because the provider checks it against STS (the synth tests assert it instead);
 * - the S3 backend is removed: state stays local and empty, so every resource plans as a create.
 */
export function prepareOffline(stackDir: string, workDir: string): { replaced: string[] } {
  const doc = JSON.parse(fs.readFileSync(path.join(stackDir, "cdk.tf.json"), "utf8")) as Json;
  const references = new Map<string, string>();
  const replaced = Object.keys(doc.data?.archive_file ?? {}).map((name) => `data.archive_file.${name}`);
  fs.mkdirSync(workDir, { recursive: true });
  for (const name of Object.keys(doc.data?.aws_caller_identity ?? {})) {
    references.set(`data.aws_caller_identity.${name}.account_id`, FAKE_ACCOUNT_ID);
    replaced.push(`data.aws_caller_identity.${name}`);
  }
  delete doc.data?.aws_caller_identity;
  delete doc.terraform?.backend;
  const offline = replaceArchives(doc, stackDir, workDir, references);
  const unresolved = JSON.stringify(offline).match(/\$\{data\.aws_caller_identity\.[^}]+\}/);
  if (unresolved) throw new Error(`offline preparation left a reference it cannot resolve: ${unresolved[0]}`);
  offline.provider.aws = offline.provider.aws.map((provider: Json) => {
    const { allowed_account_ids: _dropped, ...rest } = provider;
    return { ...rest, ...OFFLINE_PROVIDER_FLAGS };
  });
  fs.writeFileSync(path.join(workDir, "main.tf.json"), JSON.stringify(offline, null, 2));
  return { replaced };
}

export interface TerraformRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Go's garbage collector runs less often in Terraform and the provider (`GOGC=400`, the heap may grow to
 * five times what is live instead of twice). Each command loads the provider's schema of every AWS
 * resource type several times, and collecting after each load cost about a third of the CPU: one state
 * stack's apply, plan, show and destroy on moto took 53 CPU seconds with Go's default, 38 with this, at
 * 650 MB peak memory per process. A `GOGC` of the caller's wins.
 */
const GO_GC_PERCENT = "400";

function terraformEnv(tools: OfflineTerraform): NodeJS.ProcessEnv {
  return {
    GOGC: GO_GC_PERCENT,
    ...process.env,
    TF_CLI_CONFIG_FILE: tools.cliConfig,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PROFILE: "",
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  };
}

/** Runs terraform in `workDir` with the private CLI config and no way to reach AWS. */
export function runTerraform(tools: OfflineTerraform, workDir: string, args: string[]): TerraformRun {
  const result = spawnSync("terraform", args, {
    cwd: workDir,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: terraformEnv(tools),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The same, without blocking: several stacks plan side by side. */
export function runTerraformAsync(tools: OfflineTerraform, workDir: string, args: string[]): Promise<TerraformRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("terraform", args, { cwd: workDir, env: terraformEnv(tools) });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * What `terraform plan -json` said: the addresses it plans to create, and every diagnostic (warnings
 * too), each with the file it names, if any (`<module folder>/main.tf.json` for a module's).
 */
export function plannedCreates(planJsonLines: string): {
  created: string[];
  diagnostics: { text: string; file?: string }[];
} {
  const messages = planJsonLines
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Json);
  const created = messages
    .filter((m) => m.type === "planned_change" && m.change?.action === "create")
    .map((m) => m.change.resource.addr as string);
  const diagnostics = messages
    .filter((m) => m.type === "diagnostic")
    .map((m) => ({
      text: `${m["@level"]}: ${m.diagnostic.summary}: ${m.diagnostic.detail ?? ""}`,
      file: m.diagnostic.range?.filename as string | undefined,
    }));
  return { created, diagnostics };
}
