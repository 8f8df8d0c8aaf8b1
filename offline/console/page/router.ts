// Each view is its own screen with its own address (`#/dlq`, `#/journey/O9876`): the back button works.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { view: "pipeline" }
  | { view: "journey"; orderId?: string }
  | { view: "dlq" }
  | { view: "table" }
  | { view: "log" }
  | { view: "publish" };

export const VIEWS = [
  ["pipeline", "Pipeline"],
  ["journey", "Order journey"],
  ["dlq", "Dead letters"],
  ["table", "Table"],
  ["log", "Log"],
  ["publish", "Publish"],
] as const;

export function parseRoute(hash: string): Route {
  const [view, ...rest] = hash.replace(/^#\/?/, "").split("/");
  if (view === "journey") return { view, orderId: rest.length ? decodeURIComponent(rest.join("/")) : undefined };
  if (view === "dlq" || view === "table" || view === "log" || view === "publish") return { view };
  return { view: "pipeline" };
}

export function href(route: Route): string {
  return route.view === "journey" && route.orderId
    ? `#/journey/${encodeURIComponent(route.orderId)}`
    : `#/${route.view}`;
}

export const go = (route: Route) => void (location.hash = href(route));

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}
