/**
 * The SQS event source mapping's contract with the function, both ways: the event it passes, built from
 * what `ReceiveMessage` returned (message id, receipt handle, body, the system attributes, the message
 * attributes in Lambda's shape, the body's MD5, the queue's ARN and the region); and how it judges the
 * invocation: which records of the batch failed (and reappear after the visibility timeout) and which
 * succeeded (and are deleted).
 */
import type { SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from "aws-lambda";
import type { Message } from "@aws-sdk/client-sqs";
import type { InvocationResult } from "./lambda-host";

function messageAttributes(message: Message): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    out[name] = {
      dataType: value.DataType!,
      stringValue: value.StringValue,
      binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString("base64") : undefined,
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return out;
}

export function sqsRecordOf(message: Message, queueArn: string, region: string): SQSRecord {
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? "",
    attributes: (message.Attributes ?? {}) as unknown as SQSRecordAttributes,
    messageAttributes: messageAttributes(message),
    md5OfBody: message.MD5OfBody!,
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export function sqsEventOf(messages: Message[], queueArn: string, region: string): SQSEvent {
  return { Records: messages.map((message) => sqsRecordOf(message, queueArn, region)) };
}

export interface BatchVerdict {
  /** Message ids that go back to the queue. */
  readonly failed: Set<string>;
  /** Why the whole batch failed, when it did as a whole. */
  readonly wholeBatchFailure?: string;
}

/**
 * - timeout or error: the whole batch fails;
 * - with `ReportBatchItemFailures`: the reported ids fail; an invalid response (not an object, ids not
 *   in the batch) fails the whole batch, as Lambda does; an empty or missing list means all succeeded;
 * - without it: any returned value means the whole batch succeeded.
 */
export function judgeBatch(
  result: InvocationResult,
  messageIds: string[],
  reportBatchItemFailures: boolean,
  timeoutSeconds: number,
): BatchVerdict {
  const whole = new Set(messageIds);
  if (result.kind === "timeout")
    return { failed: whole, wholeBatchFailure: `timed out after ${timeoutSeconds} s (scaled)` };
  if (result.kind === "error") return { failed: whole, wholeBatchFailure: result.error.split("\n")[0] };
  if (!reportBatchItemFailures) return { failed: new Set() };
  const reported = partialFailures(result.value, whole);
  if (reported === undefined)
    return { failed: whole, wholeBatchFailure: "invalid partial batch response: the whole batch is retried" };
  return { failed: reported };
}

/** The failed message ids of a partial batch response, or undefined when the response is invalid. */
export function partialFailures(value: unknown, ids: Set<string>): Set<string> | undefined {
  if (value === null || value === undefined) return new Set();
  if (typeof value !== "object") return undefined;
  const failures = (value as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return undefined;
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = failure?.itemIdentifier;
    if (typeof id !== "string" || !ids.has(id)) return undefined;
    failed.add(id);
  }
  return failed;
}
