/**
 * One loopback endpoint for every service, as local AWS tools offer it: each request goes to the engine
 * of the service it is signed for (the SigV4 credential scope `.../<region>/<service>/aws4_request`, or
 * the `X-Amz-Target` header), so one `AWS_ENDPOINT_URL` serves the AWS CLI and every SDK. It is the only
 * TCP port of `--serve` (the engines listen on Unix sockets), and it checks every request first:
 *
 * - `Host` must name this endpoint (`127.0.0.1:PORT` or `localhost:PORT`): a page whose name was rebound
 *   to 127.0.0.1 (DNS rebinding) gets 403;
 * - an `Origin` or `Referer` off the allow-list (this endpoint's own origin, and `--allow-origin`) gets 403
 *   before any engine sees the request, as LocalStack does; so does what a browser says it sent for
 *   another site (`Sec-Fetch-Site`), though the page hid its Origin and Referer; requests with none of
 *   these (CLIs, SDKs) pass. An allowed origin gets CORS headers naming it; no answer carries a wildcard;
 * - an unsigned request gets 403 `MissingAuthenticationToken`, one for a service not served (or signed for
 *   SNS or SQS but not one of their API calls: fauxqs's S3) 501 `NotImplemented` naming those served, a body
 *   over 16 MiB 413, a URL or headers over Node.js's 16 KiB 414/431; malformed JSON or a body that is not
 *   UTF-8 400 `SerializationException`; an engine's failure on a request it could not read 400
 *   `InvalidParameterValue`: each in the protocol's error shape, never a JavaScript message;
 * - long polls (`ReceiveMessage`) reach the engine over connections of their own, so however many wait,
 *   other SQS calls are not queued behind them;
 * - a client that goes away aborts the forwarded request.
 *
 * Signatures are not verified: any credentials work (docs/security.md).
 *
 * It also works around two fauxqs 2.4.1 gaps, here and nowhere else: the queue URLs it answers name the
 * host `sqs.<region>.localhost`, which does not resolve, or the port of the run that created the queue
 * (`--persist`), or port 0 (a socket); and current AWS SDKs send a queue's requests to its URL's host when
 * the endpoint comes from `AWS_ENDPOINT_URL`. The queue URLs in SQS answers passing through are rewritten
 * to name this endpoint (`127.0.0.1:<port>`), which fauxqs accepts (it finds a queue by its name).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { EngineAddress, engineAgent } from "./engine-address";
import { headOverflowAnswer, isApiCall, originPolicy, pageRefusal, unreadableBody } from "./request-checks";

export type ServiceName = "sns" | "sqs" | "dynamodb";

export interface EndpointOptions {
  /** Loopback port; 0 picks a free one. */
  readonly port: number;
  /** Origins (`scheme://host[:port]`) besides the endpoint's own whose pages may call it (`--allow-origin`). */
  readonly allowOrigins?: readonly string[];
  /** How long a request may take to arrive in full. @default Node.js's 300 s */
  readonly requestTimeoutMs?: number;
}

export interface ServiceEndpoint {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Forwarded requests not yet answered by their engine. */
  readonly forwarding: number;
  /** What `GET /_local/health` answers (set once the pipeline runs). */
  setHealth(report: () => Promise<Record<string, unknown>>): void;
  /** Who answers `/_local/console/` and `/_local/api/` (the local console), after the endpoint's checks. */
  setConsole(handler: http.RequestListener): void;
  close(): Promise<void>;
}

/** The engines: SNS and SQS at an address, DynamoDB as a request handler in this process. */
export interface EndpointTargets {
  readonly sns: EngineAddress;
  readonly sqs: EngineAddress;
  readonly dynamodb: http.RequestListener;
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

/** The largest body accepted (DynamoDB's 16 MB request limit; SNS and SQS messages are far smaller). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
const HEALTH_PATH = "/_local/health";
/** Long polls waiting at the engine at once; more wait here, never in front of other calls. */
const MAX_LONG_POLLS = 1024;

/** `http://sqs.us-east-1.localhost:4566` or `http://127.0.0.1:4566` in `.../000000000000/OrderQueue` */
const QUEUE_URL_ORIGIN = /https?:\/\/(?:sqs\.[a-z0-9-]+\.localhost|127\.0\.0\.1|localhost)(?::\d+)?(?=\/\d{12}\/)/g;
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

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The REST services that answer XML; every other non-query request is answered in JSON. */
const REST_XML_SERVICES = new Set(["s3", "cloudfront", "route53"]);

/**
 * Whether a request speaks XML: the query protocol (a form body, as SNS and IAM send) or a REST-XML service
 * (S3); JSON for the JSON protocols (`X-Amz-Target`: SQS, DynamoDB, KMS) and REST-JSON (Lambda), so that
 * every SDK parses the error of a service it asks for.
 */
function speaksXml(request: http.IncomingMessage): boolean {
  if (request.headers["x-amz-target"]) return false;
  if (String(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) return true;
  const scope = SCOPE.exec(String(request.headers.authorization ?? ""))?.[1];
  return scope === undefined ? !request.headers["content-type"] : REST_XML_SERVICES.has(scope);
}

/**
 * An error in the request's protocol: the query protocol's XML `ErrorResponse` (SNS, and SQS's query
 * protocol), or the JSON protocols' `__type` (SQS's JSON protocol, DynamoDB, a REST-JSON service such as
 * Lambda), as each service answers.
 */
export function awsError(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  const query = speaksXml(request);
  const body = query
    ? `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>local</RequestId></ErrorResponse>`
    : JSON.stringify({ __type: code, message });
  if (!request.complete) request.resume();
  if (response.headersSent) return void response.destroy();
  response.writeHead(status, {
    ...headers,
    "content-type": query ? "text/xml" : "application/x-amz-json-1.0",
    "content-length": Buffer.byteLength(body),
    "x-amzn-errortype": code,
    // SQS's JSON protocol names its query-protocol code here; the SDK reads it.
    ...(query ? {} : { "x-amzn-query-error": `${code};Sender` }),
  });
  response.end(body);
}

/** CORS headers for an allowed page; engines' own CORS headers (dynalite's wildcard) never pass. */
function corsHeaders(origin: string | undefined): http.OutgoingHttpHeaders {
  if (!origin) return {};
  return {
    "access-control-allow-origin": origin,
    "access-control-expose-headers": "x-amzn-requestid, x-amzn-errortype, x-amz-crc32, x-amzn-query-error",
    vary: "Origin",
  };
}

function withoutCors(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith("access-control-")));
}

