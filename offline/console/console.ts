/**
 * The local console of `--serve`: a page at `/_local/console/` on the endpoint's own origin (behind its
 * Host and Origin checks) and the JSON it reads at `/_local/api/`: the pipeline as the stack model draws it
 * with live counts, each order's journey, the dead-letter queues with the cause of each message and a
 * redrive and delete (through `common/move-messages.ts`, as the operator CLI moves messages), the table,
 * the function's log, and a publish form. Every API request must carry the run's token (the page gets it
 * in its HTML; a read may instead be a same-origin fetch, as `Sec-Fetch-Site` says), and a state-changing one
 * must also be JSON: a page of another origin can neither read the token nor make the server do work.
 */
import { DeleteMessageCommand, Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { randomBytes, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { LOCAL_CREDENTIALS } from "../../common/local-credentials";
import { messagesIn, moveMessages } from "../../common/move-messages";
import type { PeekedMessage } from "../engines/sns-sqs";
import { TableReads } from "../engines/dynamodb";
import { sdkTransport } from "../engines/engine-address";
import type { LocalPipeline } from "../runtime/pipeline";
import { sampleOrderBody } from "../../common/sample-order";
import { orderIdOf } from "../runtime/trace";
import { Journal, JournalEntry, LogEntry } from "./journal";
import { pipelineGraph } from "./graph";
import { Series } from "./series";

const PAGE_DIR = path.join(__dirname, "page");
const ASSETS: Record<string, string> = {
  "console.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
};
const MAX_BODY = 300 * 1024;

type Send = (status: number, body: unknown) => void;

function reply(response: http.ServerResponse): Send {
  return (status, body) => {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "cache-control": "no-store",
    });
    response.end(text);
  };
}

function readJson(request: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new Error("request body too large"));
      else chunks.push(chunk);
    });
    request.on("end", () => {
      let input: unknown;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {
        return reject(new Error("the request body is not JSON"));
      }
      if (input === null || typeof input !== "object" || Array.isArray(input))
        return reject(new Error("send a JSON object, as the console's page does"));
      resolve(input as Record<string, unknown>);
    });
    request.on("error", reject);
  });
}

export interface Console {
  /** The page's address on the endpoint. */
  readonly path: string;
  readonly journal: Journal;
  handle(request: http.IncomingMessage, response: http.ServerResponse): void;
  close(): void;
}

export function createConsole(pipeline: LocalPipeline, journal = new Journal()): Console {
  const token = randomBytes(24).toString("hex");
  const sqs = new SQSClient({
    ...sdkTransport(pipeline.endpoints.snsSqs),
    region: pipeline.stack.region,
    credentials: LOCAL_CREDENTIALS,
    useQueueUrlAsEndpoint: false,
  });
  const streams = new Set<http.ServerResponse>();
  const series = new Series(() => pipeline.published);
  const unsubscribe = journal.subscribe((kind, entry) => {
    if (kind === "event") series.record(entry.at, (entry as JournalEntry).event);
  });
  const live = liveFeed(pipeline, journal, series, streams);
  // The table, read from dynalite itself (no injected fault touches a look) through one client.
  const tables = new TableReads(pipeline.dynamodb.directEndpoint);
  const api = routes(pipeline, journal, sqs, series, tables);
  return {
    path: "/_local/console/",
    journal,
    handle(request, response) {
      const url = new URL(request.url ?? "/", "http://localhost");
      const send = reply(response);
      if (url.pathname === "/_local/console" || url.pathname === "/_local/console/") return page(response, token);
      if (url.pathname.startsWith("/_local/console/")) return asset(url.pathname.slice(16), response);
      const refused = refusal(request, url, token);
      if (refused) return send(refused.status, { error: refused.error });
      if (url.pathname === "/_local/api/stream") return stream(request, response, streams, live.wake);
      const named = routeOf(request.method ?? "GET", url.pathname);
      if ("error" in named) return send(400, { error: named.error });
      const { key, id } = named;
      const route = api[key];
      if (!route) return send(404, { error: `no console route ${request.method} ${url.pathname}` });
      route({ request, url, id })
        .then((result) => send(200, result))
        .catch((error: Error) => send(400, { error: error.message }));
    },
    close() {
      unsubscribe();
      live.stop();
      for (const response of streams) response.end();
      sqs.destroy();
      tables.close();
    },
  };
}

