/**
 * Messages the Lambda service cannot read. SQS refuses a Binary message attribute whose value is not base64
 * at SendMessage and Publish, but a store kept by `--persist` from before that check can still hold one,
 * and the AWS SDK then fails the whole ReceiveMessage ("Incorrect padding on base64 string"): the other
 * messages of the batch are taken in flight and nobody gets them. So the poller's client reads
 * ReceiveMessage's answer before the SDK parses it: such a message loses its attributes and is named here,
 * and the poller leaves it to fail as AWS would (its receive count grows until the queue's redrive policy
 * moves it to the DLQ), while the rest of the batch is invoked.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";

/** A Binary message attribute anywhere in an answer. */
const BINARY_ATTRIBUTE = /"DataType"\s*:\s*"Binary/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface WireMessage {
  MessageId?: string;
  MessageAttributes?: Record<string, { DataType?: string; BinaryValue?: unknown }>;
  MD5OfMessageAttributes?: string;
}

/** Why a message's attributes cannot be read, if they cannot: a Binary value that is not base64. */
function unreadableAttribute(message: WireMessage): string | undefined {
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    const binary = value?.BinaryValue;
    if (String(value?.DataType).startsWith("Binary") && (typeof binary !== "string" || !BASE64.test(binary)))
      return `its message attribute '${name}' is Binary but its value is not base64`;
  }
  return undefined;
}

async function bodyText(body: unknown): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Watches a client's ReceiveMessage answers; `take(messageId)` says (once) why a received message could
 * not be read, or undefined for a readable one.
 */
export function watchUnreadable(sqs: SQSClient): { take(messageId: string): string | undefined } {
  const unreadable = new Map<string, string>();
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; body: unknown };
      if (context.commandName !== "ReceiveMessageCommand" || response.statusCode !== 200) return result;
      const text = await bodyText(response.body);
      response.body = Buffer.from(text);
      if (!BINARY_ATTRIBUTE.test(text)) return result; // no Binary attribute: nothing to check (the usual case)
      let answer: { Messages?: WireMessage[] };
      try {
        answer = JSON.parse(text);
      } catch {
        return result; // the SDK says what is wrong with it
      }
      let changed = false;
      for (const message of answer.Messages ?? []) {
        const reason = unreadableAttribute(message);
        if (!reason || !message.MessageId) continue;
        unreadable.set(message.MessageId, reason);
        delete message.MessageAttributes;
        delete message.MD5OfMessageAttributes;
        changed = true;
      }
      if (changed) response.body = Buffer.from(JSON.stringify(answer));
      return result;
    },
    // Low in the deserialize step: between the transport and the SDK's parser.
    { step: "deserialize", priority: "low", name: "unreadableMessages" },
  );
  return {
    take: (messageId) => {
      const reason = unreadable.get(messageId);
      unreadable.delete(messageId);
      return reason;
    },
  };
}
