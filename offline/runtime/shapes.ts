/**
 * The runtime's shapes that leave it (the balance, the flow's graph): types only, with no import, so the
 * console's page can share them.
 */

export interface PipelineSummary {
  /** Messages SNS accepted (from any client). */
  published: number;
  /** Messages that entered the source queues during the run: SNS deliveries, direct sends, redrives. */
  arrived: number;
  /** Messages deleted from the source queues (the function succeeded with them). */
  processed: number;
  /** Messages moved from a source queue to its dead-letter queue during the run. */
  deadLettered: number;
  /** Messages that left a dead-letter queue (moved back by this runtime or by any client), less `discarded`. */
  redriven: number;
  /** Messages still in the source queues at the end, in flight included. */
  queued: number;
  /** restored + arrived - processed - deadLettered - queued; 0 when every message is accounted for. */
  lost: number;
  /** Items in the table at the end. */
  items: number;
  /** Messages in the source queues when the run started (kept by `--persist`); only with `--persist`. */
  restored?: number;
  /** Bodies SNS refused at Publish (too large, ...): never published (shown only when there are any). */
  rejected?: number;
  /** Messages the Lambda service received but could not read, so never invoked (shown only when there are any). */
  unreadable?: number;
  /** Messages deleted from a dead-letter queue by hand in the console, not redriven (shown only when there are any). */
  discarded?: number;
}

/** One line of a function's log, with the fields of a JSON line the console filters by. */
export interface LogLine {
  readonly at: number;
  readonly fn: string;
  readonly line: string;
  readonly level?: string;
  readonly outcome?: string;
  readonly orderId?: string;
}

export type NodeKind = "topic" | "queue" | "dlq" | "function" | "table" | "alarms";
export type EdgeKind = "subscription" | "undeliverable" | "dead-letter" | "redrive" | "mapping" | "stores" | "alarm";

export interface GraphNode {
  readonly id: string;
  readonly kind: NodeKind;
  readonly name: string;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  readonly label: string;
}

export interface PipelineGraph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}
