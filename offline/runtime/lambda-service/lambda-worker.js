// @ts-check
/**
 * The inside of one Lambda execution environment (a worker thread started by lambda-host.ts): loads the
 * function's bundle once, then runs one invocation per message. Plain JavaScript so the worker runs
 * without a TypeScript loader; `@ts-check` keeps it type-checked with the rest (`npm run typecheck`).
 */
const { parentPort, workerData } = require("node:worker_threads");

/** @typedef {{ file: string; exportName: string; functionName: string }} WorkerData */
/** @typedef {{ id: string; event: unknown; deadline: number; scale: number }} Invocation */

if (!parentPort) throw new Error("lambda-worker.js runs as a worker thread of lambda-host.ts");
const port = parentPort;
const data = /** @type {WorkerData} */ (workerData);

/**
 * Resolves once all the function wrote to its stdout has reached the host (a worker's stdout write completes
 * when the parent has taken the chunk), so its log lines come before the result that follows on the port.
 * @returns {Promise<void>}
 */
const stdoutDelivered = () => new Promise((resolve) => process.stdout.write("", () => resolve()));

/** @type {((event: unknown, context: object) => Promise<unknown>) | undefined} */
let handler;
/** @type {unknown} */
let initError;
try {
  handler = require(data.file)[data.exportName];
  if (typeof handler !== "function")
    throw new Error(`${data.file} does not export a function named ${data.exportName}`);
} catch (error) {
  initError = error;
}
// The init phase is over: Lambda starts the function timeout only now.
stdoutDelivered().then(() => port.postMessage({ initialized: true }));

/** @param {unknown} error */
const describe = (error) => String((error instanceof Error && error.stack) || error);

port.on("message", async (/** @type {Invocation} */ { id, event, deadline, scale }) => {
  if (initError || !handler) return port.postMessage({ id, error: describe(initError) });
  const context = {
    functionName: data.functionName,
    awsRequestId: id,
    // In the stack's (unscaled) time, so the handler's own deadline margin keeps its meaning.
    getRemainingTimeInMillis: () => Math.max(0, (deadline - Date.now()) / scale),
  };
  /** @type {{ result: unknown } | { error: string }} */
  let outcome;
  try {
    const result = await handler(event, context);
    outcome = { result: result === undefined ? null : result };
  } catch (error) {
    outcome = { error: describe(error) };
  }
  await stdoutDelivered();
  port.postMessage({ id, ...outcome });
});
