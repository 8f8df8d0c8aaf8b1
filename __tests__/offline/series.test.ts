/**
 * The console's chart data (`offline/runtime/series.ts`), a subscriber of the run's event stream: per
 * second, orders in (publishes the engine accepted), out (processed or dead-lettered) and the latency from
 * each message's entry into its queue (its SentTimestamp) to its delete; only the last minutes kept.
 */
import { Series } from "../../offline/runtime/series";

const T0 = Date.UTC(2026, 11, 3, 9, 0, 0);

describe("the console's chart series", () => {
  let series: Series;
  beforeEach(() => {
    series = new Series(600, () => T0 + 5_000);
  });

  const publish = (at: number, messageId: string) =>
    series.record({ type: "published", topic: "T", queues: ["Q"], messageId }, at);
  const processed = (at: number, messageId: string, sentAt?: number) =>
    series.record({ type: "deleted", queue: "Q", messageId, sentAt }, at);

  test("in, out and the median and slowest publish-to-processed latency of each second", () => {
    publish(T0, "m1");
    publish(T0 + 5, "m2");
    publish(T0 + 6, "m3");
    processed(T0 + 110, "m1", T0);
    processed(T0 + 320, "m2", T0 + 5);
    processed(T0 + 1_050, "m3", T0 + 6);
    series.record({ type: "dead-lettered", queue: "Q", target: "DLQ", messageId: "m4" }, T0 + 1_100);
    expect(series.points(T0)).toEqual([
      { at: T0, in: 3, out: 2, latency: { median: 110, max: 315, count: 2 } },
      { at: T0 + 1_000, in: 0, out: 2, latency: { median: 1_044, max: 1_044, count: 1 } },
    ]);
  });

  test("a message processed without a SentTimestamp counts out, with no latency", () => {
    processed(T0 + 100, "unknown");
    expect(series.points(T0)[0]).toEqual({ at: T0, in: 0, out: 1 });
  });

  test("only the last minutes are kept, and from a time on", () => {
    const short = new Series(60, () => T0 + 119_500);
    for (let s = 0; s < 120; s++) short.record({ type: "deleted", queue: "Q", messageId: `m${s}` }, T0 + s * 1000);
    const kept = short.points(T0);
    expect(kept.map((p) => p.at)).toEqual(Array.from({ length: 60 }, (_, i) => T0 + (60 + i) * 1000));
    expect(short.points(T0 + 118_000)).toHaveLength(2);
  });
});
