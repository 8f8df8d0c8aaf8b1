import { InvalidOrderError, ORDER_STATUSES, parseOrderBody } from "../../lambda/order";
import { order, SAMPLE_ORDER, snsEnvelope } from "../support/orders";

const body = (o: unknown) => JSON.stringify(o);
const reason = (text: string): string => {
  try {
    parseOrderBody(text);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOrderError);
    return (error as Error).message;
  }
  throw new Error("expected the body to be rejected");
};

describe("parseOrderBody", () => {
  test("reads the sample order raw and from an SNS envelope alike", () => {
    // Prepare
    const raw = body(SAMPLE_ORDER);
    // Act
    const fromRaw = parseOrderBody(raw);
    const fromEnvelope = parseOrderBody(snsEnvelope(raw));
    // Assess
    expect(fromRaw).toEqual(SAMPLE_ORDER);
    expect(fromEnvelope).toEqual(SAMPLE_ORDER);
  });

  test("drops unknown fields", () => {
    expect(parseOrderBody(body(order({ discount: 50, note: "x" })))).toEqual(SAMPLE_ORDER);
  });

  test("neither stores nor is polluted by __proto__ / constructor keys", () => {
    const parsed = parseOrderBody(
      `{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},${body(SAMPLE_ORDER).slice(1)}`,
    );
    expect(Object.keys(parsed).sort()).toEqual(Object.keys(SAMPLE_ORDER).sort());
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });

  test.each([
    ["not JSON", "{oops", /message body is not JSON/],
    ["a JSON array", "[1,2]", /not a JSON object/],
    ["null", "null", /not a JSON object/],
    ["an envelope whose Message is not JSON", snsEnvelope("nope"), /SNS notification's Message is not JSON/],
    ["a missing field", body({ ...SAMPLE_ORDER, userId: undefined }), /userId/],
  ])("rejects %s", (_, text, message) => {
    expect(reason(text)).toMatch(message);
  });
});

describe("schema boundaries of every order field", () => {
  const valid = (o: Record<string, unknown>) => () => parseOrderBody(body(order(o)));
  test.each([
    { orderId: "a".repeat(64) },
    { userId: "U_-9".padEnd(64, "z") },
    { orderId: "x" },
    { itemName: "i".repeat(256) },
    { itemName: " Tablet " },
    { quantity: 1 },
    { quantity: 10000 },
    ...ORDER_STATUSES.map((status) => ({ status })),
    { timestamp: "2025-05-09T14:40:00+02:00" },
    { timestamp: "2025-05-09T14:40:00.123456Z" },
    { timestamp: "2024-02-29T23:59:59-05:30" },
  ])("accepts %j", (o) => {
    expect(valid(o)).not.toThrow();
  });

  test.each([
    [{ orderId: "a".repeat(65) }, /orderId/],
    [{ orderId: "" }, /orderId/],
    [{ orderId: "O 1" }, /orderId/],
    [{ userId: "U/432" }, /userId/],
    [{ userId: 432 }, /userId/],
    [{ itemName: "" }, /itemName/],
    [{ itemName: "   " }, /itemName: must not be blank/],
    [{ itemName: "i".repeat(257) }, /itemName/],
    [{ quantity: 0 }, /quantity/],
    [{ quantity: 10001 }, /quantity/],
    [{ quantity: 2.5 }, /quantity/],
    [{ quantity: "3" }, /quantity/],
    [{ quantity: null }, /quantity/],
    [{ status: "NEW" }, /status/],
    [{ status: "refunded" }, /status/],
    [{ timestamp: "2025-05-09" }, /timestamp/],
    [{ timestamp: "2025-05-09T14:40:00" }, /timestamp/],
    [{ timestamp: "2025-02-30T14:40:00Z" }, /timestamp/],
    [{ timestamp: "2025-05-09 14:40:00Z" }, /timestamp/],
    [{ timestamp: "yesterday" }, /timestamp/],
    [{ timestamp: 1746801600 }, /timestamp/],
  ])("rejects %j", (o, message) => {
    expect(reason(body(order(o)))).toMatch(message);
  });
});
