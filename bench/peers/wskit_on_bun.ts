// The ws-kit peer of the benchmark: ws-kit 0.10 on Bun, written the way its documentation
// shows: zod message schemas, a router with withZod() (inbound and outbound validation, the
// default), `router.on` with `ctx.send`, `router.rpc` with `ctx.reply`, and pub/sub through
// withPubSub() on the in-memory adapter, served by @ws-kit/bun's handler under Bun.serve.
// It serves the same frames as wskit_echo and wskit_pubsub, byte for byte.
//
//   bun wskit_on_bun.ts echo|pubsub [ADDR]
//
// As with the Rust servers, `echo` and `pubsub` are separate applications: the echo server
// carries no pub/sub plugin, whose per-message context work it would otherwise pay for.
// ADDR defaults to 127.0.0.1:$PORT (PORT 9001); LIFETIME_SECS as in common.ts.

import { createBunHandler } from "@ws-kit/bun";
import { memoryPubSub } from "@ws-kit/memory";
import { withPubSub } from "@ws-kit/pubsub";
import { createRouter, message, rpc, withZod, z } from "@ws-kit/zod";
import { serveBench } from "./common.ts";

/** `{"type":"ECHO","payload":{"text":..}}`, answered with ECHOED. */
const Echo = message("ECHO", { text: z.string() });
/** `{"type":"ECHOED","meta":{},"payload":{"text":..}}`. */
const Echoed = message("ECHOED", { text: z.string() });
/** The RPC request: ECHO_RPC {text} with meta.correlationId, answered with ECHOED {text}. */
const EchoRpc = rpc("ECHO_RPC", { text: z.string() }, "ECHOED", { text: z.string() });

/** `{"type":"SUBSCRIBE","payload":{"topic":..}}`, answered once subscribed. */
const Subscribe = message("SUBSCRIBE", { topic: z.string() });
const Subscribed = message("SUBSCRIBED", { topic: z.string() });
/** `{"type":"PUBLISH","payload":{"topic":..,"text":..}}`, published as NEWS, no answer. */
const Publish = message("PUBLISH", { topic: z.string(), text: z.string() });
/** What subscribers receive: `{"type":"NEWS","payload":{"text":..}}`. */
const News = message("NEWS", { text: z.string() });

function echoRouter() {
  return createRouter()
    .plugin(withZod())
    .on(Echo, (ctx) => {
      ctx.send(Echoed, { text: ctx.payload.text });
    })
    .rpc(EchoRpc, (ctx) => {
      ctx.reply({ text: ctx.payload.text });
    });
}

function pubsubRouter() {
  return createRouter()
    .plugin(withZod())
    .plugin(withPubSub({ adapter: memoryPubSub() }))
    .on(Subscribe, async (ctx) => {
      await ctx.topics.subscribe(ctx.payload.topic);
      ctx.send(Subscribed, { topic: ctx.payload.topic });
    })
    .on(Publish, async (ctx) => {
      await ctx.publish(ctx.payload.topic, News, { text: ctx.payload.text });
    });
}

const mode = process.argv[2];
if (mode !== "echo" && mode !== "pubsub") {
  console.error("usage: bun wskit_on_bun.ts echo|pubsub [ADDR]");
  process.exit(2);
}
const router = mode === "echo" ? echoRouter() : pubsubRouter();
const { fetch, websocket } = createBunHandler(router);
serveBench(`wskit_on_bun ${mode}`, { fetch, websocket });
