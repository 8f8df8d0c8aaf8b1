/**
 * The deploy proof's console step: `npm run orders -- console` (its server, `serveConsole`) on the stack
 * applied on moto, driven in Chromium as an operator would. The Lambda service on moto writes the function's
 * lines to its CloudWatch Logs group as Lambda does, so the journey and the dead letter's cause come from
 * `FilterLogEvents` on moto, as they would on AWS. With UPDATE_DOCS_SCREENSHOT=1 it writes the screenshot
 * docs/operations.md shows.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { DeleteItemCommand, DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { messagesIn } from "../../common/move-messages";
import { sampleOrderBody } from "../../common/sample-order";
import { AwsClients } from "../../operator/console/aws-source";
import { serveConsole } from "../../operator/console/serve-console";
import { StackOutputs } from "../../operator/io";
import { chromiumPath, launchPage } from "./browser";
import { emulatorClientConfig } from "./emulator";
import type { LambdaOnMoto } from "./moto-gaps";
import { PROJECT_ROOT } from "./paths";

export interface ConsoleFigures {
  /** From opening the page to the stored order's journey with its log line, and to the dead letter's cause. */
  readonly journeyMs: number;
  readonly causeMs: number;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  for (const started = Date.now(); Date.now() - started < ms; await sleep(100)) {
    const found = await probe();
    if (found !== undefined) return found;
  }
  throw new Error(`${what} did not happen within ${ms} ms`);
}

export async function consoleOnMoto(options: {
  outputs: StackOutputs;
  stack: string;
  motoEndpoint: string;
  region: string;
  lambda: LambdaOnMoto;
}): Promise<ConsoleFigures> {
  const { outputs, lambda } = options;
  const config = { ...emulatorClientConfig(options.motoEndpoint, options.region) };
  const clients: AwsClients = {
    sqs: new SQSClient({ ...config, useQueueUrlAsEndpoint: false }),
    sns: new SNSClient(config),
    dynamodb: new DynamoDBClient(config),
    logs: new CloudWatchLogsClient(config),
    cloudwatch: new CloudWatchClient(config),
  };
  const good = "CONSOLE-OK1";
  const bad = "CONSOLE-BAD1";
  await clients.sns.send(
    new PublishCommand({ TopicArn: outputs.topic_arn, Message: sampleOrderBody({ orderId: good }) }),
  );
  await clients.sns.send(
    new PublishCommand({ TopicArn: outputs.topic_arn, Message: sampleOrderBody({ orderId: bad, status: "returned" }) }),
  );
  await until("the valid order stored", async () => {
    const { Item } = await clients.dynamodb.send(
      new GetItemCommand({ TableName: outputs.table_name, Key: { orderId: { S: good } } }),
    );
    return Item;
  });
  await until("the invalid order dead-lettered", async () =>
    (await messagesIn(clients.sqs, outputs.dlq_url)) >= 1 ? true : undefined,
  );
  await lambda.logs.flush();
  expect(lambda.logs.errors).toEqual([]);

  const served = await serveConsole(outputs, {
    stack: options.stack,
    port: 0,
    allowChanges: true,
    clients,
    refreshSeconds: 2,
  });
  const { browser, page } = await launchPage(chromiumPath());
  try {
    const shows = (selector: string, pattern: RegExp, timeout = 30_000) =>
      page.locator(selector, { hasText: pattern }).waitFor({ timeout });
    const opened = Date.now();
    await page.goto(`${served.url}#/journey/${good}`);
    await shows("#journey-events", /stored/);
    const journeyMs = Date.now() - opened;
    expect(await page.locator("#journey-events").innerText()).toMatch(
      new RegExp(`stored.*"outcome":"stored".*"orderId":"${good}"`),
    );
    await shows("#journey-item", new RegExp(`"orderId": "${good}"`));

    const dlqOpened = Date.now();
    await page.goto(`${served.url}#/dlq`);
    const row = page.locator("#dlq-queues tr", { hasText: bad });
    await shows("#dlq-queues tr", /status: must be one of/);
    const causeMs = Date.now() - dlqOpened;
    expect(await row.innerText()).toMatch(/status: must be one of new, paid, shipped, delivered, cancelled/);
    if (process.env.UPDATE_DOCS_SCREENSHOT)
      await page.screenshot({ path: path.join(PROJECT_ROOT, "docs", "console-deployed.png"), fullPage: true });

    // The redrive, followed: the order fails again (it is still invalid), and its journey says so.
    await row.getByRole("button", { name: "Redrive" }).click();
    await shows("#dlq-result", /moved 1 of 1 from \S+ to \S+/);
    await page.goto(`${served.url}#/journey/${bad}`);
    await shows("#journey-events", /redriven by this console; since then: invalid/, 60_000);
    return { journeyMs, causeMs };
  } finally {
    await browser.close();
    await served.close();
    // The next step starts from empty queues and an empty table, as after a deploy.
    // The redriven order fails its 3 receives again first; then the DLQ is emptied by receive and delete
    // (SQS allows one PurgeQueue a minute, and step 5 made one).
    const sqs = new SQSClient({ ...config, useQueueUrlAsEndpoint: false });
    await until("the redriven order back in the DLQ", async () =>
      (await messagesIn(sqs, outputs.queue_url)) === 0 ? true : undefined,
    );
    while ((await messagesIn(sqs, outputs.dlq_url)) > 0) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: outputs.dlq_url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of Messages)
        await sqs.send(new DeleteMessageCommand({ QueueUrl: outputs.dlq_url, ReceiptHandle: m.ReceiptHandle }));
    }
    const dynamodb = new DynamoDBClient(config);
    await dynamodb.send(new DeleteItemCommand({ TableName: outputs.table_name, Key: { orderId: { S: good } } }));
    sqs.destroy();
    dynamodb.destroy();
  }
}
