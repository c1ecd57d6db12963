// A TCP proxy that a test puts between a client and a server, to lose connections the way a
// network does: no close frame, frames the server wrote never delivered.

import { once } from "node:events";
import net from "node:net";

/** Forwards loopback connections on its own port to a server's port, until told otherwise. */
export class TcpProxy {
  /** The request line (`GET /path?query HTTP/1.1`) that opened each connection, held ones too. */
  requestLines = [];

  #server;
  #upstreamPort;
  /** The forwarded connections: `{ client, server, stalled }`. */
  #pairs = new Set();
  /** Connections accepted while cut, with what they sent, forwarded on `restore()`. */
  #held = [];
  /** Who waits for a request line. */
  #requestWaiters = new Set();
  #cut = false;
  /** What `stall()` kept from the clients, and who waits for some text in it. */
  #dropped = "";
  #droppedWaiters = new Set();

  constructor(upstreamPort) {
    this.#upstreamPort = upstreamPort;
    this.#server = net.createServer((client) => {
      client.on("error", () => {});
      // The request comes first: read its line, then forward or hold the connection.
      client.once("data", (first) => {
        client.pause();
        this.#requested(first.toString("latin1").split("\r\n", 1)[0]);
        if (this.#cut) this.#held.push({ client, first });
        else this.#forward(client, first);
      });
    });
  }

  /** A proxy to `upstreamPort` on 127.0.0.1, listening on a free port. */
  static async start(upstreamPort) {
    const proxy = new TcpProxy(upstreamPort);
    proxy.#server.listen(0, "127.0.0.1");
    await once(proxy.#server, "listening");
    return proxy;
  }

  get port() {
    return this.#server.address().port;
  }

  /** Forwards the connections made from now on to `port` instead. */
  retarget(port) {
    this.#upstreamPort = port;
  }

  /** `ws://` to this proxy, at `path`. */
  url(path) {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** The query parameters of the request that opened forwarded connection `index` (from 0). */
  query(index) {
    const [, target] = this.requestLines[index].split(" ");
    return new URL(target, "http://proxy").searchParams;
  }

  /** Resolves with the next request line (from now on) that contains `text`. */
  nextRequest(text) {
    return new Promise((resolve) => this.#requestWaiters.add({ text, resolve }));
  }

  /**
   * From now on, what the server sends on the open connections is dropped: written by the
   * server, never received by the client.
   */
  stall() {
    for (const pair of this.#pairs) pair.stalled = true;
  }

  /** Resolves once the bytes dropped by `stall()` contain `text`. */
  dropped(text) {
    if (this.#dropped.includes(text)) return Promise.resolve();
    return new Promise((resolve) => this.#droppedWaiters.add({ text, resolve }));
  }

  /**
   * Resets every open connection, both ways (no close frame, no goodbye), and holds new
   * connections, unanswered, until `restore()`.
   */
  cut() {
    this.#cut = true;
    for (const { client, server } of this.#pairs) {
      client.resetAndDestroy();
      server.resetAndDestroy();
    }
    this.#pairs.clear();
  }

  /** Forwards the held connections and new ones again. */
  restore() {
    this.#cut = false;
    for (const { client, first } of this.#held.splice(0)) this.#forward(client, first);
  }

  /** Stops listening and resets every connection. */
  async close() {
    this.cut();
    for (const { client } of this.#held.splice(0)) client.destroy();
    this.#server.close();
    await once(this.#server, "close");
  }

  #requested(line) {
    this.requestLines.push(line);
    for (const waiter of this.#requestWaiters) {
      if (!line.includes(waiter.text)) continue;
      this.#requestWaiters.delete(waiter);
      waiter.resolve(line);
    }
  }

  /** Connects `client`, which sent `first` so far, to the server, both ways. */
  #forward(client, first) {
    const server = net.connect(this.#upstreamPort, "127.0.0.1");
    server.on("error", () => {});
    const pair = { client, server, stalled: false };
    this.#pairs.add(pair);
    server.write(first);
    client.on("data", (chunk) => server.write(chunk));
    client.resume();
    server.on("data", (chunk) => {
      if (!pair.stalled) return client.write(chunk);
      this.#dropped += chunk.toString("latin1");
      for (const waiter of this.#droppedWaiters) {
        if (!this.#dropped.includes(waiter.text)) continue;
        this.#droppedWaiters.delete(waiter);
        waiter.resolve();
      }
    });
    // A reset is passed on as a reset; an orderly end after what was written.
    const ended = (other) => (hadError) => {
      this.#pairs.delete(pair);
      if (hadError) other.destroy();
      else other.end();
    };
    client.on("close", ended(server));
    server.on("close", ended(client));
  }
}
