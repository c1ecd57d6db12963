/**
 * {@link WsKitClient}: a connection to a wskit (or ws-kit) server that stays up.
 *
 * @module
 */
import { type ReconnectOptions } from "./backoff.js";
import { WsKitError } from "./errors.js";
import { type QueuePolicy } from "./outbox.js";
import type { AnyProtocol, ClientPayload, ClientType, PayloadArgs, Protocol, RequestType, ResponsePayload, ServerPayload, ServerType } from "./protocol.js";
import type { SessionEvent } from "./session.js";
import type { InboundFrame } from "./wire.js";
/**
 * Where the connection stands: `closed` before `connect()`, after `close()` or once
 * reconnecting gave up; `connecting` while the first socket opens; `open`; `reconnecting`
 * between a lost socket and the next open one (backing off, then connecting); `closing`
 * after `close()`.
 */
export type ClientState = "closed" | "connecting" | "open" | "closing" | "reconnecting";
/** What a state change tells besides the state. */
export interface StateInfo {
    /** Failed connect attempts in a row since the last open socket. */
    attempt: number;
    /** In `reconnecting`: how long the client waits before the next attempt, in ms. */
    delayMs?: number;
}
/** How the client connects and behaves. Every field but `url` is optional. */
export interface ClientOptions {
    /**
     * The server's WebSocket URL. `http(s)://` and relative URLs (resolved against the page)
     * are turned into `ws(s)://`.
     */
    url: string | URL;
    /** Subprotocols to offer (besides a `bearer.` token). */
    protocols?: string | string[];
    /** Reconnect policy; defaults: on, 300 ms initial, 10 s cap, unlimited attempts. */
    reconnect?: ReconnectOptions;
    /** What happens to frames sent while not open. Default `drop-newest`. */
    queue?: QueuePolicy;
    /** How many frames wait while not open. Default 1000. */
    queueSize?: number;
    /** Connect when constructed, rather than on `connect()`. Default `false`. */
    autoConnect?: boolean;
    /** How many requests may wait for replies at once. Default 1000. */
    pendingRequestsLimit?: number;
    /** How long a request waits for its reply, counted from the call, in ms. Default 30 000. */
    requestTimeoutMs?: number;
    /** How long one connect attempt may take, in ms. Default 10 000. */
    connectTimeoutMs?: number;
    /**
     * Liveness: a `__heartbeat` every `intervalMs` (default 15 000) while open, and a socket
     * that receives nothing for `timeoutMs` (default 30 000) is dropped as dead (then the
     * client reconnects). `false` turns both off.
     */
    heartbeat?: {
        intervalMs?: number;
        timeoutMs?: number;
    } | false;
    /** A token fetched anew before every connect attempt. */
    auth?: {
        /** Returns the token, or nothing to connect without one; a throw fails the attempt. */
        getToken?: () => string | null | undefined | Promise<string | null | undefined>;
        /** `query` (`access_token` parameter, the default) or `protocol` (`bearer.<token>`). */
        attach?: "query" | "protocol";
    };
    /**
     * Session resume, against a wskit server that offers it (`Server::resume`). Default
     * `false`. When on, every connect asks for a resumable session, and a reconnect asks the
     * server to replay what the client missed while away: its subscriptions stay, and the
     * frames sent to it meanwhile arrive, in order, each once. `onSession` tells the outcome
     * of each connect; when it is not `resumed`, the application must resync.
     */
    resume?: boolean;
    /** Makes the socket; default the global `WebSocket`. */
    wsFactory?: (url: string, protocols: string[]) => WebSocket;
}
/** Options of one request. */
export interface RequestOptions {
    /** How long to wait for the reply, in ms; the client's `requestTimeoutMs` by default. */
    timeoutMs?: number;
    /** Cancels the request: the client sends `$ws:abort` and rejects with the signal's reason. */
    signal?: AbortSignal;
    /** Called with each `$ws:rpc-progress` value, in order, before the reply. */
    onProgress?: (value: unknown) => void;
}
/** Removes the listener it was returned for. */
export type Unsubscribe = () => void;
/**
 * A connection to a wskit (or ws-kit) server that stays up, typed by a protocol `P` (see
 * {@link Protocol}); untyped with the default {@link AnyProtocol}.
 *
 * ```ts
 * const client = createClient<ChatProtocol>({ url: "ws://127.0.0.1:3000/ws" });
 * client.on("NEW_MESSAGE", (message) => console.log(message.text));
 * await client.connect();
 * client.send("JOIN_ROOM", { roomId: "general" });
 * const history = await client.request("GET_HISTORY", { roomId: "general", limit: 20 });
 * ```
 */
