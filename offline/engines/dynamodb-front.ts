/**
 * What the local DynamoDB puts in front of dynalite, each once:
 * - `FaultDice`: answers a share of requests with DynamoDB's throttling or internal-server error;
 * - `AllOldFiller`: fills in `ReturnValuesOnConditionCheckFailure: ALL_OLD` on a failed conditional
 *   PutItem (DynamoDB supports it, dynalite ignores it) by reading the stored item;
 * - two fronts that apply both: around dynalite's handler in this process, or as a proxy to a server
 *   elsewhere (the benchmark runs dynalite in its own process).
 */
import { setTimeout as sleep } from "node:timers/promises";
import * as http from "node:http";

const API = "DynamoDB_20120810";
const JSON_TYPE = { "content-type": "application/x-amz-json-1.0" };
const FAULTS = {
  throttling: {
    status: 400,
    type: "ProvisionedThroughputExceededException",
    message: "The level of configured provisioned throughput for the table was exceeded (injected fault)",
  },
  internal: { status: 500, type: "InternalServerError", message: "Internal server error (injected fault)" },
} as const;

/**
 * Which errors the dice answer with: throttling, internal server errors, or either (half each). The kind
 * sets how long the function's SDK waits before it tries again: its standard retry mode (2026 settings)
 * waits up to 1 s, then up to 2 s, after a throttling error, and up to 50 ms, then 100 ms, after an
 * internal one; a DynamoDB outage of "every write fails" is the same to the function either way.
 */
export type FaultKind = keyof typeof FAULTS | "both";
export const FAULT_KINDS: readonly FaultKind[] = ["both", "throttling", "internal"];

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

function internalError(res: http.ServerResponse, error: unknown): void {
  res.writeHead(500, JSON_TYPE);
  res.end(JSON.stringify({ __type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: String(error) }));
}

function validRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`fail rate must be a number from 0 to 1, got ${rate}`);
  return rate;
}

/** The fault dice: seeded, so a run's faults repeat exactly for a seed. */
export class FaultDice {
  readonly stats = { requests: 0, injectedFaults: 0 };
  private failRate: number;

  constructor(
    failRate: number,
    private readonly random: () => number,
    private readonly kind: FaultKind = "both",
  ) {
    this.failRate = validRate(failRate);
  }

  setFailRate(rate: number): void {
    this.failRate = validRate(rate);
  }

