/**
 * What the console's API answers, typed once for the server (`console.ts`), its sources (`source.ts`) and
 * the page (`page/`), which imports these types and nothing else of the server.
 */
import type { LogLine, PipelineGraph, PipelineSummary } from "../runtime/shapes";
import type { SeriesPoint } from "../runtime/series";

export type {
  GraphEdge,
  GraphNode,
  LogLine,
  PipelineGraph,
  NodeKind,
  EdgeKind,
  PipelineSummary,
} from "../runtime/shapes";
export type { SeriesPoint } from "../runtime/series";

/** What a queue holds now. */
export interface QueueDepthView {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

/** The live counts: per queue, per topic, and the table's items (counted, not inferred). */
export interface Counts {
  readonly at: number;
  readonly queues: Readonly<Record<string, QueueDepthView>>;
  /** Messages each topic accepted in this run, by topic name. */
  readonly topics: Readonly<Record<string, number>>;
  /** Per function: its records' outcomes in this run (stored, duplicate, stale, invalid, ...), from its outcome lines. */
  readonly outcomes: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Items in each table, by name, when last counted (`itemsAt`). */
  readonly items: Readonly<Record<string, number>>;
  readonly itemsAt?: number;
  /** What the items' number is, where it is not a count of them now. */
  readonly itemsNote?: string;
  /** The run's balance over the source queues, where the source keeps one. */
  readonly balance?: PipelineSummary;
  /** What could not be read, each with what to do. */
  readonly problems?: string[];
}

export interface ConsoleState {
  readonly stack: string;
  readonly region: string;
  /** Where the console reads from, and whether it may change anything (redrive, delete, publish). */
  readonly source: {
    readonly name: string;
    readonly changes: boolean;
    /** Live: the server sends batches as things happen; else the page asks again every `refreshSeconds`. */
    readonly live: boolean;
    readonly refreshSeconds: number;
    readonly chart: { readonly stepSeconds: number; readonly windowSeconds: number };
  };
  readonly graph: PipelineGraph;
  readonly counts: Counts;
  readonly points: SeriesPoint[];
  readonly recentOrders: string[];
  readonly sampleOrder: string;
  /** The outcomes a record can have, as the function logs them (the log view filters by them). */
  readonly outcomes: readonly string[];
}

/** One step of an order's journey, worded by the source. */
export interface JourneyStep {
  readonly at: number;
  readonly label: string;
  readonly text: string;
  readonly tone?: "good" | "bad" | "warn";
  /** The message the step is about (a redrive: the new message). */
  readonly messageId?: string;
}

export interface Journey {
  readonly orderId: string;
  readonly steps: JourneyStep[];
  /** Older steps not kept. */
  readonly omitted: number;
  readonly item: Record<string, unknown> | null;
  /** What could not be read, each with what to do. */
  readonly problems?: string[];
}

/** A message in a dead-letter queue, with why it is there. */
export interface DeadLetterView {
  readonly messageId: string;
  /** Receives on its source queue before its move. */
  readonly receives: number;
  readonly sent?: number;
  readonly orderId: string | null;
  readonly kind: "order" | "not an order" | "not JSON";
  readonly body: string;
  /** The function's last failure line for it. */
  readonly cause: { readonly at: number; readonly line: string; readonly outcome?: string } | null;
}

export interface DeadLetterQueueView {
  readonly queue: string;
  readonly total: number;
  readonly messages: DeadLetterView[];
  /** What could not be read, each with what to do. */
  readonly problems?: string[];
}

export interface RedriveAnswer {
  readonly total: number;
  readonly moved: number;
  readonly refused: number;
  readonly from: string;
  readonly to: string;
  /** An SQS message-move task doing the move (its handle): `moved` is then what it had moved when asked. */
  readonly task?: string;
}

export interface DiscardAnswer {
  readonly deleted: boolean;
  readonly queue: string;
}

export interface ItemsPage {
  readonly items: Record<string, unknown>[];
  readonly more: boolean;
  readonly count?: number;
}

export interface PublishAnswer {
  readonly messageId?: string;
  readonly refused?: { readonly code?: string; readonly message: string };
  readonly orderId: string | null;
}

/** One message of the live stream: what changed since the last one (at most four a second). */
export interface Batch {
  readonly counts: Counts;
  readonly points: SeriesPoint[];
  /** The orders whose journey changed. */
  readonly orders: string[];
  /** The kinds of event that happened. */
  readonly happened: string[];
  readonly lines: LogLine[];
  readonly skippedLines: number;
}
