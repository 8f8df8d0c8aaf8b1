/**
 * What the run remembers of each message and order, kept from the event stream (`record` subscribes): each
 * order's events in order (its journey), each dead-lettered message's cause (the function's last failure
 * line for it, kept with the message while it is in the DLQ) and receives, the function's recent log
 * lines, and who is listening (the console's live feed). Bounded: the
 * newest `maxOrders` orders, each with its newest `maxSteps` events (and how many older ones were let go),
 * and the newest `maxLines` log lines are kept, so a server left running all day stays small, and an order
 * published 5,000 times has a journey of a readable size.
 */
import { orderIdOf, PipelineEvent } from "./events";
import type { LogLine } from "./shapes";

export interface JournalEntry {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly event: PipelineEvent;
  /** A move to a DLQ of a message that a redrive had sent back: the redrive did not fix it. */
  readonly again?: boolean;
}

export interface LogEntry extends LogLine {
  readonly messageId?: string;
}

/** A dead-lettered message: its last failure line, and the receives its source queue gave it. */
export interface DeadLetter {
  readonly cause?: LogEntry;
  readonly receives?: number;
}

/** One order's kept events, oldest first, and how many older ones were let go. */
interface Steps {
  readonly events: JournalEntry[];
  omitted: number;
}

/** Told of each event (with the orders whose journey it joined) and each log line. */
type Listener = (kind: "event" | "log", entry: JournalEntry | LogEntry, orders?: ReadonlySet<string>) => void;

