/**
 * The pipeline as the console draws it, from the stack model (nothing restated): topics, queues (the
 * dead-letter ones marked), functions and tables as nodes; subscriptions, redrive policies, event source
 * mappings and the function's table (the variable naming it) as edges. Nodes are in the order a message
 * travels, so a page can lay them out left to right.
 */
import type { LocalPipeline } from "../runtime/pipeline";

export interface GraphNode {
  readonly id: string;
  readonly kind: "topic" | "queue" | "dlq" | "function" | "table";
  readonly name: string;
  /** Column in a left-to-right layout: 0 topics, 1 queues, 2 functions, 3 tables; DLQs below their queue. */
  readonly column: number;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
}

export function pipelineGraph(pipeline: LocalPipeline): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const { stack } = pipeline;
  const dead = new Set(pipeline.deadLetterQueues().map((q) => q.address));
  const nodes: GraphNode[] = [
    ...stack.topics.map((t) => ({ id: t.address, kind: "topic" as const, name: t.name, column: 0 })),
    ...stack.queues.map((q) => ({
      id: q.address,
      kind: dead.has(q.address) ? ("dlq" as const) : ("queue" as const),
      name: q.name,
      column: 1,
    })),
    ...stack.functions.map((f) => ({ id: f.address, kind: "function" as const, name: f.name, column: 2 })),
    ...stack.tables.map((t) => ({ id: t.address, kind: "table" as const, name: t.name, column: 3 })),
  ];
  const edges: GraphEdge[] = [];
  for (const s of stack.subscriptions) {
    edges.push({ from: s.topic, to: s.queue, label: s.raw ? "subscription (raw)" : "subscription" });
    if (s.deadLetterTarget) edges.push({ from: s.topic, to: s.deadLetterTarget, label: "undeliverable" });
  }
  for (const q of stack.queues)
    if (q.redrive)
      edges.push({
        from: q.address,
        to: q.redrive.deadLetterTarget,
        label: `after ${q.redrive.maxReceiveCount} receives`,
      });
  for (const m of stack.mappings)
    edges.push({ from: m.queue, to: m.function, label: `batch ${m.batchSize}${m.enabled ? "" : " (disabled)"}` });
  for (const f of stack.functions)
    for (const t of stack.tables)
      if (Object.values(f.variables).includes(t.name)) edges.push({ from: f.address, to: t.address, label: "stores" });
  return { nodes, edges };
}
