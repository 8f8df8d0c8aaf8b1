/**
 * The handler's bundle: what it is built from, how, and for which runtime. No cdktf here, so the
 * offline runtime's `--watch` uses it without loading the constructs.
 */
import { BuildOptions, buildSync } from "esbuild";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../common/project";
import { writeWhole } from "../common/write-whole";

/** The order processor's source entry and the (git-ignored) folder its bundle is written to: a CommonJS index.js exporting handler. */
export const ORDER_PROCESSOR = {
  entry: path.join(PROJECT_ROOT, "lambda", "index.ts"),
  outdir: path.join(PROJECT_ROOT, "dist", "order-processor"),
} as const;

/** The Lambda runtime the bundle targets and Terraform deploys. */
export const LAMBDA_RUNTIME = {
  runtime: "nodejs22.x",
  architecture: "arm64",
  handler: "index.handler",
  esbuildTarget: "node22",
} as const;

const built = new Set<string>();

/** Everything a bundle is made from: the entry's folder (TypeScript sources), the lock file, and these build options. */
function inputsHash(entry: string): string {
  const hash = createHash("sha256");
  const dir = path.dirname(entry);
  const sources = fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .sort();
  for (const file of [
    ...sources.map((f) => path.join(dir, f)),
    path.join(PROJECT_ROOT, "package-lock.json"),
    __filename,
  ]) {
    hash.update(file);
    if (fs.existsSync(file)) hash.update(fs.readFileSync(file));
  }
  return hash.digest("hex");
}

/**
 * How a handler is bundled: one CommonJS file exporting `handler`, for the Lambda runtime's Node.js, the
 * AWS SDK included. The offline runtime's `--watch` rebuilds with the same options.
 */
export function bundleOptions(entry: string, outfile: string): BuildOptions & { write: false } {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: LAMBDA_RUNTIME.esbuildTarget,
    format: "cjs",
    minify: true,
    legalComments: "none",
    logLevel: "error",
    write: false,
  };
}

/**
 * Bundles a handler with esbuild into `outdir/index.js` (CommonJS, exporting `handler`), the AWS SDK
 * included so the deployed code runs the SDK version it was tested with. Once per process and folder,
 * and not at all when the bundle on disk was made from the same sources, lock file and options.
 */
export function bundleHandler(entry: string, outdir: string): string {
  const outfile = path.join(outdir, "index.js");
  if (built.has(outdir)) return outfile;
  const stamp = path.join(path.dirname(outdir), `.${path.basename(outdir)}.inputs`);
  const inputs = inputsHash(entry);
  const upToDate = fs.existsSync(outfile) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === inputs;
  if (!upToDate) {
    const result = buildSync(bundleOptions(entry, outfile));
    writeWhole(outfile, result.outputFiles[0].contents);
    // Beside the bundle, not in it: the folder is what gets zipped and deployed.
    fs.writeFileSync(stamp, inputs);
  }
  built.add(outdir);
  return outfile;
}
