/**
 * The console's chart data (`offline/console/series.ts`): per second, orders in (the topics' own count),
 * out (processed or dead-lettered) and the publish-to-stored latency of the orders stored in it, measured
 * from each message's SentTimestamp; only the last minutes kept.
 */
import { Series } from "../../offline/console/series";

const T0 = Date.UTC(2026, 11, 3, 9, 0, 0);

describe("the console's chart series", () => {
  let published = 0;
  let series: Series;
  beforeEach(() => {
    published = 0;
    series = new Series(
      () => published,
      600,
      () => T0 + 5_000,
    );
  });

  const receive = (at: number, messageId: string, sentAt: number) =>
    series.record(at, { type: "received", queue: "Q", messageId, receiveCount: 1, sentAt });
  const stored = (at: number, messageId: string) => {
    series.record(at, { type: "outcome", outcome: "stored", messageId });
    series.record(at + 1, { type: "deleted", queue: "Q", messageId });
  };

  test("in, out and the median and slowest publish-to-stored latency of each second", () => {
    published = 3; // three publishes before the first event: counted in the second of that event
    receive(T0 + 10, "m1", T0);
    receive(T0 + 20, "m2", T0 + 5);
    receive(T0 + 30, "m3", T0 + 6);
    stored(T0 + 110, "m1");
    stored(T0 + 320, "m2");
    stored(T0 + 1_050, "m3");
    series.record(T0 + 1_100, {
      type: "dead-lettered",
      queue: "Q",
      target: "DLQ",
      messageId: "m4",
    });
    const points = series.points(T0);
    expect(points).toEqual([
      { at: T0, in: 3, out: 2, latency: { median: 110, max: 315, count: 2 } },
      { at: T0 + 1_000, in: 0, out: 2, latency: { median: 1_044, max: 1_044, count: 1 } },
    ]);
  });

  test("an order stored but never seen received (before the console started) has no latency", () => {
    stored(T0 + 100, "unknown");
    expect(series.points(T0)[0]).toEqual({ at: T0, in: 0, out: 1 });
  });

  test("only the last minutes are kept, and from a time on", () => {
    const short = new Series(
      () => published,
      60,
      () => T0 + 119_500,
    );
    for (let s = 0; s < 120; s++) short.record(T0 + s * 1000, { type: "deleted", queue: "Q", messageId: `m${s}` });
    const kept = short.points(T0);
    expect(kept.map((p) => p.at)).toEqual(Array.from({ length: 60 }, (_, i) => T0 + (60 + i) * 1000));
    expect(short.points(T0 + 118_000)).toHaveLength(2);
  });
});
