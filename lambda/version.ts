import { compareInstants, Order, ORDER_STATUSES } from "./order";

/**
 * Which of two versions of one order wins, so the stored state never depends on arrival order.
 * The later instant wins. At the same instant with different content (two status changes within one
 * second), the later lifecycle step wins: new < paid < shipped < delivered < cancelled. `cancelled`
 * ranks last because a cancellation is the update whose loss costs most (an order shipped that the
 * customer cancelled); the `conflict` outcome makes every such case visible. Left only with other
 * differences, the larger value wins, field by field: quantity, itemName, userId, then the timestamp's
 * text (`12:00+02:00` and `10:00Z` are one instant written two ways).
 */
export const STATUS_RANK: Readonly<Record<Order["status"], number>> = Object.fromEntries(
  ORDER_STATUSES.map((status, rank) => [status, rank]),
) as Record<Order["status"], number>;

/** The order's fields in the order the tiebreak compares them after the instant and the status. */
const TIEBREAK_FIELDS = ["quantity", "itemName", "userId", "timestamp"] as const;

/** How an incoming version relates to the stored one. */
export type VersionComparison =
  | { readonly relation: "newer" | "older" | "identical" }
  | { readonly relation: "conflict"; readonly incomingWins: boolean; readonly decidedBy: string };

/** Compares an incoming version of an order with the stored one (same orderId). */
export function compareVersions(incoming: Order, stored: Order): VersionComparison {
  const instant = compareInstants(incoming.timestamp, stored.timestamp);
  if (instant !== 0) return { relation: instant > 0 ? "newer" : "older" };
  // A status outside the schema (an item written by another hand) ranks below every known one.
  const rank = (status: string) => STATUS_RANK[status as Order["status"]] ?? -1;
  const status = rank(incoming.status) - rank(stored.status);
  if (status !== 0) return { relation: "conflict", incomingWins: status > 0, decidedBy: "status" };
  for (const field of TIEBREAK_FIELDS) {
    const [a, b] = [incoming[field], stored[field]];
    if (a !== b) return { relation: "conflict", incomingWins: a > b, decidedBy: field };
  }
  return { relation: "identical" };
}