  /** Counts the request; answers it with a fault (and returns true) when the dice say so. */
  injectFault(res: http.ServerResponse): boolean {
    this.stats.requests += 1;
    if (!(this.failRate > 0 && this.random() < this.failRate)) return false;
    this.stats.injectedFaults += 1;
    // The second draw happens for every kind, so a seed picks the same requests whatever the kind.
    const either = this.random() < 0.5 ? FAULTS.throttling : FAULTS.internal;
    const fault = this.kind === "both" ? either : FAULTS[this.kind];
    res.writeHead(fault.status, JSON_TYPE);
    res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${fault.type}`, message: fault.message }));
    return true;
  }
}

export type Forward = (
  target: string,
  headers: http.IncomingHttpHeaders,
  body: Buffer,
) => Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>;

/** POSTs a DynamoDB request to `url` as is (dynalite wants a well-formed, not a valid, signature). */
export function forwarder(url: string, agent: http.Agent): Forward {
  return (target, headers, body) =>
    new Promise((resolve, reject) => {
      const options = {
        method: "POST",
        agent,
        headers: { ...headers, "x-amz-target": target, "content-length": body.length },
      };
      const request = http.request(url, options, (response) => {
        readBody(response).then(
          (data) => resolve({ status: response.statusCode ?? 500, headers: response.headers, body: data }),
          reject,
        );
      });
      request.on("error", reject);
      request.end(body);
    });
}

export class AllOldFiller {
  private readonly keySchemas = new Map<string, string[]>();

  constructor(private readonly forward: Forward) {}

  /** A failed PutItem's response with the stored item added, when the request asked for ALL_OLD; else undefined. */
  async fill(
    requestBody: Buffer,
    responseBody: string,
    headers: http.IncomingHttpHeaders,
  ): Promise<string | undefined> {
    if (!responseBody.includes("ConditionalCheckFailedException")) return undefined;
    const input = JSON.parse(requestBody.toString("utf8"));
    if (input.ReturnValuesOnConditionCheckFailure !== "ALL_OLD") return undefined;
    const key = await this.keyOf(input.TableName, input.Item, headers);
    const stored = await this.call("GetItem", { TableName: input.TableName, Key: key, ConsistentRead: true }, headers);
    return JSON.stringify({ ...JSON.parse(responseBody), Item: stored.Item });
  }

  private async call(operation: string, input: object, headers: http.IncomingHttpHeaders) {
    const response = await this.forward(`${API}.${operation}`, headers, Buffer.from(JSON.stringify(input)));
    return JSON.parse(response.body.toString("utf8"));
  }

  private async keyOf(table: string, item: Record<string, unknown>, headers: http.IncomingHttpHeaders) {
    if (!this.keySchemas.has(table)) {
      const described = await this.call("DescribeTable", { TableName: table }, headers);
      this.keySchemas.set(
        table,
        described.Table.KeySchema.map((k: { AttributeName: string }) => k.AttributeName),
      );
    }
    return Object.fromEntries(this.keySchemas.get(table)!.map((name) => [name, item[name]]));
  }
}

export interface FrontParts {
  readonly dice: FaultDice;
  readonly filler: AllOldFiller;
  readonly latencyMs: number;
}

/** Replaces `res.end` so a failed PutItem's 400 answer gets the stored item (ALL_OLD) before it is sent. */
function fillAllOldOnEnd(req: http.IncomingMessage, res: http.ServerResponse, filler: AllOldFiller): void {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  const end = res.end.bind(res) as (body?: string) => http.ServerResponse;
  res.end = ((body?: unknown) => {
    if (res.statusCode !== 400 || typeof body !== "string") return end(body as string | undefined);
    filler.fill(Buffer.concat(chunks), body, req.headers).then(
      (out) => {
        if (out !== undefined) {
          res.removeHeader("x-amz-crc32");
          res.setHeader("Content-Length", Buffer.byteLength(out));
        }
        end(out ?? body);
      },
      (error) => internalError(res, error),
    );
    return res;
  }) as typeof res.end;
}

/** In process: dynalite's own handler, with faults before it and ALL_OLD filled in after it (no extra HTTP hop). */
export function inProcessFront(handler: http.RequestListener, parts: FrontParts): http.RequestListener {
  return (req, res) => {
    const proceed = () => {
      if (parts.dice.injectFault(res)) return void req.resume();
      if (req.headers["x-amz-target"] === `${API}.PutItem`) fillAllOldOnEnd(req, res, parts.filler);
      handler(req, res);
    };
    if (parts.latencyMs > 0) setTimeout(proceed, parts.latencyMs);
    else proceed();
  };
}

/** In front of a server elsewhere: the same, as a proxy. */
export function proxyFront(forward: Forward, parts: FrontParts): http.RequestListener {
  return async (req, res) => {
    try {
      const body = await readBody(req);
      if (parts.latencyMs > 0) await sleep(parts.latencyMs);
      if (parts.dice.injectFault(res)) return;
      const target = String(req.headers["x-amz-target"] ?? "");
      const response = await forward(target, req.headers, body);
      const headers = { ...response.headers };
      let out = response.body;
      const filled =
        target === `${API}.PutItem` && response.status === 400
          ? await parts.filler.fill(body, out.toString("utf8"), req.headers)
          : undefined;
      if (filled !== undefined) {
        out = Buffer.from(filled);
        delete headers["x-amz-crc32"];
      }
      headers["content-length"] = String(out.length);
      res.writeHead(response.status, headers);
      res.end(out);
    } catch (error) {
      internalError(res, error);
    }
  };
}
