/**
 * The local console in a real browser (the system's Chromium, driven by playwright-core): a new user opens
 * the printed address and, without a terminal, publishes the sample order and sees its journey end in
 * `stored`, publishes an invalid one and sees it in the DLQ view with its validation error after 3
 * receives, fixes the handler (`--watch`), redrives it and sees it stored. A state-changing request from
 * another origin or without the page's token is refused. With UPDATE_DOCS_SCREENSHOT=1 it writes the
 * screenshot docs/local.md shows.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { Browser, Page } from "playwright-core";
import { copyProject } from "../../scripts/project-copy";
import { launchPage, requiredChromium } from "../support/browser";
import { PROJECT_ROOT } from "../support/paths";
import { interrupt, readyOf, Served, startServe } from "../support/serve";
import { synthOrderStackTo } from "../support/stacks";
import { pipelineGraph } from "../../offline/runtime/graph";
import { loadStack } from "../../offline/runtime/stack-model";

const browserPath = requiredChromium("The console's browser test");

const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-console-"));
const ORDER = { userId: "U432", itemName: "Tablet", quantity: 3, timestamp: "2025-05-09T14:40:00Z" };

(browserPath ? describe : describe.skip)("the local console in a browser", () => {
  let served: Served;
  let ready: { endpoint: string };
  let project: string;
  let stackDir: string;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    project = copyProject(path.join(work, "project"));
    stackDir = synthOrderStackTo(path.join(work, "stack"));
    served = startServe(["--port", "0", "--stack-dir", stackDir, "--watch"], "node", project);
    ready = await readyOf(served);
    ({ browser, page } = await launchPage(browserPath));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    if (served) await interrupt(served);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const text = (selector: string) => page.locator(selector).innerText();
  /**
   * Waits until the element's text matches (a locator: the page's CSP allows no evaluated strings); on
   * timeout, says what the element showed and what the server printed last.
   */
  const until = async (selector: string, pattern: RegExp, timeout = 20_000) => {
    try {
      await page.locator(selector, { hasText: pattern }).waitFor({ timeout });
    } catch (error) {
      const shown = await page
        .locator(selector)
        .innerText({ timeout: 1_000 })
        .catch(() => "(not on the page)");
      throw new Error(
        `${selector} never matched ${pattern} within ${timeout} ms.\nIt showed:\n${shown}\n` +
          `The server printed last:\n${served.lines.slice(-30).join("\n")}\n${error}`,
      );
    }
  };

  /** Opens a view by its link in the page's navigation (its own address: the back button works). */
  const open = async (view: string) => {
    await page.getByRole("navigation").getByRole("link", { name: view }).click();
    await page
      .locator("main h2", { hasText: new RegExp(view === "Table" ? "Orders table" : view.split(" ")[0], "i") })
      .waitFor();
  };

  test("the printed address opens the pipeline drawn as a flow from the stack, one arrow per edge, with live counts", async () => {
    const address = served.lines.find((l) => l.startsWith("console: "))!.split(" ")[1];
    expect(address).toBe(`${ready.endpoint}/_local/console/`);
    const started = Date.now();
    await page.goto(address);
    await page
      .locator("#node-OrderQueue .count")
      .filter({ hasText: /in queue/ })
      .waitFor();
    console.log(`console: pipeline picture after ${Date.now() - started} ms`);
    for (const name of ["OrderTopic", "OrderQueue", "DLQ", "OrderProcessor", "Orders", "OrderAlarms"])
      expect(await page.locator(`#node-${name}`).count()).toBe(1);
    expect(await text("#node-OrderTopic .count")).toBe("published 0");
    // Every edge of the stack model is an arrow: subscriptions, DLQs, the redrive path, the mapping, the table, alarms.
    const graph = pipelineGraph(loadStack(stackDir));
    expect(await page.locator("#flow .edge").count()).toBe(graph.edges.length);
    expect(graph.edges.map((e) => e.kind)).toEqual(
      expect.arrayContaining(["subscription", "dead-letter", "redrive", "mapping", "stores", "alarm"]),
    );
    expect(await page.locator("#flow .edge.redrive").count()).toBe(1);
    expect(await text(".edge-label.dead-letter")).toBe("after 3 receives");
    // A node opens its view, at its own address; back returns to the picture.
    await page.click("#node-DLQ");
    await page.waitForURL(/#\/dlq$/);
    await page.goBack();
    await page.locator("#flow").waitFor();
  });

  test("publish the sample order with the form: its journey ends in stored, and the item shows", async () => {
    await open("Publish");
    const published = Date.now();
    await page.click("#publish-form button");
    await until("#journey-events", /stored/);
    console.log(`console: publish to journey showing stored ${Date.now() - published} ms`);
    expect(page.url()).toMatch(/#\/journey\/O9876$/);
    const journey = await text("#journey-events");
    expect(journey).toMatch(
      /published[\s\S]*received #1[\s\S]*invoked OrderProcessor in execution environment #1 \(cold start\), 1 record[\s\S]*stored/,
    );
    await until("#journey-item", /"orderId": "O9876"/);
    // The counts followed, pushed by the server (no page polling): the topic's publish, the table's item.
    await open("Pipeline");
    await until("#node-OrderTopic .count", /^published 1$/);
    await until("#node-Orders .count", /^1 item$/);
    await until("#node-OrderProcessor .count", /^stored 1$/);
    expect(await text("#node-OrderAlarms .count")).toBe("published 0");
    // The charts (uPlot, with axes and a legend): the second it was processed has a latency, and a point in and out.
    await until("#latency", /median \d+ ms, slowest \d+ ms over 1 order\./);
    await until("#rate-now", /^Last 10 minutes: 1 in, 1 out\./);
    expect(await page.locator("#rate-chart .u-legend").count()).toBe(1);
    expect(await page.locator("#latency-chart canvas").count()).toBe(1);
  });

  test("an invalid order: in the DLQ view with its validation error after 3 receives; fixed (--watch) and redriven, it is stored", async () => {
    const bad = { ...ORDER, orderId: "RETURNED1", status: "returned" };
    await open("Publish");
    await page.fill("#publish-body", JSON.stringify(bad));
    await page.click("#publish-form button");
    await until("#journey-events", /moved to DLQ OrderQueue → DLQ after 3 receives/);
    await open("Dead letters");
    await until("#dlq-queues", /RETURNED1/);
    const row = page.locator("#dlq-queues tr", { hasText: "RETURNED1" });
    expect(await row.innerText()).toMatch(/status: must be one of new, paid, shipped, delivered, cancelled/);
    // The fix: "returned" becomes a status the handler accepts; --watch runs it from the next batch.
    const orderFile = path.join(project, "lambda", "order.ts");
    const source = fs.readFileSync(orderFile, "utf8");
    fs.writeFileSync(orderFile, source.replace('"cancelled"] as const', '"cancelled", "returned"] as const'));
    await served.waitFor(/code updated +OrderProcessor v2/, 30_000);
    await open("Log");
    await until("#log-lines", /code updated: version 2/);
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      await open("Pipeline");
      await until("#node-Orders .count", /^1 item$/);
      await page.screenshot({ path: path.join(PROJECT_ROOT, "docs", "console.png"), fullPage: true });
    }
    await open("Dead letters");
    await row.getByRole("button", { name: "Redrive" }).click();
    await until("#dlq-result", /moved 1 of \d+ from DLQ to OrderQueue/);
    await open("Order journey");
    await page.fill("#journey-id", "RETURNED1");
    await page.click("#journey-form button");
    await until("#journey-events", /redriven[\s\S]*stored/);
    await until("#journey-item", /"status": "returned"/);
    await open("Dead letters");
    await page.locator("#dlq-queues h3", { hasText: /^DLQ: 0 messages$/ }).waitFor();
    expect(await text("#dlq-queues")).not.toContain("RETURNED1");
  }, 90_000);

  test("a state-changing request without the page's token, or from another origin, is refused", async () => {
    const post = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const { port } = new URL(ready.endpoint);
        const request = http.request(
          {
            host: "127.0.0.1",
            port,
            method: "POST",
            path: "/_local/api/publish",
            headers: { "content-type": "application/json", ...headers },
          },
          (response) => {
            response.resume();
            resolve(response.statusCode!);
          },
        );
        request.on("error", reject);
        request.end(JSON.stringify({ body: JSON.stringify({ ...ORDER, orderId: "FORGED", status: "new" }) }));
      });
    const token = await page.locator('meta[name="console-token"]').getAttribute("content");
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    expect(await post({})).toBe(403);
    expect(await post({ "x-console-token": "0".repeat(48) })).toBe(403);
    expect(await post({ "x-console-token": token!, origin: "http://evil.example" })).toBe(403);
    // From a page of another origin, as a browser sends it: refused before the console sees it.
    const other = await browser.newPage();
    await other.goto("about:blank");
    const status = await other.evaluate(async (url) => {
      try {
        const response = await fetch(`${url}/_local/api/dlq/redrive`, { method: "POST", body: "{}" });
        return response.status;
      } catch {
        return "blocked";
      }
    }, ready.endpoint);
    expect([403, "blocked"]).toContain(status);
    await other.close();
    expect(await post({ "x-console-token": token! })).toBe(200); // the page's own token works
  });

  test("a page of another site that hides its Origin and Referer can neither read the API nor stop the server", async () => {
    const { port } = new URL(ready.endpoint);
    // What an attacker's page holds: no referrer, and GETs a browser sends for an <img> (no Origin either).
    const attack = http.createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end(
        `<meta name="referrer" content="no-referrer">` +
          ["orders/%E0%A4%A", "items/%", "dlq", "items?count=1"]
            .map((route) => `<img src="http://127.0.0.1:${port}/_local/api/${route}">`)
            .join(""),
      );
    });
    await new Promise<void>((resolve) => attack.listen(0, "127.0.0.1", resolve));
    const other = await browser.newPage();
    try {
      const answers: number[] = [];
      other.on("response", (response) => {
        if (response.url().includes("/_local/api/")) answers.push(response.status());
      });
      // localhost is another site than 127.0.0.1 for the browser (Sec-Fetch-Site: cross-site).
      await other.goto(`http://localhost:${(attack.address() as { port: number }).port}/`);
      await other.waitForLoadState("networkidle");
      expect(answers).toEqual([403, 403, 403, 403]);
    } finally {
      await other.close();
      attack.close();
    }
    // Without a browser: a read without the token (and no Sec-Fetch-Site) is refused; a malformed id is a 400.
    const get = (route: string, headers: Record<string, string> = {}) =>
      fetch(`${ready.endpoint}/_local/api/${route}`, { headers }).then(async (r) => ({
        status: r.status,
        body: await r.json(),
      }));
    expect((await get("dlq")).status).toBe(403);
    const token = (await page.locator('meta[name="console-token"]').getAttribute("content"))!;
    expect(await get("orders/%E0%A4%A", { "x-console-token": token })).toEqual({
      status: 400,
      body: { error: "the id in /_local/api/orders/%E0%A4%A is not percent-encoded UTF-8" },
    });
    expect((await get("dlq", { "x-console-token": token })).status).toBe(200);
    const health = await fetch(`${ready.endpoint}/_local/health`);
    expect(health.status).toBe(200); // still serving
  });

  test("a state-changing request with a body of null gets a plain answer, not a JavaScript message", async () => {
    const token = (await page.locator('meta[name="console-token"]').getAttribute("content"))!;
    const response = await fetch(`${ready.endpoint}/_local/api/publish`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-console-token": token },
      body: "null",
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "send a JSON object, as the console's page does" });
  });
});
