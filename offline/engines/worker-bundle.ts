/**
 * A worker thread's module as one file, bundled by esbuild on first use and kept in `node_modules/.cache`.
 *
 * fauxqs is some 640 modules (fastify, the AWS SDK's SNS/SQS/S3 shapes): loaded one by one, they cost each
 * engine start about 290 ms of CPU, bundled about 140 ms (`npm test` starts the engine some fifty times).
 * The bundle is built again when any file it was built from changed its size or modification time, so an
 * edit in `node_modules` (a dependency's fix on its way to a patch) is run at the next start, not a stale copy.
 */
import { build } from "esbuild";
import * as fs from "node:fs";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../common/project";
import { writeWhole } from "../../common/write-whole";

/** Where bundles are kept, with their inputs: a cache, git-ignored with the rest of node_modules. */
const CACHE_DIR = path.join(PROJECT_ROOT, "node_modules", ".cache", "order-backend");

/** Each input as esbuild read it: size and modification time. */
type Stamps = Record<string, [size: number, mtimeMs: number]>;

function stampsOf(files: string[]): Stamps | undefined {
  const stamps: Stamps = {};
  for (const file of files) {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return undefined;
    stamps[file] = [stat.size, stat.mtimeMs];
  }
  return stamps;
}

function upToDate(outfile: string, stampFile: string): boolean {
  if (!fs.existsSync(outfile)) return false;
  let kept: Stamps;
  try {
    kept = JSON.parse(fs.readFileSync(stampFile, "utf8")) as Stamps;
  } catch {
    return false;
  }
  const now = stampsOf(Object.keys(kept));
  return now !== undefined && JSON.stringify(now) === JSON.stringify(kept);
}

/**
 * The bundle of the ES module `source` (a worker's entry), built when missing or out of date; resolves with
 * its path. Written whole (`writeWhole`): another process starting the same worker never reads half a bundle.
 */
export async function bundledWorker(source: string, cacheDir = CACHE_DIR): Promise<string> {
  const name = path.basename(source).replace(/\.m?js$/, "");
  const outfile = path.join(cacheDir, `${name}.mjs`);
  const stampFile = path.join(cacheDir, `${name}.inputs.json`);
  if (upToDate(outfile, stampFile)) return outfile;
  const result = await build({
    entryPoints: [source],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    // The CommonJS modules in the bundle (fastify's) still call require for Node.js's own modules.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    write: false,
    metafile: true,
    outfile,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs).map((file) => path.resolve(file));
  const stamps = stampsOf([source, ...inputs]);
  writeWhole(outfile, result.outputFiles[0].contents);
  if (stamps) fs.writeFileSync(stampFile, JSON.stringify(stamps));
  return outfile;
}
