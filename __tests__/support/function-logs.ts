/**
 * What Lambda does with a function's output, played on moto for the Lambda service the deploy proof runs:
 * each line goes to the function's log group `/aws/lambda/<name>` (the stack creates it), in a stream per
 * execution environment named as Lambda names them (`2026/12/07/[$LATEST]<id>`), sent in batches of
 * `PutLogEvents` at most every 200 ms. The deployed stack's console reads them back with
 * `FilterLogEvents`, as it does on AWS.
 */
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  InputLogEvent,
  PutLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { randomBytes } from "node:crypto";
import type { FunctionModel } from "../../offline/runtime/stack-model";

const FLUSH_MS = 200;

export class FunctionLogWriter {
  private readonly pending = new Map<string, { group: string; events: InputLogEvent[] }>();
  private readonly streams = new Map<string, Promise<string>>();
  private readonly timer: NodeJS.Timeout;
  private flushing = Promise.resolve();
  /** Failures to write, for the test to show (a write never stops the function). */
  readonly errors: string[] = [];

  constructor(private readonly logs: CloudWatchLogsClient) {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
  }

  /** The Lambda service's `onFunctionLine`. */
  readonly write = (fn: FunctionModel, environment: number, line: string): void => {
    const key = `${fn.name} ${environment}`;
    const batch = this.pending.get(key) ?? { group: `/aws/lambda/${fn.name}`, events: [] };
    batch.events.push({ timestamp: Date.now(), message: line });
    this.pending.set(key, batch);
  };

  /** Sends what is pending; resolves once it is in moto. */
  flush(): Promise<void> {
    const batches = [...this.pending];
    this.pending.clear();
    this.flushing = this.flushing.then(() =>
      Promise.all(batches.map(([key, { group, events }]) => this.put(key, group, events))).then(() => undefined),
    );
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async put(key: string, group: string, events: InputLogEvent[]): Promise<void> {
    try {
      const stream = await this.streamOf(key, group);
      await this.logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: events }));
    } catch (error) {
      this.errors.push(`${group}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }

  /** The environment's stream, made on its first line (and the group, where the stack made none). */
  private async streamOf(key: string, group: string): Promise<string> {
    let stream = this.streams.get(key);
    if (!stream) {
      const day = new Date().toISOString().slice(0, 10).replaceAll("-", "/");
      const name = `${day}/[$LATEST]${randomBytes(16).toString("hex")}`;
      stream = this.logs
        .send(new CreateLogGroupCommand({ logGroupName: group }))
        .catch((error) => (error.name === "ResourceAlreadyExistsException" ? undefined : Promise.reject(error)))
        .then(() => this.logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: name })))
        .then(() => name);
      this.streams.set(key, stream);
    }
    return stream;
  }
}