/** Whether the token a request carries (header, or `?token=` for the event stream) is the run's. */
function carriesToken(request: http.IncomingMessage, url: URL, token: string): boolean {
  const given = Buffer.from(String(request.headers["x-console-token"] ?? url.searchParams.get("token") ?? ""));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Why an API request is refused, if it is: a read needs the token or to be a same-origin fetch (a page of
 * another site can make a browser send a GET, with no Origin or Referer, but not read the token); a change
 * needs the token and JSON.
 */
function refusal(
  request: http.IncomingMessage,
  url: URL,
  token: string,
): { status: number; error: string } | undefined {
  const tokened = carriesToken(request, url, token);
  if (request.method === "GET" || request.method === "HEAD") {
    if (tokened || request.headers["sec-fetch-site"] === "same-origin") return undefined;
    return { status: 403, error: "the console's API needs its token (x-console-token): open the console page" };
  }
  if (!tokened) return { status: 403, error: "this action needs the console's token: reload the console page" };
  if (!String(request.headers["content-type"] ?? "").startsWith("application/json"))
    return { status: 415, error: "send JSON (content-type: application/json)" };
  return undefined;
}

/** `GET /_local/api/orders/O1` is the route `GET /_local/api/orders/:id` with the id `O1`. */
function routeOf(method: string, pathname: string): { key: string; id: string } | { error: string } {
  const named = /^\/_local\/api\/(orders|items)\/([^/]+)$/.exec(pathname);
  if (!named) return { key: `${method} ${pathname}`, id: "" };
  try {
    return { key: `${method} /_local/api/${named[1]}/:id`, id: decodeURIComponent(named[2]) };
  } catch {
    return { error: `the id in ${pathname} is not percent-encoded UTF-8` };
  }
}

function page(response: http.ServerResponse, token: string): void {
  const html = fs.readFileSync(path.join(PAGE_DIR, "index.html"), "utf8").replace("__CONSOLE_TOKEN__", token);
  response.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // Nothing but this origin's own scripts and styles; no frame may embed it.
    "content-security-policy":
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "x-frame-options": "DENY",
  });
  response.end(html);
}

function asset(name: string, response: http.ServerResponse): void {
  const type = ASSETS[name];
  if (!type) {
    response.writeHead(404, { "content-type": "text/plain" });
    return void response.end("not found\n");
  }
  const body = fs.readFileSync(path.join(PAGE_DIR, name));
  response.writeHead(200, { "content-type": type, "content-length": body.length, "cache-control": "no-cache" });
  response.end(body);
}

/** Server-sent events: what happened and the counts, in one batch at most four times a second. */
function stream(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  streams: Set<http.ServerResponse>,
  wake: () => void,
): void {
  response.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-store",
    connection: "keep-alive",
  });
  response.write("retry: 2000\n\n");
  streams.add(response);
  request.on("close", () => streams.delete(response));
  wake();
}

/** The most log lines one batch carries (a page shows the newest; the count of the others is sent). */
const LINES_PER_BATCH = 20;
/** The most order ids one batch names (the orders whose journey changed: an open journey refreshes). */
const ORDERS_PER_BATCH = 500;

/** What happened since the last batch, gathered as the journal hears it. */
class Gathered {
  readonly orders = new Set<string>();
  readonly happened = new Set<string>();
  readonly codeUpdates: { function: string; version: number }[] = [];
  lines: LogEntry[] = [];
  skippedLines = 0;

  event(entry: JournalEntry, orders?: ReadonlySet<string>): void {
    const { event } = entry;
    this.happened.add(event.type);
    if (event.type === "code-updated") this.codeUpdates.push({ function: event.function, version: event.version });
    for (const order of orders ?? []) if (this.orders.size < ORDERS_PER_BATCH) this.orders.add(order);
  }

  line(entry: LogEntry): void {
    this.lines.push(entry);
    if (this.lines.length > LINES_PER_BATCH * 2) {
      this.skippedLines += this.lines.length - LINES_PER_BATCH;
      this.lines = this.lines.slice(-LINES_PER_BATCH);
    }
  }

  toJSON() {
    const skipped = this.skippedLines + Math.max(0, this.lines.length - LINES_PER_BATCH);
    return {
      orders: [...this.orders],
      happened: [...this.happened],
      codeUpdates: this.codeUpdates,
      lines: this.lines.slice(-LINES_PER_BATCH),
      skippedLines: skipped,
    };
  }
}

