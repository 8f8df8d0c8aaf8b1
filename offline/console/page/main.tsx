// The console's page: one preact app over the API's typed answers (`../api.ts`). The pipeline's state comes
// once from /_local/api/state, then from the server's live batches; each view is a screen of its own.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Batch, ConsoleState, Counts, LogLine, PipelineSummary, SeriesPoint } from "../api";
import { api, listen, time } from "./api";
import { Charts } from "./charts";
import { Flow } from "./flow";
import { href, Route, useRoute, VIEWS } from "./router";
import { Changes, DeadLettersView, JourneyView, LogView, Problems, PublishView, TableView } from "./views";

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

/** Merges new points into the window's, newest last. */
function merged(now: SeriesPoint[], fresh: SeriesPoint[], windowMs: number): SeriesPoint[] {
  const byStep = new Map(now.map((p) => [p.at, p]));
  for (const p of fresh) byStep.set(p.at, p);
  return [...byStep.values()].filter((p) => p.at >= Date.now() - windowMs).sort((a, b) => a.at - b.at);
}

/**
 * The state kept current: by the server's live batches, or, for a source that is not live (a deployed
 * stack, read on the AWS APIs), by asking again every `refreshSeconds` while the tab is shown, and at once
 * when it is shown again. A hidden tab asks nothing.
 */
function useLive(initial: ConsoleState) {
  const windowMs = initial.source.chart.windowSeconds * 1000;
  const [counts, setCounts] = useState<Counts>(initial.counts);
  const [points, setPoints] = useState<SeriesPoint[]>(initial.points);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [changes, setChanges] = useState<Changes>({ orders: new Set(), happened: new Set(), serial: 0 });
  const [live, setLive] = useState(true);
  const [refreshedAt, setRefreshedAt] = useState(Date.now());
  useEffect(() => {
    void api<LogLine[]>("logs?limit=200")
      .then((tail) => setLines((now) => [...tail, ...now].slice(-MAX_LINES)))
      .catch(() => undefined);
    if (!initial.source.live) return polled();
    return listen((batch: Batch) => {
      setCounts(batch.counts);
      setPoints((now) => merged(now, batch.points, windowMs));
      const skipped = batch.skippedLines
        ? [{ at: Date.now(), fn: "console", line: `(${batch.skippedLines} log lines not shown)` }]
        : [];
      if (skipped.length || batch.lines.length)
        setLines((now) => [...now, ...skipped, ...batch.lines].slice(-MAX_LINES));
      setChanges((c) => ({ orders: new Set(batch.orders), happened: new Set(batch.happened), serial: c.serial + 1 }));
    }, setLive);
  }, []);
  function polled(): () => void {
    let timer: number | undefined;
    const refresh = async () => {
      window.clearTimeout(timer);
      timer = undefined;
      if (document.visibilityState !== "visible") return;
      try {
        const [state, tail] = await Promise.all([api<ConsoleState>("state"), api<LogLine[]>("logs?limit=200")]);
        setCounts(state.counts);
        setPoints(state.points);
        setLines(tail);
        setChanges((c) => ({
          orders: new Set(state.recentOrders),
          happened: new Set(["refresh"]),
          serial: c.serial + 1,
        }));
        setRefreshedAt(Date.now());
        setLive(true);
      } catch {
        setLive(false);
      }
      if (document.visibilityState === "visible")
        timer = window.setTimeout(() => void refresh(), initial.source.refreshSeconds * 1000);
    };
    const shown = () => void (document.visibilityState === "visible" ? refresh() : window.clearTimeout(timer));
    document.addEventListener("visibilitychange", shown);
    timer = window.setTimeout(() => void refresh(), initial.source.refreshSeconds * 1000);
    return () => {
      window.clearTimeout(timer);
      document.removeEventListener("visibilitychange", shown);
    };
  }
  return { counts, points, lines, changes, live, refreshedAt };
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
          <Problems id="pipeline-problems" problems={live.counts.problems} />
          <Flow graph={state.graph} counts={live.counts} points={live.points} step={state.source.chart.stepSeconds} />
          <Balance balance={live.counts.balance} />
          <Charts points={live.points} window={state.source.chart} />
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
          {!live.live
            ? "disconnected: is the server still running?"
            : state.source.live
              ? `${state.stack} in ${state.region}: live, ${mode}`
              : `${state.stack} in ${state.region}: read at ${time(live.refreshedAt).slice(0, 8)} (again every ${state.source.refreshSeconds} s while this tab is shown), ${mode}`}
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
