/**
 * `@wskit/client`: a typed client for wskit (and ws-kit) servers, for browsers, Node 20+
 * and Bun, without runtime dependencies.
 *
 * @module
 */
export { createClient, WsKitClient } from "./client.js";
export { backoffCeiling, backoffDelay, RECONNECT_DEFAULTS } from "./backoff.js";
export { ConnectionClosedError, RpcError, StateError, TimeoutError, WsKitError } from "./errors.js";
