/**
 * The one endpoint of `--serve` as an attacker, a broken client and a wrong client meet it: a client that
 * goes away, a page of another origin or a rebound host name, malformed, mistyped, oversized and unsigned
 * requests, and services it does not serve. The answers are read with the AWS SDK's own parsers.
 */
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { IAMClient, ListRolesCommand } from "@aws-sdk/client-iam";
import { KMSClient, ListKeysCommand } from "@aws-sdk/client-kms";
import { LambdaClient, ListFunctionsCommand } from "@aws-sdk/client-lambda";
import { ListTopicsCommand, SNSClient } from "@aws-sdk/client-sns";
import {
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LOCAL_CREDENTIALS } from "../../offline/engines/dynamodb";
import { LocalPipeline } from "../../offline/runtime/pipeline";
import { synthOrderStackTo } from "../support/stacks";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "order-endpoint-"));
const ALLOWED = "http://localhost:3000";
let pipeline: LocalPipeline;
let url: string;
let port: number;

beforeAll(async () => {
  const stackDir = synthOrderStackTo(path.join(work, "stack"));
  // The request timeout is shortened here, not in the product, to see the server outlive it.
  pipeline = await LocalPipeline.start({
    stackDir,
    endpoint: { port: 0, allowOrigins: [ALLOWED], requestTimeoutMs: 1000 },
  });
  url = pipeline.endpoint!.url;
  port = pipeline.endpoint!.port;
}, 60_000);
afterAll(async () => {
  await pipeline?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const config = () => ({ endpoint: url, region: pipeline.stack.region, credentials: LOCAL_CREDENTIALS });
const SIGNED = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0`;

/** One request per service, as each SDK shapes it. */
const REQUESTS = {
  sns: {
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "Action=ListTopics&Version=2010-03-31",
  },
  sqs: {
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "AmazonSQS.ListQueues" },
    body: "{}",
  },
  dynamodb: {
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.ListTables" },
    body: "{}",
  },
} as const;

/** A raw request (Node's http, which lets a test set Host, Origin and Referer as a browser or attacker would). */
function raw(
  method: string,
  pathname: string,
  headers: Record<string, string>,
  body = "",
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, method, path: pathname, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (c: Buffer) => chunks.push(c));
      response.on("end", () =>
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    request.on("error", reject);
    request.end(body);
  });
}

const serviceRequest = (service: keyof typeof REQUESTS, extra: Record<string, string>) =>
  raw(
    "POST",
    "/",
    {
      host: `127.0.0.1:${port}`,
      "x-amz-date": "20260101T000000Z",
      authorization: SIGNED(service),
      ...REQUESTS[service].headers,
      ...extra,
    },
    REQUESTS[service].body,
  );

describe("a client that goes away", () => {
  test("an abandoned long poll: the forwarded request closes within a second of the client leaving", async () => {
    const dlq = pipeline.resources.all("aws_sqs_queue").find((q) => q.name === "DLQ")!;
    const client = http.request({
      host: "127.0.0.1",
      port,
      method: "POST",
      path: "/",
      headers: {
        authorization: SIGNED("sqs"),
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "AmazonSQS.ReceiveMessage",
      },
    });
    client.on("error", () => undefined);
    client.end(JSON.stringify({ QueueUrl: dlq.url, WaitTimeSeconds: 20 }));
    for (let waited = 0; pipeline.endpoint!.forwarding === 0 && waited < 5000; waited += 20) await sleep(20);
    expect(pipeline.endpoint!.forwarding).toBe(1);
    client.destroy();
    const left = Date.now();
    while (pipeline.endpoint!.forwarding > 0 && Date.now() - left < 3000) await sleep(20);
    expect(pipeline.endpoint!.forwarding).toBe(0);
    expect(Date.now() - left).toBeLessThan(1000);
  });

  test("a DynamoDB body that never completes, then the client leaves or the request times out: the server still serves", async () => {
    const partial = (close: boolean) =>
      new Promise<void>((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port }, () => {
          socket.write(
            [
              "POST / HTTP/1.1",
              `Host: 127.0.0.1:${port}`,
              `Authorization: ${SIGNED("dynamodb")}`,
              "X-Amz-Target: DynamoDB_20120810.PutItem",
              "Content-Type: application/x-amz-json-1.0",
              "Content-Length: 100000",
              "",
              "{",
            ].join("\r\n"),
          );
          if (close) setTimeout(() => socket.destroy(), 100);
        });
        socket.on("error", () => undefined);
        socket.on("close", () => resolve());
        if (!close) setTimeout(resolve, 100);
      });
    await partial(true);
    await partial(false); // left open: the server's request timeout (1 s here) ends it
    await sleep(1500);
    const dynamodb = new DynamoDBClient(config());
    try {
      expect((await dynamodb.send(new ListTablesCommand({}))).TableNames).toContain("Orders");
    } finally {
      dynamodb.destroy();
    }
  });
});

describe("closed to web pages", () => {
  test.each(Object.keys(REQUESTS) as (keyof typeof REQUESTS)[])(
    "%s: a rebound Host, a foreign Origin or Referer get 403 before any engine; no wildcard CORS",
    async (service) => {
      const rebound = await serviceRequest(service, { host: `evil.example:${port}` });
      expect(rebound.status).toBe(403);
      expect(rebound.body).toMatch(/AccessDenied.*Host evil\.example/s);
      expect((await serviceRequest(service, { origin: "http://evil.example" })).status).toBe(403);
      expect((await serviceRequest(service, { referer: "http://evil.example/page.html" })).status).toBe(403);
      const allowed = await serviceRequest(service, { origin: ALLOWED });
      expect(allowed.status).toBe(200);
      expect(allowed.headers["access-control-allow-origin"]).toBe(ALLOWED);
      const own = await serviceRequest(service, { origin: url });
      expect(own.headers["access-control-allow-origin"]).toBe(url);
      const plain = await serviceRequest(service, {});
      expect(plain.status).toBe(200);
      expect(plain.headers["access-control-allow-origin"]).toBeUndefined();
    },
  );

  test("a preflight: 403 for a foreign origin, the origin itself (never *) for an allowed one", async () => {
    const preflight = (origin: string) =>
      raw("OPTIONS", "/", {
        host: `localhost:${port}`,
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,x-amz-target,content-type",
      });
    expect((await preflight("http://evil.example")).status).toBe(403);
    const ok = await preflight(ALLOWED);
    expect(ok.status).toBe(204);
    expect(ok.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(ok.headers["access-control-allow-headers"]).toBe("authorization,x-amz-target,content-type");
  });

  test("a simple form POST from a page (no signature, foreign Origin) never reaches SNS", async () => {
    const post = await raw(
      "POST",
      "/",
      { host: `127.0.0.1:${port}`, origin: "http://evil.example", "content-type": "application/x-www-form-urlencoded" },
      "Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3AOrderTopic&Message=%7B%7D",
    );
    expect(post.status).toBe(403);
    expect(pipeline.progress().delivered).toBe(0);
  });

  test("the SDK with the endpoint's URL works (no Origin, no Referer)", async () => {
    const sqs = new SQSClient(config());
    try {
      expect((await sqs.send(new ListQueuesCommand({}))).QueueUrls).toHaveLength(3);
    } finally {
      sqs.destroy();
    }
  });
});

/** A client whose request body is replaced after signing: what a buggy or hostile client sends. */
function withBody<T extends SQSClient | SNSClient>(client: T, body: string | Buffer): T {
  (client.middlewareStack as SQSClient["middlewareStack"]).add(
    (next) => async (args) => {
      const request = args.request as { body: unknown; headers: Record<string, string> };
      request.body = body;
      request.headers["content-length"] = String(Buffer.byteLength(body));
      return next(args);
    },
    { step: "finalizeRequest", priority: "low" },
  );
  return client;
}

/** The error the SDK raises for a call, with its status and attempts. */
async function sdkError(call: () => Promise<unknown>) {
  const error = (await call().then(
    () => undefined,
    (e: unknown) => e,
  )) as { name: string; message: string; $metadata: { httpStatusCode?: number; attempts?: number } };
  expect(error).toBeDefined();
  return {
    name: error.name,
    status: error.$metadata.httpStatusCode,
    attempts: error.$metadata.attempts,
    message: error.message,
  };
}

describe("AWS-shaped errors, read by the SDK's parsers", () => {
  test("malformed JSON: 400 SerializationException", async () => {
    const sqs = withBody(new SQSClient(config()), "{");
    expect(await sdkError(() => sqs.send(new ListQueuesCommand({})))).toMatchObject({
      name: "SerializationException",
      status: 400,
    });
    sqs.destroy();
  });

  test("a mistyped field: 400 InvalidParameterValue, not the engine's JavaScript error", async () => {
    const sqs = withBody(new SQSClient(config()), JSON.stringify({ QueueUrl: 5, AttributeNames: ["All"] }));
    const error = await sdkError(() => sqs.send(new GetQueueAttributesCommand({ QueueUrl: "x" })));
    expect(error).toMatchObject({ name: "InvalidParameterValue", status: 400 });
    expect(error.message).not.toMatch(/is not a function|undefined/);
    sqs.destroy();
  });

  test("an oversized body: 413 with an error body", async () => {
    const sns = withBody(new SNSClient({ ...config(), maxAttempts: 1 }), Buffer.alloc(17 * 1024 * 1024, "a"));
    expect(await sdkError(() => sns.send(new ListTopicsCommand({})))).toMatchObject({
      name: "RequestEntityTooLarge",
      status: 413,
    });
    sns.destroy();
  });

  test("an unsigned call: 403 MissingAuthenticationToken", async () => {
    const sns = new SNSClient(config());
    sns.middlewareStack.add(
      (next) => async (args) => {
        delete (args.request as { headers: Record<string, string> }).headers.authorization;
        return next(args);
      },
      { step: "finalizeRequest", priority: "low" },
    );
    expect(await sdkError(() => sns.send(new ListTopicsCommand({})))).toMatchObject({
      name: "MissingAuthenticationToken",
      status: 403,
    });
    sns.destroy();
  });

  test("a service it does not serve (query, JSON and REST-JSON protocols): NotImplemented naming those served, not retried", async () => {
    const iam = new IAMClient(config());
    const kms = new KMSClient(config());
    const lambda = new LambdaClient(config());
    for (const error of [
      await sdkError(() => iam.send(new ListRolesCommand({}))),
      await sdkError(() => kms.send(new ListKeysCommand({}))),
      // Lambda speaks REST-JSON: an XML answer left its SDK (and botocore) with an unparsed body.
      await sdkError(() => lambda.send(new ListFunctionsCommand({}))),
    ]) {
      expect(error).toMatchObject({ name: "NotImplemented", status: 501, attempts: 1 });
      expect(error.message).toMatch(/serves sns, sqs and dynamodb/);
    }
    iam.destroy();
    kms.destroy();
    lambda.destroy();
  });
});

test("GET /_local/health answers JSON (503 until the server has started), behind the same checks", async () => {
  const health = await raw("GET", "/_local/health", { host: `localhost:${port}` });
  expect(health.status).toBe(503);
  expect(JSON.parse(health.body)).toEqual({ status: "starting" });
  expect((await raw("GET", "/_local/health", { host: `evil.example:${port}` })).status).toBe(403);
});

describe("what a browser sends for another site, without Origin or Referer", () => {
  test.each(Object.keys(REQUESTS) as (keyof typeof REQUESTS)[])(
    "%s: Sec-Fetch-Site cross-site or same-site gets 403; same-origin and an allowed Origin pass",
    async (service) => {
      for (const site of ["cross-site", "same-site"]) {
        const refused = await serviceRequest(service, { "sec-fetch-site": site });
        expect(refused.status).toBe(403);
        expect(refused.body).toMatch(/AccessDenied.*another site/s);
      }
      expect((await serviceRequest(service, { "sec-fetch-site": "same-origin" })).status).toBe(200);
      expect((await serviceRequest(service, { "sec-fetch-site": "cross-site", origin: ALLOWED })).status).toBe(200);
    },
  );
});

describe("requests AWS refuses, refused here as AWS does", () => {
  const orderQueue = () => pipeline.resources.all("aws_sqs_queue").find((q) => q.model.redrive)!;
  const sendRaw = (input: Record<string, unknown>, target = "SendMessage") => {
    const sqs = withBody(new SQSClient(config()), JSON.stringify({ QueueUrl: orderQueue().url, ...input }));
    sqs.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers["x-amz-target"] = `AmazonSQS.${target}`;
        return next(args);
      },
      { step: "finalizeRequest", priority: "low" },
    );
    return sdkError(() => sqs.send(new ListQueuesCommand({}))).finally(() => sqs.destroy());
  };
  const attribute = (value: Record<string, unknown>) => ({ MessageBody: "x", MessageAttributes: { a: value } });

  test("SendMessage: a Binary attribute not in base64, a DataType of Evil, 11 attributes, a lone surrogate, DelaySeconds 901", async () => {
    const eleven = Object.fromEntries(
      Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: "String", StringValue: "v" }]),
    );
    for (const [input, reason] of [
      [attribute({ DataType: "Binary", BinaryValue: "!!notbase64!!" }), /Binary.*base64/],
      [attribute({ DataType: "Evil", StringValue: "x" }), /invalid message attribute type/],
      [{ MessageBody: "x", MessageAttributes: eleven }, /\[11\] exceeds the allowed maximum \[10\]/],
      [attribute({ DataType: "String", StringValue: "half \ud800" }), /invalid characters/],
      [{ MessageBody: "x", MessageAttributes: { "AWS.trace": { DataType: "String", StringValue: "v" } } }, /reserved/],
      [{ MessageBody: "x", DelaySeconds: 901 }, /DelaySeconds is invalid/],
    ] as const) {
      const error = await sendRaw(input);
      // The SDK names the query-protocol code SQS sends in x-amzn-query-error for a call that does not model it.
      expect(error).toMatchObject({ name: expect.stringMatching(/InvalidParameterValue$/), status: 400 });
      expect(error.message).toMatch(reason);
    }
    const queued = await pipeline.liveCounts();
    expect(queued.balance.arrived).toBe(0); // none of them entered the queue
  });

  test("SendMessageBatch: an entry id of 81 characters is refused; an entry with a bad attribute fails alone", async () => {
    expect(await sendRaw({ Entries: [{ Id: "i".repeat(81), MessageBody: "x" }] }, "SendMessageBatch")).toMatchObject({
      name: "InvalidBatchEntryId",
      status: 400,
    });
  });

  test("Publish: a Binary attribute not in base64 is refused before the topic takes it (the SNS spy sees nothing)", async () => {
    const published = pipeline.published;
    const topic = pipeline.resources.topicToPublishTo().arn;
    const form = (value: string) =>
      raw(
        "POST",
        "/",
        {
          host: `127.0.0.1:${port}`,
          authorization: SIGNED("sns"),
          "content-type": "application/x-www-form-urlencoded",
        },
        `Action=Publish&TopicArn=${encodeURIComponent(topic)}&Message=%7B%7D` +
          `&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=Binary` +
          `&MessageAttributes.entry.1.Value.BinaryValue=${value}`,
      );
    const refused = await form("!!notbase64!!");
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/InvalidParameterValue.*base64/s);
    expect(pipeline.published).toBe(published);
  });

  test("a body that is not UTF-8: 400 in the protocol's shape (JSON and form)", async () => {
    const sqs = withBody(new SQSClient(config()), Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
    expect(await sdkError(() => sqs.send(new ListQueuesCommand({})))).toMatchObject({
      name: "SerializationException",
      status: 400,
    });
    sqs.destroy();
    const form = await raw(
      "POST",
      "/",
      { host: `127.0.0.1:${port}`, authorization: SIGNED("sns"), "content-type": "application/x-www-form-urlencoded" },
      "Action=Publish&TopicArn=x&Message=%FF%FE",
    );
    expect(form.status).toBe(400);
    expect(form.body).toMatch(/<Code>MalformedQueryString<\/Code>/);
  });

  test("DynamoDB with a body of null: 400 SerializationException, not 500", async () => {
    const dynamodb = new DynamoDBClient(config());
    dynamodb.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body: unknown; headers: Record<string, string> };
        request.body = "null";
        request.headers["content-length"] = "4";
        return next(args);
      },
      { step: "finalizeRequest", priority: "low" },
    );
    expect(await sdkError(() => dynamodb.send(new ListTablesCommand({})))).toMatchObject({
      name: "SerializationException",
      status: 400,
    });
    dynamodb.destroy();
  });

  test("a URL of 20 kB: 414 with an AWS error body, not a dropped connection", async () => {
    const long = await raw("GET", `/?${"a".repeat(20_000)}`, { host: `127.0.0.1:${port}` });
    expect(long.status).toBe(414);
    expect(long.body).toMatch(/<Code>RequestURITooLong<\/Code>/);
  });
});

describe("only the services it serves", () => {
  test("S3 calls signed for sqs or sns (fauxqs serves S3 too) get 501 NotImplemented, and no bucket is made", async () => {
    for (const service of ["sqs", "sns"]) {
      const put = await raw("PUT", "/evil-bucket", {
        host: `127.0.0.1:${port}`,
        authorization: SIGNED(service),
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      });
      expect(put.status).toBe(501);
      expect(put.body).toMatch(/NotImplemented.*PUT \/evil-bucket is none of its calls/s);
      const get = await raw("GET", "/evil-bucket/key", { host: `127.0.0.1:${port}`, authorization: SIGNED(service) });
      expect(get.status).toBe(501);
    }
  });
});

test("300 open long polls do not hold up another client's SendMessage", async () => {
  const dlq = pipeline.resources.deadLetterQueues()[0];
  const pollers = Array.from({ length: 300 }, () => new SQSClient({ ...config(), maxAttempts: 1 }));
  const aborted = new AbortController();
  const polls = pollers.map((sqs) =>
    sqs
      .send(new ReceiveMessageCommand({ QueueUrl: dlq.url, WaitTimeSeconds: 20 }), { abortSignal: aborted.signal })
      .catch(() => undefined),
  );
  const sender = new SQSClient(config());
  try {
    // Every long poll forwarded (the agent's queue included), then a moment to reach the engine.
    for (let waited = 0; pipeline.endpoint!.forwarding < 300 && waited < 10_000; waited += 50) await sleep(50);
    expect(pipeline.endpoint!.forwarding).toBeGreaterThanOrEqual(300);
    await sleep(200);
    const started = Date.now();
    await sender.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: "not held up" }));
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    aborted.abort();
    await Promise.all(polls);
    for (const sqs of [...pollers, sender]) sqs.destroy();
  }
}, 30_000);
