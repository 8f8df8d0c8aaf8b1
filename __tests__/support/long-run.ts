/**
 * The reliability runs' size: `npm test` (a developer's inner loop, within a minute) runs a short version of
 * each; `npm run test:long` (which CI runs too) sets ORDER_LONG_TESTS=1 for the full one.
 */
export const LONG_RUN = process.env.ORDER_LONG_TESTS === "1";

/** `short` in `npm test`, `long` in `npm run test:long`. */
export const sized = <T>(short: T, long: T): T => (LONG_RUN ? long : short);
