/**
 * `npm run orders -- console` in a real browser, on the AWS APIs through the SDK, against `npm start --
 * --serve` (its outputs name the endpoint; SNS, SQS and DynamoDB are real engines there; CloudWatch and
 * CloudWatch Logs are not served, so the page shows those calls' answers where they are used, and the
 * rest works). The deploy proof drives the same console against the stack applied on moto, with the
 * function's log lines in CloudWatch Logs (`__tests__/support/deploy-proof.ts`).
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, Page } from "playwright-core";
import { LOCAL_CREDENTIALS } from "../../common/local-credentials";
import { messagesIn } from "../../common/move-messages";
import { sampleOrderBody } from "../../common/sample-order";
import { awsClients, AwsClients } from "../../operator/console/aws-source";
import { serveConsole, ServedConsole } from "../../operator/console/serve-console";
import { loadOutputs, sqsClientFor, StackOutputs } from "../../operator/io";
import { launchPage, requiredChromium } from "../support/browser";
import { interrupt, readyOf, Served, startServe } from "../support/serve";
import { synthOrderStackTo } from "../support/stacks";

const browserPath = requiredChromium("The deployed stack console's browser test");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-aws-console-"));

/** The source's clients, each call counted by its command's name (what a page view costs on AWS). */
function countedClients(outputs: StackOutputs): { clients: AwsClients; calls: Map<string, number> } {
  const clients = awsClients(outputs);
  const calls = new Map<string, number>();
  for (const client of Object.values(clients))
    client.middlewareStack.add(
      (next: any, context: any) => (args: any) => {
        calls.set(context.commandName, (calls.get(context.commandName) ?? 0) + 1);
        return next(args);
      },
      { step: "initialize" },
    );
  return { clients, calls };
}

