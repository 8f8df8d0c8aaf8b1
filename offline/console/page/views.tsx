// The console's screens besides the pipeline: an order's journey, the dead letters (with redrive and
// delete), the table, the function's log, and the publish form. Each reads the API when shown and again
// when the live stream says its data changed.
import { useEffect, useRef, useState } from "preact/hooks";
import type {
  ConsoleState,
  DeadLetterQueueView,
  DeadLetterView,
  ItemsPage,
  Journey,
  LogLine,
  PublishAnswer,
  RedriveAnswer,
  DiscardAnswer,
} from "../api";
import { api, oneAtATime, plural, time } from "./api";
import { go } from "./router";

/** What the live stream says changed, for a view to refresh itself. */
export interface Changes {
  readonly orders: ReadonlySet<string>;
  readonly happened: ReadonlySet<string>;
  /** Grows with every batch. */
  readonly serial: number;
}

/**
 * Calls `load` (this render's) when shown, and again whenever `changed(changes)` says so: one load at a
 * time, at most every 300 ms, so an answer never overwrites a newer one.
 */
function useLoad(load: () => Promise<void>, changes: Changes, changed: (c: Changes) => boolean, keys: unknown[] = []) {
  const latest = useRef(load);
  latest.current = load;
  const [refresh] = useState(() => oneAtATime(() => latest.current(), 300));
  useEffect(() => refresh(), keys);
  useEffect(() => {
    if (changes.serial > 0 && changed(changes)) refresh();
  }, [changes.serial]);
}

/** What could not be read, each with what to do; nothing when all was read. */
export function Problems(props: { problems?: string[]; id?: string }) {
  if (!props.problems?.length) return null;
  return (
    <ul id={props.id} class="problems" role="alert">
      {props.problems.map((p) => (
        <li key={p}>{p}</li>
      ))}
    </ul>
  );
}

export function JourneyView(props: { orderId?: string; state: ConsoleState; changes: Changes }) {
  const [journey, setJourney] = useState<Journey | undefined>();
  const [error, setError] = useState("");
  const [input, setInput] = useState(props.orderId ?? "");
  const load = async () => {
    if (!props.orderId) return setJourney(undefined);
    try {
      setJourney(await api<Journey>(`orders/${encodeURIComponent(props.orderId)}`));
      setError("");
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useLoad(load, props.changes, (c) => Boolean(props.orderId && c.orders.has(props.orderId)), [props.orderId]);
  useEffect(() => setInput(props.orderId ?? ""), [props.orderId]);
  return (
    <section aria-labelledby="journey-title">
      <h2 id="journey-title">Order journey</h2>
      <form
        id="journey-form"
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (input.trim()) go({ view: "journey", orderId: input.trim() });
        }}
      >
        <label for="journey-id">orderId</label>
        <input id="journey-id" autocomplete="off" value={input} onInput={(e) => setInput(e.currentTarget.value)} />
        <button type="submit">Show</button>
      </form>
      <p id="recent" class="muted">
        {props.state.recentOrders.length > 0 && "recent orders: "}
        {props.state.recentOrders.slice(0, 10).map((id) => (
          <a key={id} href={`#/journey/${encodeURIComponent(id)}`}>
            {id}{" "}
          </a>
        ))}
      </p>
      {error && <p class="error">{error}</p>}
      <Problems id="journey-problems" problems={journey?.problems} />
      <ol id="journey-events" class="events">
        {journey && journey.omitted > 0 && (
          <li class="omitted">
            {journey.omitted} earlier steps not kept (the newest {journey.steps.length} are shown)
          </li>
        )}
        {journey?.steps.map((step, i) => (
          <li key={i} class={step.tone}>
            {time(step.at)} <span class="label">{step.label}</span> {step.text}
          </li>
        ))}
        {journey && journey.steps.length === 0 && (
          <li>{props.state.source.live ? "no events for this order in this run" : "no log line names this order"}</li>
        )}
      </ol>
      <h3>In the table now</h3>
      <pre id="journey-item" class="json">
        {journey ? (journey.item ? JSON.stringify(journey.item, null, 2) : "not in the table") : "-"}
      </pre>
    </section>
  );
}

const why = (m: DeadLetterView) =>
  m.cause ? m.cause.line : m.kind === "order" ? "no failure line known for it" : `the body is ${m.kind}`;

