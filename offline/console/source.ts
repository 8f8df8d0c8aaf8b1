/**
 * The console's one seam: everything the console server shows or does goes through a `ConsoleSource`. The
 * local run is its first implementation (`serving/local-source.ts`); a deployed stack's, on the AWS APIs,
 * is the next. Nothing in `console/` reaches an engine or the runtime's internals.
 */
import type {
  Counts,
  DeadLetterQueueView,
  DiscardAnswer,
  ItemsPage,
  Journey,
  LogLine,
  PipelineGraph,
  PublishAnswer,
  RedriveAnswer,
  SeriesPoint,
} from "./api";

/** What the source tells the live feed: an event (its kind, the orders whose journey it joined) or a log line. */
export type SourceChange =
  | { readonly kind: "event"; readonly type: string; readonly orders: ReadonlySet<string> }
  | { readonly kind: "line"; readonly line: LogLine };

export interface ConsoleSource {
  /** What the page calls the source ("local run", "deployed stack"), and whether it may change anything. */
  readonly name: string;
  readonly allowChanges: boolean;
  readonly stack: string;
  readonly region: string;
  /** The record outcomes the function logs. */
  readonly outcomes: readonly string[];
  graph(): PipelineGraph;
  /** The live counts; the tables' items are counted again only when `countItems`. */
  counts(countItems: boolean): Promise<Counts>;
  /** The chart's points from `since` (ms) on. */
  points(since?: number): SeriesPoint[];
  recentOrders(): string[];
  journey(orderId: string): Promise<Journey>;
  /** Each dead-letter queue's messages, looked at without receiving them where the source can. */
  deadLetters(): Promise<DeadLetterQueueView[]>;
  redrive(queue: string, messageId?: string): Promise<RedriveAnswer>;
  discard(queue: string, messageId: string): Promise<DiscardAnswer>;
  items(limit: number, count: boolean): Promise<ItemsPage>;
  item(orderId: string): Promise<Record<string, unknown> | null>;
  logTail(limit: number): Promise<LogLine[]>;
  publish(body: string): Promise<PublishAnswer>;
  sampleOrder(): string;
  /** Told of each change; returns the unsubscribe. */
  subscribe(listener: (change: SourceChange) => void): () => void;
  close(): void;
}
