import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { capturingLogs, Handler, loadBuiltHandler, saveEnv, useHandlerWithTable } from "../support/handler";
import { order, SAMPLE_ORDER, snsEnvelope, sqsEvent, sqsRecord } from "../support/orders";
import { only, synthOrderStack, testConfig } from "../support/stacks";

const body = (o: unknown) => JSON.stringify(o);
const failedIds = (response: { batchItemFailures: { itemIdentifier: string }[] }) =>
  response.batchItemFailures.map((f) => f.itemIdentifier).sort();

test("these tests run on the Node.js major of the function's runtime in the synthesized stack", () => {
  const runtime: string = only(synthOrderStack(testConfig("dev")), "aws_lambda_function").body.runtime;
  const lambdaMajor = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  expect({ runtime, major: process.versions.node.split(".")[0] }).toEqual({ runtime, major: lambdaMajor });
});

describe("the built order processor against dynalite", () => {
  const local = useHandlerWithTable();
  const run = (event: Parameters<Handler>[0]) => capturingLogs(() => local.handler(event));
  const items = () => local.items();
  const stored = async (orderId: string) => (await items()).find((item) => item.orderId === orderId);

  test("stores the sample order from an SNS envelope, with its JSON types", async () => {
    // Prepare
    const event = sqsEvent([snsEnvelope(body(SAMPLE_ORDER))]);
    // Act
    const { result, lines } = await run(event);
    // Assess
    expect(result.batchItemFailures).toEqual([]);
    // Exactly the validated fields, with their JSON types: nothing else is stored.
    expect(await stored("O9876")).toEqual(SAMPLE_ORDER);
    expect(lines.find((l) => l.message === "order stored")).toMatchObject({
      outcome: "stored",
      orderId: "O9876",
      messageId: event.Records[0].messageId,
    });
  });

  test("stores a raw-delivery order, dropping unknown fields", async () => {
    await run(sqsEvent([body(order({ orderId: "RAW1", coupon: "FREE" }))]));
    expect(await stored("RAW1")).toEqual({ ...SAMPLE_ORDER, orderId: "RAW1" });
  });

  test("a mixed batch of 10 fails exactly its bad records", async () => {
    const good = Array.from({ length: 6 }, (_, i) => body(order({ orderId: `MIX${i}` })));
    const bad = [
      "not json",
      body(order({ orderId: "MIXBAD1", quantity: 0 })),
      body(order({ orderId: "MIXBAD2", status: "lost" })),
      snsEnvelope("{}"),
    ];
    const event = sqsEvent([...good.slice(0, 3), bad[0], bad[1], ...good.slice(3), bad[2], bad[3]]);
    const { result, lines } = await run(event);
    const badIds = event.Records.filter((r) => bad.includes(r.body))
      .map((r) => r.messageId)
      .sort();
    expect(failedIds(result)).toEqual(badIds);
    expect(
      (await items())
        .filter((i) => String(i.orderId).startsWith("MIX"))
        .map((i) => i.orderId)
        .sort(),
    ).toEqual(["MIX0", "MIX1", "MIX2", "MIX3", "MIX4", "MIX5"]);
    const invalid = lines.filter((l) => l.outcome === "invalid");
    expect(invalid).toHaveLength(4);
    for (const line of invalid) expect(line.reason).toMatch(/\S/);
    // Logs carry identifiers and reasons, never the payload.
    expect(lines.map((l) => JSON.stringify(l)).join("\n")).not.toContain("Tablet");
    const metrics = lines.find((l) => l._aws)!;
    expect(metrics).toMatchObject({ stored: 6, invalid: 4, failed: 0, duplicate: 0, stale: 0, conflict: 0 });
    expect(metrics._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).toEqual([
      "stored",
      "duplicate",
      "stale",
      "conflict",
      "repaired",
      "invalid",
      "failed",
    ]);
  });

  test("duplicates within and across batches leave one item and succeed", async () => {
    const dup = body(order({ orderId: "DUP1" }));
    const first = await run(sqsEvent([dup, dup, dup]));
    const second = await run(sqsEvent([dup]));
    expect(first.result.batchItemFailures).toEqual([]);
    expect(second.result.batchItemFailures).toEqual([]);
    expect((await items()).filter((i) => i.orderId === "DUP1")).toHaveLength(1);
    expect(
      [...first.lines, ...second.lines]
        .filter((l) => l.orderId === "DUP1")
        .map((l) => l.outcome)
        .sort(),
    ).toEqual(["duplicate", "duplicate", "duplicate", "stored"]);
  });

  test("an older message after a newer one keeps the newer state", async () => {
    await run(sqsEvent([body(order({ orderId: "ORD1", status: "shipped", timestamp: "2025-05-10T10:00:00Z" }))]));
    const { result, lines } = await run(
      sqsEvent([body(order({ orderId: "ORD1", status: "paid", timestamp: "2025-05-09T10:00:00Z" }))]),
    );
    expect(result.batchItemFailures).toEqual([]);
    expect(lines[0].outcome).toBe("stale");
    expect(await stored("ORD1")).toMatchObject({ status: "shipped", timestamp: "2025-05-10T10:00:00Z" });
  });

  test("a newer message replaces the stored order, comparing instants across offsets", async () => {
    await run(sqsEvent([body(order({ orderId: "ORD2", status: "paid", timestamp: "2025-05-09T14:40:00Z" }))]));
    // 10:00 at UTC-05:00 is 15:00Z: newer, although the string sorts first.
    await run(sqsEvent([body(order({ orderId: "ORD2", status: "shipped", timestamp: "2025-05-09T10:00:00-05:00" }))]));
    expect(await stored("ORD2")).toMatchObject({ status: "shipped", timestamp: "2025-05-09T10:00:00-05:00" });
    // 16:00 at UTC+02:00 is 14:00Z: older, although the string sorts last.
    const { lines } = await run(
      sqsEvent([body(order({ orderId: "ORD2", status: "cancelled", timestamp: "2025-05-09T16:00:00+02:00" }))]),
    );
    expect(lines[0].outcome).toBe("stale");
    expect((await stored("ORD2"))!.status).toBe("shipped");
  });

  test("newest wins when updates of one order arrive in one batch in any order", async () => {
    const updates = ["new", "paid", "shipped", "delivered"].map((status, i) =>
      body(order({ orderId: "ORD3", status, timestamp: `2025-05-0${i + 1}T00:00:00Z` })),
    );
    await run(sqsEvent([updates[2], updates[0], updates[3], updates[1]]));
    expect((await stored("ORD3"))!.status).toBe("delivered");
  });

  test("throttling and server errors on every attempt fail the records, never acknowledge them", async () => {
    local.db.setFailRate(1);
    try {
      const event = sqsEvent([body(order({ orderId: "THR1" })), body(order({ orderId: "THR2" }))]);
      const { result, lines } = await run(event);
      expect(failedIds(result)).toEqual(event.Records.map((r) => r.messageId).sort());
      expect(
        lines
          .filter((l) => l.outcome === "failed")
          .map((l) => l.reason)
          .join(" "),
      ).toMatch(/ProvisionedThroughputExceeded|InternalServerError/);
    } finally {
      local.db.setFailRate(0);
    }
    expect(await stored("THR1")).toBeUndefined();
  });

  test("a record with an invalid SQS shape fails alone", async () => {
    const event = { Records: [sqsRecord(body(order({ orderId: "OK1" }))), sqsRecord("")] };
    const { result } = await run(event);
    expect(failedIds(result)).toEqual([event.Records[1].messageId]);
  });
});

