/**
 * The function's log as the deployed console reads it: CloudWatch Logs' `FilterLogEvents` on its group
 * `/aws/lambda/<function>`, the order id or message ids as quoted terms. Each JSON line gives its outcome,
 * level, order and message; a dead letter's cause is the function's last failing line naming its id.
 */
import { CloudWatchLogsClient, FilteredLogEvent, FilterLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import type { LogLine } from "../../offline/console/api";

/** Message ids per search (a filter pattern holds at most 1,024 characters). */
const IDS_PER_SEARCH = 20;
/** The most pages one search reads. */
const PAGES = 5;
/** The outcomes that fail a record. */
export const FAILED = new Set(["failed", "invalid", "conflict"]);

/** A function log line as the console shows it (JSON lines give their outcome, level and order). */
export type FunctionLine = LogLine & { readonly messageId?: string };

function logLineOf(fn: string, event: FilteredLogEvent): FunctionLine {
  const line = (event.message ?? "").trim();
  let fields: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(line);
    if (parsed && typeof parsed === "object") fields = parsed;
  } catch {
    // a plain line (START, END, REPORT, a stack trace)
  }
  const text = (key: string) => (typeof fields[key] === "string" ? (fields[key] as string) : undefined);
  return {
    at: event.timestamp ?? 0,
    fn,
    line,
    level: text("level"),
    outcome: text("outcome"),
    orderId: text("orderId"),
    messageId: text("messageId"),
  };
}

export class FunctionLog {
  readonly group: string;

  constructor(
    private readonly logs: CloudWatchLogsClient,
    private readonly fn: string,
  ) {
    this.group = `/aws/lambda/${fn}`;
  }

  /** The lines matching `pattern` over the last `hours` (at most 5 pages), oldest first. */
  async search(pattern: string | undefined, hours: number): Promise<FunctionLine[]> {
    const events: FilteredLogEvent[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < PAGES; page++) {
      const startTime = Date.now() - hours * 3600_000;
      const answer = await this.logs.send(
        new FilterLogEventsCommand({ logGroupName: this.group, filterPattern: pattern, startTime, nextToken }),
      );
      events.push(...(answer.events ?? []));
      nextToken = answer.nextToken;
      if (!nextToken) break;
    }
    return events.map((e) => logLineOf(this.fn, e)).sort((a, b) => a.at - b.at);
  }

  /** Each message's cause: the function's last failing line naming its message id. */
  async causes(messageIds: string[], hours: number): Promise<Map<string, LogLine>> {
    const found = new Map<string, LogLine>();
    for (let start = 0; start < messageIds.length; start += IDS_PER_SEARCH) {
      const ids = messageIds.slice(start, start + IDS_PER_SEARCH);
      // Any of the ids (AWS reads every `?` term; moto reads one and matches all: the ids are checked here).
      for (const line of await this.search(ids.map((id) => `?"${id}"`).join(" "), hours))
        if (
          line.messageId &&
          ids.includes(line.messageId) &&
          (FAILED.has(line.outcome ?? "") || line.level === "ERROR")
        )
          found.set(line.messageId, line);
    }
    return found;
  }
}
