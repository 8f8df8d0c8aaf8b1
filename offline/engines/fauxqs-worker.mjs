/**
 * SNS and SQS for the offline runtime: fauxqs (an SNS/SQS emulator on fastify) in a worker thread of its
 * own. It is an ES module only, so it cannot be required by the runtime (CommonJS, also under jest); a
 * worker thread loads it natively. Only fauxqs's public API is used.
 *
 * Two things are done here, in one place:
 * - fauxqs 2.4.1's `startFauxqs` listens on 0.0.0.0 and has no option for it. This worker's own `net`
 *   module (a worker thread has its own) binds that listen to 127.0.0.1 instead: nothing beyond loopback.
 *   With `socketPath` (the patched option, `--serve`) it listens on a Unix socket and no TCP port at all.
 * - Its message spy sees when the engine moves a message to a dead-letter queue and when a topic
 *   accepts a message, from any client; each is posted to the runtime (`dead-lettered`, `published`),
 *   so the trace and the run's accounting report what the engine did rather than guessing it; and it
 *   counts, per queue, the messages that entered it, were deleted from it and were moved to its DLQ. A
 *   `flush` is answered, with those counts, after every event posted before it; `depths`, with what each
 *   queue holds now; `peek`, with a queue's messages as it holds them (no receive, so no receive count grows).
 */
import net from "node:net";
import { parentPort, workerData } from "node:worker_threads";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function loopbackOnly(...args) {
  const [options] = args;
  if (options && typeof options === "object" && options.host === "0.0.0.0") args[0] = { ...options, host: "127.0.0.1" };
  return listen.apply(this, args);
};

const { startFauxqs } = await import("fauxqs");

const server = await startFauxqs({
  port: workerData.port,
  socketPath: workerData.socketPath,
  logger: false,
  defaultRegion: workerData.region,
  dataDir: workerData.dataDir,
  // Only the spy's predicate below reads events; a small buffer keeps memory flat on long runs.
  messageSpies: { bufferSize: 8 },
});

/** Per queue: messages that entered it, were deleted from it, were moved from it to its DLQ (engine's own events). */
const counts = {};
const countOf = (queue) => (counts[queue] ??= { entered: 0, deleted: 0, deadLettered: 0 });
const COUNTED = { published: "entered", consumed: "deleted", dlq: "deadLettered" };

// A wait whose predicate never matches is called with every event the spy records.
server.spy
  .waitForMessage((event) => {
    if (event.service === "sqs" && COUNTED[event.status]) countOf(event.queueName)[COUNTED[event.status]] += 1;
    if (event.service === "sqs" && event.status === "dlq")
      parentPort.postMessage({
        type: "dead-lettered",
        queue: event.queueName,
        messageId: event.messageId,
        body: event.body,
        // The receives it was delivered in: the engine's count less the receive that moved it (patched in).
        receives: event.approximateReceiveCount - 1,
      });
    else if (event.service === "sns" && event.status === "published")
      parentPort.postMessage({
        type: "published",
        topicArn: event.topicArn,
        messageId: event.messageId,
        // Only for a run that traces (the journey names the order): a body is up to 256 KiB.
        body: workerData.reportBodies ? event.body : undefined,
      });
    return false;
  })
  .catch(() => undefined); // rejected when the server stops

parentPort.on("message", async (message) => {
  if (message === "flush") parentPort.postMessage({ type: "flushed", counts });
  // What each queue holds now, as GetQueueAttributes counts it (inspectQueue answers the same attributes).
  if (message?.type === "depths") {
    const depths = {};
    for (const queue of message.queues) {
      const attributes = server.inspectQueue(queue)?.attributes ?? {};
      depths[queue] = {
        visible: Number(attributes.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
        delayed: Number(attributes.ApproximateNumberOfMessagesDelayed ?? 0),
      };
    }
    parentPort.postMessage({ type: "depths", depths });
  }
  // A queue's messages as the engine holds them, without receiving one (a look changes no receive count).
  if (message?.type === "peek") {
    const held = server.inspectQueue(message.queue)?.messages;
    const all = held ? [...held.ready, ...held.inflight.map((entry) => entry.message), ...held.delayed] : [];
    const messages = all.slice(0, message.max).map((m) => ({
      messageId: m.messageId,
      body: m.body.slice(0, message.bodyChars),
      receiveCount: m.approximateReceiveCount,
      sentTimestamp: m.sentTimestamp,
    }));
    parentPort.postMessage({ type: "peeked", messages, total: all.length });
  }
  // The receipt handles of messages in flight (inspectQueue is fauxqs's public inspection API).
  if (message?.type === "in-flight") {
    const leases = message.queues.flatMap((queue) =>
      (server.inspectQueue(queue)?.messages.inflight ?? []).map((entry) => ({
        queue,
        receiptHandle: entry.receiptHandle,
      })),
    );
    parentPort.postMessage({ type: "in-flight", leases });
  }
  if (message !== "stop") return;
  await server.stop();
  parentPort.postMessage({ type: "stopped" });
});
parentPort.postMessage({ type: "ready", port: server.port });
