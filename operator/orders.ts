/**
 * `npm run orders -- <command>`: operate a deployed pipeline with the AWS SDK. Reads the stack's
 * outputs from the file `cdktf deploy --outputs-file` (or `cdktf output --outputs-file`) writes.
 */
import { SNSClient } from "@aws-sdk/client-sns";
import { ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from "@aws-sdk/client-sqs";
import { parseArgs } from "node:util";
import { resourceNames } from "../constructs/environments";
import { projectEnvironment } from "../common/project";
import {
  defaultIO,
  endpointOf,
  friendly,
  loadOutputs,
  OperatorError,
  OrdersIO,
  regionOf,
  sqsClientFor,
  StackOutputs,
  unsupportedOperation,
} from "./io";
import { moveMessages, peekMessages } from "../common/move-messages";
import { progress } from "../common/progress";
import { OrderInputError, OrderLine, readOrderLines } from "../common/order-lines";
import { publishAll, PublishResult } from "../common/publish";
import { awsClients, smokeOrder, verify } from "./verify";
import { runMain } from "../common/run-main";
import { serveConsole } from "./console/serve-console";

export { OperatorError, type OrdersIO } from "./io";

export const ORDERS_USAGE = `Usage: npm run orders -- <command> [options]

Operates a deployed order pipeline (AWS credentials from the usual AWS_PROFILE / AWS_* variables).

Commands:
  publish <file|->     publish each non-empty line (an order's JSON) to the order topic
  smoke                publish a unique test order and wait until it is in the table (then delete it)
  dlq list             show dead-lettered messages with their receive counts
  dlq redrive          move the DLQ's messages back to OrderQueue (SQS message-move task), with progress
  delivery-dlq move    move what SNS could not deliver (OrderTopicDeliveryDLQ) to OrderQueue: receive, send,
                       delete only after the send succeeded (the message-move task does not support this DLQ)
  verify               check the deployed stack with AWS, one line per check (PASS/FAIL/WARN/SKIP, and what
                       to do): the role (IAM policy simulation), the event source mapping, the key, the
                       subscription, a smoke order end to end, the DLQs; exit code 1 if any check fails
  console              serve the console's page for the stack on 127.0.0.1 until Ctrl-C: the pipeline, an
                       order's journey from the function's log, each dead letter with its cause, the table;
                       read-only unless --allow-changes (redrive, delete, publish)

Options:
  --outputs FILE       stack outputs written by cdktf (default outputs.json), made with
                       npx cdktf output <stack> --outputs-file outputs.json
  --stack NAME         the stack whose outputs to use (default: ORDER_ENV's, e.g. OrderSystemStack)
  --timeout SECONDS    smoke, verify: how long to wait for the test order (default 120)
  --max N              dlq list: how many messages to show (default 20)
  --keep               smoke: keep the test order in the table
  --alarm-path         verify: also set one alarm to ALARM, check that CloudWatch notified the alarm topic,
                       and set it back (operators get the notification)
  --port N             console: the port on 127.0.0.1 (default 0: a free one)
  --allow-changes      console: allow redrive, delete and publish from the page
  -h, --help           this help`;

export async function publishOrders(
  outputs: StackOutputs,
  lines: OrderLine[],
  io: OrdersIO = defaultIO,
): Promise<number> {
  const sns = new SNSClient({ region: regionOf(outputs.topic_arn), ...endpointOf(outputs) });
  // One call at a time: after a call refused as a whole, the rest of the file is not sent.
  const { results, stoppedBy } = await publishAll(
    sns,
    outputs.topic_arn,
    lines.map((l) => l.body),
    { concurrency: 1, ids: lines.map((l) => `line-${l.line}`) },
  );
  const refused = (r: PublishResult) => ("refused" in r ? r.refused : undefined);
  lines.forEach(({ line }, i) => {
    const refusal = refused(results[i]);
    if (refusal && !refusal.code) io.out(`not published line ${line}: ${refusal.message}`);
  });
  lines.forEach(({ line }, i) => {
    const refusal = refused(results[i]);
    if (refusal?.code) io.out(`failed line-${line}: ${refusal.code} ${refusal.message}`.trim());
  });
  const published = lines.filter((_, i) => "messageId" in results[i]).map((l) => l.line);
  const notPublished = lines.filter((_, i) => !("messageId" in results[i])).map((l) => l.line);
  io.out(`published ${published.length} of ${lines.length} orders to ${outputs.topic_arn}`);
  if (notPublished.length === 0) return 0;
  io.out(`not published: ${lineRanges(notPublished)}`);
  if (published.length > 0) io.out(`published: ${lineRanges(published)}`);
  io.out(
    "Re-running the whole file is safe: an order published twice is an exact duplicate, which the pipeline stores once.",
  );
  if (stoppedBy)
    friendly(stoppedBy, "sns:Publish on the topic and kms:GenerateDataKey and kms:Decrypt on the stack's key");
  return 1;
}

/** Line numbers as compact ranges: "lines 1-3, 7". */
export function lineRanges(numbers: number[]): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return `${sorted.length === 1 ? "line" : "lines"} ${ranges.join(", ")}`;
}

