// Runs a wskit server binary for the tests: started on a free port (or a given one), its
// address read from the line it prints once it listens, killed and restarted on demand.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import net from "node:net";

/** The repository root, where `cargo build --examples` leaves the binaries. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** The path of example binary `name`, built by `cargo build --example <name>`. */
export function exampleBinary(name) {
  const target = process.env.CARGO_TARGET_DIR ?? `${ROOT}target`;
  return `${target}/debug/examples/${name}`;
}

/** A free loopback port, for a server that cannot be told to pick one. */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/** Resolves once something accepts TCP connections on `port` (within `timeoutMs`). */
export async function waitForPort(port, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const socket = net.connect(port, "127.0.0.1");
    try {
      await once(socket, "connect");
      socket.destroy();
      return;
    } catch (error) {
      socket.destroy();
      if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms: ${error}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * A running server process. `start()` waits until it listens: for the peer, by the
 * `listening on ws://…` line it prints; for a binary that prints nothing of the kind, by
 * connecting to `port`.
 */
export class ServerProcess {
  constructor(binary, { port, printsAddress = true, env = {} } = {}) {
    this.binary = binary;
    this.port = port;
    this.printsAddress = printsAddress;
    this.env = env;
    this.child = undefined;
  }

  get url() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async start() {
    const env = { ...process.env, ...this.env, RUST_LOG: "warn" };
    if (this.port !== undefined) env.PORT = String(this.port);
    const child = spawn(this.binary, [], { env, stdio: ["ignore", "pipe", "inherit"] });
    this.child = child;
    const exited = once(child, "exit").then(([code]) => {
      throw new Error(`${this.binary} exited with ${code} before it listened`);
    });
    exited.catch(() => {});
    if (this.printsAddress) {
      const lines = createInterface({ input: child.stdout });
      const listening = (async () => {
        for await (const line of lines) {
          const match = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(line);
          if (match) return Number(match[1]);
        }
        throw new Error(`${this.binary} closed its output without saying where it listens`);
      })();
      this.port = await Promise.race([listening, exited]);
    } else {
      child.stdout.resume();
      await Promise.race([waitForPort(this.port), exited]);
    }
    return this;
  }

  /** Kills the process (SIGKILL: no goodbye to the clients) and waits until it is gone. */
  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  /** Kills the process and starts it again on the same port. */
  async restart() {
    await this.kill();
    return this.start();
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) the process: its sockets stay open, silent. */
  freeze() {
    this.child.kill("SIGSTOP");
  }

  thaw() {
    this.child.kill("SIGCONT");
  }
}

/** Starts the client tests' peer server (`examples/ts_client_peer.rs`). */
export function startPeer(options = {}) {
  return new ServerProcess(exampleBinary("ts_client_peer"), options).start();
}

/** Resolves with the next state `client` enters that `predicate` accepts. */
export function nextState(client, predicate) {
  return new Promise((resolve) => {
    const off = client.onState((state, info) => {
      if (predicate(state)) {
        off();
        resolve({ state, info });
      }
    });
  });
}

/** Resolves with the payloads of the next `count` messages of `type`. */
export function collect(client, type, count) {
  return new Promise((resolve) => {
    const seen = [];
    const off = client.on(type, (payload) => {
      seen.push(payload);
      if (seen.length === count) {
        off();
        resolve(seen);
      }
    });
  });
}
