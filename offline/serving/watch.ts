/**
 * `npm start -- --serve --watch`: a change under the handler's folder (`lambda/`) is bundled again with
 * the options the stack's bundle is built with (esbuild, incrementally), and the functions that run that
 * bundle take the new code: the next batch runs in fresh execution environments, one in flight finishes
 * on the old code. A build error keeps the old code serving and is reported. Each version is written to
 * its own folder (`<outDir>/v<N>/index.js`), so an environment starting while the next one is written
 * never reads half a file.
 */
import { BuildContext, BuildFailure, context } from "esbuild";
import * as fs from "node:fs";
import * as path from "node:path";
import { bundleOptions } from "../../constructs/handler-bundle";
import { Emit } from "../runtime/events";
import { FunctionModel } from "../runtime/stack-model";

export interface WatchOptions {
  /** The handler's entry (`lambda/index.ts`); its folder is watched. */
  readonly entry: string;
  readonly functions: FunctionModel[];
  /** Where the versions are written (emptied first). */
  readonly outDir: string;
  readonly replaceCode: (functionName: string, file: string) => void;
  readonly emit: Emit;
}

export interface CodeWatcher {
  /** The functions that follow the sources. */
  readonly functions: string[];
  close(): Promise<void>;
}

/** A save often writes a file more than once; changes closer together than this make one build. */
const SETTLE_MS = 30;

/**
 * Calls `onChange` for every change in the folder tree. Each folder is watched itself (inotify on a
 * folder sees every entry, also a file an editor replaces by renaming a new one over it; Node's recursive
 * watch on Linux follows the file and loses it then); folders created later are watched too.
 */
function watchTree(root: string, onChange: () => void): { close(): void } {
  const watchers = new Map<string, fs.FSWatcher>();
  const add = (dir: string) => {
    if (watchers.has(dir)) return;
    const watcher = fs.watch(dir, (_, name) => {
      const entry = name && path.join(dir, name.toString());
      if (entry && fs.existsSync(entry) && fs.statSync(entry).isDirectory()) add(entry);
      onChange();
    });
    // A folder deleted while watched: forget it (its parent's watcher reports the change).
    watcher.on("error", () => {
      watcher.close();
      watchers.delete(dir);
    });
    watchers.set(dir, watcher);
    for (const sub of fs.readdirSync(dir, { withFileTypes: true }))
      if (sub.isDirectory() && sub.name !== "node_modules") add(path.join(dir, sub.name));
  };
  add(root);
  return { close: () => watchers.forEach((w) => w.close()) };
}

/** esbuild's errors as `file:line:column: text`, one per error. */
function buildErrors(error: unknown): string {
  const errors = (error as BuildFailure).errors;
  if (!Array.isArray(errors) || errors.length === 0) return String((error as Error).message ?? error);
  return errors
    .map((e) => (e.location ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}` : e.text))
    .join("; ");
}

async function bundle(build: BuildContext): Promise<Uint8Array> {
  const result = await build.rebuild();
  return result.outputFiles![0].contents;
}

/** The functions whose code is byte for byte the bundle of the sources as they are now. */
function followers(functions: FunctionModel[], current: Uint8Array): FunctionModel[] {
  const same = (file: string) => fs.existsSync(file) && Buffer.compare(fs.readFileSync(file), current) === 0;
  return functions.filter((fn) => same(fn.file));
}

/** The sources' build, its current output and version, and the functions that follow it. */
interface Follow {
  readonly build: BuildContext;
  readonly watched: FunctionModel[];
  readonly shown: string;
  current: Uint8Array;
  version: number;
}

/** Builds the sources again; a new output becomes the next version the followers run. */
async function rebuild(follow: Follow, options: WatchOptions): Promise<void> {
  const started = performance.now();
  try {
    const next = await bundle(follow.build);
    if (Buffer.compare(next, follow.current) === 0) return;
    const version = (follow.version += 1);
    const file = path.join(options.outDir, `v${version}`, "index.js");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, next);
    follow.current = next;
    for (const fn of follow.watched) options.replaceCode(fn.name, file);
    const buildMs = Math.round(performance.now() - started);
    for (const fn of follow.watched) options.emit({ type: "code-updated", function: fn.name, version, buildMs });
    // Two versions back is no longer read by anyone: environments start from the newest.
    fs.rmSync(path.join(options.outDir, `v${version - 2}`), { recursive: true, force: true });
  } catch (error) {
    const names = follow.watched.map((fn) => fn.name).join(", ");
    options.emit({
      type: "warning",
      message: `--watch: ${follow.shown} does not build, ${names} keeps running v${follow.version}: ${buildErrors(error)}`,
    });
  }
}

/** The first build, and the functions whose code it is; refuses to watch when it fails or none follows. */
async function startFollowing(options: WatchOptions, shown: string): Promise<Follow> {
  const outfile = path.join(options.outDir, "index.js");
  const build = await context({ ...bundleOptions(options.entry, outfile), logLevel: "silent" });
  let current: Uint8Array;
  try {
    current = await bundle(build);
  } catch (error) {
    await build.dispose();
    throw new Error(`--watch: ${shown} does not build (${buildErrors(error)}); fix it and start again`);
  }
  const watched = followers(options.functions, current);
  if (watched.length === 0) {
    await build.dispose();
    throw new Error(
      `--watch: no function of the stack runs the bundle of ${shown} as it is now; synthesize again (without --stack-dir) and start again`,
    );
  }
  return { build, watched, shown, current, version: 1 };
}

export async function watchFunctionCode(options: WatchOptions): Promise<CodeWatcher> {
  const sources = path.dirname(options.entry);
  const follow = await startFollowing(options, path.relative(process.cwd(), sources) || sources);
  fs.rmSync(options.outDir, { recursive: true, force: true });
  let building = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const watcher = watchTree(sources, () => {
    clearTimeout(timer);
    timer = setTimeout(() => (building = building.then(() => rebuild(follow, options))), SETTLE_MS);
  });
  let closed = false;
  return {
    functions: follow.watched.map((fn) => fn.name),
    async close() {
      if (closed) return;
      closed = true;
      watcher.close();
      clearTimeout(timer);
      await building;
      await follow.build.dispose();
    },
  };
}
