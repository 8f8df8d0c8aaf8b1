/**
 * Publishing through SNS's API: `PublishBatch` of up to 10 bodies and 256 KiB, a few calls in flight, so
 * SNS's rules apply to every body; a body SNS refuses is reported with SNS's error, never dropped silently.
 */
import { PublishBatchCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { publishBatches } from "../common/publish-batches";
import { ResourceRegistry, TopicResource } from "./registry";

/** What a publish came to: SNS's message id, or SNS's reason for refusing the body. */
export type PublishResult = { messageId: string } | { rejected: string };

/** SNS refused the request as the caller's fault (4xx): a rejection of the body, not an outage. */
const refusedByService = (error: unknown) =>
  String((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? "").startsWith("4");

/** A body alone over SNS's limit: `Publish`, so the refusal is SNS's own error. */
async function publishOne(sns: SNSClient, topicArn: string, body: string): Promise<PublishResult> {
  try {
    const { MessageId } = await sns.send(new PublishCommand({ TopicArn: topicArn, Message: body }));
    return { messageId: MessageId! };
  } catch (error) {
    if (!refusedByService(error)) throw error;
    return { rejected: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** Publishes every body to the topic; results in the bodies' order. */
export async function publishBodies(
  sns: SNSClient,
  topicArn: string,
  bodies: string[],
  concurrency = 4,
): Promise<PublishResult[]> {
  const results: PublishResult[] = new Array(bodies.length);
  const { batches, tooLarge } = publishBatches(bodies.map((body, index) => ({ body, index })));
  for (const { body, index } of tooLarge) results[index] = await publishOne(sns, topicArn, body);
  await inParallel(batches, concurrency, async (batch) => {
    const { Successful = [], Failed = [] } = await sns.send(
      new PublishBatchCommand({
        TopicArn: topicArn,
        PublishBatchRequestEntries: batch.map(({ body, index }) => ({ Id: String(index), Message: body })),
      }),
    );
    for (const entry of Successful) results[Number(entry.Id)] = { messageId: entry.MessageId! };
    for (const entry of Failed)
      results[Number(entry.Id)] = { rejected: `${entry.Code}: ${entry.Message ?? ""}`.trim() };
  });
  return results;
}

/** The named topic (address, name or ARN), or when unnamed the one topic that feeds a queue (the alarm topic does not). */
export function resolveTopic(resources: ResourceRegistry, identity?: string): TopicResource {
  if (identity === undefined) {
    const feeding = resources.all("aws_sns_topic").filter((t) => resources.subscriptionsOf(t.address).length > 0);
    if (feeding.length !== 1) throw new Error(`${feeding.length} topics feed queues; name the one to publish to`);
    return feeding[0];
  }
  const topic = resources.find("aws_sns_topic", identity);
  if (!topic) throw new Error(`no topic ${identity} in the stack`);
  return topic;
}

/** `task` for every item, at most `concurrency` at a time; results in the items' order. */
export async function inParallel<T, R>(items: T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
