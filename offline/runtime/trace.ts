/**
 * The trace: what the offline runtime reports while it runs (one event per step of a message's life), the
 * one place the function's log lines are read (as CloudWatch Logs Insights reads their JSON), and the
 * human-readable trace, one line per event, coloured only on a terminal.
 */
export type PipelineEvent =
  | { type: "published"; topic: string; queue: string; messageId: string; orderId?: string }
  | { type: "rejected"; topic: string; reason: string; bytes: number; orderId?: string }
  | {
      type: "invoked";
      function: string;
      records: number;
      /** The execution environment's number, and whether this invocation is its first (cold). */
      environment?: number;
      cold?: boolean;
      messageIds?: string[];
    }
  | {
      type: "received";
      queue: string;
      messageId: string;
      receiveCount: number;
      /** When the message entered the queue (its SentTimestamp, ms since the epoch). */
      sentAt?: number;
      orderId?: string;
    }
  | { type: "outcome"; outcome: string; messageId?: string; orderId?: string; reason?: string }
  | { type: "deleted"; queue: string; messageId: string }
  | { type: "returned"; queue: string; messageId: string; visibleInMs: number }
  | {
      type: "dead-lettered";
      queue: string;
      target: string;
      messageId: string;
      /** The last ApproximateReceiveCount this run's poller saw; undefined if it was received before a restart. */
      receives?: number;
      orderId?: string;
      body?: string;
    }
  | { type: "cold-start"; function: string; environment: number }
  | { type: "invocation-failed"; function: string; reason: string; records: number }
  | {
      type: "redriven";
      from: string;
      to: string;
      count: number;
      /** One message's move (the console's redrive): its new id in the source queue, its old one, its order. */
      messageId?: string;
      previousMessageId?: string;
      orderId?: string;
    }
  /** A message deleted from a dead-letter queue by hand (the console), not redriven. */
  | { type: "discarded"; queue: string; messageId: string; orderId?: string }
  | { type: "log"; line: string }
  /** `--watch`: the function runs new code from its next invocation on. */
  | { type: "code-updated"; function: string; version: number; buildMs: number }
  /** Something the runtime itself ran into (an engine refused a call), not the function's log. */
  | { type: "warning"; message: string };

export type Emit = (event: PipelineEvent) => void;

/** The order id in a message body (raw, or inside an SNS envelope), for the trace; undefined if there is none. */
export function orderIdOf(body: string): string | undefined {
  try {
    let parsed = JSON.parse(body);
    if (parsed?.Type === "Notification" && typeof parsed.Message === "string") parsed = JSON.parse(parsed.Message);
    return typeof parsed?.orderId === "string" ? parsed.orderId.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A line the function logged, as a trace event: its structured outcome line (stored, invalid, ...), or
 * the line itself; embedded-metric lines (`_aws`) are not shown.
 */
export function logLineEvent(line: string): PipelineEvent | undefined {
  let entry: Record<string, unknown> | undefined;
  try {
    entry = JSON.parse(line);
  } catch {
    entry = undefined;
  }
  if (entry && typeof entry.outcome === "string") {
    return {
      type: "outcome",
      outcome: entry.outcome,
      messageId: entry.messageId as string,
      orderId: entry.orderId as string | undefined,
      reason: entry.reason as string | undefined,
    };
  }
  return !entry || !("_aws" in entry) ? { type: "log", line } : undefined;
}

const COLOURS = { green: 32, yellow: 33, red: 31, cyan: 36, grey: 90, magenta: 35 } as const;
type Colour = keyof typeof COLOURS;

const short = (id?: string) => (id ? id.slice(0, 8) : "-");
const order = (id?: string) => (id ? ` order=${id}` : "");
const outcomeColour = (outcome: string): Colour =>
  outcome === "stored" ? "green" : outcome === "failed" || outcome === "invalid" ? "red" : "yellow";

/** One event as a trace line: its label, colour and text. */
function describe(event: PipelineEvent): [label: string, colour: Colour, text: string] {
  switch (event.type) {
    case "published":
      return [
        "published",
        "cyan",
        `msg=${short(event.messageId)}${order(event.orderId)} ${event.topic} -> ${event.queue}`,
      ];
    case "received":
      return [
        `received #${event.receiveCount}`,
        "cyan",
        `msg=${short(event.messageId)}${order(event.orderId)} from ${event.queue}`,
      ];
    case "outcome": {
      const reason = event.reason ? ` reason: ${event.reason}` : "";
      return [
        event.outcome,
        outcomeColour(event.outcome),
        `msg=${short(event.messageId)}${order(event.orderId)}${reason}`,
      ];
    }
    case "deleted":
      return ["deleted", "green", `msg=${short(event.messageId)} from ${event.queue}`];
    case "returned":
      return [
        "retry later",
        "yellow",
        `msg=${short(event.messageId)} visible again in ${event.visibleInMs.toFixed(0)} ms`,
      ];
    case "dead-lettered": {
      const after =
        event.receives === undefined ? "after receives before a restart" : `after ${event.receives} receives`;
      const moved = `${event.queue} -> ${event.target} ${after}`;
      return ["moved to DLQ", "magenta", `msg=${short(event.messageId)}${order(event.orderId)} ${moved}`];
    }
    default:
      return describeRuntime(event);
  }
}

type MessageStep = Extract<
  PipelineEvent,
  { type: "published" | "received" | "outcome" | "deleted" | "returned" | "dead-lettered" }
>;

/** The runtime's own events (not one message's steps) as trace lines. */
function describeRuntime(event: Exclude<PipelineEvent, MessageStep>): [label: string, colour: Colour, text: string] {
  switch (event.type) {
    case "rejected":
      return ["rejected", "red", `${event.bytes} bytes${order(event.orderId)} by ${event.topic}: ${event.reason}`];
    case "invoked":
      return ["invoke", "grey", `${event.function} with ${event.records} record${event.records === 1 ? "" : "s"}`];
    case "cold-start":
      return ["cold start", "grey", `${event.function} execution environment #${event.environment}`];
    case "invocation-failed":
      return ["invoke failed", "red", `${event.function}: ${event.reason} (${event.records} records retried)`];
    case "redriven":
      return event.messageId
        ? [
            "redriven",
            "magenta",
            `msg=${short(event.previousMessageId)}${order(event.orderId)} ${event.from} -> ${event.to} as msg=${short(event.messageId)}`,
          ]
        : ["redrive", "magenta", `${event.count} messages ${event.from} -> ${event.to}`];
    case "discarded":
      return [
        "deleted",
        "magenta",
        `msg=${short(event.messageId)}${order(event.orderId)} from ${event.queue} by hand (not redriven)`,
      ];
    case "log":
      return ["log", "grey", event.line];
    case "code-updated":
      return [
        "code updated",
        "cyan",
        `${event.function} v${event.version} (bundled in ${event.buildMs} ms): the next batch runs it in fresh execution environments`,
      ];
    case "warning":
      return ["warning", "red", event.message];
  }
}

export function traceWriter(write: (line: string) => void, colour: boolean): (event: PipelineEvent) => void {
  const started = performance.now();
  const paint = (c: Colour, text: string) => (colour ? `\u001b[${COLOURS[c]}m${text}\u001b[0m` : text);
  return (event) => {
    const at = paint("grey", `[${((performance.now() - started) / 1000).toFixed(3).padStart(7)}s]`);
    const [label, c, text] = describe(event);
    write(`${at} ${paint(c, label.padEnd(14))} ${text}`);
  };
}
