import fc from "fast-check";
import { capturingLogs, useHandlerWithTable } from "../support/handler";
import { sized } from "../support/long-run";
import { snsEnvelope, sqsRecord } from "../support/orders";

/** An oracle written apart from the handler's schema: what the order schema (docs/architecture.md, "The order processor") says is a valid order. */
const STATUSES = ["new", "paid", "shipped", "delivered", "cancelled"];
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
function validTimestamp(value: unknown): boolean {
  const m = typeof value === "string" ? TIMESTAMP.exec(value) : null;
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  // Not more than the function's default margin (a day) ahead of the clock.
  return (
    date.getUTCMonth() === month - 1 && date.getUTCDate() === day && Date.parse(value as string) <= Date.now() + DAY
  );
}
const DAY = 24 * 3600 * 1000;
/** Well-formed Unicode, as encodeURIComponent sees it: it throws on a lone surrogate. */
function wellFormed(text: string): boolean {
  try {
    encodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}
function oracle(payload: unknown): Record<string, unknown> | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
  const o = payload as Record<string, unknown>;
  const ok =
    typeof o.orderId === "string" &&
    ID.test(o.orderId) &&
    typeof o.userId === "string" &&
    ID.test(o.userId) &&
    typeof o.itemName === "string" &&
    o.itemName.length >= 1 &&
    o.itemName.length <= 256 &&
    o.itemName.trim() !== "" &&
    wellFormed(o.itemName) &&
    Number.isInteger(o.quantity) &&
    (o.quantity as number) >= 1 &&
    (o.quantity as number) <= 10000 &&
    typeof o.status === "string" &&
    STATUSES.includes(o.status) &&
    validTimestamp(o.timestamp);
  if (!ok) return undefined;
  return {
    orderId: o.orderId,
    userId: o.userId,
    itemName: o.itemName,
    quantity: o.quantity,
    status: o.status,
    timestamp: o.timestamp,
  };
}

const offsets = fc.constantFrom("Z", "+02:00", "-05:30", "+00:00", "-23:59", "+14:00");
const timestamp = fc
  .tuple(
    // Up to a fixed past instant: valid whatever day the test runs; future ones are among the bad values.
    fc.date({ min: new Date("0001-01-01T00:00:00Z"), max: new Date("2026-01-01T00:00:00Z"), noInvalidDate: true }),
    offsets,
    fc.boolean(),
  )
  .map(([date, offset, fraction]) => date.toISOString().slice(0, fraction ? 23 : 19) + offset);
const validFields = fc.record({
  userId: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
  itemName: fc.string({ minLength: 1, maxLength: 256, unit: "binary" }),
  quantity: fc.integer({ min: 1, max: 10000 }),
  status: fc.constantFrom(...STATUSES),
  timestamp,
});
const badValues: Record<string, unknown[]> = {
  orderId: ["", "a".repeat(65), "has space", "ä", 42, null, ["O1"]],
  userId: ["", "u".repeat(65), "U/1", 7, {}],
  itemName: ["", "   ", "\t\n", "x".repeat(257), 5, null, "\ud800", "Tab\udc00let", "\udbff"],
  quantity: [0, -1, 10001, 2.5, "3", null, 1e21, true],
  status: ["NEW", "", "refunded", null, 1],
  timestamp: [
    "2025-13-01T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "2025-05-09",
    "2025-05-09T14:40:00",
    "2025-05-09T24:00:00Z",
    "2025-05-09T14:40Z",
    1746801600,
    "",
    "9999-12-31T23:59:59Z",
    new Date(Date.now() + 2 * DAY).toISOString(),
  ],
};
type Shape =
  | {
      kind: "order";
      fields: Record<string, unknown>;
      mutate?: [string, unknown] | [string];
      extra?: Record<string, unknown>;
      envelope: boolean;
    }
  | { kind: "noise"; body: string };
const shape: fc.Arbitrary<Shape> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("order" as const), fields: validFields, envelope: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(validFields, fc.constantFrom(...Object.keys(badValues)), fc.nat(), fc.boolean(), fc.boolean())
      .map(([fields, field, pick, missing, envelope]): Shape => ({
        kind: "order",
        fields,
        envelope,
        mutate: missing ? [field] : [field, badValues[field][pick % badValues[field].length]],
      })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        validFields,
        fc.dictionary(
          fc.constantFrom("__proto__", "constructor", "prototype", "discount", "toString", "Type"),
          fc.jsonValue(),
        ),
        fc.boolean(),
      )
      .map(([fields, extra, envelope]): Shape => ({ kind: "order", fields, extra, envelope })),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.string({ unit: "binary" }), fc.json()).map((body): Shape => ({ kind: "noise", body })),
  },
);

/** Batches of 10 bodies: 10,000 bodies in `npm run test:long`, 2,500 in `npm test`. */
const RUNS = sized(250, 1000);

describe(`property: the handler against dynalite, ${RUNS * 10} generated bodies`, () => {
  const local = useHandlerWithTable();

  test("never throws, never stores an invalid order, stores every valid one exactly", async () => {
    let next = 0;
    const expected = new Map<string, Record<string, unknown> | undefined>();
    const counts = { valid: 0, invalid: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(shape, { minLength: 10, maxLength: 10 }), async (shapes) => {
        const bodies = shapes.map((s) => {
          if (s.kind === "noise") return { body: s.body, id: undefined };
          const id = `P${next++}`;
          const payload: Record<string, unknown> = { orderId: id, ...s.fields };
          if (s.mutate) {
            if (s.mutate.length === 1) delete payload[s.mutate[0]];
            else payload[s.mutate[0]] = s.mutate[1];
          }
          // Extra keys go in as JSON text so "__proto__" is a real own key, as it would arrive.
          const json = s.extra
            ? `{${Object.entries(s.extra)
                .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)},`)
                .join("")}${JSON.stringify(payload).slice(1)}`
            : JSON.stringify(payload);
          return {
            body: s.envelope ? snsEnvelope(json) : json,
            id: typeof payload.orderId === "string" ? payload.orderId : undefined,
          };
        });
        const records = bodies.map(({ body }) => sqsRecord(body));
        const { result } = await capturingLogs(() => local.handler({ Records: records }));
        const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
        records.forEach((record, i) => {
          const raw = (() => {
            try {
              const parsed = JSON.parse(record.body);
              return parsed && parsed.Type === "Notification" && typeof parsed.Message === "string"
                ? JSON.parse(parsed.Message)
                : parsed;
            } catch {
              return undefined;
            }
          })();
          const valid = oracle(raw);
          valid ? counts.valid++ : counts.invalid++;
          if (bodies[i].id !== undefined) expected.set(bodies[i].id!, valid);
          expect({ body: record.body, failed: failed.has(record.messageId) }).toEqual({
            body: record.body,
            failed: valid === undefined,
          });
        });
      }),
      { numRuns: RUNS, seed: Number(process.env.PROPERTY_SEED ?? 20251126) },
    );
    const stored = new Map((await local.items()).map((item) => [item.orderId as string, item]));
    for (const [id, valid] of expected) {
      if (valid) expect(stored.get(id)).toEqual(valid);
      else expect({ id, stored: stored.get(id) }).toEqual({ id, stored: undefined });
    }
    expect(counts.valid + counts.invalid).toBe(RUNS * 10);
    // Both sides of the property were exercised in earnest.
    expect(counts.valid).toBeGreaterThan(RUNS * 3);
    expect(counts.invalid).toBeGreaterThan(RUNS * 3);
  });
});
