/**
 * The console's source for a local run (`console/source.ts`): the pipeline's graph from the stack model,
 * counts from the engine itself, each order's journey and each dead letter's cause from the journal, the
 * chart from the series (both subscribers of the run's event stream), the table read from dynalite itself
 * (no injected fault touches a look), and redrive, delete and publish through the runtime.
 */
import * as path from "node:path";
import { sampleOrderBody } from "../../common/sample-order";
import { RECORD_OUTCOMES } from "../../lambda/log";
import type { Counts, DeadLetterView } from "../console/api";
import { deadLetterOf, type ConsoleSource, type SourceChange } from "../console/source";
import { TableReads } from "../engines/dynamodb";
import type { PeekedMessage } from "../engines/sns-sqs";
import { orderIdOf } from "../runtime/events";
import { pipelineGraph } from "../runtime/graph";
import { Journal, JournalEntry, LogEntry } from "../runtime/journal";
import type { LocalPipeline } from "../runtime/pipeline";
import { Series } from "../runtime/series";
import { journeyStep } from "../runtime/trace";

/** The most messages of one dead-letter queue the view lists. */
const DEAD_LETTERS_SHOWN = 200;

export function localSource(pipeline: LocalPipeline, journal: Journal, series: Series): ConsoleSource {
  const tables = new TableReads(pipeline.dynamodb.directEndpoint);
  // The orders table: the first of the stack.
  const table = pipeline.stack.tables[0];
  const item = async (orderId: string) => (table ? ((await tables.withKey(table, orderId))[0] ?? null) : null);
  const counts = liveCounts(pipeline, tables);
  const graph = pipelineGraph(pipeline.stack);
  return {
    name: "local run",
    allowChanges: true,
    live: true,
    chart: { stepSeconds: 1, windowSeconds: 600 },
    stack: path.basename(pipeline.stack.stackDir),
    region: pipeline.stack.region,
    outcomes: [...RECORD_OUTCOMES, "unreadable"],
    graph: () => graph,
    counts,
    points: async (since) => series.points(since),
    recentOrders: () => journal.recentOrders(),
    async journey(orderId) {
      const { events, omitted } = journal.journey(orderId);
      const steps = events.map((entry) => ({
        at: entry.at,
        ...journeyStep(entry),
        messageId: "messageId" in entry.event ? entry.event.messageId : undefined,
      }));
      return { orderId, steps, omitted, item: await item(orderId) };
    },
    // Read from the engine's state, not received: looking changes no receive count.
    deadLetters: () =>
      Promise.all(
        pipeline.deadLetterQueues().map(async (q) => {
          const { messages, total } = await pipeline.peek(q.name, DEAD_LETTERS_SHOWN);
          return { queue: q.name, total, messages: messages.map((m) => deadLetterView(m, journal)) };
        }),
      ),
    redrive: (queue, messageId) => pipeline.redriveQueue(queue, messageId),
    discard: async (queue, messageId) => ({ deleted: await pipeline.discard(queue, messageId), queue }),
    async items(limit, count) {
      const page = table ? await tables.first(table.name, limit) : { items: [], more: false };
      return { ...page, count: count && table ? await tables.count(table.name) : undefined };
    },
    item,
    logTail: async (limit) => journal.recentLines().slice(-limit).map(logLine),
    async publish(body) {
      const result = await pipeline.publish(body);
      return { ...result, orderId: orderIdOf(body) ?? null };
    },
    sampleOrder: () => sampleOrderBody(),
    subscribe: (listener: (change: SourceChange) => void) =>
      journal.subscribe((kind, entry, orders) =>
        listener(
          kind === "log"
            ? { kind: "line", line: logLine(entry as LogEntry) }
            : { kind: "event", type: (entry as JournalEntry).event.type, orders: orders ?? new Set() },
        ),
      ),
    close: () => tables.close(),
  };
}

/** The live counts from the engine; the tables' items counted again only when asked (a scan reads them all). */
function liveCounts(pipeline: LocalPipeline, tables: TableReads): (countItems: boolean) => Promise<Counts> {
  let items: Record<string, number> = {};
  let itemsAt: number | undefined;
  return async (countItems) => {
    const { balance, queues } = await pipeline.liveCounts();
    if (countItems) {
      const names = pipeline.stack.tables.map((t) => t.name);
      const counted = await Promise.all(names.map((name) => tables.count(name)));
      items = Object.fromEntries(names.map((name, i) => [name, counted[i]]));
      itemsAt = Date.now();
    }
    const outcomes = Object.fromEntries(pipeline.outcomesPerFunction());
    return { at: Date.now(), balance, queues, topics: pipeline.publishedPerTopic(), outcomes, items, itemsAt };
  };
}

function logLine(entry: LogEntry) {
  return {
    at: entry.at,
    fn: entry.fn,
    line: entry.line,
    level: entry.level,
    outcome: entry.outcome,
    orderId: entry.orderId,
  };
}

function deadLetterView(message: PeekedMessage, journal: Journal): DeadLetterView {
  const known = journal.deadLetter(message.messageId, orderIdOf(message.body));
  return deadLetterOf(
    {
      messageId: message.messageId,
      body: message.body,
      // The engine keeps the count its source queue gave the message; the receive that moved it is no delivery.
      receives: known.receives ?? Math.max(0, message.receiveCount - 1),
      sent: message.sentTimestamp,
    },
    known.cause,
  );
}