export class Journal {
  private readonly orders = new Map<string, Steps>();
  /** The new ids of messages a redrive sent back (so a later move to a DLQ says it came again). */
  private readonly redrivenIds = new Set<string>();
  private readonly lines: LogEntry[] = [];
  /** Each message's last failure (an outcome line other than stored, or its invocation's failure), until it settles. */
  private readonly failures = new Map<string, LogEntry>();
  /** Each dead-lettered message's cause and receives, kept from its move on, whatever the log keeps. */
  private readonly deadLetters = new Map<string, DeadLetter>();
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly maxOrders = 5000,
    private readonly maxLines = 2000,
    private readonly maxSteps = 200,
    private readonly maxCauses = 10_000,
  ) {}

  /** A subscriber of the event stream. */
  readonly record = (event: PipelineEvent): void => {
    if (event.type === "log" || event.type === "outcome") return this.recordLine(event);
    if (event.type === "code-updated")
      this.recordLine({ type: "log", function: event.function, line: `code updated: version ${event.version}` });
    const again = event.type === "dead-lettered" && this.redrivenIds.has(event.messageId);
    const entry = again ? { at: Date.now(), event, again } : { at: Date.now(), event };
    if (event.type === "redriven") remember(this.redrivenIds, event.messageId, this.maxCauses);
    if (event.type === "invocation-failed") this.failedInvocation(event);
    if (event.type === "deleted") this.failures.delete(event.messageId);
    if (event.type === "dead-lettered") this.keepDeadLetter(event);
    if (event.type === "redriven" && event.previousMessageId) this.deadLetters.delete(event.previousMessageId);
    if (event.type === "discarded") this.deadLetters.delete(event.messageId);
    const orders = new Set<string>(event.type === "invoked" ? event.orderIds : []);
    const orderId = orderOf(event);
    if (orderId) orders.add(orderId);
    for (const order of orders) this.append(order, entry);
    this.listeners.forEach((listener) => listener("event", entry, orders));
  };

  private append(orderId: string, entry: JournalEntry): void {
    const steps = this.orders.get(orderId) ?? { events: [], omitted: 0 };
    this.orders.delete(orderId); // the newest orders last, so the oldest go first
    this.orders.set(orderId, steps);
    steps.events.push(entry);
    // Let the oldest half go at once, so that keeping the newest costs no copy per event.
    if (steps.events.length > this.maxSteps * 1.5) {
      const over = steps.events.length - this.maxSteps;
      steps.events.splice(0, over);
      steps.omitted += over;
    }
    while (this.orders.size > this.maxOrders) this.orders.delete(this.orders.keys().next().value!);
  }

  private recordLine(event: Extract<PipelineEvent, { type: "log" | "outcome" }>): void {
    if (event.type === "log" && event.metrics) return; // embedded metrics, not a line a person reads
    const outcome = event.type === "outcome" ? event : undefined;
    const entry: LogEntry = {
      at: Date.now(),
      fn: event.function,
      line: event.line,
      level: event.level,
      outcome: outcome?.outcome,
      orderId: event.orderId,
      messageId: outcome?.messageId,
    };
    this.lines.push(entry);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    if (outcome?.messageId && outcome.outcome !== "stored")
      remember(this.failures, outcome.messageId, this.maxCauses, entry);
    this.listeners.forEach((listener) => listener("log", entry));
    if (!outcome) return;
    // An outcome line is also a step of its order's journey.
    const step = { at: entry.at, event: outcome };
    if (outcome.orderId) this.append(outcome.orderId, step);
    const orders = new Set(outcome.orderId ? [outcome.orderId] : []);
    this.listeners.forEach((listener) => listener("event", step, orders));
  }

  /** A whole invocation failed (a timeout, a throw): that is the last failure of each of its messages. */
  private failedInvocation(event: Extract<PipelineEvent, { type: "invocation-failed" }>): void {
    const entry: LogEntry = {
      at: Date.now(),
      fn: event.function,
      line: event.reason,
      level: "ERROR",
      outcome: "failed",
    };
    for (const messageId of event.messageIds) remember(this.failures, messageId, this.maxCauses, entry);
  }

  /** An order's newest `maxSteps` events in order, how many older ones were let go, and its log lines. */
  journey(orderId: string): { events: JournalEntry[]; omitted: number; lines: LogEntry[] } {
    const steps = this.orders.get(orderId) ?? { events: [], omitted: 0 };
    const over = Math.max(0, steps.events.length - this.maxSteps);
    return {
      events: steps.events.slice(over),
      omitted: steps.omitted + over,
      lines: this.lines.filter((entry) => entry.orderId === orderId).slice(-this.maxSteps),
    };
  }

  /** The last log line of an order with an outcome other than stored, among the lines kept. */
  private lastFailureOf(orderId: string): LogEntry | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const entry = this.lines[i];
      if (entry.orderId === orderId && entry.outcome && entry.outcome !== "stored") return entry;
    }
    return undefined;
  }

  /** At its move to a DLQ, a message's last failure and receives are kept with it (the oldest let go past `maxCauses`). */
  private keepDeadLetter(event: Extract<PipelineEvent, { type: "dead-lettered" }>): void {
    const cause = this.failures.get(event.messageId);
    this.failures.delete(event.messageId);
    remember(this.deadLetters, event.messageId, this.maxCauses, { cause, receives: event.receives });
  }

  /**
   * What is known of a dead-lettered message: why it failed (kept at its move; for one moved before this
   * run, its order's last failure still logged) and how many receives its source queue gave it.
   */
  deadLetter(messageId: string, orderId?: string): DeadLetter {
    const kept = this.deadLetters.get(messageId);
    return { cause: kept?.cause ?? (orderId ? this.lastFailureOf(orderId) : undefined), receives: kept?.receives };
  }

  recentLines(): readonly LogEntry[] {
    return this.lines;
  }

  /** The newest order ids, newest first. */
  recentOrders(limit = 50): string[] {
    return [...this.orders.keys()].slice(-limit).reverse();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The order an event is about, as the event names it (a move to a DLQ: read from its body). */
function orderOf(event: PipelineEvent): string | undefined {
  const named = "orderId" in event ? event.orderId : undefined;
  const body = event.type === "dead-lettered" ? event.body : undefined;
  return named || (body && orderIdOf(body)) || undefined;
}

/** Sets a key of a bounded map (or set), the oldest key let go past `max`. */
function remember<K, V>(store: Map<K, V> | Set<K>, key: K, max: number, value?: V): void {
  store.delete(key);
  if (store instanceof Set) store.add(key);
  else store.set(key, value as V);
  if (store.size > max) store.delete(store.keys().next().value!);
}
