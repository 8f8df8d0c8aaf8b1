/**
 * The event an SQS event source mapping passes to the function, built from what `ReceiveMessage`
 * returned: message id, receipt handle, body, the system attributes (receive count, sent timestamp,
 * ...), the message attributes in Lambda's shape, the body's MD5, the queue's ARN and the region.
 */
import type { SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from "aws-lambda";
import type { Message } from "@aws-sdk/client-sqs";

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
