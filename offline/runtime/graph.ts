/**
 * The pipeline as a flow, from the stack model (nothing restated): topics, queues (the dead-letter ones
 * marked), functions, tables and the alarm topic as nodes; subscriptions, redrive policies, the redrive
 * path a DLQ's redrive-allow policy opens, event source mappings, the function's table (the variable naming
 * it) and the alarms as edges. A page lays it out; the console's local source and the deployed one both
 * serve it.
 */
import type { EdgeKind, GraphEdge, GraphNode, PipelineGraph } from "./shapes";
import type { StackModel } from "./stack-model";

export type { EdgeKind, GraphEdge, GraphNode, NodeKind, PipelineGraph } from "./shapes";

export function pipelineGraph(stack: StackModel): PipelineGraph {
  const dead = new Set<string | undefined>([
    ...stack.queues.map((q) => q.redrive?.deadLetterTarget),
    ...stack.subscriptions.map((s) => s.deadLetterTarget),
  ]);
  const alarmTopics = new Set(stack.alarms.flatMap((a) => a.notifies));
  const nodes: GraphNode[] = [
    ...stack.topics.map(
      (t) => ({ id: t.address, kind: alarmTopics.has(t.address) ? "alarms" : "topic", name: t.name }) as const,
    ),
    ...stack.queues.map((q) => ({ id: q.address, kind: dead.has(q.address) ? "dlq" : "queue", name: q.name }) as const),
    ...stack.functions.map((f) => ({ id: f.address, kind: "function" as const, name: f.name })),
    ...stack.tables.map((t) => ({ id: t.address, kind: "table" as const, name: t.name })),
  ];
  const edges: GraphEdge[] = [];
  const edge = (from: string, to: string, kind: EdgeKind, label: string) => edges.push({ from, to, kind, label });
  for (const s of stack.subscriptions) {
    edge(s.topic, s.queue, "subscription", s.raw ? "subscription (raw)" : "subscription");
    if (s.deadLetterTarget) edge(s.topic, s.deadLetterTarget, "undeliverable", "undeliverable");
  }
  for (const q of stack.queues) {
    if (q.redrive)
      edge(q.address, q.redrive.deadLetterTarget, "dead-letter", `after ${q.redrive.maxReceiveCount} receives`);
    for (const source of q.redriveAllow?.permission === "byQueue" ? q.redriveAllow.sourceQueues : [])
      edge(q.address, source, "redrive", "redrive");
  }
  for (const m of stack.mappings)
    edge(m.queue, m.function, "mapping", `batch ${m.batchSize}${m.enabled ? "" : " (disabled)"}`);
  for (const f of stack.functions)
    for (const t of stack.tables)
      if (Object.values(f.variables).includes(t.name)) edge(f.address, t.address, "stores", "stores");
  // One arrow per watched resource and alarm topic, naming its alarms' metrics.
  const alarmEdges = new Map<string, string[]>();
  for (const alarm of stack.alarms)
    for (const topic of alarm.notifies)
      if (alarm.watches)
        alarmEdges.set(`${alarm.watches} ${topic}`, [
          ...(alarmEdges.get(`${alarm.watches} ${topic}`) ?? []),
          alarm.metric,
        ]);
  for (const [pair, metrics] of alarmEdges) {
    const [from, to] = pair.split(" ");
    edge(from, to, "alarm", `${metrics.length === 1 ? "alarm" : `${metrics.length} alarms`}: ${metrics.join(", ")}`);
  }
  return { nodes, edges };
}
