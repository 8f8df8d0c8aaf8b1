import { DEFAULT_ORDER_CLOCK_MARGIN_SECONDS } from "../lambda/order";

/**
 * The pipeline's tunable settings: the one place they are written down.
 * Constructs default to these; the offline runtime and the docs read them from the
 * synthesized stack, never from here.
 */
export const PIPELINE_DEFAULTS = {
  /** Three attempts, the product requirement: a message that fails three receives moves to the DLQ. */
  maxReceiveCount: 3,
  /** Records handed to one invocation. */
  batchSize: 10,
  /** How long the poller gathers records before invoking. */
  maximumBatchingWindowSeconds: 1,
  /** Ceiling on concurrent invocations the event source mapping drives. */
  maximumConcurrency: 5,
  functionTimeoutSeconds: 30,
  functionMemoryMb: 256,
  /** SQS keeps an undelivered order four days... */
  queueRetentionSeconds: 4 * 24 * 3600,
  /** ...and a dead-lettered one 14 days, the maximum, so operators have time to redrive. */
  deadLetterRetentionSeconds: 14 * 24 * 3600,
  /** Operators hear about a backlog whose oldest order waits longer than this. */
  backlogAgeAlarmSeconds: 600,
  /** An order timestamped more than this ahead of the function's clock is invalid: one bad clock cannot freeze an order. */
  orderClockMarginSeconds: DEFAULT_ORDER_CLOCK_MARGIN_SECONDS,
  /** Largest message a queue takes, in bytes: 256 KiB, SNS's own limit, so what the topic accepts the queues take. */
  maxMessageSizeBytes: 256 * 1024,
  /** KMS data keys are reused for 5 minutes: fewer KMS calls, still short-lived. */
  kmsDataKeyReusePeriodSeconds: 300,
} as const;

/** The Terraform CLI the stacks need: the S3 backend's `use_lockfile` arrived in 1.10. */
export const REQUIRED_TERRAFORM_VERSION = ">= 1.10";

/** AWS: "set the source queue's visibility timeout to at least six times the timeout you configure on your function". */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/**
 * The queue's visibility timeout for a Lambda consumer: six times the function timeout plus the
 * batching window, so a record is never redelivered while a (retried) invocation still holds it.
 */
export function visibilityTimeoutFor(functionTimeoutSeconds: number, batchingWindowSeconds: number): number {
  return VISIBILITY_TIMEOUT_FACTOR * functionTimeoutSeconds + batchingWindowSeconds;
}

/** Throws a synth-time error that says what was wrong and what to do. */
export function requireThat(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/**
 * Requires a whole number in [min, max] (no upper bound when `max` is undefined); the error names the
 * construct (`where`), the prop, the allowed range and the value given. `unit` reads "seconds" etc.
 */
export function requireWholeNumber(
  where: string,
  name: string,
  value: number,
  min: number,
  max?: number,
  unit = "",
): void {
  const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
  const ok = Number.isInteger(value) && value >= min && (max === undefined || value <= max);
  requireThat(ok, `${where}: ${name} must be a whole number${unit ? ` of ${unit}` : ""} ${range}, got ${value}.`);
}
