/** The human-readable trace: one line per event, coloured only on a terminal. */
import { PipelineEvent } from "./events";

const COLOURS = { green: 32, yellow: 33, red: 31, cyan: 36, grey: 90, magenta: 35 } as const;
type Colour = keyof typeof COLOURS;

export function traceWriter(write: (line: string) => void, colour: boolean): (event: PipelineEvent) => void {
  const started = performance.now();
  const paint = (c: Colour, text: string) => (colour ? `\u001b[${COLOURS[c]}m${text}\u001b[0m` : text);
  const short = (id?: string) => (id ? id.slice(0, 8) : "-");
  const order = (id?: string) => (id ? ` order=${id}` : "");
  return (event) => {
    const at = paint("grey", `[${((performance.now() - started) / 1000).toFixed(3).padStart(7)}s]`);
    const line = (label: string, c: Colour, text: string) => write(`${at} ${paint(c, label.padEnd(14))} ${text}`);
    switch (event.type) {
      case "published":
        return line(
          "published",
          "cyan",
          `msg=${short(event.messageId)}${order(event.orderId)} ${event.topic} -> ${event.queue}`,
        );
      case "received":
        return line(
          `received #${event.receiveCount}`,
          "cyan",
          `msg=${short(event.messageId)}${order(event.orderId)} from ${event.queue}`,
        );
      case "outcome": {
        const c: Colour =
          event.outcome === "stored"
            ? "green"
            : event.outcome === "failed" || event.outcome === "invalid"
              ? "red"
              : "yellow";
        return line(
          event.outcome,
          c,
          `msg=${short(event.messageId)}${order(event.orderId)}${event.reason ? ` reason: ${event.reason}` : ""}`,
        );
      }
      case "deleted":
        return line("deleted", "green", `msg=${short(event.messageId)} from ${event.queue}`);
      case "returned":
        return line(
          "retry later",
          "yellow",
          `msg=${short(event.messageId)} visible again in ${event.visibleInMs.toFixed(0)} ms`,
        );
      case "dead-lettered":
        return line(
          "moved to DLQ",
          "magenta",
          `msg=${short(event.messageId)}${order(event.orderId)} ${event.queue} -> ${event.target} after ${event.receives} receives`,
        );
      case "expired":
        return line("expired", "red", `msg=${short(event.messageId)} in ${event.queue} (retention period passed)`);
      case "invoked":
        return line(
          "invoke",
          "grey",
          `${event.function} with ${event.records} record${event.records === 1 ? "" : "s"}`,
        );
      case "cold-start":
        return line("cold start", "grey", `${event.function} execution environment #${event.environment}`);
      case "invocation-failed":
        return line("invoke failed", "red", `${event.function}: ${event.reason} (${event.records} records retried)`);
      case "redriven":
        return line("redrive", "magenta", `${event.count} messages ${event.from} -> ${event.to}`);
      case "log":
        return line("log", "grey", event.line);
    }
  };
}