(browserPath ? describe : describe.skip)("orders console: the deployed stack's console, in a browser", () => {
  let served: Served;
  let outputs: StackOutputs;
  let browser: Browser;
  let page: Page;
  let consoles: ServedConsole[] = [];
  beforeAll(async () => {
    served = startServe(["--port", "0", "--stack-dir", synthOrderStackTo(path.join(work, "stack"))], "node");
    const ready = await readyOf(served);
    outputs = loadOutputs(ready.outputs, "OrderSystemStack");
    const sns = new SNSClient({ endpoint: ready.endpoint, region: ready.region, credentials: LOCAL_CREDENTIALS });
    await sns.send(new PublishCommand({ TopicArn: outputs.topic_arn, Message: sampleOrderBody({ orderId: "OK1" }) }));
    const bad = sampleOrderBody({ orderId: "BAD1", status: "returned" });
    await sns.send(new PublishCommand({ TopicArn: outputs.topic_arn, Message: bad }));
    sns.destroy();
    // The invalid order is dead-lettered after 3 receives (the runtime's clock runs them at once).
    const sqs = sqsClientFor(outputs);
    while ((await messagesIn(sqs, outputs.dlq_url)) < 1) await sleep(100);
    sqs.destroy();
    ({ browser, page } = await launchPage(browserPath));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    for (const c of consoles) await c.close();
    if (served) await interrupt(served);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const until = (selector: string, pattern: RegExp, timeout = 20_000) =>
    page.locator(selector, { hasText: pattern }).waitFor({ timeout });
  const open = async (view: string) => {
    await page.getByRole("navigation").getByRole("link", { name: view }).click();
    await page.locator("main h2", { hasText: new RegExp(view.split(" ")[0], "i") }).waitFor();
  };

  test("read-only by default: the flow from the outputs, one journey, the dead letter, each unread API said where it is used", async () => {
    const { clients, calls } = countedClients(outputs);
    const served = await serveConsole(outputs, {
      stack: "OrderSystemStack",
      port: 0,
      allowChanges: false,
      clients,
      refreshSeconds: 1,
    });
    consoles.push(served);
    await page.goto(served.url);
    await until("#status", /read-only/);
    await until("#node-DLQ .count", /in queue/);
    console.log(`orders console: AWS calls of the first page view ${JSON.stringify(Object.fromEntries(calls))}`);
    expect(await page.locator("#status").innerText()).toMatch(
      /OrderSystemStack in us-east-1: read at \d\d:\d\d:\d\d \(again every 1 s while this tab is shown\)/,
    );
    for (const name of [
      "OrderTopic",
      "OrderQueue",
      "DLQ",
      "OrderTopicDeliveryDLQ",
      "OrderProcessor",
      "Orders",
      "OrderAlarms",
    ])
      expect(await page.locator(`#node-${name}`).count()).toBe(1);
    expect(await page.locator("#flow .edge.redrive").count()).toBe(1);
    await until("#node-DLQ .count", /^1 in queue, 0 in flight$/);
    await until("#node-Orders .count", /^\d+ items? \(DynamoDB's ItemCount, updated about every six hours\)$/);
    // CloudWatch is not served here: said once, with what the endpoint answered, and the rest is shown.
    expect(await page.locator("#pipeline-problems").innerText()).toMatch(
      /the metrics \(cloudwatch:GetMetricData\): NotImplemented/,
    );

    // One refresh: one GetQueueAttributes per queue and at most one GetMetricData (kept 30 s), whatever the view.
    const refreshed = async () => {
      const before = await page.locator("#status").innerText();
      calls.clear();
      await page.locator("#status", { hasNotText: before }).waitFor();
      return Object.fromEntries(calls);
    };
    const perRefresh = await refreshed();
    console.log(`orders console: AWS calls per refresh ${JSON.stringify(perRefresh)}`);
    expect(perRefresh.GetQueueAttributesCommand).toBe(3);
    expect(perRefresh.GetMetricDataCommand ?? 0).toBeLessThanOrEqual(1);
    expect(perRefresh.ReceiveMessageCommand).toBeUndefined(); // nothing is received unless the DLQ view is opened

    // A hidden tab asks nothing; shown again, it asks at once.
    const visibility = (state: "hidden" | "visible") =>
      page.evaluate((shown) => {
        // In the page (the test's types have no DOM): what a browser does when the tab is hidden or shown.
        const doc = (globalThis as { document?: any }).document;
        Object.defineProperty(doc, "visibilityState", { value: shown, configurable: true });
        doc.dispatchEvent(new Event("visibilitychange"));
      }, state);
    await visibility("hidden");
    await sleep(500);
    calls.clear();
    await sleep(2_500); // two refreshes, were it shown
    expect(Object.fromEntries(calls)).toEqual({});
    // (Hidden, the page dropped its timer: only the tab shown again can make it ask.)
    await visibility("visible");
    for (const shown = Date.now(); (calls.get("GetQueueAttributesCommand") ?? 0) < 3 && Date.now() - shown < 5_000;)
      await sleep(20);
    expect(calls.get("GetQueueAttributesCommand")).toBeGreaterThanOrEqual(3);

    await page.goto(`${served.url}#/journey/OK1`);
    await until("#journey-item", /"orderId": "OK1"/);
    expect(await page.locator("#journey-problems").innerText()).toMatch(
      /the function's log \(logs:FilterLogEvents on \/aws\/lambda\/OrderProcessor\): NotImplemented/,
    );

    await open("Dead letters");
    await until("#dlq-queues", /BAD1/);
    const row = page.locator("#dlq-queues tr", { hasText: "BAD1" });
    expect(await row.innerText()).toMatch(/BAD1\s+\d+\s+\d{4}-/);
    expect(await row.getByRole("button").count()).toBe(0); // read-only: no redrive, no delete
    // Its journey says a DLQ holds it, from that look (a journey receives nothing).
    await page.goto(`${served.url}#/journey/BAD1`);
    await until("#journey-events", /in DLQ in DLQ when the Dead letters view last looked/);
  }, 90_000);

  test("--allow-changes: a dead letter redriven from the page is back in OrderQueue, and its journey says so", async () => {
    const served = await serveConsole(outputs, {
      stack: "OrderSystemStack",
      port: 0,
      allowChanges: true,
      refreshSeconds: 1,
    });
    consoles.push(served);
    await page.goto(`${served.url}#/dlq`);
    await until("#status", /changes allowed/);
    const row = page.locator("#dlq-queues tr", { hasText: "BAD1" });
    await row.getByRole("button", { name: "Redrive" }).click();
    await until("#dlq-result", /moved 1 of 1 from DLQ to OrderQueue/);
    await page.goto(`${served.url}#/journey/BAD1`);
    await until("#journey-events", /redriven by this console/);
  }, 60_000);
});
