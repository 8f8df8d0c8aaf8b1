import type { SQSEvent, SQSRecord } from "aws-lambda";
import { randomUUID } from "node:crypto";
import { SAMPLE_ORDER } from "../../common/sample-order";
import * as aws from "../../offline/aws-events";

export { SAMPLE_ORDER } from "../../common/sample-order";

const QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:OrderQueue";
const TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:OrderTopic";

export function order(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...SAMPLE_ORDER, ...overrides };
}

/** An SQS record as Lambda's event source mapping delivers it (the runtime's builder). */
export function sqsRecord(body: string, overrides: Partial<SQSRecord> = {}): SQSRecord {
  return { ...aws.sqsRecord({ messageId: randomUUID(), body, receiveCount: 1 }, QUEUE_ARN, "us-east-1"), ...overrides };
}

/** The SNS notification envelope a subscription without raw delivery puts in the body. */
export function snsEnvelope(message: string): string {
  return aws.snsEnvelope(TOPIC_ARN, message);
}

export function sqsEvent(bodies: string[]): SQSEvent {
  return { Records: bodies.map((body) => sqsRecord(body)) };
}
