import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { bundleHandler, ORDER_PROCESSOR } from "../../constructs/function-bundle";
import {
  createTable,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  LocalDynamoDB,
  scanTable,
  startLocalDynamoDB,
} from "../../offline/engines/dynamodb";

export type Handler = (event: SQSEvent, context?: { getRemainingTimeInMillis(): number }) => Promise<SQSBatchResponse>;

export const TABLE_NAME = "Orders";

/** Log lines the handler wrote while `fn` ran (stdout is captured, not printed). */
export async function capturingLogs<T>(fn: () => Promise<T>): Promise<{ result: T; lines: Record<string, any>[] }> {
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    const result = await fn();
    return {
      result,
      lines: lines
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    };
  } finally {
    process.stdout.write = original;
  }
}

/**
 * The built bundle (what `npm run build` writes and Terraform zips), loaded fresh with the
 * function's environment, its endpoint set only by AWS_ENDPOINT_URL_DYNAMODB.
 */
export function loadBuiltHandler(endpoint: string): Handler {
  const bundle = bundleHandler(ORDER_PROCESSOR.entry, ORDER_PROCESSOR.outdir);
  Object.assign(process.env, {
    TABLE_NAME,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  let handler: Handler | undefined;
  jest.isolateModules(() => {
    handler = require(bundle).handler;
  });
  return handler!;
}

/** dynalite with the Orders table, and the built handler pointed at it. */
export async function startHandlerWithTable(): Promise<{
  db: LocalDynamoDB;
  handler: Handler;
  items: () => Promise<Record<string, unknown>[]>;
}> {
  const db = await startLocalDynamoDB();
  await createTable(db.directEndpoint, {
    name: TABLE_NAME,
    hashKey: "orderId",
    attributes: [{ name: "orderId", type: "S" }],
  });
  return { db, handler: loadBuiltHandler(db.endpoint.url), items: () => scanTable(db.directEndpoint, TABLE_NAME) };
}

/** Saves process.env; the returned function restores it (tests must not leak the function's environment). */
export function saveEnv(): () => void {
  const saved = { ...process.env };
  return () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  };
}

/** In a describe block: dynalite with the Orders table and the built handler, started before and stopped after its tests. */
export function useHandlerWithTable(): {
  db: LocalDynamoDB;
  handler: Handler;
  items: () => Promise<Record<string, unknown>[]>;
} {
  const context = {} as { db: LocalDynamoDB; handler: Handler; items: () => Promise<Record<string, unknown>[]> };
  const restoreEnv = saveEnv();
  beforeAll(async () => {
    Object.assign(context, await startHandlerWithTable());
  });
  afterAll(async () => {
    await context.db?.close();
    restoreEnv();
  });
  return context;
}
