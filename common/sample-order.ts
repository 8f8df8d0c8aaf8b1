/** The README's sample order: what `npm start` publishes and stores. The soak, the benchmark and the tests vary it. */
export const SAMPLE_ORDER = {
  orderId: "O9876",
  userId: "U432",
  itemName: "Tablet",
  quantity: 3,
  status: "new",
  timestamp: "2025-05-09T14:40:00Z",
} as const;

/** The sample order with some fields replaced (or given invalid values), as a JSON body. */
export function sampleOrderBody(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...SAMPLE_ORDER, ...overrides });
}
