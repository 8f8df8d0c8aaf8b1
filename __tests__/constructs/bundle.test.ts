import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bundleHandler, ORDER_PROCESSOR } from "../../constructs/function-bundle";
import { PROJECT_ROOT } from "../support/paths";

const ROOT = PROJECT_ROOT;
/** Runs node in a fresh process (no in-process memo), as separate `npm run build` / synth runs do. */
const node = (script: string) =>
  execFileSync(process.execPath, ["-r", "esbuild-register", "-e", script], { cwd: ROOT, encoding: "utf8" }).trim();

test("npm run build's bundle is CommonJS whose index.js exports handler, the entry Terraform deploys as index.handler", () => {
  const bundle = bundleHandler(ORDER_PROCESSOR.entry, ORDER_PROCESSOR.outdir);
  expect(path.basename(bundle)).toBe("index.js");
  expect(node(`process.stdout.write(typeof require(${JSON.stringify(bundle)}).handler)`)).toBe("function");
  expect(fs.readdirSync(ORDER_PROCESSOR.outdir)).toEqual(["index.js"]);
});

test("a source change rebuilds the bundle in the next run; an unchanged source does not", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "order-bundle-"));
  try {
    const entry = path.join(dir, "src", "index.ts");
    const outdir = path.join(dir, "out");
    fs.mkdirSync(path.dirname(entry));
    const build = () =>
      node(
        `require("./constructs/function-bundle").bundleHandler(${JSON.stringify(entry)}, ${JSON.stringify(outdir)})`,
      );
    const read = () => fs.readFileSync(path.join(outdir, "index.js"), "utf8");

    fs.writeFileSync(entry, `export const handler = async () => "first";\n`);
    build();
    expect(read()).toContain("first");
    const firstWrite = fs.statSync(path.join(outdir, "index.js")).mtimeMs;

    build();
    expect(fs.statSync(path.join(outdir, "index.js")).mtimeMs).toBe(firstWrite);

    fs.writeFileSync(entry, `export const handler = async () => "second";\n`);
    build();
    expect(read()).toContain("second");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("while a bundle is built, its folder never holds a partial file (a synth copying it as its asset would trip on one)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "order-bundle-watch-"));
  const entry = path.join(dir, "src", "index.ts");
  const outdir = path.join(dir, "out");
  fs.mkdirSync(path.dirname(entry));
  fs.mkdirSync(outdir);
  fs.writeFileSync(entry, `export const handler = async () => "watched";\n`);
  const seen = new Set<string>();
  const watcher = fs.watch(outdir, (_event, name) => name && seen.add(name));
  try {
    bundleHandler(entry, outdir);
    // The folder's events are delivered once this test yields.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([...seen]).toEqual(["index.js"]);
  } finally {
    watcher.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
