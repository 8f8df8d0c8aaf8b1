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

/**
 * `load` one run at a time, at most once every `ms`: asked while a run is in flight or too recent, it runs
 * once more after it. Runs never overlap, so an older answer can never land after a newer one.
 */
export function oneAtATime(load: () => Promise<void>, ms: number): () => void {
  let started = 0;
  let running = false;
  let wanted = false;
  let timer: number | undefined;
  const run = async () => {
    running = true;
    started = Date.now();
    await load().catch(() => undefined);
    running = false;
    if (wanted) {
      wanted = false;
      ask();
    }
  };
  const ask = () => {
    if (running) return void (wanted = true);
    const wait = started + ms - Date.now();
    if (wait <= 0) return void run();
    if (timer !== undefined) return;
    timer = window.setTimeout(() => {
      timer = undefined;
      void run();
    }, wait);
  };
  return ask;
}

export const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
export const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
