/** Publishing helpers: which topic a publish goes to, and many publishes with a few in flight. */
import { EngineTopic } from "./local-aws/provision";

/** The named topic (name or ARN), or when unnamed the one topic that feeds a queue (the alarm topic does not). */
export function resolveTopic(topics: EngineTopic[], nameOrArn?: string): EngineTopic {
  if (nameOrArn === undefined) {
    const feeding = topics.filter((t) => t.subscriptions > 0);
    if (feeding.length !== 1) throw new Error(`${feeding.length} topics feed queues; name the one to publish to`);
    return feeding[0];
  }
  const topic = topics.find((t) => t.name === nameOrArn || t.arn === nameOrArn || t.model.arn === nameOrArn);
  if (!topic) throw new Error(`no topic ${nameOrArn} in the stack`);
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