/**
 * The open pages' feed: what the journal hears is gathered (the kinds of event, the orders whose journey
 * changed, the newest log lines), then sent with the counts and the chart's newest points as one `batch`
 * event at most every 250 ms, and only when something happened: an idle server does nothing for an open
 * page, and a busy one writes four messages a second, not one per event.
 */
function liveFeed(pipeline: LocalPipeline, journal: Journal, series: Series, streams: Set<http.ServerResponse>) {
  let dirty = true;
  let busy = false;
  let timer: NodeJS.Timeout | undefined;
  let gathered = new Gathered();
  let sentUpTo = Date.now() - 1000; // a page reads the points before this from the state route
  const wake = () => {
    dirty = true;
    if (streams.size === 0 || timer) return;
    timer = setInterval(() => void tick(), 250);
    // After a quiet spell the first batch goes out at once (50 ms gathers the burst: a publish is stored in
    // about 20 ms), so an order published from the page shows stored without waiting for the interval.
    setTimeout(() => void tick(), 50);
  };
  const unsubscribe = journal.subscribe((kind, entry, orders) => {
    if (streams.size === 0) return;
    if (kind === "log") gathered.line(entry as LogEntry);
    else gathered.event(entry as JournalEntry, orders);
    wake();
  });
  const tick = async () => {
    if (streams.size === 0 || (!dirty && !busy)) {
      clearInterval(timer);
      timer = undefined;
      return;
    }
    if (!dirty || busy) return;
    dirty = false;
    busy = true;
    try {
      const counts = await countsOf(pipeline);
      // The points of the last second sent (it may have grown since) and of every second after it.
      const points = series.points(sentUpTo);
      sentUpTo = points.length ? points[points.length - 1].at : sentUpTo;
      const message = `event: batch\ndata: ${JSON.stringify({ counts, points, ...gathered.toJSON() })}\n\n`;
      gathered = new Gathered();
      for (const response of streams) response.write(message);
    } catch {
      dirty = true; // the engines are stopping: try again next time
    } finally {
      busy = false;
    }
  };
  return { wake, stop: () => (clearInterval(timer), unsubscribe()) };
}

/** The balance and, per queue, what it holds (visible, in flight), from the engine itself. */
async function countsOf(pipeline: LocalPipeline) {
  const { balance, queues } = await pipeline.liveCounts();
  return { at: Date.now(), balance, queues, topics: pipeline.publishedPerTopic() };
}

interface RouteContext {
  readonly request: http.IncomingMessage;
  readonly url: URL;
  readonly id: string;
}
type Route = (context: RouteContext) => Promise<unknown>;

function routes(
  pipeline: LocalPipeline,
  journal: Journal,
  sqs: SQSClient,
  series: Series,
  tables: TableReads,
): Record<string, Route> {
  const dlqs = () => pipeline.deadLetterQueues();
  // The orders table: the first of the stack.
  const table = pipeline.stack.tables[0];
  const item = async (orderId: string) => (table ? ((await tables.withKey(table, orderId))[0] ?? null) : null);
  return {
    "GET /_local/api/state": async () => ({
      stack: path.basename(pipeline.stack.stackDir),
      region: pipeline.stack.region,
      graph: pipelineGraph(pipeline),
      counts: await countsOf(pipeline),
      points: series.points(),
      recentOrders: journal.recentOrders(),
      sampleOrder: sampleOrderBody(),
    }),
    "GET /_local/api/orders/:id": async ({ id }) => ({ orderId: id, ...journal.journey(id), item: await item(id) }),
    // Read from the engine's state, not received: looking changes no receive count.
    "GET /_local/api/dlq": async () =>
      Promise.all(
        dlqs().map(async (q) => {
          const { messages, total } = await pipeline.peek(q.name, 200);
          return { queue: q.name, total, messages: messages.map((m) => describeDeadLetter(m, journal)) };
        }),
      ),
    ...dlqRoutes(pipeline, journal, sqs),
    // A page of the table (and, when asked, how many items it holds: a scan that reads them all).
    "GET /_local/api/items": async ({ url }) => {
      const limit = Math.min(Number(url.searchParams.get("limit") ?? 100) || 100, 1000);
      const { items, more } = table ? await tables.first(table.name, limit) : { items: [], more: false };
      const count = url.searchParams.get("count") && table ? await tables.count(table.name) : undefined;
      return { items, more, count };
    },
    "GET /_local/api/items/:id": async ({ id }) => ({ item: await item(id) }),
    "GET /_local/api/logs": async ({ url }) => {
      const lines = journal.recentLines();
      return lines.slice(-Math.min(Number(url.searchParams.get("limit") ?? 200) || 200, lines.length));
    },
    "POST /_local/api/publish": async ({ request }) => {
      const input = await readJson(request);
      if (typeof input.body !== "string") throw new Error("send the message body as a string (body)");
      const result = await pipeline.publish(input.body);
      return { ...result, orderId: orderIdOf(input.body) ?? null };
    },
  };
}

