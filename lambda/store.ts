import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, PutCommandInput } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { checkOrder, Order } from "./order";
import { compareVersions } from "./version";

/**
 * What a write did: a new or newer order was written; an identical one (`duplicate`) or an older one
 * (`stale`) changed nothing; a different version of the same instant (`conflict`) was resolved by
 * `compareVersions`, the winner stored either way; a stored item that is not a valid order (written by
 * another hand) was replaced by the valid incoming version (`repaired`): it never outranks one.
 */
export type StoreOutcome = "stored" | "duplicate" | "stale" | "conflict" | "repaired";

export interface StoreResult {
  readonly outcome: StoreOutcome;
  /** For a conflict: which version was kept and why; for a repair: what was wrong with the stored item. */
  readonly detail?: string;
}

/** Conditional writes per record before it is reported failed (only concurrent updates of one order race). */
const MAX_WRITE_ATTEMPTS = 5;

// Module scope: one client (and its connection pool) per execution environment. The endpoint comes
// from the SDK's standard AWS_ENDPOINT_URL(_DYNAMODB) variables, never from code.
// Three attempts with short timeouts keep a batch well inside the function timeout.
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 } }),
);

/** A stored order whose timestamp changed between our look and our write: another writer won the race. */
export class ConcurrentUpdateError extends Error {
  override readonly name = "ConcurrentUpdateError";
}

/**
 * Stores an order with conditional writes only, and the item holds exactly the validated fields.
 * The first write inserts if the order is new. If it exists, DynamoDB returns the stored item with the
 * failed condition (no read), and `compareVersions` decides: a winning incoming version replaces the
 * item on condition that the stored item is still exactly the one compared against, so a concurrent
 * update can never let a losing version win; an identical or losing one changes nothing.
 */
export async function storeOrder(tableName: string, order: Order, abortSignal?: AbortSignal): Promise<StoreResult> {
  let condition: Condition = { ConditionExpression: "attribute_not_exists(orderId)" };
  // What the write that succeeds reports: a conflict or a repair found on the item it replaces.
  let replaced: StoreResult = { outcome: "stored" };
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    try {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: order,
          ...condition,
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
        { abortSignal },
      );
      return replaced;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = storedItem(error);
      condition = unchangedSince(item);
      const checked = checkOrder(item, Date.now());
      if ("problems" in checked) {
        replaced = {
          outcome: "repaired",
          detail: `the stored item was not a valid order (${checked.problems}): replaced it`,
        };
        continue;
      }
      const stored = checked.order;
      const comparison = compareVersions(order, stored);
      if (comparison.relation === "identical") return { outcome: "duplicate" };
      if (comparison.relation === "older") return { outcome: "stale" };
      replaced = { outcome: "stored" };
      if (comparison.relation === "conflict") {
        replaced = {
          outcome: "conflict",
          detail: describeConflict(order, stored, comparison.incomingWins, comparison.decidedBy),
        };
        if (!comparison.incomingWins) return replaced;
      }
    }
  }
  throw new ConcurrentUpdateError(
    `order ${order.orderId} kept changing during ${MAX_WRITE_ATTEMPTS} conditional writes`,
  );
}

type Condition = Pick<
  PutCommandInput,
  "ConditionExpression" | "ExpressionAttributeNames" | "ExpressionAttributeValues"
>;

/** The stored item DynamoDB handed back with a failed condition, as it is (it may not be a valid order). */
function storedItem(error: ConditionalCheckFailedException): Record<string, unknown> {
  if (!error.Item)
    throw new Error("DynamoDB returned no stored item with a failed condition (ReturnValuesOnConditionCheckFailure)");
  return unmarshall(error.Item);
}

/** A condition that holds only while every attribute of the item is still what `stored` says. */
function unchangedSince(stored: Record<string, unknown>): Condition {
  const fields = Object.keys(stored);
  return {
    ConditionExpression: fields.map((_, i) => `#f${i} = :f${i}`).join(" AND "),
    ExpressionAttributeNames: Object.fromEntries(fields.map((field, i) => [`#f${i}`, field])),
    ExpressionAttributeValues: Object.fromEntries(fields.map((field, i) => [`:f${i}`, stored[field]])),
  };
}

function describeConflict(incoming: Order, stored: Order, incomingWins: boolean, decidedBy: string): string {
  const [winner, loser] = incomingWins ? [incoming, stored] : [stored, incoming];
  const by =
    decidedBy === "status" ? `status ${winner.status} ranks above ${loser.status}` : `the larger ${decidedBy} wins`;
  return `same instant as the stored version (${stored.timestamp}), different content: kept the ${incomingWins ? "incoming" : "stored"} version (${by})`;
}
