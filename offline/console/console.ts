/**
 * The console's server: a page at `/_local/console/` on the endpoint's own origin (behind its Host and
 * Origin checks) and the JSON it reads at `/_local/api/`, all read through a `ConsoleSource`
 * (`source.ts`): the pipeline as a flow with live counts, each order's journey, the dead-letter queues
 * with the cause of each message and a redrive and delete, the table, the function's log, and a publish
 * form. Every API request must carry the run's token (the page gets it in its HTML; a read may instead be
 * a same-origin fetch, as `Sec-Fetch-Site` says), and a state-changing one must also be JSON: a page of
 * another origin can neither read the token nor make the server do work.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { ConsoleState } from "./api";
import { pageAssets } from "./assets";
import { liveFeed } from "./live-feed";
import type { ConsoleSource } from "./source";

const MAX_BODY = 300 * 1024;
/** How often a page of a source that is not live asks again (while its tab is shown). */
const REFRESH_SECONDS = 30;

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
  /** The page's address on the server. */
  readonly path: string;
  handle(request: http.IncomingMessage, response: http.ServerResponse): void;
  close(): void;
}

export function createConsole(source: ConsoleSource, options: { refreshSeconds?: number } = {}): Console {
  const token = randomBytes(24).toString("hex");
  const streams = new Set<http.ServerResponse>();
  const live = liveFeed(source, streams);
  const api = routes(source, options.refreshSeconds ?? REFRESH_SECONDS);
  return {
    path: "/_local/console/",
    handle(request, response) {
      const url = new URL(request.url ?? "/", "http://localhost");
      const send = reply(response);
      if (url.pathname === "/_local/console" || url.pathname === "/_local/console/") return page(response, token);
      if (url.pathname.startsWith("/_local/console/")) return void asset(url.pathname.slice(16), request, response);
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
      live.stop();
      for (const response of streams) response.end();
      source.close();
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
  void pageAssets().catch(() => undefined); // built while the browser reads the HTML
  const html = fs.readFileSync(path.join(__dirname, "page", "index.html"), "utf8").replace("__CONSOLE_TOKEN__", token);
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

async function asset(name: string, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  let found;
  try {
    found = (await pageAssets())[name];
  } catch (error) {
    response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    return void response.end(`the console's page could not be built: ${(error as Error).message}\n`);
  }
  if (!found) {
    response.writeHead(404, { "content-type": "text/plain" });
    return void response.end("not found\n");
  }
  const gzip = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
  const body = gzip ? found.gzipped : found.body;
  response.writeHead(200, {
    "content-type": found.type,
    "content-length": body.length,
    "cache-control": "no-cache",
    vary: "accept-encoding",
    ...(gzip ? { "content-encoding": "gzip" } : {}),
  });
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

interface RouteContext {
  readonly request: http.IncomingMessage;
  readonly url: URL;
  readonly id: string;
}
type Route = (context: RouteContext) => Promise<unknown>;

/** A number from the query, within 1..max (`fallback` when absent or not a number). */
const limitOf = (url: URL, fallback: number, max: number) =>
  Math.max(1, Math.min(Number(url.searchParams.get("limit") ?? fallback) || fallback, max));

function routes(source: ConsoleSource, refreshSeconds: number): Record<string, Route> {
  /** A change needs a source that allows changes; the page shows which mode it is in. */
  const changing = <T>(action: (input: Record<string, unknown>) => Promise<T>): Route => {
    return async ({ request }) => {
      if (!source.allowChanges)
        throw new Error(
          `the console of the ${source.name} is read-only: start it with --allow-changes to change anything`,
        );
      return action(await readJson(request));
    };
  };
  const text = (input: Record<string, unknown>, key: string, missing: string) => {
    if (typeof input[key] !== "string") throw new Error(`${missing} (${key})`);
    return input[key] as string;
  };
  return {
    "GET /_local/api/state": async (): Promise<ConsoleState> => ({
      stack: source.stack,
      region: source.region,
      source: {
        name: source.name,
        changes: source.allowChanges,
        live: source.live,
        refreshSeconds,
        chart: source.chart,
      },
      graph: source.graph(),
      counts: await source.counts(true),
      points: await source.points(),
      recentOrders: source.recentOrders(),
      sampleOrder: source.sampleOrder(),
      outcomes: source.outcomes,
    }),
    "GET /_local/api/orders/:id": ({ id }) => source.journey(id),
    "GET /_local/api/dlq": () => source.deadLetters(),
    "POST /_local/api/dlq/redrive": changing((input) =>
      source.redrive(
        text(input, "queue", "name the dead-letter queue"),
        typeof input.messageId === "string" ? input.messageId : undefined,
      ),
    ),
    "POST /_local/api/dlq/delete": changing((input) =>
      source.discard(
        text(input, "queue", "name the dead-letter queue"),
        text(input, "messageId", "name the message to delete"),
      ),
    ),
    // A page of the table (and, when asked, how many items it holds: a scan that reads them all).
    "GET /_local/api/items": ({ url }) => source.items(limitOf(url, 100, 1000), Boolean(url.searchParams.get("count"))),
    "GET /_local/api/items/:id": async ({ id }) => ({ item: await source.item(id) }),
    "GET /_local/api/logs": ({ url }) => source.logTail(limitOf(url, 200, 2000)),
    "POST /_local/api/publish": changing((input) =>
      source.publish(text(input, "body", "send the message body as a string")),
    ),
  };
}
