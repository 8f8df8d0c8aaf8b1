import type { SQSEvent, SQSRecord } from "aws-lambda";
import { createHash, randomUUID } from "node:crypto";
import { SAMPLE_ORDER } from "../../common/sample-order";
import * as aws from "../../offline/runtime/lambda-service/sqs-contract";

export { SAMPLE_ORDER } from "../../common/sample-order";

const QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:OrderQueue";
const TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:OrderTopic";

export function order(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...SAMPLE_ORDER, ...overrides };
}

/** An SQS record as Lambda's event source mapping delivers it, first receive (the runtime's builder). */
export function sqsRecord(body: string, overrides: Partial<SQSRecord> = {}): SQSRecord {
  const now = String(Date.now());
  const message = {
    MessageId: randomUUID(),
    ReceiptHandle: randomUUID(),
    Body: body,
    MD5OfBody: createHash("md5").update(body).digest("hex"),
    Attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: now,
      SenderId: "000000000000",
      ApproximateFirstReceiveTimestamp: now,
    },
  };
  return { ...aws.sqsRecordOf(message, QUEUE_ARN, "us-east-1"), ...overrides };
}

/** The SNS notification envelope a subscription without raw delivery puts in the body, as SNS writes it. */
export function snsEnvelope(message: string): string {
  return JSON.stringify({
    Type: "Notification",
    MessageId: randomUUID(),
    TopicArn: TOPIC_ARN,
    Message: message,
    Timestamp: new Date().toISOString(),
    SignatureVersion: "1",
    Signature: "EXAMPLE",
    SigningCertURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
    UnsubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
  });
}

export function sqsEvent(bodies: string[]): SQSEvent {
  return { Records: bodies.map((body) => sqsRecord(body)) };
}
