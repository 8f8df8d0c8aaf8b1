/**
 * What the one endpoint refuses before any engine sees a request: a Host that is not its own, a page of an
 * origin not allowed and what a browser sent for another site (the deployed stack's console refuses the
 * same), requests that are not SNS or SQS API calls (fauxqs also serves S3, which this endpoint does not
 * offer), bodies that are not UTF-8, and request heads too long to read. Each answer says why in the
 * request's own protocol.
 */
import type * as http from "node:http";

/** The origins a page may call from: this endpoint's own, and those allowed. */
export function originPolicy(port: () => number, extra: readonly string[]) {
  const hosts = () => [`127.0.0.1:${port()}`, `localhost:${port()}`];
  const allowed = (origin: string) =>
    hosts().some((host) => origin === `http://${host}`) || extra.includes(origin.replace(/\/$/, ""));
  return {
    hostOk: (host: string | undefined) => host !== undefined && hosts().includes(host.toLowerCase()),
    /** The request's origin if a page sent it and it is allowed; "refused" if it is not; undefined without one. */
    originOf(headers: http.IncomingHttpHeaders): string | "refused" | undefined {
      const origin = headers.origin;
      let referer: string | undefined;
      try {
        referer = headers.referer ? new URL(headers.referer).origin : undefined;
      } catch {
        return "refused";
      }
      for (const seen of [origin, referer]) if (seen !== undefined && !allowed(seen)) return "refused";
      return origin ?? referer;
    },
  };
}

/**
 * Why a request is refused as one a web page made (a rebound Host, a foreign origin, another site), if it is;
 * `allowHint` says how to allow an origin.
 */
export function pageRefusal(
  request: http.IncomingMessage,
  policy: ReturnType<typeof originPolicy>,
  allowHint: string,
): string | undefined {
  if (!policy.hostOk(request.headers.host)) return `Host ${String(request.headers.host)} is not this endpoint`;
  const pageOrigin = policy.originOf(request.headers);
  if (pageOrigin === "refused") return `the page's origin is not allowed (${allowHint})`;
  if (sentCrossSite(request.headers, pageOrigin) && !openingConsole(request))
    return `a browser sent this for a page of another site (Sec-Fetch-Site); ${allowHint}`;
  return undefined;
}

/** A link followed to the console's page (a top-level navigation): the page itself, never an API call. */
function openingConsole(request: http.IncomingMessage): boolean {
  return (
    request.method === "GET" &&
    request.headers["sec-fetch-mode"] === "navigate" &&
    /^\/_local\/console\/?(\?|$)/.test(request.url ?? "")
  );
}

/**
 * Whether a browser sent this for a page of another site: its Fetch Metadata (`Sec-Fetch-Site`) says so
 * even when the page hid its Origin and Referer (`<meta name="referrer" content="no-referrer">` on an
 * `<img>`). A page of an allowed origin names itself (`Origin`), so `allowedOrigin` lets it through.
 */
export function sentCrossSite(headers: http.IncomingHttpHeaders, allowedOrigin: string | undefined): boolean {
  const site = headers["sec-fetch-site"];
  return (site === "cross-site" || site === "same-site") && allowedOrigin === undefined;
}

/** A queue's path (SQS's query protocol posts to the queue URL): `/000000000000/OrderQueue`. */
const QUEUE_PATH = /^\/\d{12}\/[A-Za-z0-9_-]{1,80}(\.fifo)?$/;

/** Whether a request for SNS or SQS is one of their API calls (a POST to `/`, or SQS's to a queue's path). */
export function isApiCall(service: "sns" | "sqs", request: http.IncomingMessage): boolean {
  if (request.method !== "POST") return false;
  const pathname = (request.url ?? "/").split("?")[0];
  return pathname === "/" || (service === "sqs" && QUEUE_PATH.test(pathname));
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Why a body cannot be read as the service would read it, as [code, message]; undefined when it can.
 * JSON protocols: well-formed UTF-8 JSON. The query protocol (a form): every value percent-decodes to UTF-8.
 */
export function unreadableBody(request: http.IncomingMessage, body: Buffer): [string, string] | undefined {
  if (request.headers["x-amz-target"]) {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return ["SerializationException", "the request body is not valid UTF-8"];
    }
    try {
      JSON.parse(text || "{}");
    } catch {
      return ["SerializationException", "the request body is not valid JSON"];
    }
    return undefined;
  }
  try {
    for (const field of body.toString("latin1").split("&")) decodeURIComponent(field.replace(/\+/g, " "));
    return undefined;
  } catch {
    return ["MalformedQueryString", "a value of the request is not percent-encoded UTF-8"];
  }
}

/**
 * The raw answer to a request whose head (its URL and headers) is larger than the server reads: 414 when
 * the request line alone is, 431 otherwise; JSON for a JSON-protocol client, else the query protocol's XML.
 */
export function headOverflowAnswer(rawPacket: Buffer | undefined, maxHeaderSize: number): string {
  const head = rawPacket?.toString("latin1") ?? "";
  const lineEnd = head.indexOf("\r\n");
  const longUrl = lineEnd < 0 || lineEnd >= maxHeaderSize / 2;
  const [status, reason, code] = longUrl
    ? [414, "URI Too Long", "RequestURITooLong"]
    : [431, "Request Header Fields Too Large", "RequestHeaderSectionTooLarge"];
  const message = `the request's ${longUrl ? "URL" : "headers"} exceed ${maxHeaderSize} bytes`;
  const json = /\r\nx-amz-target:/i.test(head);
  const body = json
    ? JSON.stringify({ __type: code, message })
    : `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>local</RequestId></ErrorResponse>`;
  const type = json ? "application/x-amz-json-1.0" : "text/xml";
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: ${type}\r\nx-amzn-errortype: ${code}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
