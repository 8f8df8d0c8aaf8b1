/**
 * The console's chart over the last minutes, one point per second the run was busy, kept from the event
 * stream (`record` subscribes): orders in (messages a topic accepted, from any client), out (messages
 * processed, or moved to a dead-letter queue), and the end-to-end latency of the messages processed in that
 * second, from when the message entered its queue (its SentTimestamp: the publish, for a topic's subscriber;
 * the move, for a redriven one) to its delete after the function succeeded. Kept on the server, so a page
 * opened later sees the minutes before it; changed only by events, so an idle run costs nothing.
 */
import type { PipelineEvent } from "./events";

export interface SeriesPoint {
  /** The second's start, in ms since the epoch. */
  readonly at: number;
  readonly in: number;
  readonly out: number;
  /** Publish to processed, ms, over the messages processed in this second: the median and the slowest. */
  readonly latency?: { readonly median: number; readonly max: number; readonly count: number };
}

interface Bucket {
  second: number;
  in: number;
  out: number;
  latencies: number[];
}

/** A bucket keeps at most this many latencies (a sample of a busier second). */
const LATENCIES_PER_SECOND = 1000;

export class Series {
  private readonly buckets: Bucket[] = [];

  constructor(
    private readonly keepSeconds = 600,
    private readonly now: () => number = Date.now,
  ) {}

  /** A subscriber of the event stream. */
  readonly record = (event: PipelineEvent, at = this.now()): void => {
    if (event.type === "published") this.bucketAt(at).in += 1;
    else if (event.type === "dead-lettered") this.bucketAt(at).out += 1;
    else if (event.type === "deleted") {
      const bucket = this.bucketAt(at);
      bucket.out += 1;
      if (event.sentAt !== undefined && bucket.latencies.length < LATENCIES_PER_SECOND)
        bucket.latencies.push(Math.max(0, at - event.sentAt));
    }
  };

  /** The points from `since` (ms) on, oldest first. */
  points(since = 0): SeriesPoint[] {
    return this.buckets.filter((b) => b.second * 1000 >= since).map(pointOf);
  }

  /** The bucket of `at`'s second (a new one when the second changes). */
  private bucketAt(at: number): Bucket {
    const second = Math.floor(at / 1000);
    let bucket = this.buckets[this.buckets.length - 1];
    if (!bucket || bucket.second < second) {
      bucket = { second, in: 0, out: 0, latencies: [] };
      this.buckets.push(bucket);
      while (this.buckets[0].second <= second - this.keepSeconds) this.buckets.shift();
    }
    return bucket;
  }
}

function pointOf(bucket: Bucket): SeriesPoint {
  const point = { at: bucket.second * 1000, in: bucket.in, out: bucket.out };
  if (bucket.latencies.length === 0) return point;
  const sorted = [...bucket.latencies].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  return { ...point, latency: { median, max: sorted[sorted.length - 1], count: sorted.length } };
}
