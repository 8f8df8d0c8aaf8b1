// @ts-check
/**
 * dynalite in a process of its own, for the benchmark (a real server does not share the client's core):
 * listens on a free loopback port and prints the port on stdout. Plain JavaScript, so it starts without
 * a TypeScript loader; `@ts-check` keeps it type-checked (`npm run typecheck`).
 */
const dynalite = require("dynalite");

const server = dynalite({ createTableMs: 0 });
server.listen(0, "127.0.0.1", () => {
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  console.log(address.port);
});
