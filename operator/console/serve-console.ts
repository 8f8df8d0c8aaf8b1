/**
 * `npm run orders -- console`: the console's page for a deployed stack, served on 127.0.0.1 (a free port
 * unless `--port`) with the `--serve` endpoint's own guards: its Host, the page's Origin, Fetch Metadata
 * (`request-checks.ts`), then the console's per-run token and CSP (`console.ts`). It reads the stack the
 * outputs file names through `awsSource`, with the operator's usual AWS credentials; read-only unless
 * `--allow-changes`.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createConsole } from "../../offline/console/console";
import { originPolicy, pageRefusal } from "../../offline/engines/request-checks";
import { OperatorError, StackOutputs } from "../io";
import { AwsClients, awsSource } from "./aws-source";

export interface ServedConsole {
  /** The page's address. */
  readonly url: string;
  close(): Promise<void>;
}

export async function serveConsole(
  outputs: StackOutputs,
  options: { stack: string; port: number; allowChanges: boolean; clients?: AwsClients; refreshSeconds?: number },
): Promise<ServedConsole> {
  const source = awsSource(outputs, options);
  const console = createConsole(source, { refreshSeconds: options.refreshSeconds });
  let port = options.port;
  const policy = originPolicy(() => port, []);
  const server = http.createServer((request, response) => {
    const refused = pageRefusal(request, policy, "the console answers only its own page");
    if (refused) {
      response.writeHead(403, { "content-type": "application/json" });
      return void response.end(JSON.stringify({ error: refused }));
    }
    if (/^\/_local\/(console|api)(\/|$)/.test(request.url ?? "")) return console.handle(request, response);
    response.writeHead(302, { location: console.path });
    response.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new OperatorError(`port ${options.port} is taken: choose another with --port, or 0 for a free one`)
          : error,
      ),
    );
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${console.path}`,
    close: () =>
      new Promise((resolve) => {
        console.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
