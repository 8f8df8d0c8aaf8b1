/**
 * The console page's assets: `page/main.tsx` (preact views, uPlot charts, a dagre-laid-out flow) and
 * `page/console.css` (with uPlot's), bundled by esbuild the first time a page asks for them and kept in
 * memory: a server no page opens never builds them, and nothing comes from another origin.
 */
import * as esbuild from "esbuild";
import * as path from "node:path";
import { gzipSync } from "node:zlib";

const PAGE_DIR = path.join(__dirname, "page");

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  /** The same, gzipped once, for a browser that accepts it (about a third of the bytes). */
  readonly gzipped: Buffer;
}

let built: Promise<Record<string, Asset>> | undefined;

async function build(): Promise<Record<string, Asset>> {
  const result = await esbuild.build({
    entryPoints: { console: path.join(PAGE_DIR, "main.tsx"), "console-style": path.join(PAGE_DIR, "console.css") },
    bundle: true,
    write: false,
    outdir: "/",
    minify: true,
    format: "iife",
    target: ["chrome120", "firefox120", "safari17"],
    jsx: "automatic",
    jsxImportSource: "preact",
    logLevel: "silent",
    legalComments: "none",
  });
  const assets: Record<string, Asset> = {};
  for (const file of result.outputFiles) {
    const name = path.basename(file.path);
    const type = name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
    const body = Buffer.from(file.contents);
    assets[name === "console-style.css" ? "console.css" : name] = { type, body, gzipped: gzipSync(body) };
  }
  return assets;
}

/** The page's script and style by name (`console.js`, `console.css`); built once per process. */
export function pageAssets(): Promise<Record<string, Asset>> {
  built ??= build().catch((error) => {
    built = undefined;
    throw error;
  });
  return built;
}
