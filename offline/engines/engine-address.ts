/**
 * Where an engine listens: a loopback TCP port (`npm start`'s batch run), or a Unix socket in a private
 * folder (`--serve`, where the one endpoint is the only TCP port, so a web page or another user's process
 * cannot reach an engine past the endpoint's checks).
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface EngineAddress {
  /** The URL clients are configured with: `http://127.0.0.1:PORT`, or `http://localhost` for a socket. */
  readonly url: string;
  /** Set when the engine listens on a Unix socket: connections go there, whatever the URL says. */
  readonly socketPath?: string;
}

/** An agent whose connections all go to one Unix socket (keep-alive, as the SDK's own agent). */
class SocketAgent extends http.Agent {
  constructor(
    private readonly socketPath: string,
    options: http.AgentOptions,
  ) {
    super(options);
  }

  /** Node's agent uses the socket returned here (the options' host and port are not used). */
  override createConnection(): net.Socket {
    return net.createConnection(this.socketPath);
  }
}

/** The agent for requests to an engine (keep-alive; connecting to its socket if it has one). */
export function engineAgent(address: EngineAddress, maxSockets = 64): http.Agent {
  const options = { keepAlive: true, maxSockets };
  return address.socketPath ? new SocketAgent(address.socketPath, options) : new http.Agent(options);
}

/** AWS SDK client settings that reach the engine. */
export function sdkTransport(address: EngineAddress): { endpoint: string; requestHandler?: { httpAgent: http.Agent } } {
  return address.socketPath
    ? { endpoint: address.url, requestHandler: { httpAgent: engineAgent(address) } }
    : { endpoint: address.url };
}

/** Starts `server` listening on loopback port 0, or on `socketPath`; resolves with its address. */
export function listenOn(server: http.Server, socketPath?: string): Promise<EngineAddress> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.removeListener("error", reject);
      resolve(
        socketPath
          ? { url: "http://localhost", socketPath }
          : { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` },
      );
    };
    if (socketPath) server.listen(socketPath, done);
    else server.listen(0, "127.0.0.1", done);
  });
}

/** A folder only this user can enter, for the engines' sockets (short, as a socket path must be). */
export function privateSocketDir(): { dir: string; socket(name: string): string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orders-engines-"));
  fs.chmodSync(dir, 0o700);
  return {
    dir,
    socket: (name) => path.join(dir, `${name}.sock`),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
