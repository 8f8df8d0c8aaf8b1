/**
 * The engine's worker runs bundled (offline/engines/worker-bundle.ts): the bundle is rebuilt when a file it
 * was built from changes, so an edit in a dependency (a fix on its way to a patch) runs at the next start.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { bundledWorker } from "../../offline/engines/worker-bundle";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-worker-bundle-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Runs the bundle in a worker thread; resolves with the one message it posts. */
function answerOf(file: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(file);
    worker.once("message", (message) => void worker.terminate().then(() => resolve(message)));
    worker.once("error", reject);
  });
}

test("a worker's bundle is built once, and again when a module it imports changes", async () => {
  const dependency = path.join(work, "node_modules", "dependency", "index.js");
  fs.mkdirSync(path.dirname(dependency), { recursive: true });
  fs.writeFileSync(dependency, 'exports.answer = "first";\n');
  const entry = path.join(work, "probe-worker.mjs");
  fs.writeFileSync(
    entry,
    'import { parentPort } from "node:worker_threads";\nimport { answer } from "dependency";\nparentPort.postMessage(answer);\n',
  );
  const cache = path.join(work, "cache");

  const first = await bundledWorker(entry, cache);
  expect(await answerOf(first)).toBe("first");
  const builtAt = fs.statSync(first).mtimeMs;
  // Unchanged inputs: the same file, not built again.
  expect(await bundledWorker(entry, cache)).toBe(first);
  expect(fs.statSync(first).mtimeMs).toBe(builtAt);

  // An edit in node_modules, as when a dependency's bug is fixed in place before `patch-package`.
  fs.writeFileSync(dependency, 'exports.answer = "edited";\n');
  expect(await answerOf(await bundledWorker(entry, cache))).toBe("edited");
});
