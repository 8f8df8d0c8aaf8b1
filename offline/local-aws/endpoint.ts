/**
 * One loopback endpoint for every service, as local AWS tools offer it: each request goes to the engine
 * of the service it is signed for (the SigV4 credential scope `.../<region>/<service>/aws4_request`, or
 * the `X-Amz-Target` header), so one `AWS_ENDPOINT_URL` serves the AWS CLI and every SDK.
 *
 * It also works around two fauxqs 2.4.1 gaps, here and nowhere else: the queue URLs it answers name the
 * host `sqs.<region>.localhost`, which does not resolve, or, for a queue kept by `--persist`, the port of
 * the run that created it; and current AWS SDKs send a queue's requests to its URL's host when the
 * endpoint comes from `AWS_ENDPOINT_URL`. The queue URLs in SQS answers passing through are rewritten to
 * name this endpoint (`127.0.0.1:<port>`), which fauxqs accepts (it finds a queue by its name).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type ServiceName = "sns" | "sqs" | "dynamodb";

export interface ServiceEndpoint {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A port another process holds: what to do about it. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  constructor(port: number) {
    super(
      `port ${port} on 127.0.0.1 is in use (another npm start -- --serve, LocalStack or moto?): stop that process, or pick another port with --port N (0 picks a free one)`,
    );
  }
}

/** `http://sqs.us-east-1.localhost:4566` or `http://127.0.0.1:4566` in `.../000000000000/OrderQueue` */
const QUEUE_URL_ORIGIN = /https?:\/\/(?:sqs\.[a-z0-9-]+\.localhost|127\.0\.0\.1|localhost):\d+(?=\/\d{12}\/)/g;
/** The JSON-protocol SQS actions that answer queue URLs: only theirs are rewritten (never a message body). */
const ANSWERS_QUEUE_URLS = /^AmazonSQS\.(CreateQueue|GetQueueUrl|ListQueues|ListDeadLetterSourceQueues)$/;

/** Whether an SQS answer's queue URLs are rewritten: JSON actions that answer them; every query-protocol answer. */
const rewritesQueueUrls = (headers: http.IncomingHttpHeaders) => {
  const target = headers["x-amz-target"];
  return target === undefined || ANSWERS_QUEUE_URLS.test(String(target));
};

const SCOPE = /Credential=[^/]+\/\d{8}\/[^/]+\/([a-z0-9-]+)\/aws4_request/;

/** The service a request is for, from its signature or target header; undefined when it names none we serve. */
export function serviceOf(headers: http.IncomingHttpHeaders): ServiceName | undefined {
  const scope = SCOPE.exec(String(headers.authorization ?? ""))?.[1];
  const target = String(headers["x-amz-target"] ?? "");
  const service = scope ?? (target.startsWith("DynamoDB_") ? "dynamodb" : target.startsWith("AmazonSQS") ? "sqs" : "");
  return service === "sns" || service === "sqs" || service === "dynamodb" ? service : undefined;
}

/**
 * A request for a service this endpoint does not serve gets what AWS answers an operation a service does not
 * offer (HTTP 501, `NotImplemented`), in the request's protocol (query: XML; JSON protocols: `__type`), so an
 * SDK raises it by name and a client such as `orders verify` can skip what the endpoint lacks.
 */
function notServed(request: http.IncomingMessage, response: http.ServerResponse): void {
  const scope = SCOPE.exec(String(request.headers.authorization ?? ""))?.[1];
  const message = scope
    ? `this endpoint serves SNS, SQS and DynamoDB; ${scope} is not emulated`
    : "this endpoint serves SNS, SQS and DynamoDB; sign the request for one of them (SigV4)";
  const query = String(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
  const body = query
    ? `<ErrorResponse><Error><Type>Sender</Type><Code>NotImplemented</Code><Message>${message}</Message></Error></ErrorResponse>`
    : JSON.stringify({ __type: "NotImplemented", message });
  request.resume();
  response.writeHead(501, {
    "content-type": query ? "text/xml" : "application/x-amz-json-1.1",
    "x-amzn-errortype": "NotImplemented",
  });
  response.end(body);
}

/** Each request to the engine of the service it is for; SQS's answers with resolvable queue URLs. */
function forwardByService(
  targets: Record<ServiceName, string>,
  agent: http.Agent,
  origin: () => string,
): http.RequestListener {
  return (request, response) => {
    const service = serviceOf(request.headers);
    if (!service) return notServed(request, response);
    const target = new URL(targets[service]);
    const forward = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
        agent,
      },
      (answer) => {
        if (service !== "sqs" || !rewritesQueueUrls(request.headers)) {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => chunks.push(chunk));
        answer.on("end", () => {
          const body = Buffer.from(Buffer.concat(chunks).toString("utf8").replace(QUEUE_URL_ORIGIN, origin()));
          response.writeHead(answer.statusCode ?? 502, { ...answer.headers, "content-length": body.length });
          response.end(body);
        });
      },
    );
    forward.on("error", (error) => {
      if (!response.headersSent) response.writeHead(502, { "content-type": "text/plain" });
      response.end(`the local ${service} engine did not answer: ${error.message}\n`);
    });
    request.pipe(forward);
  };
}

export async function startServiceEndpoint(
  port: number,
  targets: Record<ServiceName, string>,
): Promise<ServiceEndpoint> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let origin = "";
  const server = http.createServer(forwardByService(targets, agent, () => origin));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new PortInUseError(port) : error),
    );
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${actual}`;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
