import type { SQSEvent, SQSRecord } from "aws-lambda";
import { randomUUID } from "node:crypto";

/** The sample order the README shows: stored by `npm start`. */
export const SAMPLE_ORDER = {
  orderId: "O9876",
  userId: "U432",
  itemName: "Tablet",
  quantity: 3,
  status: "new",
  timestamp: "2025-05-09T14:40:00Z",
} as const;

export function order(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...SAMPLE_ORDER, ...overrides };
}

/** An SQS record as Lambda's event source mapping delivers it. */
export function sqsRecord(body: string, overrides: Partial<SQSRecord> = {}): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: `receipt-${randomUUID()}`,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: String(Date.now()),
      SenderId: "AIDAEXAMPLE",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:OrderQueue",
    awsRegion: "us-east-1",
    ...overrides,
  };
}

/** The SNS notification envelope a subscription without raw delivery puts in the body. */
export function snsEnvelope(message: string): string {
  return JSON.stringify({
    Type: "Notification",
    MessageId: randomUUID(),
    TopicArn: "arn:aws:sns:us-east-1:123456789012:OrderTopic",
    Message: message,
    Timestamp: new Date().toISOString(),
    SignatureVersion: "1",
    Signature: "EXAMPLE",
    SigningCertURL: "https://sns.us-east-1.amazonaws.com/cert.pem",
    UnsubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
  });
}

export function sqsEvent(bodies: string[]): SQSEvent {
  return { Records: bodies.map((body) => sqsRecord(body)) };
}
