/**
 * The open pages' feed: what the source tells (the kinds of event, the orders whose journey changed, the
 * newest log lines) is gathered, then sent with the counts and the chart's newest points as one `batch`
 * event at most every 250 ms, and only when something happened: an idle server does nothing for an open
 * page, and a busy one writes four messages a second, not one per event. The tables' items are counted
 * again only after an outcome, at most once a second, and the counting (a scan that reads every item) is
 * kept to a hundredth of the time: a table of 50,000 items is counted about once a minute while orders flow.
 */
import type * as http from "node:http";
import type { Batch, LogLine } from "./api";
import type { ConsoleSource, SourceChange } from "./source";

/** The most log lines one batch carries (a page shows the newest; the count of the others is sent). */
const LINES_PER_BATCH = 20;
/** The most order ids one batch names (the orders whose journey changed: an open journey refreshes). */
const ORDERS_PER_BATCH = 500;
/** How often a batch may go out, and how often the tables' items may be counted again. */
const BATCH_MS = 250;
const ITEMS_MS = 1000;
/** The least time between two item counts, as a multiple of how long the last one took. */
const ITEMS_COST_FACTOR = 100;

/** What happened since the last batch. */
class Gathered {
  readonly orders = new Set<string>();
  readonly happened = new Set<string>();
  lines: LogLine[] = [];
  skippedLines = 0;

  add(change: SourceChange): void {
    if (change.kind === "line") {
      this.lines.push(change.line);
      if (this.lines.length > LINES_PER_BATCH * 2) {
        this.skippedLines += this.lines.length - LINES_PER_BATCH;
        this.lines = this.lines.slice(-LINES_PER_BATCH);
      }
      return;
    }
    this.happened.add(change.type);
    for (const order of change.orders) if (this.orders.size < ORDERS_PER_BATCH) this.orders.add(order);
  }

  toJSON(): Omit<Batch, "counts" | "points"> {
    return {
      orders: [...this.orders],
      happened: [...this.happened],
      lines: this.lines.slice(-LINES_PER_BATCH),
      skippedLines: this.skippedLines + Math.max(0, this.lines.length - LINES_PER_BATCH),
    };
  }
}

export function liveFeed(source: ConsoleSource, streams: Set<http.ServerResponse>) {
  let dirty = true;
  let busy = false;
  let timer: NodeJS.Timeout | undefined;
  let gathered = new Gathered();
  let itemsChanged = true;
  let itemsCountedAt = 0;
  let itemsWait = ITEMS_MS;
  let sentUpTo = Date.now() - 1000; // a page reads the points before this from the state route
  const wake = () => {
    dirty = true;
    if (streams.size === 0 || timer) return;
    timer = setInterval(() => void tick(), BATCH_MS);
    // After a quiet spell the first batch goes out at once (50 ms gathers the burst: a publish is stored in
    // about 20 ms), so an order published from the page shows stored without waiting for the interval.
    setTimeout(() => void tick(), 50);
  };
  const unsubscribe = source.subscribe((change) => {
    if (streams.size === 0) return;
    gathered.add(change);
    if (change.kind === "event" && change.type === "outcome") itemsChanged = true;
    wake();
  });
  const tick = async () => {
    if (streams.size === 0 || (!dirty && !busy)) {
      clearInterval(timer);
      timer = undefined;
      return;
    }
    if (!dirty || busy) return;
    dirty = false;
    busy = true;
    try {
      const countItems = itemsChanged && Date.now() - itemsCountedAt >= itemsWait;
      if (countItems) [itemsChanged, itemsCountedAt] = [false, Date.now()];
      else if (itemsChanged) dirty = true; // counted at a later tick
      const counts = await source.counts(countItems);
      if (countItems) itemsWait = Math.max(ITEMS_MS, ITEMS_COST_FACTOR * (Date.now() - itemsCountedAt));
      // The points of the last second sent (it may have grown since) and of every second after it.
      const points = await source.points(sentUpTo);
      sentUpTo = points.length ? points[points.length - 1].at : sentUpTo;
      const batch: Batch = { counts, points, ...gathered.toJSON() };
      gathered = new Gathered();
      const message = `event: batch\ndata: ${JSON.stringify(batch)}\n\n`;
      for (const response of streams) response.write(message);
    } catch {
      dirty = true; // the engines are stopping: try again next time
    } finally {
      busy = false;
    }
  };
  return { wake, stop: () => (clearInterval(timer), unsubscribe()) };
}
