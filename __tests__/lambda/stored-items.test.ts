import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../offline/engines/dynamodb";
import { compareVersions } from "../../lambda/version";
import type { Order } from "../../lambda/order";
import { capturingLogs, TABLE_NAME, useHandlerWithTable } from "../support/handler";
import { order, sqsEvent } from "../support/orders";

const body = (o: unknown) => JSON.stringify(o);
const VALID = { userId: "U1", itemName: "Tablet", quantity: 1, status: "paid", timestamp: "2025-05-09T10:00:00Z" };

describe("a stored item that is not a valid order never outranks a valid version", () => {
  const local = useHandlerWithTable();
  // Another writer: a console edit, a migration, a second service, straight into the table.
  const putRaw = (item: Record<string, unknown>) =>
    new DynamoDBClient({
      endpoint: local.db.directEndpoint.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    }).send(new PutItemCommand({ TableName: TABLE_NAME, Item: marshall(item) }));
  const stored = async (orderId: string) => (await local.items()).find((item) => item.orderId === orderId);

  test.each([
    ["an unknown status at the same instant", { status: "hacked" }, /status: must be one of/],
    ["a timestamp that is not a date", { timestamp: "not-a-date" }, /timestamp: must be an ISO-8601 date-time/],
    ["no timestamp", { timestamp: undefined }, /timestamp: /],
    ["a numeric timestamp", { timestamp: 1746784800 }, /timestamp: /],
    [
      "a timestamp in the year 9999",
      { timestamp: "9999-12-31T23:59:59Z" },
      /timestamp: 9999-12-31T23:59:59Z is more than 86400 s ahead/,
    ],
    ["a quantity stored as text", { quantity: "1" }, /quantity: /],
  ])("%s: the valid update replaces it, a logged, counted repair", async (_, broken, reason) => {
    const orderId = `REPAIR${Math.random().toString(36).slice(2, 8)}`;
    const item: Record<string, unknown> = { orderId, ...VALID, ...broken };
    for (const key of Object.keys(item)) if (item[key] === undefined) delete item[key];
    await putRaw(item);
    const update = order({ orderId, ...VALID });
    const { result, lines } = await capturingLogs(() => local.handler(sqsEvent([body(update)])));
    expect(result.batchItemFailures).toEqual([]);
    expect(await stored(orderId)).toEqual(update);
    const line = lines.find((l) => l.orderId === orderId)!;
    expect(line).toMatchObject({ outcome: "repaired", level: "WARN" });
    expect(line.reason).toMatch(/^the stored item was not a valid order \(/);
    expect(line.reason).toMatch(reason);
    expect(lines.find((l) => l._aws)).toMatchObject({ repaired: 1, stored: 0, stale: 0, conflict: 0, failed: 0 });
    // Once repaired, the order behaves as any other: the same version again is a duplicate.
    const again = await capturingLogs(() => local.handler(sqsEvent([body(update)])));
    expect(again.lines.find((l) => l.orderId === orderId)).toMatchObject({ outcome: "duplicate" });
  });

  test("an order timestamped more than a day ahead of the function's clock is invalid, with the reason", async () => {
    const ahead = new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString();
    const { result, lines } = await capturingLogs(() =>
      local.handler(sqsEvent([body(order({ orderId: "FUTURE1", timestamp: ahead }))])),
    );
    expect(result.batchItemFailures).toHaveLength(1);
    expect(lines[0]).toMatchObject({ outcome: "invalid", orderId: "FUTURE1" });
    expect(lines[0].reason).toMatch(
      new RegExp(`timestamp: ${ahead} is more than 86400 s ahead of the function's clock`),
    );
    // Within the margin (a clock a little ahead of the function's) is fine.
    const soon = new Date(Date.now() + 3600 * 1000).toISOString();
    const ok = await capturingLogs(() =>
      local.handler(sqsEvent([body(order({ orderId: "FUTURE2", timestamp: soon }))])),
    );
    expect(ok.result.batchItemFailures).toEqual([]);
  });

  test("a string that is not well-formed Unicode (a lone surrogate) is invalid, the field named", async () => {
    const text =
      '{"orderId":"SURROGATE1","userId":"U1","itemName":"\\ud800","quantity":1,"status":"new","timestamp":"2025-05-09T10:00:00Z"}';
    const { result, lines } = await capturingLogs(() => local.handler(sqsEvent([text])));
    expect(result.batchItemFailures).toHaveLength(1);
    expect(lines[0]).toMatchObject({ outcome: "invalid", orderId: "SURROGATE1" });
    expect(lines[0].reason).toMatch(/itemName: must be well-formed Unicode/);
    expect(await stored("SURROGATE1")).toBeUndefined();
    // A character outside the BMP (a surrogate pair) is well-formed.
    const emoji = await capturingLogs(() =>
      local.handler(sqsEvent([body(order({ orderId: "SURROGATE2", itemName: "Tablet \u{1F4F1}" }))])),
    );
    expect(emoji.result.batchItemFailures).toEqual([]);
  });
});

test("compareVersions never ranks an unknown status above a known one", () => {
  const known = { orderId: "O1", ...VALID } as Order;
  const unknown = { ...known, status: "hacked" } as unknown as Order;
  expect(compareVersions(known, unknown)).toMatchObject({ relation: "conflict", incomingWins: true });
  expect(compareVersions(unknown, known)).toMatchObject({ relation: "conflict", incomingWins: false });
});
