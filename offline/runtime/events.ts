/**
 * The run's one stream of events: what happened to each message, said once, where it happened. Engine
 * facts come from the engine (a publish it accepted, from any client; a move to a DLQ, with the receives
 * it counted); function facts from the Lambda service (a receive, an invocation, each line the function
 * logs, a delete, a retry); operator facts from the runtime's own actions (a redrive, a discard, new code).
 * Accounting, the trace, the journal, the series, the log files and the console all subscribe; none is
 * called by name from a producer.
 */

export type PipelineEvent =
  /** A topic accepted a message (from any client); `queues` are its subscribers' queues. */
  | { type: "published"; topic: string; queues: string[]; messageId: string; orderId?: string }
  /** SNS refused a body this runtime published (too large, ...). */
  | { type: "rejected"; topic: string; reason: string; bytes: number; orderId?: string }
  | {
      type: "received";
      queue: string;
      messageId: string;
      receiveCount: number;
      /** When the message entered the queue (its SentTimestamp, ms since the epoch). */
      sentAt?: number;
      orderId?: string;
    }
  | {
      type: "invoked";
      function: string;
      records: number;
      /** The execution environment's number, and whether this invocation is its first (a cold start). */
      environment: number;
      cold: boolean;
      messageIds: string[];
      orderIds: string[];
    }
  /** One line the function logged: its per-record outcome line (stored, invalid, ...). */
  | {
      type: "outcome";
      function: string;
      outcome: string;
      line: string;
      level?: string;
      messageId?: string;
      orderId?: string;
      reason?: string;
    }
  /** Any other line the function logged; `metrics` for an embedded-metric (`_aws`) line. */
  | { type: "log"; function: string; line: string; level?: string; orderId?: string; metrics?: boolean }
  /** Deleted from its queue after the function succeeded with it; `sentAt` as when it was received. */
  | { type: "deleted"; queue: string; messageId: string; orderId?: string; sentAt?: number }
  /** Failed: left in the queue, visible again after the (scaled) visibility timeout. */
  | { type: "returned"; queue: string; messageId: string; visibleInMs: number; orderId?: string }
  | { type: "invocation-failed"; function: string; reason: string; records: number; messageIds: string[] }
  | {
      type: "dead-lettered";
      queue: string;
      target: string;
      messageId: string;
      /** Receives the message was delivered in before the engine moved it (its own count). */
      receives?: number;
      orderId?: string;
      body?: string;
    }
  /** Moved from a DLQ back to its source queue, as a new message (`messageId`). */
  | { type: "redriven"; from: string; to: string; messageId: string; previousMessageId?: string; orderId?: string }
  /** Deleted from a dead-letter queue by hand (the console), not redriven. */
  | { type: "discarded"; queue: string; messageId: string; orderId?: string }
  /** `--watch`: the function runs new code from its next invocation on. */
  | { type: "code-updated"; function: string; version: number; buildMs: number }
  /** Something the runtime itself ran into (an engine refused a call), not the function's log. */
  | { type: "warning"; message: string };

export type EventListener = (event: PipelineEvent) => void;

/** The stream: producers `emit`, subscribers `subscribe`, in the order they subscribed. */
export class EventStream {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readonly emit = (event: PipelineEvent): void => {
    for (const listener of this.listeners) listener(event);
  };
}

export type Emit = (event: PipelineEvent) => void;

/** The order id in a message body (raw, or inside an SNS envelope); undefined if there is none. */
export function orderIdOf(body: string): string | undefined {
  try {
    let parsed = JSON.parse(body);
    if (parsed?.Type === "Notification" && typeof parsed.Message === "string") parsed = JSON.parse(parsed.Message);
    return typeof parsed?.orderId === "string" ? parsed.orderId.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

/** A line the function logged, as an event: its JSON outcome line (as Logs Insights reads it), or a log line. */
export function functionLineEvent(fn: string, line: string): PipelineEvent {
  let entry: Record<string, unknown> | undefined;
  try {
    entry = JSON.parse(line);
  } catch {
    entry = undefined;
  }
  if (!entry || typeof entry !== "object") return { type: "log", function: fn, line };
  const text = (key: string) => (typeof entry[key] === "string" ? (entry[key] as string) : undefined);
  if (typeof entry.outcome === "string")
    return {
      type: "outcome",
      function: fn,
      outcome: entry.outcome,
      line,
      level: text("level"),
      messageId: text("messageId"),
      orderId: text("orderId"),
      reason: text("reason"),
    };
  if ("_aws" in entry) return { type: "log", function: fn, line, metrics: true };
  return { type: "log", function: fn, line, level: text("level"), orderId: text("orderId") };
}
