// What both Bun peers share with the Rust servers of the benchmark: the listen address
// (argv, else 127.0.0.1:$PORT), the path /ws, a "listening" line on stdout (bench/run.sh
// waits for it), and a bounded lifetime (LIFETIME_SECS, default 600) so that a server a
// script forgot to stop does not linger.

import type { Server, WebSocketHandler } from "bun";

export type BenchHandlers<T> = {
  /** Answers a request for /ws: undefined once upgraded, else a response. */
  fetch: (req: Request, server: Server<T>) => Response | undefined | Promise<Response | undefined>;
  websocket: WebSocketHandler<T>;
};

/** Serves `handlers` at ws://ADDR/ws, ADDR being the argument after the mode. */
export function serveBench<T>(name: string, handlers: BenchHandlers<T>): Server<T> {
  const addr = process.argv[3] ?? `127.0.0.1:${process.env.PORT ?? "9001"}`;
  const colon = addr.lastIndexOf(":");
  const hostname = addr.slice(0, colon);
  const port = Number(addr.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) {
    console.error(`${name}: ADDR must be HOST:PORT, not ${addr}`);
    process.exit(2);
  }
  const server = Bun.serve<T>({
    hostname,
    port,
    fetch(req, server) {
      if (new URL(req.url).pathname !== "/ws") return new Response("Not Found", { status: 404 });
      return handlers.fetch(req, server);
    },
    websocket: handlers.websocket,
  });
  console.log(`${name} (bun ${Bun.version}) listening on ws://${hostname}:${server.port}/ws`);

  const lifetime = Number(process.env.LIFETIME_SECS ?? "600");
  setTimeout(() => {
    console.error(`lifetime of ${lifetime} s is over`);
    process.exit(0);
  }, lifetime * 1000).unref();
  return server;
}
