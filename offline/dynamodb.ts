import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { seededRandom } from "../common/random";

// dynalite ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite: (options: Record<string, unknown>) => http.Server = require("dynalite");

export interface LocalDynamoDBOptions {
  /** Share (0..1) of requests answered with a DynamoDB throttling or internal-server error. @default 0 */
  readonly failRate?: number;
  /** Seed of the fault dice. @default 1 */
  readonly seed?: number;
  /** Added to every response, to model the network latency of DynamoDB in AWS. @default 0 */
  readonly latencyMs?: number;
  /** Front an already running DynamoDB-API server instead of starting dynalite here. */
  readonly backendEndpoint?: string;
}

export interface LocalDynamoDB {
  /** Endpoint for AWS_ENDPOINT_URL_DYNAMODB: the fault-injecting front. */
  readonly endpoint: string;
  /** dynalite itself, without faults (for inspection and baselines). */
  readonly directEndpoint: string;
  readonly stats: { requests: number; injectedFaults: number };
  setFailRate(rate: number): void;
  close(): Promise<void>;
}

const API = "DynamoDB_20120810";
const FAULTS = [
  {
    status: 400,
    type: "ProvisionedThroughputExceededException",
    message: "The level of configured provisioned throughput for the table was exceeded (injected fault)",
  },
  { status: 500, type: "InternalServerError", message: "Internal server error (injected fault)" },
] as const;

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function readBody(stream: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

/**
 * Starts dynalite (a real DynamoDB-API server, in memory) on a loopback port, wrapped so that it
 * (1) answers a configurable share of requests with DynamoDB's throttling / internal errors and
 * (2) fills in `ReturnValuesOnConditionCheckFailure: ALL_OLD`, which DynamoDB supports and dynalite
 * ignores, by reading the stored item after a failed condition.
 */
export async function startLocalDynamoDB(options: LocalDynamoDBOptions = {}): Promise<LocalDynamoDB> {
  let failRate = validRate(options.failRate ?? 0);
  const random = seededRandom(options.seed ?? 1);
  const stats = { requests: 0, injectedFaults: 0 };
  const latencyMs = options.latencyMs ?? 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const keySchemas = new Map<string, string[]>();

  // dynalite in this process: its request handler serves a plain "direct" server, and the endpoint
  // server wraps the same handler (no extra HTTP hop); or, with backendEndpoint, a server elsewhere.
  let dynaliteHandler: http.RequestListener | undefined;
  let backend: http.Server | undefined;
  const servers: http.Server[] = [];
  let directEndpoint = options.backendEndpoint;
  if (!directEndpoint) {
    backend = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    // Listening too, unused, so that closing it closes its store the way dynalite expects.
    await listen(backend);
    dynaliteHandler = backend.listeners("request")[0] as http.RequestListener;
    const direct = http.createServer(dynaliteHandler);
    servers.push(direct);
    directEndpoint = await listen(direct);
  }
  const directUrl = directEndpoint;

  const forward = (target: string, headers: http.IncomingHttpHeaders, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const request = http.request(
        directUrl,
        { method: "POST", agent, headers: { ...headers, "x-amz-target": target, "content-length": body.length } },
        async (response) => {
          try {
            resolve({ status: response.statusCode ?? 500, headers: response.headers, body: await readBody(response) });
          } catch (error) {
            reject(error);
          }
        },
      );
      request.on("error", reject);
      request.end(body);
    });

  // dynalite wants a well-formed (not a valid) signature: the client's request's headers serve.
  const call = async (operation: string, input: object, headers: http.IncomingHttpHeaders) => {
    const body = Buffer.from(JSON.stringify(input));
    const response = await forward(`${API}.${operation}`, headers, body);
    return JSON.parse(response.body.toString("utf8"));
  };

  const keyOf = async (table: string, item: Record<string, unknown>, headers: http.IncomingHttpHeaders) => {
    if (!keySchemas.has(table)) {
      const described = await call("DescribeTable", { TableName: table }, headers);
      keySchemas.set(
        table,
        described.Table.KeySchema.map((k: { AttributeName: string }) => k.AttributeName),
      );
    }
    return Object.fromEntries(keySchemas.get(table)!.map((name) => [name, item[name]]));
  };

  /** A failed PutItem's response with the stored item added, when the request asked for ALL_OLD. */
  const withStoredItem = async (
    requestBody: Buffer,
    responseBody: string,
    headers: http.IncomingHttpHeaders,
  ): Promise<string | undefined> => {
    if (!responseBody.includes("ConditionalCheckFailedException")) return undefined;
    const input = JSON.parse(requestBody.toString("utf8"));
    if (input.ReturnValuesOnConditionCheckFailure !== "ALL_OLD") return undefined;
    const key = await keyOf(input.TableName, input.Item, headers);
    const stored = await call("GetItem", { TableName: input.TableName, Key: key, ConsistentRead: true }, headers);
    return JSON.stringify({ ...JSON.parse(responseBody), Item: stored.Item });
  };

  const injectFault = (res: http.ServerResponse): boolean => {
    if (!(failRate > 0 && random() < failRate)) return false;
    stats.injectedFaults += 1;
    const fault = FAULTS[Math.floor(random() * FAULTS.length)];
    res.writeHead(fault.status, { "content-type": "application/x-amz-json-1.0" });
    res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${fault.type}`, message: fault.message }));
    return true;
  };

  const internalError = (res: http.ServerResponse, error: unknown) => {
    res.writeHead(500, { "content-type": "application/x-amz-json-1.0" });
    res.end(JSON.stringify({ __type: "com.amazonaws.dynamodb.v20120810#InternalServerError", message: String(error) }));
  };

  /** In process: dynalite's own handler, with faults before it and ALL_OLD filled in after it. */
  const wrapped =
    (handler: http.RequestListener): http.RequestListener =>
    (req, res) => {
      const proceed = () => {
        stats.requests += 1;
        if (injectFault(res)) {
          req.resume();
          return;
        }
        if (req.headers["x-amz-target"] === `${API}.PutItem`) {
          const chunks: Buffer[] = [];
          req.on("data", (chunk: Buffer) => chunks.push(chunk));
          const end = res.end.bind(res) as (body?: string) => http.ServerResponse;
          res.end = ((body?: unknown) => {
            if (res.statusCode !== 400 || typeof body !== "string") return end(body as string | undefined);
            withStoredItem(Buffer.concat(chunks), body, req.headers).then(
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
        handler(req, res);
      };
      if (latencyMs > 0) setTimeout(proceed, latencyMs);
      else proceed();
    };

  /** In front of a server elsewhere: the same, as a proxy. */
  const proxy: http.RequestListener = async (req, res) => {
    try {
      stats.requests += 1;
      const body = await readBody(req);
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      if (injectFault(res)) return;
      const target = String(req.headers["x-amz-target"] ?? "");
      const response = await forward(target, req.headers, body);
      let out = response.body;
      const headers = { ...response.headers };
      if (target === `${API}.PutItem` && response.status === 400) {
        const filled = await withStoredItem(body, out.toString("utf8"), req.headers);
        if (filled !== undefined) {
          out = Buffer.from(filled);
          delete headers["x-amz-crc32"];
        }
      }
      headers["content-length"] = String(out.length);
      res.writeHead(response.status, headers);
      res.end(out);
    } catch (error) {
      internalError(res, error);
    }
  };

  const front = http.createServer(dynaliteHandler ? wrapped(dynaliteHandler) : proxy);
  servers.push(front);
  const endpoint = await listen(front);

  return {
    endpoint,
    directEndpoint: directUrl,
    stats,
    setFailRate(rate) {
      failRate = validRate(rate);
    },
    async close() {
      agent.destroy();
      const close = (server: http.Server) => new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(servers.map(close));
      if (backend) await close(backend);
    },
  };
}

function validRate(rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`fail rate must be a number from 0 to 1, got ${rate}`);
  return rate;
}

/** A table as the offline runtime and tests create it: name and string/number key attributes. */
export interface LocalTableDefinition {
  readonly name: string;
  readonly hashKey: string;
  readonly rangeKey?: string;
  readonly attributes: readonly { readonly name: string; readonly type: string }[];
}

/** Local-only credentials: dynalite accepts any, and nothing here can reach AWS. */
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
export const LOCAL_REGION = "us-east-1";

export async function createTable(endpoint: string, table: LocalTableDefinition): Promise<void> {
  const { CreateTableCommand, DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table.name,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: table.attributes.map((a) => ({
          AttributeName: a.name,
          AttributeType: a.type as "S" | "N" | "B",
        })),
        KeySchema: [
          { AttributeName: table.hashKey, KeyType: "HASH" },
          ...(table.rangeKey ? [{ AttributeName: table.rangeKey, KeyType: "RANGE" as const }] : []),
        ],
      }),
    );
  } finally {
    client.destroy();
  }
}

/** Every item of a table (a full scan; local tables are small). */
export async function scanTable(endpoint: string, tableName: string): Promise<Record<string, unknown>[]> {
  const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
  const { DynamoDBDocumentClient, ScanCommand } = await import("@aws-sdk/lib-dynamodb");
  const client = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
  );
  const items: Record<string, unknown>[] = [];
  try {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
  } finally {
    client.destroy();
  }
  return items;
}