/** Reads a body up to `MAX_BODY_BYTES`; undefined (after answering 413) when it is larger. */
function readBody(request: http.IncomingMessage, response: http.ServerResponse): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = () => {
      awsError(request, response, 413, "RequestEntityTooLarge", `request body larger than ${MAX_BODY_BYTES} bytes`, {
        connection: "close",
      });
      resolve(undefined);
    };
    if (Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return tooLarge();
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.removeAllListeners("data");
        return tooLarge();
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    request.on("error", () => resolve(undefined)); // the client went away
  });
}

/** An engine's answer to the client: queue URLs rewritten where SQS answers them; 500s it could not explain as 400s. */
function relayAnswer(
  service: ServiceName,
  request: http.IncomingMessage,
  response: http.ServerResponse,
  answer: http.IncomingMessage,
  origin: () => string,
  cors: http.OutgoingHttpHeaders,
): void {
  const chunks: Buffer[] = [];
  answer.on("data", (chunk: Buffer) => chunks.push(chunk));
  answer.on("error", () => response.destroy());
  answer.on("end", () => {
    let body = Buffer.concat(chunks);
    const status = answer.statusCode ?? 502;
    // fauxqs answers 500 with the JavaScript error when a parameter has the wrong type.
    if (status === 500 && service !== "dynamodb")
      return awsError(
        request,
        response,
        400,
        "InvalidParameterValue",
        "a parameter of the request has a value or type the service does not accept",
        cors,
      );
    if (service === "sqs" && rewritesQueueUrls(request.headers))
      body = Buffer.from(body.toString("utf8").replace(QUEUE_URL_ORIGIN, origin()));
    response.writeHead(status, { ...withoutCors(answer.headers), ...cors, "content-length": body.length });
    response.end(body);
  });
}

interface Forwarding {
  count: number;
}

interface EndpointState {
  port: number;
  health?: () => Promise<Record<string, unknown>>;
  console?: http.RequestListener;
  readonly forwarding: Forwarding;
  /** Connections to the engine: SNS, SQS, and SQS's long polls apart (each may hold one for 20 s). */
  readonly agents: { readonly sns: http.Agent; readonly sqs: http.Agent; readonly receives: http.Agent };
}

/** SNS and SQS requests to their engine, aborted when the client goes away. */
async function forwardToEngine(
  service: "sns" | "sqs",
  request: http.IncomingMessage,
  response: http.ServerResponse,
  target: { address: EngineAddress; agent: http.Agent },
  context: { origin: () => string; cors: http.OutgoingHttpHeaders; forwarding: Forwarding },
): Promise<void> {
  const { forwarding, cors } = context;
  let forward: http.ClientRequest | undefined;
  // The client went away (or the server timed it out): the engine's request goes too.
  response.once("close", () => {
    if (!response.writableFinished) forward?.destroy();
  });
  const body = await readBody(request, response);
  if (body === undefined) return;
  const unreadable = unreadableBody(request, body);
  if (unreadable) return awsError(request, response, 400, unreadable[0], unreadable[1], cors);
  if (response.destroyed) return;
  const headers = { ...request.headers, "content-length": String(body.length) };
  delete headers["transfer-encoding"];
  forward = http.request(
    { host: "localhost", path: request.url, method: request.method, headers, agent: target.agent },
    (answer) => relayAnswer(service, request, response, answer, context.origin, cors),
  );
  forwarding.count += 1;
  forward.once("close", () => (forwarding.count -= 1));
  forward.on("error", (error) => {
    if (response.destroyed) return;
    awsError(
      request,
      response,
      503,
      "ServiceUnavailable",
      `the local ${service} engine did not answer: ${error.message}`,
      cors,
    );
  });
  forward.end(body);
}