/** Redrive (one message or all) and delete in a dead-letter queue. */
function dlqRoutes(pipeline: LocalPipeline, journal: Journal, sqs: SQSClient): Record<string, Route> {
  const queueNamed = (name: unknown) => {
    const queue = pipeline.resources.find("aws_sqs_queue", String(name));
    if (!queue) throw new Error(`no queue ${String(name)}`);
    return queue;
  };
  return {
    "POST /_local/api/dlq/redrive": async ({ request }) => {
      const input = await readJson(request);
      const dlq = queueNamed(input.queue);
      const source = pipeline.resources
        .all("aws_sqs_queue")
        .find((q) => q.model.redrive?.deadLetterTarget === dlq.address);
      if (!source) throw new Error(`${dlq.name} is no queue's dead-letter queue: there is nowhere to redrive to`);
      const only = typeof input.messageId === "string" ? input.messageId : undefined;
      const result = await moveMessages(sqs, {
        from: dlq.url,
        to: source.url,
        waitSeconds: 0,
        stopOnRefusal: false,
        select: only ? (m: Message) => m.MessageId === only : undefined,
        // Each move is a step of its order's journey; the new message id carries the journey on.
        onMoved: (message, messageId) =>
          journal.record({
            type: "redriven",
            from: dlq.name,
            to: source.name,
            count: 1,
            messageId,
            previousMessageId: message.MessageId,
            orderId: orderIdOf(message.Body ?? ""),
          }),
      });
      return { ...result, from: dlq.name, to: source.name };
    },
    "POST /_local/api/dlq/delete": async ({ request }) => {
      const input = await readJson(request);
      const dlq = queueNamed(input.queue);
      if (typeof input.messageId !== "string") throw new Error("name the message to delete (messageId)");
      const deleted = await deleteOne(sqs, dlq.url, input.messageId);
      if (deleted.body !== undefined) {
        // Left the DLQ, but not for its source queue: counted apart from redrives.
        pipeline.countDiscarded();
        journal.record({
          type: "discarded",
          queue: dlq.name,
          messageId: input.messageId,
          orderId: orderIdOf(deleted.body),
        });
      }
      return { deleted: deleted.body !== undefined, queue: dlq.name };
    },
  };
}

function describeDeadLetter(message: PeekedMessage, journal: Journal) {
  const body = message.body;
  const orderId = orderIdOf(body);
  let kind = "order";
  try {
    const parsed = JSON.parse(body);
    if (!parsed || typeof parsed !== "object" || orderId === undefined) kind = "not an order";
  } catch {
    kind = "not JSON";
  }
  const known = journal.deadLetter(message.messageId, orderId);
  const failure = known.cause;
  return {
    messageId: message.messageId,
    // As its source queue's poller saw them; the engine's count (one more: the receive that moved it) otherwise.
    receives: known.receives ?? message.receiveCount,
    sent: message.sentTimestamp,
    orderId: orderId ?? null,
    kind,
    body: body.slice(0, 2000),
    lastError: failure ? { at: failure.at, line: failure.line, outcome: failure.outcome } : null,
  };
}

/** Deletes one message (found by receiving; the others are made visible again at once); its body if it was there. */
async function deleteOne(sqs: SQSClient, url: string, messageId: string): Promise<{ body?: string }> {
  const total = await messagesIn(sqs, url);
  for (let round = 0; round < Math.ceil(total / 10) + 2; round++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
    );
    const found = Messages.find((m) => m.MessageId === messageId);
    if (found) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: found.ReceiptHandle! }));
      return { body: found.Body ?? "" };
    }
    if (Messages.length === 0) break;
  }
  return {};
}
