import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, NumberValue, PutCommand } from "@aws-sdk/lib-dynamodb";
import { instantOf, Order } from "./order";

/** Attribute holding the order's timestamp as an exact epoch-seconds Number, for the newer-wins condition. */
export const INSTANT_ATTRIBUTE = "timestampEpoch";

/** What a write did: a new or newer order was written, or an equal/older one changed nothing. */
export type StoreOutcome = "stored" | "duplicate" | "stale";

// Module scope: one client (and its connection pool) per execution environment. The endpoint comes
// from the SDK's standard AWS_ENDPOINT_URL(_DYNAMODB) variables, never from code (contract 5).
// Three attempts with short timeouts keep a batch well inside the function timeout.
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 } }),
);

/**
 * Stores an order with one conditional write: inserts it, replaces a stored one only when this
 * order's timestamp is a strictly newer instant, and otherwise changes nothing (contract 9).
 */
export async function storeOrder(tableName: string, order: Order, abortSignal?: AbortSignal): Promise<StoreOutcome> {
  const instant = instantOf(order.timestamp);
  try {
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...order, [INSTANT_ATTRIBUTE]: NumberValue.from(instant) },
        ConditionExpression: "attribute_not_exists(orderId) OR attribute_not_exists(#instant) OR #instant < :instant",
        ExpressionAttributeNames: { "#instant": INSTANT_ATTRIBUTE },
        ExpressionAttributeValues: { ":instant": NumberValue.from(instant) },
        // On a failed condition DynamoDB returns the stored item: duplicate vs stale without a read.
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
      { abortSignal },
    );
    return "stored";
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      const stored = error.Item?.[INSTANT_ATTRIBUTE]?.N;
      return stored !== undefined && sameNumber(stored, instant) ? "duplicate" : "stale";
    }
    throw error;
  }
}

function sameNumber(a: string, b: string): boolean {
  const normal = (n: string) => (n.includes(".") ? n.replace(/0+$/, "").replace(/\.$/, "") : n);
  return normal(a) === normal(b);
}
