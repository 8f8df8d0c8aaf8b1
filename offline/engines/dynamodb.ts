import { setTimeout as sleep } from "node:timers/promises";
import * as http from "node:http";
import { seededRandom } from "../../common/random";
import { EngineAddress, engineAgent, listenOn, sdkTransport } from "./engine-address";
import { LOCAL_CREDENTIALS } from "../../common/local-credentials";
import { AllOldFiller, FaultDice, FaultKind, forwarder, inProcessFront, proxyFront } from "./dynamodb-front";

// dynalite ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite: (options: Record<string, unknown>) => http.Server = require("dynalite");

export interface LocalDynamoDBOptions {
  /** Share (0..1) of requests answered with a DynamoDB throttling or internal-server error. @default 0 */
  readonly failRate?: number;
  /** The errors injected (`dynamodb-front.ts`). @default "both" */
  readonly failWith?: FaultKind;
  /** Seed of the fault dice. @default 1 */
  readonly seed?: number;
  /** Added to every response, to model the network latency of DynamoDB in AWS. @default 0 */
  readonly latencyMs?: number;
  /** Keep the tables in this folder (dynalite's on-disk store) across restarts; in memory when absent. */
  readonly dataDir?: string;
  /** Front an already running DynamoDB-API server instead of starting dynalite here. */
  readonly backendEndpoint?: string;
  /** Listen on Unix sockets (this function names them) instead of loopback ports. */
  readonly socketPath?: (name: string) => string;
}

export interface LocalDynamoDB {
  /** The fault-injecting front (AWS_ENDPOINT_URL_DYNAMODB of the batch run's function). */
  readonly endpoint: EngineAddress;
  /** The front's request handler, for the one endpoint of `--serve` to call in this process (no extra hop). */
  readonly handler: http.RequestListener;
  /** dynalite itself, without faults (for inspection and baselines). */
  readonly directEndpoint: EngineAddress;
  readonly stats: { requests: number; injectedFaults: number };
  setFailRate(rate: number): void;
  close(): Promise<void>;
}

/** dynalite in this process: its request handler, and a plain "direct" server on it (no faults). */
async function startDynalite(
  dataDir?: string,
  socketPath?: (name: string) => string,
): Promise<{ backend: http.Server; handler: http.RequestListener; direct: http.Server; address: EngineAddress }> {
  const backend = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: dataDir });
  // Listening too, unused, so that closing it closes its store the way dynalite expects.
  await listenOn(backend, socketPath?.("dynalite"));
  const handler = backend.listeners("request")[0] as http.RequestListener;
  const direct = http.createServer(handler);
  return { backend, handler, direct, address: await listenOn(direct, socketPath?.("dynamodb-direct")) };
}

/**
 * Starts dynalite (a real DynamoDB-API server, in memory) on a loopback port, with a front
 * (`dynamodb-front.ts`) that injects DynamoDB's throttling / internal errors at a configurable rate and
 * fills in `ReturnValuesOnConditionCheckFailure: ALL_OLD`, which DynamoDB supports and dynalite ignores.
 * With `backendEndpoint`, the front proxies to a server elsewhere instead.
 */
export async function startLocalDynamoDB(options: LocalDynamoDBOptions = {}): Promise<LocalDynamoDB> {
  const dice = new FaultDice(options.failRate ?? 0, seededRandom(options.seed ?? 1), options.failWith);
  const local = options.backendEndpoint ? undefined : await startDynalite(options.dataDir, options.socketPath);
  const directEndpoint = local?.address ?? { url: options.backendEndpoint! };
  const agent = engineAgent(directEndpoint);
  const forward = forwarder(directEndpoint.url, agent);
  const parts = { dice, filler: new AllOldFiller(forward), latencyMs: options.latencyMs ?? 0 };
  const handler = local ? inProcessFront(local.handler, parts) : proxyFront(forward, parts);
  const front = http.createServer(handler);
  const endpoint = await listenOn(front, options.socketPath?.("dynamodb"));
  return {
    endpoint,
    handler,
    directEndpoint,
    stats: dice.stats,
    setFailRate: (rate) => dice.setFailRate(rate),
    async close() {
      agent.destroy();
      const close = (server: http.Server) => new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([front, ...(local ? [local.direct] : [])].map(close));
      if (local) await close(local.backend);
    },
  };
}

