/**
 * The fault scenario on an applied stack (the deploy proof's step on moto): orders with later updates,
 * exact duplicates and poison bodies, shuffled, published with `npm run orders -- publish`, processed by
 * the Lambda service running what was applied (`startLambdaServiceOnMoto`); then read back from moto.
 */
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { setTimeout as sleep } from "node:timers/promises";
import { PipelineEvent } from "../../offline/runtime/events";
import { countNewestStored, inNewestState, soakWorkload } from "../../scripts/soak";

/** The workload: at least 30 orders, some with later versions, duplicates and at least 3 poison bodies. */
export function scenarioWorkload() {
  const workload = soakWorkload({ orders: 80, poisonShare: 0.05, duplicateShare: 0.1, seed: 11 });
  if (workload.newest.size < 30 || workload.poison < 3) throw new Error("the scenario's workload is too small");
  return workload;
}

export type ScenarioWorkload = ReturnType<typeof scenarioWorkload>;

/** The scenario's figures, as the proof's record keeps them. */
export interface ScenarioFigures {
  readonly published: number;
  readonly orders: number;
  readonly updates: number;
  readonly duplicatesPublished: number;
  readonly poison: number;
  /** Orders read back from moto's table in their newest state. */
  readonly storedNewest: number;
  /** Messages in the applied DLQ at the end. */
  readonly deadLettered: number;
  /** For each poison message, the receives the Lambda service saw before the DLQ took it. */
  readonly poisonReceives: number[];
  /** Receives of messages that never failed beyond their first: deliveries moto duplicated. */
  readonly duplicatesDelivered: number;
  readonly seconds: number;
}

/** Items of the table by order id (a scan, paginated). */
export async function itemsOf(dynamodb: DynamoDBClient, table: string): Promise<Map<string, Record<string, unknown>>> {
  const items = new Map<string, Record<string, unknown>>();
  let start: Record<string, any> | undefined;
  do {
    const page = await dynamodb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      const value = unmarshall(item);
      items.set(String(value.orderId), value);
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** How many orders are stored exactly in their newest state (the soak's judgement). */
export const newestStored = (workload: ScenarioWorkload, items: Map<string, Record<string, unknown>>) =>
  countNewestStored(workload.newest, items);

/** Each order not stored in its newest state: what is stored, and what the service's trace says of it. */
export function notNewest(
  workload: ScenarioWorkload,
  items: Map<string, Record<string, unknown>>,
  events: PipelineEvent[],
): { orderId: string; stored?: unknown; trace: string[] }[] {
  const missing = [...workload.newest].filter(([id, expected]) => !inNewestState(expected, items.get(id)));
  return missing.map(([orderId]) => ({
    orderId,
    stored: items.get(orderId) && { status: items.get(orderId)!.status, timestamp: items.get(orderId)!.timestamp },
    trace: events
      .filter(
        (e) => ("orderId" in e && e.orderId === orderId) || e.type === "warning" || e.type === "invocation-failed",
      )
      .map((e) => JSON.stringify(e)),
  }));
}

async function depth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages ?? 0);
}

/** Waits until every order is in its newest state and the DLQ holds every poison message (or `maxMs` passed). */
export async function awaitScenario(
  clients: { sqs: SQSClient; dynamodb: DynamoDBClient },
  where: { table: string; dlqUrl: string },
  workload: ScenarioWorkload,
  maxMs: number,
): Promise<{ items: Map<string, Record<string, unknown>>; deadLettered: number }> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const items = await itemsOf(clients.dynamodb, where.table);
    const deadLettered = await depth(clients.sqs, where.dlqUrl);
    const done = newestStored(workload, items) === workload.newest.size && deadLettered >= workload.poison;
    if (done || Date.now() > deadline) return { items, deadLettered };
    await sleep(500);
  }
}

/** From the service's trace: the receives each poison message had, and the duplicate deliveries of the others. */
export function receiveFigures(events: PipelineEvent[]): { poisonReceives: number[]; duplicatesDelivered: number } {
  const receives = new Map<string, number>();
  const failed = new Set<string>();
  for (const event of events) {
    if (event.type === "received") receives.set(event.messageId, (receives.get(event.messageId) ?? 0) + 1);
    if (event.type === "outcome" && (event.outcome === "invalid" || event.outcome === "failed") && event.messageId)
      failed.add(event.messageId);
  }
  const poisonReceives = [...failed].map((id) => receives.get(id) ?? 0);
  let duplicatesDelivered = 0;
  for (const [id, count] of receives) if (!failed.has(id)) duplicatesDelivered += count - 1;
  return { poisonReceives, duplicatesDelivered };
}
