// The console's page: one preact app over the API's typed answers (`../api.ts`). The pipeline's state comes
// once from /_local/api/state, then from the server's live batches; each view is a screen of its own.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Batch, ConsoleState, Counts, LogLine, PipelineSummary, SeriesPoint } from "../api";
import { api, listen } from "./api";
import { Charts } from "./charts";
import { Flow } from "./flow";
import { href, Route, useRoute, VIEWS } from "./router";
import { Changes, DeadLettersView, JourneyView, LogView, PublishView, TableView } from "./views";

const WINDOW_MS = 600_000;
const MAX_LINES = 1000;

function Balance(props: { balance?: PipelineSummary }) {
  const b = props.balance;
  if (!b) return null;
  const restored = b.restored !== undefined ? ` + restored ${b.restored}` : "";
  return (
    <p id="balance" class="balance">
      arrived {b.arrived}
      {restored} = processed {b.processed} + dead-lettered {b.deadLettered} + queued {b.queued} + lost {b.lost};
      redriven {b.redriven}
      {b.discarded ? `, deleted by hand ${b.discarded}` : ""}
    </p>
  );
}

/** The state the live batches keep current: counts, the chart's points, the newest log lines. */
function useLive(initial: ConsoleState) {
  const [counts, setCounts] = useState<Counts>(initial.counts);
  const [points, setPoints] = useState<SeriesPoint[]>(initial.points);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [changes, setChanges] = useState<Changes>({ orders: new Set(), happened: new Set(), serial: 0 });
  const [live, setLive] = useState(true);
  useEffect(() => {
    void api<LogLine[]>("logs?limit=200").then((tail) => setLines((now) => [...tail, ...now].slice(-MAX_LINES)));
    return listen((batch: Batch) => {
      setCounts(batch.counts);
      setPoints((now) => {
        const bySecond = new Map(now.map((p) => [p.at, p]));
        for (const p of batch.points) bySecond.set(p.at, p);
        return [...bySecond.values()].filter((p) => p.at >= Date.now() - WINDOW_MS).sort((a, b) => a.at - b.at);
      });
      const skipped = batch.skippedLines
        ? [{ at: Date.now(), fn: "console", line: `(${batch.skippedLines} log lines not shown)` }]
        : [];
      if (skipped.length || batch.lines.length)
        setLines((now) => [...now, ...skipped, ...batch.lines].slice(-MAX_LINES));
      setChanges((c) => ({ orders: new Set(batch.orders), happened: new Set(batch.happened), serial: c.serial + 1 }));
    }, setLive);
  }, []);
  return { counts, points, lines, changes, live };
}

function Screen(props: { route: Route; state: ConsoleState; live: ReturnType<typeof useLive> }) {
  const { route, state, live } = props;
  switch (route.view) {
    case "journey":
      return <JourneyView orderId={route.orderId} state={state} changes={live.changes} />;
    case "dlq":
      return <DeadLettersView state={state} changes={live.changes} />;
    case "table":
      return <TableView changes={live.changes} />;
    case "log":
      return <LogView state={state} lines={live.lines} />;
    case "publish":
      return <PublishView state={state} />;
    default:
      return (
        <section aria-labelledby="pipeline-title">
          <h2 id="pipeline-title">Pipeline</h2>
          <Flow graph={state.graph} counts={live.counts} points={live.points} />
          <Balance balance={live.counts.balance} />
          <Charts points={live.points} />
        </section>
      );
  }
}

function App(props: { state: ConsoleState }) {
  const route = useRoute();
  const live = useLive(props.state);
  const { state } = props;
  const mode = state.source.changes ? "changes allowed" : "read-only";
  return (
    <>
      <header>
        <h1>
          Order pipeline <span class="muted">console: {state.source.name}</span>
        </h1>
        <p id="status" role="status">
          {live.live
            ? `${state.stack} in ${state.region}: live, ${mode}`
            : "disconnected: is the server still running?"}
        </p>
        <nav aria-label="Views">
          {VIEWS.map(([view, title]) => (
            <a key={view} href={href({ view } as Route)} aria-current={route.view === view ? "page" : undefined}>
              {title}
            </a>
          ))}
        </nav>
      </header>
      <main>
        <Screen route={route} state={state} live={live} />
      </main>
    </>
  );
}

const root = document.getElementById("app")!;
api<ConsoleState>("state")
  .then((state) => {
    root.replaceChildren();
    root.removeAttribute("role");
    render(<App state={state} />, root);
  })
  .catch((error: Error) => (root.textContent = `could not load: ${error.message}`));