/** A table as the offline runtime and tests create it: name and string/number key attributes. */
export interface LocalTableDefinition {
  readonly name: string;
  readonly hashKey: string;
  readonly rangeKey?: string;
  readonly attributes: readonly { readonly name: string; readonly type: string }[];
}

export { LOCAL_CREDENTIALS } from "../../common/local-credentials";
export const LOCAL_REGION = "us-east-1";

/** Creates the table (or finds it, kept by `--persist`) and returns its ARN as the engine reports it. */
export async function createTable(endpoint: EngineAddress, table: LocalTableDefinition): Promise<string> {
  const { CreateTableCommand, DescribeTableCommand, DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
  const client = new DynamoDBClient({
    ...sdkTransport(endpoint),
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const existing = await client.send(new DescribeTableCommand({ TableName: table.name })).catch(() => undefined);
    if (existing) return existing.Table!.TableArn!; // kept from an earlier run (--persist)
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
    // CreateTable returns while the table is CREATING; a write before it is ACTIVE is "not found".
    for (let waited = 0; ; waited += 20) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: table.name }));
      if (Table?.TableStatus === "ACTIVE") return Table.TableArn!;
      if (waited > 10_000) throw new Error(`table ${table.name} was not ACTIVE within 10 s`);
      await sleep(20);
    }
  } finally {
    client.destroy();
  }
}

type Item = Record<string, unknown>;
type DocumentClient = import("@aws-sdk/lib-dynamodb").DynamoDBDocumentClient;

/**
 * Reads of the engine's tables through one document client, made at the first read (the SDK's modules load
 * only then) and kept until `close`: a console asks often, and one client keeps its connection.
 */
export class TableReads {
  private client?: Promise<DocumentClient>;

  constructor(private readonly endpoint: EngineAddress) {}

  private documents(): Promise<DocumentClient> {
    this.client ??= Promise.all([import("@aws-sdk/client-dynamodb"), import("@aws-sdk/lib-dynamodb")]).then(
      ([{ DynamoDBClient }, { DynamoDBDocumentClient }]) =>
        DynamoDBDocumentClient.from(
          new DynamoDBClient({ ...sdkTransport(this.endpoint), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
        ),
    );
    return this.client;
  }

  /** Every item of a table (a full scan; local tables are small). */
  async all(tableName: string): Promise<Item[]> {
    const [{ ScanCommand }, client] = await Promise.all([import("@aws-sdk/lib-dynamodb"), this.documents()]);
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await client.send(
        new ScanCommand({ TableName: tableName, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** The first `limit` items of a scan, and whether there are more. */
  async first(tableName: string, limit: number): Promise<{ items: Item[]; more: boolean }> {
    const [{ ScanCommand }, client] = await Promise.all([import("@aws-sdk/lib-dynamodb"), this.documents()]);
    const page = await client.send(new ScanCommand({ TableName: tableName, Limit: limit, ConsistentRead: true }));
    return { items: page.Items ?? [], more: page.LastEvaluatedKey !== undefined };
  }

  /** The items whose partition key is `value` (one, for a table without a sort key). */
  async withKey(table: { name: string; hashKey: string }, value: string): Promise<Item[]> {
    const [{ QueryCommand }, client] = await Promise.all([import("@aws-sdk/lib-dynamodb"), this.documents()]);
    const { Items = [] } = await client.send(
      new QueryCommand({
        TableName: table.name,
        KeyConditionExpression: "#key = :value",
        ExpressionAttributeNames: { "#key": table.hashKey },
        ExpressionAttributeValues: { ":value": value },
        ConsistentRead: true,
      }),
    );
    return Items;
  }

  /** How many items a table holds (a scan that counts; DescribeTable's ItemCount is not kept current). */
  async count(tableName: string): Promise<number> {
    const [{ ScanCommand }, client] = await Promise.all([import("@aws-sdk/lib-dynamodb"), this.documents()]);
    let count = 0;
    let start: Item | undefined;
    do {
      const page = await client.send(
        new ScanCommand({ TableName: tableName, Select: "COUNT", ExclusiveStartKey: start }),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return count;
  }

  close(): void {
    void this.client?.then((client) => client.destroy());
  }
}

/** Every item of a table, read once (a client made and closed for it). */
export async function scanTable(endpoint: EngineAddress, tableName: string): Promise<Item[]> {
  const reads = new TableReads(endpoint);
  try {
    return await reads.all(tableName);
  } finally {
    reads.close();
  }
}