export function DeadLettersView(props: { state: ConsoleState; changes: Changes }) {
  const [queues, setQueues] = useState<DeadLetterQueueView[]>([]);
  const [result, setResult] = useState("");
  const load = async () => setQueues(await api<DeadLetterQueueView[]>("dlq"));
  useLoad(load, props.changes, (c) => ["dead-lettered", "redriven", "discarded"].some((t) => c.happened.has(t)));
  const changes = props.state.source.changes;
  const act: Act = async (action, body) => {
    try {
      if (action === "redrive") {
        const r = await api<RedriveAnswer>("dlq/redrive", body);
        setResult(
          r.task
            ? `an SQS message-move task is moving ${r.total} from ${r.from} to ${r.to}: their journeys follow them`
            : `moved ${r.moved} of ${r.total} from ${r.from} to ${r.to}${r.refused ? `; ${r.refused} refused` : ""}`,
        );
      } else {
        const r = await api<DiscardAnswer>("dlq/delete", body);
        setResult(r.deleted ? `deleted from ${r.queue}` : `not found in ${r.queue}`);
      }
    } catch (error) {
      setResult(`failed: ${(error as Error).message}`);
    }
    await load();
  };
  return (
    <section aria-labelledby="dlq-title">
      <h2 id="dlq-title">Dead-letter queues</h2>
      <p id="dlq-result" role="status">
        {result}
      </p>
      <div id="dlq-queues">
        {queues.map((q) => (
          <DeadLetterQueue key={q.queue} queue={q} changes={changes} act={act} live={props.state.source.live} />
        ))}
      </div>
    </section>
  );
}

type Act = (action: "redrive" | "delete", body: { queue: string; messageId?: string }) => Promise<void>;

