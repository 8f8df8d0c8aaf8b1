import * as z from "zod/mini";

/** Order statuses a stored order may have. */
export const ORDER_STATUSES = ["new", "paid", "shipped", "delivered", "cancelled"] as const;

/**
 * The function's environment variable with how many seconds an order's timestamp may be ahead of its
 * clock (the stack sets it from its settings); beyond that the order is invalid.
 */
export const ORDER_CLOCK_MARGIN_VARIABLE = "ORDER_CLOCK_MARGIN_SECONDS";
/** The margin when the variable is unset: a day. The stack's setting defaults to it. */
export const DEFAULT_ORDER_CLOCK_MARGIN_SECONDS = 24 * 3600;

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
// With the u flag a surrogate pair is one code point, so this matches only a lone surrogate.
const LONE_SURROGATE = /\p{Cs}/u;
const identifier = z
  .string({ error: "is required and must be a string" })
  .check(z.regex(ID_PATTERN, "must be 1-64 characters of A-Z a-z 0-9 _ -"));

/** The order schema (docs/architecture.md, "The order processor"); unknown fields are dropped by parsing. Each rule says what is expected. */
export const OrderSchema = z.object({
  orderId: identifier,
  userId: identifier,
  itemName: z.string({ error: "is required and must be a string" }).check(
    z.minLength(1, "must not be empty"),
    z.maxLength(256, "must be at most 256 characters"),
    z.refine((name) => name.trim().length > 0, "must not be blank"),
    z.refine((name) => !LONE_SURROGATE.test(name), "must be well-formed Unicode (it holds a lone surrogate)"),
  ),
  quantity: z
    .int({ error: "must be a whole JSON number (not a string)" })
    .check(z.gte(1, "must be at least 1"), z.lte(10000, "must be at most 10000")),
  status: z.enum(ORDER_STATUSES, { error: `must be one of ${ORDER_STATUSES.join(", ")}` }),
  timestamp: z.iso.datetime({
    offset: true,
    error: "must be an ISO-8601 date-time with seconds and Z or an offset, e.g. 2025-05-09T14:40:00Z",
  }),
});

export type Order = z.infer<typeof OrderSchema>;

/** A record whose body is not a valid order; retrying cannot fix it. */
export class InvalidOrderError extends Error {
  override readonly name = "InvalidOrderError";
  /** The body's orderId when it is a well-formed one, so the log line can name the order. */
  orderId?: string;
}

/**
 * The order carried by an SQS message body: the SNS notification envelope (subscription without raw
 * delivery) or the order JSON itself (raw delivery); both are accepted.
 */
export function parseOrderBody(body: string, now: number = Date.now()): Order {
  let payload = parseJson(body, "message body");
  if (isRecord(payload) && payload.Type === "Notification" && typeof payload.Message === "string") {
    payload = parseJson(payload.Message, "SNS notification's Message");
  }
  if (!isRecord(payload)) throw new InvalidOrderError("order is not a JSON object");
  const checked = checkOrder(payload, now);
  if ("problems" in checked) {
    const error = new InvalidOrderError(checked.problems);
    if (typeof payload.orderId === "string" && ID_PATTERN.test(payload.orderId)) error.orderId = payload.orderId;
    throw error;
  }
  return checked.order;
}

/**
 * A value checked as an order: the order, or what is wrong with it field by field. The schema, and a
 * timestamp no further ahead of `now` than the function's margin. The handler applies it to incoming
 * bodies and to stored items alike.
 */
export function checkOrder(value: unknown, now: number): { order: Order } | { problems: string } {
  const result = OrderSchema.safeParse(value);
  if (!result.success)
    return {
      problems: result.error.issues.map((issue) => `${issue.path.join(".") || "order"}: ${issue.message}`).join("; "),
    };
  const margin = clockMarginSeconds();
  if (compareInstants(result.data.timestamp, new Date(now + margin * 1000).toISOString()) > 0)
    return {
      problems: `timestamp: ${result.data.timestamp} is more than ${margin} s ahead of the function's clock (${new Date(now).toISOString()})`,
    };
  return { order: result.data };
}

/** The margin from the function's environment (the stack always sets it); unset or not a whole number: the default. */
function clockMarginSeconds(): number {
  const raw = process.env[ORDER_CLOCK_MARGIN_VARIABLE];
  const value = raw ? Number(raw) : NaN;
  // At most a century: the margin is added to the clock as a Date.
  return Number.isInteger(value) && value >= 0 && value <= 100 * 366 * 24 * 3600
    ? value
    : DEFAULT_ORDER_CLOCK_MARGIN_SECONDS;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidOrderError(`${what} is not JSON`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;

/** A validated timestamp's exact instant: whole seconds since the epoch and the fraction's digits (no trailing zeros). */
interface Instant {
  readonly seconds: bigint;
  readonly fraction: string;
}

function instantParts(timestamp: string): Instant {
  const m = DATE_TIME.exec(timestamp);
  if (!m) throw new InvalidOrderError(`timestamp: not an ISO-8601 date-time: ${timestamp}`);
  const [, year, month, day, hour, minute, second, fraction = "", zone, sign, offsetHours, offsetMinutes] = m;
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute), Number(second), 0);
  let seconds = BigInt(Math.floor(date.getTime() / 1000));
  if (zone !== "Z") {
    const offset = BigInt(Number(offsetHours) * 3600 + Number(offsetMinutes) * 60);
    seconds = sign === "+" ? seconds - offset : seconds + offset;
  }
  return { seconds, fraction: fraction.replace(/0+$/, "") };
}

/**
 * The exact instant of a validated timestamp as a decimal number of seconds since the epoch, with every
 * fraction digit it has: offsets count, no precision is lost to floating point or a digit limit.
 */
export function instantOf(timestamp: string): string {
  const { seconds, fraction } = instantParts(timestamp);
  if (fraction === "") return seconds.toString();
  if (seconds >= 0n) return `${seconds}.${fraction}`;
  // A negative instant with a fraction: -2 s + 0.25 s is -1.75 s.
  const scale = 10n ** BigInt(fraction.length);
  const total = -(seconds * scale + BigInt(fraction));
  const digits = total.toString().padStart(fraction.length + 1, "0");
  return `-${digits.slice(0, -fraction.length)}.${digits.slice(-fraction.length)}`;
}

/** Compares two timestamps as exact instants, not strings, at any fraction length: negative when `a` is earlier, 0 when equal. */
export function compareInstants(a: string, b: string): number {
  const x = instantParts(a);
  const y = instantParts(b);
  if (x.seconds !== y.seconds) return x.seconds < y.seconds ? -1 : 1;
  // Equal-length digit strings compare as numbers.
  const length = Math.max(x.fraction.length, y.fraction.length);
  const [fx, fy] = [x.fraction.padEnd(length, "0"), y.fraction.padEnd(length, "0")];
  return fx < fy ? -1 : fx > fy ? 1 : 0;
}