export declare class WsKitClient<P extends Protocol = AnyProtocol> {
    #private;
    constructor(options: ClientOptions);
    /** The current state. */
    get state(): ClientState;
    /** Whether a socket is open. */
    get isConnected(): boolean;
    /**
     * Starts connecting (and reconnecting, by the policy) unless already started; resolves
     * once a socket is open, rejects with a {@link StateError} if the client closes first
     * (`close()`, or reconnecting gave up).
     */
    connect(): Promise<void>;
    /** Resolves when the client is next open (at once if it is); rejects if it closes first. */
    onceOpen(): Promise<void>;
    /**
     * Closes the socket normally (1000) and stops reconnecting; pending requests reject
     * with {@link ConnectionClosedError}, queued frames are discarded. Resolves once closed.
     * With `resume`, a close with 1000 ends the session (the server forgets it, and the next
     * `connect()` starts a new one); any other code leaves it to be resumed by `connect()`
     * within the server's resume window.
     */
    close(options?: {
        code?: number;
        reason?: string;
    }): Promise<void>;
    /** Calls `listener` on every state change; returns the function that removes it. */
    onState(listener: (state: ClientState, info: StateInfo) => void): Unsubscribe;
    /**
     * Calls `handler` with the payload of every inbound message of `type`, in arrival order.
     * Frames that answer a request (they carry its `correlationId`) go to the request instead,
     * and are dropped once it is settled. Returns the function that removes it.
     */
    on<K extends ServerType<P>>(type: K, handler: (payload: ServerPayload<P, K>, frame: InboundFrame) => void): Unsubscribe;
    /** Calls `listener` with every frame no `on` handler and no request takes. */
    onUnhandled(listener: (frame: InboundFrame) => void): Unsubscribe;
    /**
     * Calls `listener` with every `ERROR` frame: the server's answer to a one-way message
     * it refused (validation, a handler's error, a frame over the size limit).
     */
    onError(listener: (error: WsKitError) => void): Unsubscribe;
    /**
     * With `resume`: calls `listener` once per socket with what became of the session (see
     * {@link SessionEvent}), before any other frame of that socket reaches a handler. A server
     * without resume is told by its silence: no event, or `refused` (`unsupported`) when the
     * client held a session. Resync when a reconnect is not `resumed`:
     *
     * ```ts
     * client.onSession((event) => {
     *   if (event.status === "refused") rejoinAndRefetch(); // the missed frames are lost
     * });
     * ```
     */
    onSession(listener: (event: SessionEvent) => void): Unsubscribe;
    /**
     * Sends a message, stamped with `meta.timestamp`: written at once when open, queued
     * otherwise. Returns `false` if it was dropped: the client was closed with `close()`, or
     * is not open and the queue is off or full (`drop-newest`).
     */
    send<K extends ClientType<P>>(type: K, ...payload: PayloadArgs<ClientPayload<P, K>>): boolean;
    /**
     * Sends RPC request `type` with a fresh `meta.correlationId` and `meta.timeoutMs`, and
     * resolves to its response's payload. Rejects with {@link RpcError} (the server's
     * `RPC_ERROR`), {@link TimeoutError} (after sending `$ws:abort`, or on the server's
     * DEADLINE_EXCEEDED once the request's own timeout has passed),
     * {@link ConnectionClosedError} (the socket it went out on closed), {@link StateError}
     * (refused), or the signal's reason when `options.signal` aborts (after sending
     * `$ws:abort`, or withdrawing the request from the queue).
     */
    request<K extends RequestType<P>>(type: K, payload: ClientPayload<P, K>, options?: RequestOptions): Promise<ResponsePayload<P, K>>;
}
/** A client typed by protocol `P`: `createClient<ChatProtocol>({ url })`. */
export declare function createClient<P extends Protocol = AnyProtocol>(options: ClientOptions): WsKitClient<P>;
