/** What the offline runtime reports while it runs: one event per step of a message's life, for the trace. */
export type PipelineEvent =
  | { type: "published"; topic: string; queue: string; messageId: string; orderId?: string }
  | { type: "rejected"; topic: string; reason: string; bytes: number; orderId?: string }
  | { type: "invoked"; function: string; records: number }
  | { type: "received"; queue: string; messageId: string; receiveCount: number; orderId?: string }
  | { type: "outcome"; outcome: string; messageId?: string; orderId?: string; reason?: string }
  | { type: "deleted"; queue: string; messageId: string }
  | { type: "returned"; queue: string; messageId: string; visibleInMs: number }
  | {
      type: "dead-lettered";
      queue: string;
      target: string;
      messageId: string;
      /** The last ApproximateReceiveCount the poller saw for the message. */
      receives: number;
      orderId?: string;
      body?: string;
    }
  | { type: "cold-start"; function: string; environment: number }
  | { type: "invocation-failed"; function: string; reason: string; records: number }
  | { type: "redriven"; from: string; to: string; count: number }
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
