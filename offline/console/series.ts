/**
 * The console's chart over the last minutes, one point per second the run was busy: orders in (messages a
 * topic accepted, from any client), out (messages processed, or moved to a dead-letter queue), and the
 * end-to-end latency of the orders stored in that second, from when SNS put the message in the queue (its
 * SentTimestamp: the publish, for a topic's subscriber; the move, for a redriven message) to the function's
 * `stored` line. Kept on the server from the run's events, so a page opened later sees the minutes before
 * it; updated only by events, so an idle run costs nothing.
 */
import type { PipelineEvent } from "../runtime/trace";

export interface SeriesPoint {
  /** The second's start, in ms since the epoch. */
  readonly at: number;
  readonly in: number;
  readonly out: number;
  /** Publish to stored, ms, over the orders stored in this second: the median and the slowest. */
  readonly latency?: { readonly median: number; readonly max: number; readonly count: number };
}

interface Bucket {
  second: number;
  in: number;
  out: number;
  latencies: number[];
}

/** Received messages whose SentTimestamp is kept until they settle (the oldest are forgotten first). */
const MAX_PENDING = 20_000;
/** A bucket keeps at most this many latencies (a sample of a busier second). */
const LATENCIES_PER_SECOND = 1000;

export class Series {
  private readonly buckets: Bucket[] = [];
  /** Messages received and not yet settled: when each entered its queue. */
  private readonly sentAt = new Map<string, number>();
  private lastPublished: number;

  /** `published`: how many messages the topics have accepted so far (the run's own count). */
  constructor(
    private readonly published: () => number,
    private readonly keepSeconds = 600,
    private readonly now: () => number = Date.now,
  ) {
    this.lastPublished = published();
  }

  record(at: number, event: PipelineEvent): void {
    const bucket = this.bucketAt(at);
    if (event.type === "received" && event.sentAt) {
      this.sentAt.set(event.messageId, event.sentAt);
      if (this.sentAt.size > MAX_PENDING) this.sentAt.delete(this.sentAt.keys().next().value!);
    } else if (event.type === "outcome" && event.outcome === "stored" && event.messageId) {
      const sent = this.sentAt.get(event.messageId);
      if (sent !== undefined && bucket.latencies.length < LATENCIES_PER_SECOND) bucket.latencies.push(at - sent);
    } else if (event.type === "deleted" || event.type === "dead-lettered") {
      bucket.out += 1;
      this.sentAt.delete(event.messageId);
    }
  }

  /** The points from `since` (ms) on, oldest first. */
  points(since = 0): SeriesPoint[] {
    if (this.published() !== this.lastPublished) this.bucketAt(this.now()); // publishes since the last event
    return this.buckets.filter((b) => b.second * 1000 >= since).map(pointOf);
  }

  /** The bucket of `at`'s second (a new one when the second changes), with the publishes since the last call. */
  private bucketAt(at: number): Bucket {
    const second = Math.floor(at / 1000);
    let bucket = this.buckets[this.buckets.length - 1];
    if (!bucket || bucket.second < second) {
      bucket = { second, in: 0, out: 0, latencies: [] };
      this.buckets.push(bucket);
      while (this.buckets[0].second <= second - this.keepSeconds) this.buckets.shift();
    }
    const published = this.published();
    bucket.in += published - this.lastPublished;
    this.lastPublished = published;
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
