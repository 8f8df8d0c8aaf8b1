import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { compareInstants, Order } from "./order";

/** What a write did: a new or newer order was written, or an equal/older one changed nothing. */
export type StoreOutcome = "stored" | "duplicate" | "stale";

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
 * The first write inserts if the order is new. If it exists, DynamoDB returns the
 * stored item with the failed condition (no read): an equal or older incoming instant changes
 * nothing; a strictly newer one replaces the item on condition that the stored timestamp is still
 * the one compared against, so concurrent updates can never let an older state win.
 */
export async function storeOrder(tableName: string, order: Order, abortSignal?: AbortSignal): Promise<StoreOutcome> {
  let condition: { expression: string; values?: Record<string, string> } = {
    expression: "attribute_not_exists(orderId)",
  };
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    try {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: order,
          ConditionExpression: condition.expression,
          ExpressionAttributeNames: condition.values ? { "#timestamp": "timestamp" } : undefined,
          ExpressionAttributeValues: condition.values,
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
        { abortSignal },
      );
      return "stored";
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (!error.Item)
        throw new Error(
          "DynamoDB returned no stored item with a failed condition (ReturnValuesOnConditionCheckFailure)",
        );
      const stored = unmarshall(error.Item) as Partial<Order>;
      if (typeof stored.timestamp !== "string")
        throw new Error(`stored order ${order.orderId} has no timestamp string`);
      const comparison = compareInstants(order.timestamp, stored.timestamp);
      if (comparison === 0) return "duplicate";
      if (comparison < 0) return "stale";
      condition = { expression: "#timestamp = :seen", values: { ":seen": stored.timestamp } };
    }
  }
  throw new ConcurrentUpdateError(
    `order ${order.orderId} kept changing during ${MAX_WRITE_ATTEMPTS} conditional writes`,
  );
}