export async function smoke(
  outputs: StackOutputs,
  options: { timeoutSeconds: number; keep: boolean },
  io: OrdersIO = defaultIO,
): Promise<number> {
  io.out(`publishing a smoke order; waiting up to ${options.timeoutSeconds} s for it in ${outputs.table_name}`);
  const result = await smokeOrder(awsClients(outputs), outputs, options, io);
  if (result.stored) {
    io.out(`${result.orderId} stored after ${result.seconds.toFixed(1)} s${options.keep ? "" : " (then deleted)"}`);
    return 0;
  }
  io.out(
    `smoke order ${result.orderId} was not stored within ${options.timeoutSeconds} s. ${result.depths}. Check the function's logs and the alarms.`,
  );
  return 1;
}

export async function listDeadLetters(outputs: StackOutputs, max: number, io: OrdersIO = defaultIO): Promise<number> {
  const sqs = sqsClientFor(outputs);
  const messages = await peekMessages(sqs, outputs.dlq_url, { max, waitSeconds: 1 }).catch((error) =>
    friendly(error, "sqs:ReceiveMessage on the DLQ (and kms:Decrypt on the stack's key)"),
  );
  if (messages.length === 0) io.out("the DLQ is empty");
  for (const m of messages) {
    const sent = m.Attributes?.SentTimestamp ? new Date(Number(m.Attributes.SentTimestamp)).toISOString() : "?";
    const body = (m.Body ?? "").replace(/\s+/g, " ").slice(0, 120);
    io.out(`${m.MessageId}  receives=${m.Attributes?.ApproximateReceiveCount ?? "?"}  sent=${sent}  ${body}`);
  }
  return 0;
}

export async function redrive(outputs: StackOutputs, io: OrdersIO = defaultIO): Promise<number> {
  const sqs = sqsClientFor(outputs);
  const started = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: outputs.dlq_arn })).catch((error) => {
    if (unsupportedOperation(error)) return undefined;
    return friendly(
      error,
      "sqs:StartMessageMoveTask and sqs:ReceiveMessage on the DLQ, sqs:SendMessage on OrderQueue (whose policy admits only the roles in ORDER_REDRIVE_PRINCIPALS) and the stack's key",
    );
  });
  if (!started) {
    io.out(
      "this endpoint has no message-move task (it answered that StartMessageMoveTask is unsupported): moving by receive, send and delete",
    );
    return moveByReceive(sqs, outputs.dlq_url, outputs.queue_url, "dlq redrive", io);
  }
  io.out(`started moving messages from ${outputs.dlq_arn} back to their source queue (task ${started.TaskHandle})`);
  const bar = (io.progress ?? progress)("dlq redrive");
  for (;;) {
    await io.sleep(2000);
    const { Results = [] } = await sqs.send(
      new ListMessageMoveTasksCommand({ SourceArn: outputs.dlq_arn, MaxResults: 1 }),
    );
    const task = Results[0];
    if (!task) {
      bar.clear();
      throw new OperatorError(
        "the message-move task disappeared; run `npm run orders -- dlq list` to see what is left",
      );
    }
    const moved = task.ApproximateNumberOfMessagesMoved ?? 0;
    const status = `${task.Status}: ${moved} of ${task.ApproximateNumberOfMessagesToMove ?? "?"} moved`;
    if (task.Status === "RUNNING") {
      bar.update(moved, task.ApproximateNumberOfMessagesToMove, "moved");
      continue;
    }
    bar.clear();
    io.out(status);
    if (task.Status === "COMPLETED") return 0;
    if (task.Status === "FAILED" || task.Status === "CANCELLED") {
      io.out(`the task ended ${task.Status}${task.FailureReason ? `: ${task.FailureReason}` : ""}`);
      return 1;
    }
  }
}

