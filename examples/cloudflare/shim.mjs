// The Worker's entry module, in place of the one worker-build would generate.
//
// build.sh copies it beside `wasm-bindgen --target module` output (index.js), which
// instantiates the wasm when imported. wrangler bundles the three files itself.
import * as wasm from "./index.js";

// The Durable Object class that #[durable_object] generates: a constructor(state, env),
// fetch, and the hibernation handlers webSocketMessage/Close/Error. Only RPC between
// objects would need it to extend DurableObject.
export const ChatShard = wasm.ChatShard;

// The Worker: #[event(fetch)] exports fetch(request, env, ctx).
export default {
  fetch(request, env, ctx) {
    return wasm.fetch(request, env, ctx);
  },
};
