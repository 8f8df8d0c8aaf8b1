import fc from "fast-check";
import { compareInstants, instantOf } from "../../lambda/order";
import { capturingLogs, useHandlerWithTable } from "../support/handler";
import { sized } from "../support/long-run";
import { order, sqsEvent } from "../support/orders";

const body = (o: unknown) => JSON.stringify(o);

describe("instants compare exactly", () => {
  test.each([
    ["2025-05-09T14:40:00Z", "1746801600"],
    ["2025-05-09T16:40:00+02:00", "1746801600"],
    ["2025-05-09T14:40:00.5Z", "1746801600.5"],
    ["2025-05-09T14:40:00.000000001Z", "1746801600.000000001"],
    ["2025-05-09T14:40:00.000000000000000000001Z", "1746801600.000000000000000000001"],
    ["1969-12-31T23:59:59.75Z", "-0.25"],
    ["1969-12-31T23:59:58.000000000000000000000001Z", "-1.999999999999999999999999"],
    ["1970-01-01T00:00:00Z", "0"],
  ])("%s is %s s after the epoch", (timestamp, expected) => {
    expect(instantOf(timestamp)).toBe(expected);
  });

  test("an offset makes a lexically smaller timestamp the later instant", () => {
    expect(compareInstants("2025-05-09T10:00:00-05:00", "2025-05-09T14:40:00Z")).toBe(1);
  });

  test("fractions differing only in the 21st or a later digit are different instants; trailing zeros are not", () => {
    expect(compareInstants("2025-05-09T10:00:00.000000000000000000001Z", "2025-05-09T10:00:00Z")).toBe(1);
    expect(compareInstants("2025-05-09T10:00:00.1000000000000000000001Z", "2025-05-09T10:00:00.1Z")).toBe(1);
    expect(compareInstants("2025-05-09T10:00:00.50000Z", "2025-05-09T12:00:00.5+02:00")).toBe(0);
  });
});

