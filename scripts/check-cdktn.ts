/**
 * `npm run check:cdktn`: does the project synthesize unchanged with CDK Terrain's CLI (`cdktn-cli`,
 * the community continuation of cdktf)? Installs cdktn-cli and Node.js 22 (which it requires) from the
 * npm registry into a cache folder outside the project, synthesizes a copy of the project with it,
 * and compares every stack's JSON and assets with what the app writes itself.
 * Not part of `npm test`: it downloads ~400 MB, and the tests must not need the network.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runMain } from "../common/run-main";
import { PROJECT_ROOT } from "../common/project";

const CDKTN_CLI = process.env.CDKTN_CLI_VERSION ?? "0.24.0";
const NODE_22 = process.env.CDKTN_NODE_VERSION ?? "22.23.3";

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
    );
  return value;
}

function stacksOf(outdir: string): Record<string, string> {
  const dir = path.join(outdir, "stacks");
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .map((stack) => [
        stack,
        JSON.stringify(sorted(JSON.parse(fs.readFileSync(path.join(dir, stack, "cdk.tf.json"), "utf8")))),
      ]),
  );
}

function main(): number {
  const tools = path.join(os.tmpdir(), `order-cdktn-${CDKTN_CLI}-node-${NODE_22}`);
  const bin = path.join(tools, "node_modules", ".bin");
  if (!fs.existsSync(path.join(bin, "cdktn"))) {
    console.log(`installing cdktn-cli ${CDKTN_CLI} and node ${NODE_22} into ${tools} ...`);
    fs.mkdirSync(tools, { recursive: true });
    fs.writeFileSync(path.join(tools, "package.json"), JSON.stringify({ name: "cdktn-check", private: true }));
    execFileSync(
      "npm",
      ["install", "--no-audit", "--no-fund", "--save-exact", `cdktn-cli@${CDKTN_CLI}`, `node@${NODE_22}`],
      { cwd: tools, stdio: "inherit" },
    );
  }
  const env = { ...process.env, CHECKPOINT_DISABLE: "1", PATH: `${bin}${path.delimiter}${process.env.PATH}` };

  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "order-cdktn-project-"));
  try {
    for (const entry of fs.readdirSync(PROJECT_ROOT)) {
      if (["node_modules", "cdktf.out", "dist", ".git"].includes(entry)) continue;
      fs.cpSync(path.join(PROJECT_ROOT, entry), path.join(copy, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(copy, "node_modules"), "dir");
    const nodeVersion = execFileSync("node", ["--version"], { env, encoding: "utf8" }).trim();
    execFileSync("cdktn", ["synth"], { cwd: copy, env, stdio: ["ignore", "ignore", "inherit"] });
    const reference = path.join(copy, "reference.out");
    execFileSync(process.execPath, ["-r", "esbuild-register", "main.ts"], {
      cwd: copy,
      env: { ...process.env, CDKTF_OUTDIR: reference },
    });

    const byCdktn = stacksOf(path.join(copy, "cdktf.out"));
    const byApp = stacksOf(reference);
    const differences = [...new Set([...Object.keys(byCdktn), ...Object.keys(byApp)])].filter(
      (stack) => byCdktn[stack] !== byApp[stack],
    );
    console.log(`cdktn-cli ${CDKTN_CLI} on node ${nodeVersion}: synthesized ${Object.keys(byCdktn).join(", ")}`);
    if (differences.length > 0) {
      console.log(`DIFFERENT from the app's own synthesis: ${differences.join(", ")}`);
      return 1;
    }
    console.log("identical to the app's own synthesis (every stack's cdk.tf.json, keys sorted)");
    return 0;
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

runMain(module, main, { exitCodeOf: () => 1 });