/**
 * Moves what SNS could not deliver back into OrderQueue, at least once and never losing a message:
 * each batch is received (hidden for a minute), sent to OrderQueue, and deleted from the delivery DLQ
 * only for the entries whose send succeeded; a failed send stays in the DLQ and reappears. SQS's
 * message-move task cannot do this: it does not support DLQs whose source is an SNS subscription.
 * Bodies move as they are: the handler accepts both the raw order and the SNS envelope.
 */
export async function moveDeliveryDeadLetters(outputs: StackOutputs, io: OrdersIO = defaultIO): Promise<number> {
  const from = outputs.delivery_dlq_url;
  if (!from)
    throw new OperatorError(
      "The outputs lack delivery_dlq_url; deploy the current stack, then write its outputs again (npx cdktf output <stack> --outputs-file outputs.json).",
    );
  return moveByReceive(sqsClientFor(outputs), from, outputs.queue_url, "delivery-dlq move", io);
}

/**
 * Moves a queue's messages to another by receive, send and delete (the delete only after the send
 * succeeded); stops after a refused send, which stays in `from` and reappears.
 */
async function moveByReceive(sqs: SQSClient, from: string, to: string, label: string, io: OrdersIO): Promise<number> {
  const bar = (io.progress ?? progress)(label);
  const { moved, refused } = await moveMessages(sqs, {
    from,
    to,
    waitSeconds: 2,
    stopOnRefusal: true,
    onRefused: (message, failure) =>
      io.out(
        `not moved (stays in ${from.split("/").pop()}): ${message.MessageId} ${failure.Code} ${failure.Message ?? ""}`.trim(),
      ),
    onProgress: (done, total, notMoved) => bar.update(done, total, notMoved ? `${notMoved} not moved` : undefined),
  }).catch((error) => {
    bar.clear();
    return friendly(
      error,
      `sqs:GetQueueAttributes, sqs:ReceiveMessage and sqs:DeleteMessage on ${from.split("/").pop()}, sqs:SendMessage on ${to.split("/").pop()}`,
    );
  });
  bar.clear();
  io.out(
    `moved ${moved} messages from ${from} to ${to}${refused ? `; ${refused} not moved, run the command again` : ""}`,
  );
  return refused === 0 ? 0 : 1;
}

function wholeOption(value: string | undefined, fallback: number, name: string): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new OperatorError(`--${name} must be a whole number of at least 1, got "${value}"`);
  return n;
}

/** `publish`'s input: one JSON order per non-empty line of a file, or of stdin for "-", with its line number. */
function ordersToPublish(file: string | undefined, io: OrdersIO): OrderLine[] {
  if (!file) throw new OperatorError("publish needs a file of orders (one JSON order per line) or - for stdin");
  const input = file === "-" ? Buffer.from(io.readInput(file)) : undefined;
  const { lines, warning } = readOrderLines("publish", file, input);
  if (warning) io.out(warning);
  if (lines.length === 0) throw new OperatorError(`${file} holds no orders (one JSON order per line)`);
  return lines;
}

/** The environment as synthesis picks it (ORDER_ENV, or cdktf.json's `environment` context); unknown: exit 2. */
function operatorEnvironment(env: NodeJS.ProcessEnv): string {
  try {
    return projectEnvironment(env);
  } catch (error) {
    throw new OperatorError((error as Error).message);
  }
}

