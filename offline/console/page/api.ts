// How the page talks to its server: JSON from /_local/api/ with the run's token (from the page's
// <meta name="console-token">), and the live stream of batches.
import type { Batch } from "../api";

const TOKEN = document.querySelector<HTMLMetaElement>('meta[name="console-token"]')?.content ?? "";

export async function api<T>(path: string, body?: unknown): Promise<T> {
  const options: RequestInit =
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
  return answer as T;
}

/** Listens to the server's batches (at most four a second, none while the server is idle). */
export function listen(onBatch: (batch: Batch) => void, onStatus: (live: boolean) => void): () => void {
  const events = new EventSource(`/_local/api/stream?token=${encodeURIComponent(TOKEN)}`);
  events.addEventListener("batch", (message) => onBatch(JSON.parse((message as MessageEvent<string>).data)));
  events.onerror = () => onStatus(false);
  events.onopen = () => onStatus(true);
  return () => events.close();
}

/** `fn` at most once every `ms`: at once if it has not run for `ms`, else once when `ms` have passed. */
export function throttled(fn: () => void, ms: number): () => void {
  let last = 0;
  let timer: number | undefined;
  const run = () => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  return () => {
    if (timer !== undefined) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = window.setTimeout(run, wait);
  };
}

export const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
export const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