describe("the built order processor when DynamoDB is unreachable", () => {
  const restoreEnv = saveEnv();
  afterAll(restoreEnv);

  test("fails every record of the batch", async () => {
    // A port that was just free: nothing listens there.
    const server = http.createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const handler = loadBuiltHandler(`http://127.0.0.1:${port}`);
    const event = sqsEvent([body(order({ orderId: "DOWN1" })), body(order({ orderId: "DOWN2" })), "{bad"]);
    const { result, lines } = await capturingLogs(() => handler(event));
    expect(failedIds(result)).toEqual(event.Records.map((r) => r.messageId).sort());
    expect(lines.filter((l) => l.outcome === "failed")).toHaveLength(2);
    expect(lines.filter((l) => l.outcome === "invalid")).toHaveLength(1);
  });

  test("reports records still waiting at the function's deadline as failed", async () => {
    // A server that accepts and never answers: only the deadline can end the call.
    const sockets = new Set<import("node:net").Socket>();
    const server = http.createServer(() => undefined).listen(0, "127.0.0.1");
    server.on("connection", (s) => sockets.add(s));
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      const handler = loadBuiltHandler(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const event = sqsEvent([body(order({ orderId: "SLOW1" }))]);
      const started = Date.now();
      const { result } = await capturingLogs(() => handler(event, { getRemainingTimeInMillis: () => 2_500 }));
      expect(failedIds(result)).toEqual([event.Records[0].messageId]);
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});

test("a missing TABLE_NAME fails records with a message that says what to set", async () => {
  const restoreEnv = saveEnv();
  try {
    const handler = loadBuiltHandler("http://127.0.0.1:9");
    delete process.env.TABLE_NAME;
    const { result, lines } = await capturingLogs(() => handler(sqsEvent([body(SAMPLE_ORDER)])));
    expect(result.batchItemFailures).toHaveLength(1);
    expect(lines[0].reason).toMatch(/TABLE_NAME is not set/);
  } finally {
    restoreEnv();
  }
});