describe("versions of one order at the same instant, against dynalite", () => {
  const local = useHandlerWithTable();
  const run = (bodies: string[]) => capturingLogs(() => local.handler(sqsEvent(bodies)));
  /**
   * Delivers bodies as one batch and redelivers what the handler reported failed, as SQS does: a version
   * that lost 5 races to the others of its batch is retried, never dropped. Returns the deliveries it took.
   */
  const deliverUntilAcknowledged = async (bodies: string[]) => {
    let pending = sqsEvent(bodies).Records;
    let deliveries = 0;
    while (pending.length > 0 && deliveries < 10) {
      deliveries += 1;
      const { result } = await capturingLogs(() => local.handler({ Records: pending }));
      const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
      pending = pending.filter((record) => failed.has(record.messageId));
    }
    expect(pending).toEqual([]);
    return deliveries;
  };
  const stored = async (orderId: string) => (await local.items()).find((item) => item.orderId === orderId);

  test("new then paid in the same second stores paid, as a logged and counted conflict", async () => {
    await run([body(order({ orderId: "SAME1", status: "new", timestamp: "2025-05-09T10:00:00Z" }))]);
    const { result, lines } = await run([
      body(order({ orderId: "SAME1", status: "paid", timestamp: "2025-05-09T10:00:00Z" })),
    ]);
    expect(result.batchItemFailures).toEqual([]);
    expect(await stored("SAME1")).toMatchObject({ status: "paid" });
    expect(lines[0]).toMatchObject({ outcome: "conflict", level: "WARN", orderId: "SAME1" });
    expect(lines[0].reason).toMatch(/kept the incoming version \(status paid ranks above new\)/);
    expect(lines.find((l) => l._aws)).toMatchObject({ conflict: 1, duplicate: 0, stored: 0 });
  });

  test("paid at 12:00+02:00 after new at 10:00Z (one instant) stores paid", async () => {
    await run([body(order({ orderId: "SAME2", status: "new", timestamp: "2025-05-09T10:00:00Z" }))]);
    await run([body(order({ orderId: "SAME2", status: "paid", timestamp: "2025-05-09T12:00:00+02:00" }))]);
    expect(await stored("SAME2")).toMatchObject({ status: "paid", timestamp: "2025-05-09T12:00:00+02:00" });
  });

  test("the losing version arriving second changes nothing and is still a conflict, not a duplicate", async () => {
    await run([body(order({ orderId: "SAME3", status: "shipped", timestamp: "2025-05-09T10:00:00Z" }))]);
    const { lines } = await run([body(order({ orderId: "SAME3", status: "paid", timestamp: "2025-05-09T10:00:00Z" }))]);
    expect(lines[0].outcome).toBe("conflict");
    expect(lines[0].reason).toMatch(/kept the stored version \(status shipped ranks above paid\)/);
    expect(await stored("SAME3")).toMatchObject({ status: "shipped" });
  });

  test("a cancellation is never lost to a same-instant status change", async () => {
    await run([body(order({ orderId: "SAME4", status: "cancelled", timestamp: "2025-05-09T10:00:00Z" }))]);
    await run([body(order({ orderId: "SAME4", status: "delivered", timestamp: "2025-05-09T10:00:00Z" }))]);
    expect(await stored("SAME4")).toMatchObject({ status: "cancelled" });
  });

  test("only the same instant and the same content is a duplicate", async () => {
    const sample = body(order({ orderId: "SAME5" }));
    await run([sample]);
    const { lines } = await run([sample]);
    expect(lines[0].outcome).toBe("duplicate");
  });

  test("a timestamp later only in its 21st fraction digit replaces the stored order", async () => {
    await run([
      body(order({ orderId: "SAME6", status: "paid", timestamp: "2025-05-09T10:00:00.00000000000000000001Z" })),
    ]);
    const { lines } = await run([
      body(order({ orderId: "SAME6", status: "new", timestamp: "2025-05-09T10:00:00.000000000000000000011Z" })),
    ]);
    expect(lines[0].outcome).toBe("stored");
    expect(await stored("SAME6")).toMatchObject({ status: "new" });
  });

  // Few instants, several spellings of each (offsets, trailing zeros), so versions collide often.
  const INSTANTS = [
    ["2025-05-09T10:00:00Z", "2025-05-09T12:00:00+02:00", "2025-05-09T10:00:00.000Z"],
    ["2025-05-09T10:00:00.5Z", "2025-05-09T05:00:00.50-05:00"],
    ["2025-05-09T10:00:01Z"],
  ];
  const version = fc.record({
    timestamp: fc.constantFrom(...INSTANTS.flat()),
    status: fc.constantFrom("new", "paid", "shipped", "delivered", "cancelled"),
    quantity: fc.integer({ min: 1, max: 3 }),
    itemName: fc.constantFrom("Tablet", "Phone"),
    userId: fc.constantFrom("U1", "U2"),
  });

  test("property: any arrival order of any set of versions, one by one or in one concurrent batch, stores the same item", async () => {
    let run_ = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(version, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
        async (versions, keys) => {
          const id = `PERM${run_++}`;
          const shuffled = versions
            .map((v, i) => ({ v, k: keys[i] }))
            .sort((a, b) => a.k - b.k)
            .map(({ v }) => v);
          for (const v of versions) await run([body({ orderId: `${id}a`, ...v })]);
          await deliverUntilAcknowledged(shuffled.map((v) => body({ orderId: `${id}b`, ...v })));
          const [a, b] = [await stored(`${id}a`), await stored(`${id}b`)];
          expect({ ...b, orderId: id }).toEqual({ ...a, orderId: id });
          // The winner is one of the versions at the latest instant.
          const latest = versions.filter((v) => versions.every((w) => compareInstants(v.timestamp, w.timestamp) >= 0));
          expect(latest).toContainEqual(stripId(a));
        },
      ),
      { numRuns: sized(40, 100), seed: Number(process.env.PROPERTY_SEED ?? 20261201) },
    );
  });
});

function stripId(item: Record<string, unknown> | undefined): Record<string, unknown> {
  const { orderId: _, ...rest } = item ?? {};
  return rest;
}