/** The endpoint's request handler: checks, health, then the engine of the request's service. */
function handler(targets: EndpointTargets, options: EndpointOptions, state: EndpointState): http.RequestListener {
  const policy = originPolicy(() => state.port, options.allowOrigins ?? []);
  const origin = () => `http://127.0.0.1:${state.port}`;
  const agents = state.agents;
  return (request, response) => {
    const refusal = pageRefusal(request, policy, "npm start -- --serve --allow-origin ORIGIN allows one");
    if (refusal) return awsError(request, response, 403, "AccessDenied", refusal);
    const pageOrigin = policy.originOf(request.headers) as string | undefined;
    const cors = corsHeaders(pageOrigin);
    if (request.method === "OPTIONS") {
      request.resume();
      response.writeHead(204, {
        ...cors,
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": String(request.headers["access-control-request-headers"] ?? ""),
        "access-control-max-age": "600",
      });
      return void response.end();
    }
    if (request.method === "GET" && request.url === HEALTH_PATH) return health(state.health, response, cors);
    if (state.console && /^\/_local\/(console|api)(\/|$)/.test(request.url ?? ""))
      return state.console(request, response);
    const service = serviceOf(request.headers);
    if (!service || (service !== "dynamodb" && !isApiCall(service, request)))
      return unserved(request, response, cors, service);
    if (Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return void readBody(request, response);
    if (service === "dynamodb") {
      // dynalite answers any Origin with a wildcard: it sees none, and the CORS headers are this endpoint's.
      delete request.headers.origin;
      delete request.headers.referer;
      for (const [name, value] of Object.entries(cors)) response.setHeader(name, value as string);
      return targets.dynamodb(request, response);
    }
    void forwardToEngine(
      service,
      request,
      response,
      { address: targets[service], agent: agentFor(service, request, agents) },
      {
        origin,
        cors,
        forwarding: state.forwarding,
      },
    );
  };
}

/** The agent a forwarded request goes through: SQS's long polls have their own. */
function agentFor(service: "sns" | "sqs", request: http.IncomingMessage, agents: EndpointState["agents"]): http.Agent {
  if (service === "sqs" && request.headers["x-amz-target"] === "AmazonSQS.ReceiveMessage") return agents.receives;
  return agents[service];
}

/**
 * Unsigned: 403 as AWS answers a request without a signature; signed for a service not served, or for SNS
 * or SQS but not one of their API calls (`service`): 501.
 */
function unserved(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  cors: http.OutgoingHttpHeaders,
  service?: ServiceName,
): void {
  const scope = SCOPE.exec(String(request.headers.authorization ?? ""))?.[1];
  if (!scope && !request.headers.authorization)
    return awsError(
      request,
      response,
      403,
      "MissingAuthenticationToken",
      "Request is missing Authentication Token: sign it (SigV4) for sns, sqs or dynamodb; any credentials work",
      cors,
    );
  const message = service
    ? `this endpoint serves the ${service} API (POST /); ${request.method} ${(request.url ?? "/").split("?")[0]} is none of its calls`
    : `this endpoint serves sns, sqs and dynamodb; ${scope ?? "the service this request is signed for"} is not emulated`;
  awsError(request, response, 501, "NotImplemented", message, cors);
}

function health(
  report: (() => Promise<Record<string, unknown>>) | undefined,
  response: http.ServerResponse,
  cors: http.OutgoingHttpHeaders,
): void {
  const send = (status: number, body: unknown) => {
    const text = `${JSON.stringify(body)}\n`;
    response.writeHead(status, {
      ...cors,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    response.end(text);
  };
  if (!report) return send(503, { status: "starting" });
  report().then(
    (body) => send(200, body),
    (error: Error) => send(503, { status: "failing", error: error.message }),
  );
}

export async function startServiceEndpoint(
  options: EndpointOptions,
  targets: EndpointTargets,
): Promise<ServiceEndpoint> {
  const state: EndpointState = {
    port: options.port,
    forwarding: { count: 0 },
    agents: {
      sns: engineAgent(targets.sns, 256),
      sqs: engineAgent(targets.sqs, 256),
      receives: engineAgent(targets.sqs, MAX_LONG_POLLS),
    },
  };
  const server = http.createServer(handler(targets, options, state));
  if (options.requestTimeoutMs !== undefined) server.requestTimeout = options.requestTimeoutMs;
  // A broken client connection is that client's problem, never the server's; a head too long to read is
  // answered (414/431) before the connection closes.
  server.on("clientError", (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    if (error.code === "HPE_HEADER_OVERFLOW" && socket.writable)
      return void socket.end(headOverflowAnswer(error.rawPacket, http.maxHeaderSize));
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new PortInUseError(options.port) : error),
    );
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  state.port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${state.port}`,
    port: state.port,
    get forwarding() {
      return state.forwarding.count;
    },
    setHealth: (report) => void (state.health = report),
    setConsole: (handler) => void (state.console = handler),
    close: () =>
      new Promise<void>((resolve) => {
        state.agents.sns.destroy();
        state.agents.sqs.destroy();
        state.agents.receives.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
