/**
 * `@wskit/client`: a typed client for wskit (and ws-kit) servers, for browsers, Node 20+
 * and Bun, without runtime dependencies.
 *
 * @module
 */

export { createClient, WsKitClient } from "./client.js";
export type { ClientOptions, ClientState, RequestOptions, StateInfo, Unsubscribe } from "./client.js";
export { backoffCeiling, backoffDelay, RECONNECT_DEFAULTS } from "./backoff.js";
export type { ReconnectOptions } from "./backoff.js";
export { ConnectionClosedError, RpcError, StateError, TimeoutError, WsKitError } from "./errors.js";
export type { ErrorCode, ErrorPayload, Issue, Refusal } from "./errors.js";
export type { QueuePolicy } from "./outbox.js";
export type { ResumeRefusal, SessionEvent } from "./session.js";
export type {
  AnyProtocol,
  ClientPayload,
  ClientType,
  PayloadArgs,
  Protocol,
  RequestType,
  ResponsePayload,
  ServerPayload,
  ServerType,
} from "./protocol.js";
export type { InboundFrame } from "./wire.js";
