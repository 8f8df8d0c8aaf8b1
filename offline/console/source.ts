/**
 * The console's one seam: everything the console server shows or does goes through a `ConsoleSource`. The
 * local run is its first implementation (`serving/local-source.ts`); a deployed stack's, on the AWS APIs,
 * is the next. Nothing in `console/` reaches an engine or the runtime's internals.
 */
import { orderIdOf } from "../runtime/events";
import type {
  Counts,
  DeadLetterQueueView,
  DeadLetterView,
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
  /** Whether the source tells of changes as they happen (`subscribe`); a page asks again when not. */
  readonly live: boolean;
  /** The chart's step and window. */
  readonly chart: { readonly stepSeconds: number; readonly windowSeconds: number };
  readonly stack: string;
  readonly region: string;
  /** The record outcomes the function logs. */
  readonly outcomes: readonly string[];
  graph(): PipelineGraph;
  /** The live counts; the tables' items are counted again only when `countItems`. */
  counts(countItems: boolean): Promise<Counts>;
  /** The chart's points from `since` (ms) on. */
  points(since?: number): Promise<SeriesPoint[]>;
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

/** A dead-letter queue's message as the view shows it: what its body is, and the cause given. */
export function deadLetterOf(
  message: { messageId: string; body: string; receives: number; sent?: number },
  cause: { at: number; line: string; outcome?: string } | undefined,
): DeadLetterView {
  const orderId = orderIdOf(message.body);
  let kind: DeadLetterView["kind"] = "order";
  try {
    const parsed = JSON.parse(message.body);
    if (!parsed || typeof parsed !== "object" || orderId === undefined) kind = "not an order";
  } catch {
    kind = "not JSON";
  }
  return {
    messageId: message.messageId,
    receives: message.receives,
    sent: message.sent,
    orderId: orderId ?? null,
    kind,
    body: message.body.slice(0, 2000),
    cause: cause ? { at: cause.at, line: cause.line, outcome: cause.outcome } : null,
  };
}
