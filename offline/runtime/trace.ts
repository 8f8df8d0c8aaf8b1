/**
 * The human-readable trace: one line per event of the stream (`events.ts`), coloured only on a terminal.
 */
import type { PipelineEvent } from "./events";
import type { JournalEntry } from "./journal";

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
        `msg=${short(event.messageId)}${order(event.orderId)} ${event.topic} -> ${event.queues.join(", ")}`,
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
    case "invoked": {
      const records = `${event.records} record${event.records === 1 ? "" : "s"}`;
      const where = `execution environment #${event.environment}`;
      return event.cold
        ? ["cold start", "grey", `${event.function} ${where}; invoke ${event.function} with ${records}`]
        : ["invoke", "grey", `${event.function} with ${records} in ${where}`];
    }
    case "invocation-failed":
      return ["invoke failed", "red", `${event.function}: ${event.reason} (${event.records} records retried)`];
    case "redriven":
      return [
        "redriven",
        "magenta",
        `msg=${short(event.previousMessageId)}${order(event.orderId)} ${event.from} -> ${event.to} as msg=${short(event.messageId)}`,
      ];
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
    if (event.type === "log" && event.metrics) return; // embedded metrics: the log file's, not the trace's
    const at = paint("grey", `[${((performance.now() - started) / 1000).toFixed(3).padStart(7)}s]`);
    const [label, c, text] = describe(event);
    write(`${at} ${paint(c, label.padEnd(14))} ${text}`);
  };
}

/** One step of an order's journey as the console words it: a label, a sentence, and whether it went well. */
export function journeyStep(entry: JournalEntry): { label: string; text: string; tone?: "good" | "bad" | "warn" } {
  const e = entry.event;
  const records = (n: number) => `${n} record${n === 1 ? "" : "s"}`;
  switch (e.type) {
    case "published":
      return { label: "published", text: `to ${e.topic} → ${e.queues.join(", ")}, message ${e.messageId}` };
    case "received":
      return { label: `received #${e.receiveCount}`, text: `from ${e.queue}, message ${e.messageId}` };
    case "invoked":
      return {
        label: "invoked",
        text: `${e.function} in execution environment #${e.environment} (${e.cold ? "cold start" : "warm"}), ${records(e.records)}`,
      };
    case "outcome": {
      const tone = e.outcome === "stored" ? "good" : outcomeColour(e.outcome) === "red" ? "bad" : "warn";
      return { label: e.outcome, text: e.reason ? `reason: ${e.reason}` : `message ${e.messageId ?? ""}`, tone };
    }
    case "deleted":
      return { label: "deleted", text: `from ${e.queue} (processed)`, tone: "good" };
    case "returned":
      return {
        label: "returned",
        text: `to ${e.queue}, visible again in ${Math.round(e.visibleInMs)} ms`,
        tone: "warn",
      };
    case "dead-lettered": {
      const after = e.receives === undefined ? "after receives before a restart" : `after ${e.receives} receives`;
      const again = entry.again ? ", after its redrive: the redrive did not fix it" : "";
      return {
        label: entry.again ? "moved to DLQ again" : "moved to DLQ",
        text: `${e.queue} → ${e.target} ${after}${again}`,
        tone: "bad",
      };
    }
    case "redriven":
      return { label: "redriven", text: `${e.from} → ${e.to}, now message ${e.messageId}` };
    case "discarded":
      return { label: "deleted", text: `from ${e.queue} by hand (not redriven)`, tone: "warn" };
    default: {
      const [label, , text] = describe(e);
      return { label, text };
    }
  }
}
