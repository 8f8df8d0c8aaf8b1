// The local console's page: plain DOM, no framework, no network beyond this endpoint. It reads
// /_local/api/ and listens to /_local/api/stream (server-sent events); every request carries the run's
// token from the page's <meta name="console-token">.
"use strict";

const TOKEN = document.querySelector('meta[name="console-token"]').content;
const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
};
const time = (ms) => new Date(ms).toISOString().slice(11, 23);

async function api(path, body) {
  const options =
    body === undefined
      ? { headers: { "x-console-token": TOKEN } }
      : {
          method: "POST",
          headers: { "content-type": "application/json", "x-console-token": TOKEN },
          body: JSON.stringify(body),
        };
  const response = await fetch(`/_local/api/${path}`, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

// ---- the pipeline picture, its counts and the charts
let graph = { nodes: [], edges: [] };
const WINDOW_MS = 600_000; // the server keeps 10 minutes of points
const points = new Map(); // a second's start (ms) -> { at, in, out, latency: { median, max, count } }
const dlqDepths = new Map(); // a dead-letter queue's name -> messages it holds (a change refreshes its view)

function drawGraph() {
  const columns = [0, 1, 2, 3].map(() => el("div", { className: "column" }));
  for (const node of graph.nodes) {
    columns[node.column].append(
      el(
        "div",
        { className: `node ${node.kind}`, id: `node-${node.name}` },
        el("div", { className: "kind", textContent: node.kind === "dlq" ? "dead-letter queue" : node.kind }),
        el("div", { className: "name", textContent: node.name }),
        el("div", { className: "count", textContent: "-" }),
      ),
    );
  }
  $("graph").replaceChildren(...columns);
  const name = (id) => graph.nodes.find((n) => n.id === id)?.name ?? id;
  $("edges").replaceChildren(
    ...graph.edges.map((e) => el("li", { textContent: `${name(e.from)} → ${name(e.to)}: ${e.label}` })),
  );
}

function showCounts(counts) {
  const b = counts.balance;
  const set = (name, text) => {
    const node = document.querySelector(`#node-${CSS.escape(name)} .count`);
    if (node) node.textContent = text;
  };
  for (const node of graph.nodes) {
    if (node.kind === "topic") set(node.name, `published ${counts.topics[node.name] ?? 0}`);
    if (node.kind === "function") set(node.name, `processed ${b.processed}, dead-lettered ${b.deadLettered}`);
    if (node.kind === "table") set(node.name, `stored ${b.processed}`);
    const q = counts.queues[node.name];
    if (q) set(node.name, `${q.visible} in queue, ${q.inFlight} in flight`);
  }
  $("balance").textContent =
    `arrived ${b.arrived}${b.restored !== undefined ? ` + restored ${b.restored}` : ""} = processed ${b.processed} + dead-lettered ${b.deadLettered} + queued ${b.queued} + lost ${b.lost}; redriven ${b.redriven}`;
  for (const node of graph.nodes.filter((n) => n.kind === "dlq")) {
    const q = counts.queues[node.name];
    const held = q ? q.visible + q.inFlight + q.delayed : 0;
    if (dlqDepths.has(node.name) && dlqDepths.get(node.name) !== held) refreshDlq();
    dlqDepths.set(node.name, held);
  }
}

function addPoints(list) {
  for (const point of list) points.set(point.at, point);
  for (const at of [...points.keys()]) if (at < Date.now() - WINDOW_MS) points.delete(at);
  redrawCharts();
}

/** A polyline in a 300 x 60 chart of the last 10 minutes: `values` are [at, value] pairs, `max` the top. */
function polyline(values, max, cls) {
  const now = Date.now();
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  // The top of the scale is `max`, drawn a little below the frame's edge.
  const xy = ([at, v]) => `${(300 - ((now - at) / WINDOW_MS) * 300).toFixed(1)},${(58 - (v / max) * 50).toFixed(1)}`;
  // A lone point is drawn as a dot: a zero-length line with round caps.
  line.setAttribute("points", (values.length === 1 ? [values[0], values[0]] : values).map(xy).join(" "));
  line.setAttribute("class", cls);
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  return line;
}

function drawCharts() {
  const sorted = [...points.values()].sort((a, b) => a.at - b.at);
  // Orders per second: a second with no point had none (the server keeps only busy seconds).
  const seconds = [];
  const nowSecond = Math.floor(Date.now() / 1000) * 1000;
  for (let at = sorted.length ? sorted[0].at : nowSecond; at <= nowSecond; at += 1000)
    seconds.push(points.get(at) ?? { at, in: 0, out: 0 });
  const rateMax = Math.max(1, ...seconds.map((p) => Math.max(p.in, p.out)));
  $("chart").replaceChildren(
    polyline(
      seconds.map((p) => [p.at, p.in]),
      rateMax,
      "in",
    ),
    polyline(
      seconds.map((p) => [p.at, p.out]),
      rateMax,
      "out",
    ),
  );
  const busiest = sorted.filter((p) => p.in || p.out);
  const last = busiest[busiest.length - 1];
  $("rate-now").textContent = last
    ? `At ${time(last.at).slice(0, 8)}: in ${last.in}/s, out ${last.out}/s; top of the scale ${rateMax}/s.`
    : "";
  const timed = sorted.filter((p) => p.latency);
  const latencyMax = Math.max(1, ...timed.map((p) => p.latency.max));
  $("latency-chart").replaceChildren(
    polyline(
      timed.map((p) => [p.at, p.latency.median]),
      latencyMax,
      "in",
    ),
    polyline(
      timed.map((p) => [p.at, p.latency.max]),
      latencyMax,
      "out",
    ),
  );
  const newest = timed[timed.length - 1];
  if (newest)
    $("latency").textContent =
      `At ${time(newest.at).slice(0, 8)}: median ${newest.latency.median} ms, slowest ${newest.latency.max} ms over ${newest.latency.count} order${newest.latency.count === 1 ? "" : "s"}; top of the scale ${latencyMax} ms.`;
}

// ---- an order's journey
let journeyOf = "";
const published = new Map(); // orderId -> when the page published it (for the latency)

function describe(entry) {
  const e = entry.event;
  switch (e.type) {
    case "published":
      return ["published", `to ${e.topic} → ${e.queue}, message ${e.messageId}`];
    case "received":
      return [`received #${e.receiveCount}`, `from ${e.queue}, message ${e.messageId}`];
    case "outcome":
      return [e.outcome, e.reason ? `reason: ${e.reason}` : `message ${e.messageId ?? ""}`];
    case "invoked":
      return [
        "invoked",
        `${e.function} in execution environment #${e.environment} (${e.cold ? "cold start" : "warm"}), ${e.records} record${e.records === 1 ? "" : "s"}`,
      ];
    case "deleted":
      return ["deleted", `from ${e.queue} (processed)`];
    case "returned":
      return ["returned", `to ${e.queue}, visible again in ${Math.round(e.visibleInMs)} ms`];
    case "dead-lettered":
      return [
        entry.again ? "moved to DLQ again" : "moved to DLQ",
        `${e.queue} → ${e.target} ${e.receives === undefined ? "after receives before a restart" : `after ${e.receives} receives`}${entry.again ? ", after its redrive: the redrive did not fix it" : ""}`,
      ];
    case "redriven":
      return ["redriven", `${e.from} → ${e.to}, now message ${e.messageId ?? `(${e.count} messages)`}`];
    case "discarded":
      return ["deleted", `from ${e.queue} by hand (not redriven)`];
    default:
      return [e.type, JSON.stringify(e)];
  }
}

async function showJourney(orderId) {
  journeyOf = orderId;
  $("journey-id").value = orderId;
  const j = await api(`orders/${encodeURIComponent(orderId)}`);
  if (journeyOf !== orderId) return;
  // The runtime's events and the function's log lines about the order, in time order.
  const rows = [
    ...j.events.map((entry) => [entry.at, ...describe(entry)]),
    ...j.lines.map((line) => [line.at, "log", line.line]),
  ].sort((a, b) => a[0] - b[0]);
  const items = rows.map(([at, label, text]) =>
    el("li", {}, `${time(at)} `, el("span", { className: "label", textContent: label }), ` ${text}`),
  );
  if (j.omitted > 0)
    items.unshift(
      el("li", {
        className: "omitted",
        textContent: `${j.omitted} earlier steps not kept (the newest ${j.events.length} are shown)`,
      }),
    );
  $("journey-events").replaceChildren(
    ...(items.length ? items : [el("li", { textContent: "no events for this order in this run" })]),
  );
  $("journey-item").textContent = j.item ? JSON.stringify(j.item, null, 2) : "not in the table";
  const sent = published.get(orderId);
  if (sent && j.item && j.events.some((e) => e.event.type === "outcome" && e.event.outcome === "stored")) {
    const stored = j.events.find((e) => e.event.type === "outcome" && e.event.outcome === "stored");
    $("publish-result").textContent += `; stored ${stored.at - sent} ms after the publish`;
    published.delete(orderId);
  }
}

// ---- dead letters
const button = (text, onclick) => el("button", { type: "button", textContent: text, onclick });
const why = (m) =>
  m.lastError
    ? m.lastError.line
    : m.kind === "order"
      ? "no log line kept for its last attempt"
      : `the body is ${m.kind}`;
const DLQ_COLUMNS = ["orderId", "receives (source queue)", "sent", "why (the function's last line for it)", "action"];

function deadLetterRow(queue, m) {
  const cells = [m.orderId ?? `(${m.kind})`, String(m.receives), m.sent ? new Date(m.sent).toISOString() : "-", why(m)];
  return el(
    "tr",
    {},
    ...cells.map((text) => el("td", { textContent: text })),
    el(
      "td",
      {},
      button("Redrive", () => act("redrive", { queue, messageId: m.messageId })),
      " ",
      button("Delete", () => act("delete", { queue, messageId: m.messageId })),
    ),
  );
}

function deadLetterQueue(q) {
  const n = q.messages.length;
  const head = el("thead", {}, el("tr", {}, ...DLQ_COLUMNS.map((h) => el("th", { textContent: h }))));
  const body = el("tbody", {}, ...q.messages.map((m) => deadLetterRow(q.queue, m)));
  return el(
    "div",
    { className: "dlq" },
    el("h3", { textContent: `${q.queue}: ${n} message${n === 1 ? "" : "s"}` }),
    n ? button(`Redrive all of ${q.queue}`, () => act("redrive", { queue: q.queue })) : "",
    el("div", { className: "scroll" }, el("table", {}, head, body)),
  );
}

async function showDeadLetters() {
  const queues = await api("dlq");
  $("dlq-queues").replaceChildren(...queues.map(deadLetterQueue));
}

async function act(action, body) {
  try {
    const r = await api(`dlq/${action}`, body);
    $("dlq-result").textContent =
      action === "redrive"
        ? `moved ${r.moved} of ${r.total} from ${r.from} to ${r.to}${r.refused ? `; ${r.refused} refused` : ""}`
        : r.deleted
          ? `deleted from ${r.queue}`
          : `not found in ${r.queue}`;
  } catch (error) {
    $("dlq-result").textContent = `failed: ${error.message}`;
  }
  await showDeadLetters();
}

// ---- the table
// How many items the table holds is a scan that reads them all: counted when the page opens and on
// Refresh, and with each automatic refresh only while the table is small.
const RECOUNT_BELOW = 1000;
let itemCount;

async function showItems(count = itemCount === undefined || itemCount < RECOUNT_BELOW) {
  const answer = await api(`items?limit=100${count ? "&count=1" : ""}`);
  const { items, more } = answer;
  if (answer.count !== undefined) itemCount = answer.count;
  const counted =
    answer.count !== undefined
      ? `${itemCount} item${itemCount === 1 ? "" : "s"}`
      : `${itemCount} item${itemCount === 1 ? "" : "s"} when last counted (Refresh counts again)`;
  $("table-count").textContent = `${counted}${more ? ` (the first ${items.length} shown)` : ""}`;
  $("table-items").tBodies[0].replaceChildren(
    ...items.map((item) =>
      el(
        "tr",
        {},
        ...["orderId", "status", "itemName", "quantity", "timestamp"].map((key) =>
          el("td", { textContent: item[key] ?? "" }),
        ),
      ),
    ),
  );
}

// ---- the log
const logFilter = () => ({
  level: $("log-level").value,
  outcome: $("log-outcome").value,
  orderId: $("log-order").value.trim(),
});
const shown = (line, f) =>
  (!f.level || line.level === f.level) &&
  (!f.outcome || line.outcome === f.outcome) &&
  (!f.orderId || line.orderId === f.orderId);
let logLines = [];

function appendLog(line) {
  logLines.push(line);
  if (logLines.length > 1000) logLines = logLines.slice(-1000);
  if (shown(line, logFilter())) {
    const list = $("log-lines");
    list.append(el("li", { textContent: `${time(line.at)} ${line.fn} ${line.line}` }));
    while (list.children.length > 300) list.firstChild.remove();
  }
}

function redrawLog() {
  const f = logFilter();
  $("log-lines").replaceChildren(
    ...logLines
      .filter((l) => shown(l, f))
      .slice(-500)
      .map((l) => el("li", { textContent: `${time(l.at)} ${l.fn} ${l.line}` })),
  );
}

// ---- wiring
let refreshDlq = () => undefined;
/**
 * `fn` at most once every `ms`: at once if it has not run for `ms`, else once when `ms` have passed (a busy
 * run can neither starve it nor make it run more often).
 */
function throttled(fn, ms) {
  let last = 0;
  let timer;
  const run = () => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  return () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
}
const redrawCharts = throttled(drawCharts, 1000);

async function start() {
  const state = await api("state");
  graph = state.graph;
  drawGraph();
  refreshDlq = throttled(() => showDeadLetters().catch(() => undefined), 300);
  showCounts(state.counts);
  addPoints(state.points);
  $("status").textContent = `${state.stack} in ${state.region}: live`;
  $("publish-body").value = state.sampleOrder;
  $("recent").textContent = state.recentOrders.length
    ? `recent orders: ${state.recentOrders.slice(0, 10).join(", ")}`
    : "";
  logLines = await api("logs?limit=200");
  redrawLog();
  const refreshItems = throttled(() => showItems().catch(() => undefined), 2000);
  const refreshJourney = throttled(() => journeyOf && showJourney(journeyOf).catch(() => undefined), 150);
  setInterval(redrawCharts, 5000); // the charts move on with the clock while the run is quiet (no server work)
  const events = new EventSource(`/_local/api/stream?token=${encodeURIComponent(TOKEN)}`);
  // One batch at most every 250 ms: the counts, the chart's newest points, the kinds of event, the orders
  // whose journey changed, and the newest log lines.
  events.addEventListener("batch", (m) => {
    const batch = JSON.parse(m.data);
    showCounts(batch.counts);
    addPoints(batch.points);
    if (batch.skippedLines)
      appendLog({ at: Date.now(), fn: "console", line: `(${batch.skippedLines} log lines not shown)` });
    for (const line of batch.lines) appendLog(line);
    for (const update of batch.codeUpdates)
      appendLog({ at: Date.now(), fn: update.function, line: `code updated: version ${update.version}` });
    if (batch.orders.includes(journeyOf)) refreshJourney();
    if (batch.happened.includes("dead-lettered") || batch.happened.includes("redriven")) refreshDlq();
    if (batch.happened.includes("outcome")) refreshItems();
  });
  events.onerror = () => ($("status").textContent = "disconnected: is npm start -- --serve still running?");
  events.onopen = () => ($("status").textContent = `${state.stack} in ${state.region}: live`);
  await Promise.all([showDeadLetters(), showItems(true)]);
}

$("publish-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const r = await api("publish", { body: $("publish-body").value });
    if (r.messageId) {
      $("publish-result").textContent = `published: message ${r.messageId}${r.orderId ? `, order ${r.orderId}` : ""}`;
      if (r.orderId) {
        published.set(r.orderId, Date.now());
        await showJourney(r.orderId);
        location.hash = "#journey";
      }
    } else {
      $("publish-result").textContent =
        `refused by SNS: ${r.refused ? `${r.refused.code ?? ""} ${r.refused.message}` : "not sent"}`;
    }
  } catch (error) {
    $("publish-result").textContent = `failed: ${error.message}`;
  }
});
$("journey-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = $("journey-id").value.trim();
  if (id) showJourney(id).catch((error) => ($("journey-events").textContent = error.message));
});
$("table-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = $("table-id").value.trim();
  if (!id) return;
  const { item } = await api(`items/${encodeURIComponent(id)}`);
  $("table-item").hidden = false;
  $("table-item").textContent = item ? JSON.stringify(item, null, 2) : `${id} is not in the table`;
});
$("table-refresh").addEventListener("click", () => showItems(true));
for (const id of ["log-level", "log-outcome", "log-order"]) $(id).addEventListener("input", redrawLog);

start().catch((error) => ($("status").textContent = `could not load: ${error.message}`));
