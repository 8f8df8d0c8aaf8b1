// The pipeline drawn as a flow: nodes and arrows laid out by dagre from the stack's graph (left to right,
// each DLQ a rank after the queue it serves, the alarm topic last), counts on the nodes, rates on the
// arrows. Arrows are SVG; nodes are HTML over them, so their text is the page's own. A node opens its view.
import { Graph, layout } from "@dagrejs/dagre";
import { useMemo } from "preact/hooks";
import type { Counts, GraphEdge, GraphNode, NodeKind, PipelineGraph, SeriesPoint } from "../api";
import { go, Route } from "./router";
import { plural } from "./api";

const NODE = { width: 176, height: 66 };
const KIND_LABEL: Record<NodeKind, string> = {
  topic: "topic",
  queue: "queue",
  dlq: "dead-letter queue",
  function: "function",
  table: "table",
  alarms: "alarm topic",
};
const VIEW_OF: Record<NodeKind, Route> = {
  topic: { view: "publish" },
  queue: { view: "log" },
  dlq: { view: "dlq" },
  function: { view: "log" },
  table: { view: "table" },
  alarms: { view: "dlq" },
};

interface Laid {
  readonly width: number;
  readonly height: number;
  readonly nodes: (GraphNode & { x: number; y: number })[];
  readonly edges: (GraphEdge & { points: { x: number; y: number }[]; labelAt: { x: number; y: number } })[];
}

function lay(graph: PipelineGraph): Laid {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 24, edgesep: 12, ranksep: 48, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) g.setNode(node.id, { ...NODE });
  graph.edges.forEach((edge, i) =>
    g.setEdge(
      edge.from,
      edge.to,
      // Room for the label as drawn (about 6.5 px a character); the order's own path pulls straightest.
      { width: shortLabel(edge).length * 6.5 + 40, height: 16, labelpos: "c", weight: edge.kind === "alarm" ? 1 : 4 },
      String(i),
    ),
  );
  layout(g);
  const nodes = graph.nodes.map((node) => ({ ...node, x: g.node(node.id).x, y: g.node(node.id).y }));
  const edges = graph.edges.map((edge, i) => {
    const laid = g.edge({ v: edge.from, w: edge.to, name: String(i) });
    return { ...edge, points: laid.points ?? [], labelAt: { x: laid.x ?? 0, y: laid.y ?? 0 } };
  });
  const size = g.graph();
  return { width: size.width ?? 800, height: size.height ?? 400, nodes, edges };
}

/** What a node says: its live count, from the source's own state. */
function countOf(node: GraphNode, counts: Counts): string {
  const queue = counts.queues[node.name];
  if (queue) return `${queue.visible} in queue, ${queue.inFlight} in flight`;
  if (node.kind === "topic" || node.kind === "alarms") return `published ${counts.topics[node.name] ?? 0}`;
  if (node.kind === "table") {
    const items = counts.items[node.name];
    if (items === undefined) return "items not counted";
    if (counts.itemsNote) return `${plural(items, "item")} (${counts.itemsNote})`;
    // A count is a scan: while orders flow a big table is counted every few seconds, and says so.
    const age = Math.round((counts.at - (counts.itemsAt ?? counts.at)) / 1000);
    return plural(items, "item") + (age >= 3 ? ` (counted ${age} s ago)` : "");
  }
  const outcomes = Object.entries(counts.outcomes[node.name] ?? {}).filter(([, n]) => n > 0);
  return outcomes.length ? outcomes.map(([outcome, n]) => `${outcome} ${n}`).join(", ") : "no records yet";
}

/** Messages per second over the last 10 s (a source by the second) or the last 5 minutes (by the minute). */
function rateOf(edge: GraphEdge, points: SeriesPoint[], step: number): string {
  if (edge.kind !== "subscription" && edge.kind !== "mapping") return "";
  const seconds = step === 1 ? 10 : 5 * step;
  const since = Date.now() - seconds * 1000 - (step === 1 ? 0 : step * 1000);
  const recent = points.filter((p) => p.at >= since);
  const total = recent.reduce((sum, p) => sum + (edge.kind === "subscription" ? p.in : p.out), 0);
  return ` · ${(total / seconds).toFixed(1)}/s`;
}

/** An alarm arrow says how many alarms it stands for; their metrics are its tooltip. */
const shortLabel = (edge: GraphEdge) => (edge.kind === "alarm" ? edge.label.split(":")[0] : edge.label);

const pathOf = (points: { x: number; y: number }[]) =>
  points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");

export function Flow(props: { graph: PipelineGraph; counts: Counts; points: SeriesPoint[]; step: number }) {
  const laid = useMemo(() => lay(props.graph), [props.graph]);
  return (
    <div class="flow-box">
      <div id="flow" class="flow" style={{ width: `${laid.width}px`, height: `${laid.height}px` }}>
        <svg width={laid.width} height={laid.height} aria-hidden="true">
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L10,5 L0,10 z" />
            </marker>
          </defs>
          {laid.edges.map((edge) => (
            <g class={`edge ${edge.kind}`} key={`${edge.from}-${edge.to}-${edge.kind}`}>
              <path d={pathOf(edge.points)} marker-end="url(#arrow)" />
            </g>
          ))}
        </svg>
        {laid.edges.map((edge) => (
          <span
            class={`edge-label ${edge.kind}`}
            key={`label-${edge.from}-${edge.to}-${edge.kind}`}
            title={edge.label}
            style={{ left: `${edge.labelAt.x}px`, top: `${edge.labelAt.y}px` }}
          >
            {shortLabel(edge)}
            {rateOf(edge, props.points, props.step)}
          </span>
        ))}
        {laid.nodes.map((node) => (
          <button
            type="button"
            id={`node-${node.name}`}
            class={`node ${node.kind}`}
            key={node.id}
            style={{ left: `${node.x - NODE.width / 2}px`, top: `${node.y - NODE.height / 2}px` }}
            onClick={() => go(VIEW_OF[node.kind])}
          >
            <span class="kind">{KIND_LABEL[node.kind]}</span>
            <span class="name">{node.name}</span>
            <span class="count">{countOf(node, props.counts)}</span>
          </button>
        ))}
      </div>
    </div>
  );
}