/** The options `npm run orders` accepts. */
export const ORDERS_OPTIONS = {
  outputs: { type: "string" },
  stack: { type: "string" },
  timeout: { type: "string" },
  max: { type: "string" },
  keep: { type: "boolean" },
  "alarm-path": { type: "boolean" },
  port: { type: "string" },
  "allow-changes": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Its commands: a word, or a word and a sub-command. */
export const ORDERS_COMMANDS = [
  "publish",
  "smoke",
  "dlq list",
  "dlq redrive",
  "delivery-dlq move",
  "verify",
  "console",
] as const;

/**
 * An orders command line as `runOrders` reads it: its options, the command (one of ORDERS_COMMANDS; none
 * when only options are given) and publish's file. An unknown option or command throws, saying which.
 */
export function parseOrdersArgs(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: ORDERS_OPTIONS });
  } catch (error) {
    throw new OperatorError(`${(error as Error).message} (see --help)`);
  }
  const { values, positionals } = parsed;
  const [word, sub] = positionals;
  if (word === undefined) return { values, command: undefined };
  if (word === "publish") return { values, command: "publish" as const, file: sub };
  const command = ORDERS_COMMANDS.find((c) => c !== "publish" && c === positionals.join(" "));
  if (!command)
    throw new OperatorError(
      `Unknown command "${positionals.join(" ")}". Commands: ${ORDERS_COMMANDS.join(", ")} (see --help).`,
    );
  return { values, command: command as (typeof ORDERS_COMMANDS)[number], file: undefined };
}

export async function runOrders(
  argv: string[],
  io: OrdersIO = defaultIO,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values, command, file } = parseOrdersArgs(argv);
  if (values.help || !command) {
    io.out(ORDERS_USAGE);
    return values.help ? 0 : 2;
  }
  const stack = values.stack ?? resourceNames(operatorEnvironment(env)).stack;
  const outputs = () => loadOutputs(values.outputs ?? "outputs.json", stack, env);
  switch (command) {
    case "publish":
      return publishOrders(outputs(), ordersToPublish(file, io), io);
    case "smoke":
      return smoke(
        outputs(),
        { timeoutSeconds: wholeOption(values.timeout, 120, "timeout"), keep: Boolean(values.keep) },
        io,
      );
    case "dlq list":
      return listDeadLetters(outputs(), wholeOption(values.max, 20, "max"), io);
    case "dlq redrive":
      return redrive(outputs(), io);
    case "delivery-dlq move":
      return moveDeliveryDeadLetters(outputs(), io);
    case "verify":
      return verify(
        outputs(),
        {
          stack,
          timeoutSeconds: wholeOption(values.timeout, 120, "timeout"),
          alarmPath: Boolean(values["alarm-path"]),
        },
        io,
      );
    case "console":
      return serveUntilStopped(
        outputs(),
        { stack, port: portOption(values.port), allowChanges: Boolean(values["allow-changes"]) },
        io,
      );
  }
}

function portOption(value: string | undefined): number {
  const port = value === undefined ? 0 : Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new OperatorError(`--port must be a port number from 0 (a free one) to 65535, got "${value}"`);
  return port;
}

async function serveUntilStopped(
  outputs: StackOutputs,
  options: { stack: string; port: number; allowChanges: boolean },
  io: OrdersIO,
): Promise<number> {
  const served = await serveConsole(outputs, options);
  io.out(
    `console of ${options.stack} (${options.allowChanges ? "changes allowed" : "read-only; --allow-changes allows redrive, delete and publish"}): ${served.url} (open it in a browser on this machine); Ctrl-C stops`,
  );
  await (io.untilStopped ?? untilSignal)();
  await served.close();
  return 0;
}

/** Until Ctrl-C (SIGINT) or SIGTERM. */
const untilSignal = () =>
  new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });

runMain(module, () => runOrders(process.argv.slice(2)), {
  exitCodeOf: (error) => (error instanceof OperatorError || error instanceof OrderInputError ? 2 : 1),
});
