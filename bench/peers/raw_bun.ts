// The raw Bun peer of the benchmark: Bun.serve's own WebSocket handlers (uWebSockets
// underneath) with the least application code that serves the benchmark's frames byte for
// byte as wskit_echo and wskit_pubsub do: JSON.parse, a switch on `type`, JSON.stringify,
// server.publish. No validation, no routing layer: the floor a framework on Bun starts from.
//
//   bun raw_bun.ts echo|pubsub [ADDR]
//
// `echo` answers ECHO {text} with ECHOED {text} (meta {}) and ECHO_RPC {text} with ECHOED
// {text} carrying the request's correlationId; `pubsub` answers SUBSCRIBE {topic} with
// SUBSCRIBED {topic} once subscribed, and publishes PUBLISH {topic, text} as NEWS {text}
// (no meta) to the topic, answering nothing. ADDR defaults to 127.0.0.1:$PORT (PORT 9001);
// the server stops on SIGTERM or after LIFETIME_SECS (default 600), like the Rust servers.

import { serveBench } from "./common.ts";

type Frame = { type?: unknown; meta?: { correlationId?: unknown }; payload?: any };

const mode = process.argv[2];
if (mode !== "echo" && mode !== "pubsub") {
  console.error("usage: bun raw_bun.ts echo|pubsub [ADDR]");
  process.exit(2);
}

const server = serveBench<undefined>(`raw_bun ${mode}`, {
  fetch: (req, server) =>
    server.upgrade(req, { data: undefined }) ? undefined : new Response("Upgrade Required", { status: 426 }),
  websocket: {
    message(ws, data) {
      // The benchmark's client sends text frames only; a binary frame is not a message here.
      if (typeof data !== "string") return;
      let frame: Frame;
      try {
        frame = JSON.parse(data);
      } catch {
        return;
      }
      // Property order of the literals below is the wire order: it matches wskit's frames.
      if (mode === "echo") {
        switch (frame.type) {
          case "ECHO":
            ws.send(JSON.stringify({ type: "ECHOED", meta: {}, payload: { text: frame.payload.text } }));
            break;
          case "ECHO_RPC":
            ws.send(
              JSON.stringify({
                type: "ECHOED",
                meta: { correlationId: frame.meta?.correlationId },
                payload: { text: frame.payload.text },
              }),
            );
            break;
        }
      } else {
        switch (frame.type) {
          case "SUBSCRIBE":
            ws.subscribe(frame.payload.topic);
            ws.send(JSON.stringify({ type: "SUBSCRIBED", meta: {}, payload: { topic: frame.payload.topic } }));
            break;
          case "PUBLISH":
            // server.publish reaches every subscriber, the sender too if it is one, as
            // wskit's ctx.publish does (ws.publish would leave the sender out).
            server.publish(frame.payload.topic, JSON.stringify({ type: "NEWS", payload: { text: frame.payload.text } }));
            break;
        }
      }
    },
  },
});

