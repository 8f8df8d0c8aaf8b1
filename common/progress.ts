/**
 * A one-line progress display for long runs (soak, bench, large `npm start --orders` files, DLQ moves).
 * It draws on stderr only when stderr is a terminal: in CI or a pipe it prints nothing, so logs and the
 * last-line JSON of each command stay clean.
 */

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

export interface Progress {
  /** Shows `done` of `total` (when known), the rate, an ETA and a detail; redraws at most every `intervalMs`. */
  update(done: number, total?: number, detail?: string): void;
  /** Removes the line, e.g. before other output is written, or at the end. */
  clear(): void;
  readonly enabled: boolean;
}

export interface ProgressOptions {
  readonly stream?: ProgressStream;
  readonly now?: () => number;
  readonly intervalMs?: number;
}

const CLEAR_LINE = "\r\u001b[2K";

function seconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  return s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

/** The text of a progress line: `label: done/total (p%), rate/s, ETA t, detail`. */
export function progressLine(
  label: string,
  done: number,
  total: number | undefined,
  elapsedMs: number,
  detail?: string,
): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const parts = [total ? `${done}/${total} (${Math.floor((100 * done) / total)}%)` : `${done}`];
  if (rate > 0) parts.push(`${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s`);
  if (total && rate > 0 && done < total) parts.push(`ETA ${seconds((total - done) / rate)}`);
  if (detail) parts.push(detail);
  return `${label}: ${parts.join(", ")}`;
}

export function progress(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const intervalMs = options.intervalMs ?? 100;
  const enabled = Boolean(stream.isTTY);
  const started = now();
  let lastDraw = -Infinity;
  let shown = false;
  return {
    enabled,
    update(done, total, detail) {
      if (!enabled) return;
      const at = now();
      if (at - lastDraw < intervalMs && !(total !== undefined && done >= total)) return;
      lastDraw = at;
      stream.write(`${CLEAR_LINE}${progressLine(label, done, total, at - started, detail)}`);
      shown = true;
    },
    clear() {
      if (!shown) return;
      stream.write(CLEAR_LINE);
      shown = false;
      lastDraw = -Infinity;
    },
  };
}
