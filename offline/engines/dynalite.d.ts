/** dynalite ships no type declarations: the one function this project calls. */
declare module "dynalite" {
  import type { Server } from "node:http";
  function dynalite(options?: Record<string, unknown>): Server;
  export = dynalite;
}
