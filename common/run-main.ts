/**
 * The entry point of every script (`npm start`, `npm run orders`, soak, bench, build, cdktn check): when
 * `module` is the one node was started with, runs `main` and exits with the code it returns. A thrown
 * error prints `error: <message>` and the optional hint on stderr, and exits with `exitCodeOf(error)`
 * (2 by default: bad input or missing setup, which the message says how to fix).
 */
export function runMain(
  module: NodeModule,
  main: () => Promise<number> | number,
  options: { readonly hint?: string; readonly exitCodeOf?: (error: unknown) => number } = {},
): void {
  if (require.main !== module) return;
  Promise.resolve()
    .then(main)
    .then(
      (code) => process.exit(code),
      (error: unknown) => {
        console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
        if (options.hint) console.error(options.hint);
        process.exit(options.exitCodeOf?.(error) ?? 2);
      },
    );
}
