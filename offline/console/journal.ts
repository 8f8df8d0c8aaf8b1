/**
 * What the local console shows of the run's past: each order's events in order (its journey), the
 * function's recent log lines, and who is listening for new ones (the console's event stream). Bounded: the
 * newest `maxOrders` orders, each with its newest `maxSteps` events (and how many older ones were let go),
 * and the newest `maxLines` log lines are kept, so a server left running all day stays small, and an order
 * published 5,000 times has a journey of a readable size.
 */
import { orderIdOf, PipelineEvent } from "../runtime/trace";

export interface JournalEntry {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly event: PipelineEvent;
  /** A move to a DLQ of a message that a redrive had sent back: the redrive did not fix it. */
  readonly again?: boolean;
}

export interface LogEntry {
  readonly at: number;
  readonly fn: string;
  readonly line: string;
  /** Fields of a JSON line the console filters by. */
  readonly level?: string;
  readonly outcome?: string;
  readonly orderId?: string;
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
  private readonly orderOfMessage = new Map<string, string>();
  /** The new ids of messages a redrive sent back (so a later move to a DLQ says it came again). */
  private readonly redrivenIds = new Set<string>();
  private readonly lines: LogEntry[] = [];
  /**
   * Each dead-lettered message's last failure line and the receives its source queue gave it, kept from its
   * move on, whatever the log keeps.
   */
  private readonly deadLetters = new Map<string, DeadLetter>();
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly maxOrders = 5000,
    private readonly maxLines = 2000,
    private readonly maxSteps = 200,
    private readonly maxCauses = 10_000,
  ) {}

  /** The order an event is about: named in it, or known from an earlier event of the same message. */
  private orderOf(event: PipelineEvent): string | undefined {
    const named = "orderId" in event ? event.orderId : undefined;
    const messageId = "messageId" in event ? event.messageId : undefined;
    const body = event.type === "dead-lettered" ? event.body : undefined;
    const orderId = named ?? (messageId && this.orderOfMessage.get(messageId)) ?? (body && orderIdOf(body));
    if (orderId && messageId) this.orderOfMessage.set(messageId, orderId);
    return orderId || undefined;
  }

  record(event: PipelineEvent): void {
    const again = event.type === "dead-lettered" && this.redrivenIds.has(event.messageId);
    const entry = again ? { at: Date.now(), event, again } : { at: Date.now(), event };
    if (event.type === "redriven" && event.messageId) this.redrivenIds.add(event.messageId);
    const orders = new Set<string>();
    // An invocation is part of the journey of each order in its batch.
    if (event.type === "invoked" && event.messageIds)
      for (const messageId of event.messageIds) {
        const orderId = this.orderOfMessage.get(messageId);
        if (orderId) orders.add(orderId);
      }
    const orderId = this.orderOf(event);
    if (orderId) orders.add(orderId);
    if (event.type === "dead-lettered") this.keepDeadLetter(event.messageId, orderId, event.receives);
    for (const order of orders) this.append(order, entry);
    this.listeners.forEach((listener) => listener("event", entry, orders));
  }

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
    while (this.orderOfMessage.size > this.maxOrders * 4)
      this.orderOfMessage.delete(this.orderOfMessage.keys().next().value!);
    while (this.redrivenIds.size > this.maxOrders * 4) this.redrivenIds.delete(this.redrivenIds.keys().next().value!);
  }

  recordLine(fn: string, line: string): void {
    let fields: Record<string, unknown> = {};
    try {
      fields = JSON.parse(line);
    } catch {
      fields = {};
    }
    const text = (key: string) => (typeof fields[key] === "string" ? (fields[key] as string) : undefined);
    const entry: LogEntry = {
      at: Date.now(),
      fn,
      line,
      level: text("level"),
      outcome: text("outcome"),
      orderId: text("orderId"),
      messageId: text("messageId"),
    };
    if ("_aws" in fields) return; // embedded metrics, not a log line a person reads
    this.lines.push(entry);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    this.listeners.forEach((listener) => listener("log", entry));
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

  /** The last log line of a message (or else of its order) with an outcome other than stored (why it failed). */
  lastFailure(orderId?: string, messageId?: string): LogEntry | undefined {
    let ofOrder: LogEntry | undefined;
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const entry = this.lines[i];
      if (!entry.outcome || entry.outcome === "stored") continue;
      if (messageId && entry.messageId === messageId) return entry;
      if (!ofOrder && orderId && entry.orderId === orderId) ofOrder = entry;
    }
    return ofOrder;
  }

  /** At its move to a DLQ, a message's last failure line and receives are kept with it (the oldest let go past `maxCauses`). */
  private keepDeadLetter(messageId: string, orderId?: string, receives?: number): void {
    this.deadLetters.delete(messageId);
    this.deadLetters.set(messageId, { cause: this.lastFailure(orderId, messageId), receives });
    if (this.deadLetters.size > this.maxCauses) this.deadLetters.delete(this.deadLetters.keys().next().value!);
  }

  /**
   * What is known of a dead-lettered message: why it failed (the line kept at its move, or else the order's
   * last failure still logged) and how many receives its source queue gave it, if this run saw them.
   */
  deadLetter(messageId: string, orderId?: string): DeadLetter {
    const kept = this.deadLetters.get(messageId);
    return { cause: kept?.cause ?? this.lastFailure(orderId, messageId), receives: kept?.receives };
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
