import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { storeOrder } from "../../lambda/store";
import { processRecord } from "../../lambda/index";
import { capturingLogs, saveEnv } from "../support/handler";
import { SAMPLE_ORDER, sqsRecord } from "../support/orders";

// Faults a real server does not produce on demand: a stored order that changes under every write,
// and a failed condition without the stored item. aws-sdk-client-mock stands in for DynamoDB here only.
const dynamodb = mockClient(DynamoDBDocumentClient);
const restoreEnv = saveEnv();
beforeAll(() =>
  Object.assign(process.env, { AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" }),
);
afterAll(() => {
  dynamodb.restore();
  restoreEnv();
});
beforeEach(() => dynamodb.reset());

const conditionFailed = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: "The conditional request failed",
    $metadata: {},
    Item: item ? marshall(item) : undefined,
  });

test("a newer order replaces the stored one only if the stored item is still exactly the one compared against", async () => {
  dynamodb
    .on(PutCommand)
    .rejectsOnce(conditionFailed({ ...SAMPLE_ORDER, timestamp: "2025-05-09T14:00:00Z" }))
    .resolves({});
  expect(await storeOrder("Orders", SAMPLE_ORDER)).toEqual({ outcome: "stored" });
  const [insert, replace] = dynamodb.commandCalls(PutCommand).map((c) => c.args[0].input);
  expect(insert).toMatchObject({
    ConditionExpression: "attribute_not_exists(orderId)",
    ReturnValuesOnConditionCheckFailure: "ALL_OLD",
  });
  // Every stored field pinned: a concurrent same-instant version with other content also fails the write.
  const pinned = Object.fromEntries(
    Object.entries(replace.ExpressionAttributeNames!).map(([name, field]) => [
      field,
      replace.ExpressionAttributeValues![name.replace("#", ":")],
    ]),
  );
  expect(pinned).toEqual({ ...SAMPLE_ORDER, timestamp: "2025-05-09T14:00:00Z" });
  expect(replace.ConditionExpression).toBe(
    Object.keys(replace.ExpressionAttributeNames!)
      .map((name) => `${name} = ${name.replace("#", ":")}`)
      .join(" AND "),
  );
  expect(replace.Item).toEqual(SAMPLE_ORDER);
});

test("an order that keeps changing under every write is reported failed, not acknowledged", async () => {
  let minute = 0;
  dynamodb.on(PutCommand).callsFake(() => {
    minute += 1;
    throw conditionFailed({
      ...SAMPLE_ORDER,
      timestamp: `2025-05-09T14:${String(minute).padStart(2, "0")}:00Z`,
      status: "paid",
    });
  });
  const newest = { ...SAMPLE_ORDER, timestamp: "2025-05-09T15:00:00Z" };
  await expect(storeOrder("Orders", newest)).rejects.toThrow(/kept changing during 5 conditional writes/);
  expect(dynamodb.commandCalls(PutCommand)).toHaveLength(5);
});

test("a failed condition without the stored item fails the record instead of guessing", async () => {
  process.env.TABLE_NAME = "Orders";
  dynamodb.on(PutCommand).rejects(conditionFailed());
  const { result, lines } = await capturingLogs(() => processRecord(sqsRecord(JSON.stringify(SAMPLE_ORDER)), "Orders"));
  expect(result).toBe("failed");
  expect(lines[0].reason).toMatch(/returned no stored item/);
});