/** One dead-letter queue: its messages with why each is there, and (when changes are allowed) its actions. */
function DeadLetterQueue(props: { queue: DeadLetterQueueView; changes: boolean; act: Act; live: boolean }) {
  const { queue: q, changes, act } = props;
  return (
    <div class="dlq">
      <h3>
        {q.queue}: {plural(q.total, "message")}
      </h3>
      <Problems problems={q.problems} />
      {changes && q.total > 0 && (
        <button type="button" onClick={() => act("redrive", { queue: q.queue })}>
          Redrive all of {q.queue}
        </button>
      )}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>orderId</th>
              {/* Read from the engine locally; on AWS a look is a receive, and counts. */}
              <th>{props.live ? "receives (source queue)" : "receives (source queue, and each look here)"}</th>
              <th>sent</th>
              <th>why (the function's last line for it)</th>
              {changes && <th>action</th>}
            </tr>
          </thead>
          <tbody>
            {q.messages.map((m) => (
              <tr key={m.messageId}>
                <td>
                  {m.orderId ? <a href={`#/journey/${encodeURIComponent(m.orderId)}`}>{m.orderId}</a> : `(${m.kind})`}
                </td>
                <td>{m.receives}</td>
                <td>{m.sent ? new Date(m.sent).toISOString() : "-"}</td>
                <td>{why(m)}</td>
                {changes && (
                  <td>
                    <button type="button" onClick={() => act("redrive", { queue: q.queue, messageId: m.messageId })}>
                      Redrive
                    </button>{" "}
                    <button type="button" onClick={() => act("delete", { queue: q.queue, messageId: m.messageId })}>
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** How many items the table holds is a scan that reads them all: counted on Refresh, and automatically while small. */
const RECOUNT_BELOW = 1000;
const COLUMNS = ["orderId", "status", "itemName", "quantity", "timestamp"];

export function TableView(props: { changes: Changes }) {
  const [page, setPage] = useState<ItemsPage | undefined>();
  const [count, setCount] = useState<number | undefined>();
  const load = async (recount = count === undefined || count < RECOUNT_BELOW) => {
    const answer = await api<ItemsPage>(`items?limit=100${recount ? "&count=1" : ""}`);
    setPage(answer);
    if (answer.count !== undefined) setCount(answer.count);
  };
  useLoad(
    () => load(),
    props.changes,
    (c) => c.happened.has("outcome"),
  );
  const counted = count === undefined ? "" : plural(count, "item");
  return (
    <section aria-labelledby="table-title">
      <h2 id="table-title">Orders table</h2>
      <TableLookup refresh={() => void load(true)} />
      <p id="table-count" class="muted">
        {counted}
        {page?.more ? ` (the first ${page.items.length} shown)` : ""}
      </p>
      <div class="scroll">
        <table id="table-items">
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c}>{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page?.items.map((item, i) => (
              <tr key={i}>
                {COLUMNS.map((c) => (
                  <td key={c}>{String(item[c] ?? "")}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** A lookup by orderId (a query by the partition key), and the button that counts the table again. */
function TableLookup(props: { refresh: () => void }) {
  const [lookup, setLookup] = useState("");
  const [found, setFound] = useState<string | undefined>();
  return (
    <>
      <form
        id="table-form"
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!lookup.trim()) return;
          const { item } = await api<{ item: unknown }>(`items/${encodeURIComponent(lookup.trim())}`);
          setFound(item ? JSON.stringify(item, null, 2) : `${lookup.trim()} is not in the table`);
        }}
      >
        <label for="table-id">Look up orderId</label>
        <input id="table-id" autocomplete="off" value={lookup} onInput={(e) => setLookup(e.currentTarget.value)} />
        <button type="submit">Look up</button>
        <button type="button" id="table-refresh" onClick={props.refresh}>
          Refresh list
        </button>
      </form>
      {found && (
        <pre id="table-item" class="json">
          {found}
        </pre>
      )}
    </>
  );
}

export function LogView(props: { state: ConsoleState; lines: LogLine[] }) {
  const [level, setLevel] = useState("");
  const [outcome, setOutcome] = useState("");
  const [orderId, setOrderId] = useState("");
  const shown = props.lines
    .filter(
      (l) =>
        (!level || l.level === level) &&
        (!outcome || l.outcome === outcome) &&
        (!orderId || l.orderId === orderId.trim()),
    )
    .slice(-500);
  return (
    <section aria-labelledby="log-title">
      <h2 id="log-title">Function log (live)</h2>
      <form class="inline" id="log-filters" onSubmit={(e) => e.preventDefault()}>
        <label for="log-level">level</label>
        <select id="log-level" value={level} onInput={(e) => setLevel(e.currentTarget.value)}>
          {["", "INFO", "WARN", "ERROR"].map((v) => (
            <option key={v} value={v}>
              {v || "any"}
            </option>
          ))}
        </select>
        <label for="log-outcome">outcome</label>
        <select id="log-outcome" value={outcome} onInput={(e) => setOutcome(e.currentTarget.value)}>
          {["", ...props.state.outcomes].map((v) => (
            <option key={v} value={v}>
              {v || "any"}
            </option>
          ))}
        </select>
        <label for="log-order">orderId</label>
        <input id="log-order" autocomplete="off" value={orderId} onInput={(e) => setOrderId(e.currentTarget.value)} />
      </form>
      <ol id="log-lines" class="log">
        {shown.map((l, i) => (
          <li key={`${l.at}-${i}`}>
            {time(l.at)} {l.fn} {l.line}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function PublishView(props: { state: ConsoleState }) {
  const [body, setBody] = useState(props.state.sampleOrder);
  const [result, setResult] = useState("");
  const changes = props.state.source.changes;
  return (
    <section aria-labelledby="publish-title">
      <h2 id="publish-title">Publish an order</h2>
      <form
        id="publish-form"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            const r = await api<PublishAnswer>("publish", { body });
            if (!r.messageId)
              return setResult(
                `refused by SNS: ${r.refused ? `${r.refused.code ?? ""} ${r.refused.message}` : "not sent"}`,
              );
            setResult(`published: message ${r.messageId}${r.orderId ? `, order ${r.orderId}` : ""}`);
            if (r.orderId) go({ view: "journey", orderId: r.orderId });
          } catch (error) {
            setResult(`failed: ${(error as Error).message}`);
          }
        }}
      >
        <label for="publish-body">Message body (JSON), published to the topic through SNS</label>
        <textarea
          id="publish-body"
          rows={8}
          spellcheck={false}
          value={body}
          onInput={(e) => setBody(e.currentTarget.value)}
        />
        <button type="submit" disabled={!changes}>
          Publish
        </button>
        <p id="publish-result" role="status">
          {changes ? result : "read-only: publishing is off"}
        </p>
      </form>
    </section>
  );
}
