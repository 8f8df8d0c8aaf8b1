/**
 * The shapes AWS hands over, built in one place for the runtime and the tests: the SNS notification
 * envelope a subscription without raw delivery puts in a queue message, and the SQS record an event
 * source mapping passes to the function.
 */
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { createHash, randomUUID } from "node:crypto";

/** The notification envelope SNS wraps a message in (no raw delivery). */
export function snsEnvelope(topicArn: string, message: string): string {
  return JSON.stringify({
    Type: "Notification",
    MessageId: randomUUID(),
    TopicArn: topicArn,
    Message: message,
    Timestamp: new Date().toISOString(),
    SignatureVersion: "1",
    Signature: "LOCAL",
    SigningCertURL: "https://localhost/SimpleNotificationService.pem",
    UnsubscribeURL: "https://localhost/?Action=Unsubscribe",
  });
}

export interface RecordSource {
  readonly messageId: string;
  readonly receiptHandle?: string;
  readonly body: string;
  readonly receiveCount: number;
}

/** One SQS record as Lambda's event source mapping delivers it. */
export function sqsRecord(message: RecordSource, queueArn: string, region: string): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle ?? `receipt-${message.messageId}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: now,
      SenderId: "LOCAL",
      ApproximateFirstReceiveTimestamp: now,
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(message.body).digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export function sqsEvent(messages: RecordSource[], queueArn: string, region: string): SQSEvent {
  return { Records: messages.map((message) => sqsRecord(message, queueArn, region)) };
}
