/**
 * {@link WsKitClient}: a connection to a wskit (or ws-kit) server that stays up.
 *
 * @module
 */

import { backoffDelay, RECONNECT_DEFAULTS, type ReconnectOptions } from "./backoff.js";
import { ConnectionClosedError, RpcError, StateError, TimeoutError, WsKitError } from "./errors.js";
import { Outbox, type Outgoing, type QueuePolicy } from "./outbox.js";
import type {
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
import * as session from "./session.js";
import type { Held, SessionEvent } from "./session.js";
import * as wire from "./wire.js";
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
  heartbeat?: { intervalMs?: number; timeoutMs?: number } | false;
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

/** A request waiting for its reply. */
interface Pending {
  resolve: (payload: unknown) => void;
  reject: (error: unknown) => void;
  onProgress: ((value: unknown) => void) | undefined;
  /** When it times out (`Date.now()` time), and its timeout in ms. */
  deadline: number;
  timeoutMs: number;
  /** Whether it was written to the socket, rather than waiting in the outbox. */
  sent: boolean;
  /** Clears the timer and the abort listener. */
  cleanup: () => void;
}

/** How long `close()` waits for the server's close frame, in ms. */
const CLOSE_GRACE_MS = 5_000;

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
export class WsKitClient<P extends Protocol = AnyProtocol> {
  readonly #url: string | URL;
  readonly #protocols: string[];
  readonly #reconnect: Required<ReconnectOptions>;
  readonly #pendingLimit: number;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #heartbeat: { intervalMs: number; timeoutMs: number } | undefined;
  readonly #auth: ClientOptions["auth"];
  readonly #resume: boolean;
  readonly #factory: (url: string, protocols: string[]) => WebSocket;

  #state: ClientState = "closed";
  readonly #outbox: Outbox;
  readonly #pending = new Map<string, Pending>();
  readonly #handlers = new Map<string, Set<(payload: any, frame: InboundFrame) => void>>();
  readonly #stateListeners = new Set<(state: ClientState, info: StateInfo) => void>();
  readonly #unhandled = new Set<(frame: InboundFrame) => void>();
  readonly #errorListeners = new Set<(error: WsKitError) => void>();
  readonly #sessionListeners = new Set<(event: SessionEvent) => void>();

  /** The open socket, or the one connecting. */
  #socket: WebSocket | undefined;
  /** Whether the client is meant to be connected (between `connect()` and `close()`). */
  #running = false;
  /** Whether `close()` was called and `connect()` not since: sends are refused. */
  #closedByUser = false;
  /** Failed connect attempts since the last open socket. */
  #failures = 0;
  /** The pending reconnect, heartbeat and silence timers. */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #silenceTimer: ReturnType<typeof setTimeout> | undefined;
  /** With `resume`: the session the next connect asks to resume, if any. */
  #held: Held | undefined;
  /** With `resume`: the socket asked for a session, and its first frame has not arrived. */
  #awaitingSession = false;
  /** Whether the open socket is resumable: its data frames count in `#held`. */
  #counting = false;

  constructor(options: ClientOptions) {
    this.#url = options.url;
    this.#protocols = options.protocols === undefined ? [] : [options.protocols].flat();
    this.#reconnect = { ...RECONNECT_DEFAULTS, ...options.reconnect };
    this.#outbox = new Outbox(options.queue ?? "drop-newest", options.queueSize ?? 1000);
    this.#pendingLimit = options.pendingRequestsLimit ?? 1000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#heartbeat =
      options.heartbeat === false
        ? undefined
        : { intervalMs: options.heartbeat?.intervalMs ?? 15_000, timeoutMs: options.heartbeat?.timeoutMs ?? 30_000 };
    this.#auth = options.auth;
    this.#resume = options.resume ?? false;
    this.#factory = options.wsFactory ?? defaultFactory;
    if (options.autoConnect) void this.connect().catch(() => {});
  }

  /** The current state. */
  get state(): ClientState {
    return this.#state;
  }

  /** Whether a socket is open. */
  get isConnected(): boolean {
    return this.#state === "open";
  }

  /**
   * Starts connecting (and reconnecting, by the policy) unless already started; resolves
   * once a socket is open, rejects with a {@link StateError} if the client closes first
   * (`close()`, or reconnecting gave up).
   */
  connect(): Promise<void> {
    this.#closedByUser = false;
    if (!this.#running) {
      this.#running = true;
      this.#failures = 0;
      this.#setState("connecting");
      void this.#attempt();
    }
    return this.onceOpen();
  }

  /** Resolves when the client is next open (at once if it is); rejects if it closes first. */
  onceOpen(): Promise<void> {
    if (this.#state === "open") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const off = this.onState((state) => {
        if (state === "open") {
          off();
          resolve();
        } else if (state === "closed") {
          off();
          reject(new StateError("closed", "the client closed before a socket opened"));
        }
      });
    });
  }

  /**
   * Closes the socket normally (1000) and stops reconnecting; pending requests reject
   * with {@link ConnectionClosedError}, queued frames are discarded. Resolves once closed.
   * With `resume`, a close with 1000 ends the session (the server forgets it, and the next
   * `connect()` starts a new one); any other code leaves it to be resumed by `connect()`
   * within the server's resume window.
   */
  async close(options: { code?: number; reason?: string } = {}): Promise<void> {
    this.#closedByUser = true;
    if ((options.code ?? 1000) === 1000) this.#held = undefined;
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#retryTimer);
    this.#setState("closing");
    const socket = this.#socket;
    if (socket && socket.readyState <= 1) {
      await new Promise<void>((done) => {
        const grace = setTimeout(done, CLOSE_GRACE_MS);
        socket.addEventListener("close", () => {
          clearTimeout(grace);
          done();
        });
        socket.close(options.code ?? 1000, options.reason ?? "");
      });
    }
    this.#finish();
  }

  /** Calls `listener` on every state change; returns the function that removes it. */
  onState(listener: (state: ClientState, info: StateInfo) => void): Unsubscribe {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /**
   * Calls `handler` with the payload of every inbound message of `type`, in arrival order.
   * Frames that answer a request (they carry its `correlationId`) go to the request instead,
   * and are dropped once it is settled. Returns the function that removes it.
   */
  on<K extends ServerType<P>>(
    type: K,
    handler: (payload: ServerPayload<P, K>, frame: InboundFrame) => void,
  ): Unsubscribe {
    let handlers = this.#handlers.get(type);
    if (!handlers) this.#handlers.set(type, (handlers = new Set()));
    handlers.add(handler);
    return () => handlers.delete(handler);
  }

  /** Calls `listener` with every frame no `on` handler and no request takes. */
  onUnhandled(listener: (frame: InboundFrame) => void): Unsubscribe {
    this.#unhandled.add(listener);
    return () => this.#unhandled.delete(listener);
  }

  /**
   * Calls `listener` with every `ERROR` frame: the server's answer to a one-way message
   * it refused (validation, a handler's error, a frame over the size limit).
   */
  onError(listener: (error: WsKitError) => void): Unsubscribe {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

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
  onSession(listener: (event: SessionEvent) => void): Unsubscribe {
    this.#sessionListeners.add(listener);
    return () => this.#sessionListeners.delete(listener);
  }

  /**
   * Sends a message, stamped with `meta.timestamp`: written at once when open, queued
   * otherwise. Returns `false` if it was dropped: the client was closed with `close()`, or
   * is not open and the queue is off or full (`drop-newest`).
   */
  send<K extends ClientType<P>>(type: K, ...payload: PayloadArgs<ClientPayload<P, K>>): boolean {
    if (this.#closedByUser) return false;
    const text = wire.encode(type, payload[0]);
    if (this.#state === "open" && this.#socket) {
      this.#socket.send(text);
      return true;
    }
    return this.#queue({ kind: "message", text }) === undefined;
  }

  /**
   * Sends RPC request `type` with a fresh `meta.correlationId` and `meta.timeoutMs`, and
   * resolves to its response's payload. Rejects with {@link RpcError} (the server's
   * `RPC_ERROR`), {@link TimeoutError} (after sending `$ws:abort`, or on the server's
   * DEADLINE_EXCEEDED once the request's own timeout has passed),
   * {@link ConnectionClosedError} (the socket it went out on closed), {@link StateError}
   * (refused), or the signal's reason when `options.signal` aborts (after sending
   * `$ws:abort`, or withdrawing the request from the queue).
   */
  request<K extends RequestType<P>>(
    type: K,
    payload: ClientPayload<P, K>,
    options: RequestOptions = {},
  ): Promise<ResponsePayload<P, K>> {
    return new Promise((resolve, reject) => {
      const { signal, onProgress } = options;
      if (this.#closedByUser) return reject(new StateError("closed", "the client is closed; call connect() first"));
      if (signal?.aborted) return reject(signal.reason);
      if (this.#pending.size >= this.#pendingLimit) {
        return reject(
          new StateError(
            "too-many-pending",
            `${this.#pendingLimit} requests already wait for replies; await some first or raise \`pendingRequestsLimit\``,
          ),
        );
      }
      const id = wire.newCorrelationId();
      const timeoutMs = options.timeoutMs ?? this.#requestTimeoutMs;
      const deadline = Date.now() + timeoutMs;
      const timer = setTimeout(() => this.#cancel(id, new TimeoutError(timeoutMs)), timeoutMs);
      const onAbort = () => this.#cancel(id, signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const entry: Pending = {
        resolve: resolve as (payload: unknown) => void,
        reject,
        onProgress,
        deadline,
        timeoutMs,
        sent: false,
        cleanup,
      };
      this.#pending.set(id, entry);
      // Rendered when written, so that the server's deadline is the time left, rounded up.
      const render = () =>
        wire.encode(type, payload, { correlationId: id, timeoutMs: Math.max(1, Math.ceil(deadline - Date.now())) });
      if (this.#state === "open" && this.#socket) {
        this.#socket.send(render());
        entry.sent = true;
        return;
      }
      const refusal = this.#queue({ kind: "request", id, render });
      if (refusal) this.#settle(id, { error: refusal });
    });
  }

  // ---- The connection ----

  /** Fetches a token and opens a socket; its events drive the rest. */
  async #attempt(): Promise<void> {
    let url: URL;
    const protocols = [...this.#protocols];
    try {
      url = toWebSocketUrl(this.#url);
      const token = await this.#auth?.getToken?.();
      if (!this.#running) return;
      if (token && this.#auth?.attach === "protocol") protocols.unshift(`bearer.${token}`);
      else if (token) url.searchParams.set("access_token", token);
      if (this.#resume) session.askFor(url, this.#held);
    } catch (error) {
      return this.#failed(error);
    }
    let socket: WebSocket;
    try {
      socket = this.#factory(url.toString(), protocols);
    } catch (error) {
      return this.#failed(error);
    }
    this.#socket = socket;
    this.#awaitingSession = this.#resume;
    this.#counting = false;
    let opened = false;
    const timer = setTimeout(() => {
      this.#detach(socket);
      this.#failed(new Error(`no upgrade within ${this.#connectTimeoutMs} ms`));
    }, this.#connectTimeoutMs);
    socket.onopen = () => {
      clearTimeout(timer);
      opened = true;
      this.#opened(socket);
    };
    // Some implementations (Node 20's) fire only `error` for a refused connection: either
    // event ends the socket, once.
    const ended = (reason: string) => {
      clearTimeout(timer);
      this.#detach(socket);
      if (opened) this.#lost();
      else this.#failed(new Error(reason));
    };
    socket.onclose = (event) => ended(`the upgrade failed (close code ${event.code})`);
    socket.onerror = () => ended("the connection failed");
    socket.onmessage = (event) => this.#receive(event.data);
  }

  /** A socket opened: flush the outbox in order, start the heartbeat. */
  #opened(socket: WebSocket): void {
    this.#failures = 0;
    this.#setState("open");
    for (const frame of this.#outbox.drain()) {
      if (frame.kind === "message") {
        socket.send(frame.text);
        continue;
      }
      const entry = this.#pending.get(frame.id);
      if (!entry) continue;
      socket.send(frame.render());
      entry.sent = true;
    }
    this.#startHeartbeat(socket);
  }

  /** The open socket is gone: requests it carried fail; queued frames wait for the next. */
  #lost(): void {
    this.#stopHeartbeat();
    for (const [id, entry] of this.#pending) {
      if (entry.sent) this.#settle(id, { error: new ConnectionClosedError() });
    }
    if (!this.#running) return;
    if (!this.#reconnect.enabled) return this.#finish();
    this.#retry();
  }

  /** A connect attempt failed: back off and try again, or give up. */
  #failed(_reason: unknown): void {
    if (!this.#running) return;
    this.#failures += 1;
    if (!this.#reconnect.enabled || this.#failures >= this.#reconnect.maxAttempts) return this.#finish();
    this.#retry();
  }

  /** Waits the backoff delay, then attempts again. */
  #retry(): void {
    const delayMs = backoffDelay(this.#failures, this.#reconnect);
    this.#setState("reconnecting", delayMs);
    this.#retryTimer = setTimeout(() => {
      if (this.#running) void this.#attempt();
    }, delayMs);
  }

  /** Stops for good: every request fails, the outbox is discarded. */
  #finish(): void {
    this.#running = false;
    this.#stopHeartbeat();
    clearTimeout(this.#retryTimer);
    if (this.#socket) this.#detach(this.#socket);
    this.#outbox.drain();
    for (const id of [...this.#pending.keys()]) this.#settle(id, { error: new ConnectionClosedError() });
    this.#setState("closed");
  }

  /** Stops listening to `socket` and closes it without waiting for it. */
  #detach(socket: WebSocket): void {
    socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
    if (this.#socket === socket) this.#socket = undefined;
    try {
      socket.close(4000, "dropped by the client");
    } catch {
      // Already closing: nothing to do.
    }
  }

  #startHeartbeat(socket: WebSocket): void {
    const heartbeat = this.#heartbeat;
    if (!heartbeat) return;
    this.#heartbeatTimer = setInterval(() => socket.send(wire.encode(wire.HEARTBEAT, undefined)), heartbeat.intervalMs);
    this.#noteAlive();
  }

  /** Something arrived: the socket is alive for another `timeoutMs`. */
  #noteAlive(): void {
    const heartbeat = this.#heartbeat;
    const socket = this.#socket;
    if (!heartbeat || !socket) return;
    clearTimeout(this.#silenceTimer);
    this.#silenceTimer = setTimeout(() => {
      // A dead peer never completes a close handshake: drop the socket without waiting.
      this.#detach(socket);
      this.#lost();
    }, heartbeat.timeoutMs);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#silenceTimer);
  }

  #setState(state: ClientState, delayMs?: number): void {
    if (state === this.#state && delayMs === undefined) return;
    this.#state = state;
    const info: StateInfo = delayMs === undefined ? { attempt: this.#failures } : { attempt: this.#failures, delayMs };
    for (const listener of [...this.#stateListeners]) guarded(() => listener(state, info));
  }

  // ---- Frames and requests ----

  /** Queues `frame` while not open; the refusal, if any. Fails a request it evicts. */
  #queue(frame: Outgoing): StateError | undefined {
    const result = this.#outbox.push(frame);
    if ("refused" in result) {
      return result.refused === "off"
        ? new StateError("queue-off", `the client is ${this.#state}, not open, and its queue is off`)
        : new StateError("queue-full", `${this.#outbox.capacity} frames already wait for the connection`);
    }
    const evicted = result.evicted;
    if (evicted?.kind === "request") {
      this.#settle(evicted.id, { error: new StateError("queue-full", "evicted from the full queue by a newer frame") });
    }
    return undefined;
  }

  /** Gives up on request `id` with `error`: withdraws it, or asks the server to abort it. */
  #cancel(id: string, error: unknown): void {
    const entry = this.#pending.get(id);
    if (!entry) return;
    if (!entry.sent) this.#outbox.removeRequest(id);
    else if (this.#state === "open" && this.#socket) this.#socket.send(wire.abortFrame(id));
    this.#settle(id, { error });
  }

  /**
   * The error a request's error frame rejects it with. The server's deadline is the time
   * this client gave the request (`meta.timeoutMs`), so its DEADLINE_EXCEEDED, once that
   * time has passed, is this client's own timeout noticed by the server first: it rejects
   * with {@link TimeoutError}, as the client's timer would have a moment later.
   */
  #requestError(frame: InboundFrame, id: string, entry: Pending): unknown {
    const error = new RpcError(frame.payload, id);
    return error.code === "DEADLINE_EXCEEDED" && Date.now() >= entry.deadline ? new TimeoutError(entry.timeoutMs) : error;
  }

  /** Ends request `id`: resolves with a payload, or rejects with an error. */
  #settle(id: string, outcome: { error: unknown } | { payload: unknown }): void {
    const entry = this.#pending.get(id);
    if (!entry) return;
    this.#pending.delete(id);
    entry.cleanup();
    if ("payload" in outcome) entry.resolve(outcome.payload);
    else entry.reject(outcome.error);
  }

  /**
   * Takes a data frame: the session answer, counted for resume, then routed (text only):
   * progress and replies to their requests, the rest to the handlers.
   */
  #receive(data: unknown): void {
    this.#noteAlive();
    const frame = typeof data === "string" ? wire.parse(data) : undefined;
    if (this.#awaitingSession) {
      this.#awaitingSession = false;
      if (this.#began(frame)) return;
    } else if (this.#counting && this.#held) {
      // Every data frame counts, whatever it holds: the server numbers what it writes.
      this.#held.received += 1;
    }
    this.#route(frame);
  }

  /**
   * Reads the first frame of a socket that asked for a session; whether it was the
   * session's answer. Anything else says that the socket is not resumable (and the session
   * held so far is lost).
   */
  #began(frame: InboundFrame | undefined): boolean {
    const outcome = frame?.type === session.SESSION ? session.answer(frame.payload, this.#held) : undefined;
    if (outcome) {
      this.#held = outcome.held;
      this.#counting = true;
      this.#tellSession(outcome.event);
      return true;
    }
    const lost = this.#held;
    this.#held = undefined;
    if (lost) this.#tellSession({ status: "refused", token: undefined, reason: "unsupported" });
    return false;
  }

  #tellSession(event: SessionEvent): void {
    for (const listener of [...this.#sessionListeners]) guarded(() => listener(event));
  }

  /** Routes a parsed frame: progress and replies to their requests, the rest to the handlers. */
  #route(frame: InboundFrame | undefined): void {
    if (!frame || frame.type === wire.HEARTBEAT_ACK || frame.type === session.SESSION) return;
    const id = wire.correlationIdOf(frame);
    if (frame.type === wire.PROGRESS) {
      const onProgress = id === undefined ? undefined : this.#pending.get(id)?.onProgress;
      if (onProgress) guarded(() => onProgress(frame.data ?? frame.payload));
      return;
    }
    const entry = id === undefined ? undefined : this.#pending.get(id);
    if (id !== undefined && entry) {
      const isError = frame.type === wire.RPC_ERROR || frame.type === wire.ERROR;
      return this.#settle(id, isError ? { error: this.#requestError(frame, id, entry) } : { payload: frame.payload });
    }
    // Only requests carry a correlation id, so this answers one given up on: CANCELLED
    // after an abort, a reply after the timeout, or a reply replayed by a resume to a
    // request that failed when its socket closed.
    if (id !== undefined) return;
    if (frame.type === wire.ERROR) {
      const error = new WsKitError(frame.payload);
      for (const listener of [...this.#errorListeners]) guarded(() => listener(error));
      return;
    }
    const handlers = this.#handlers.get(frame.type);
    if (handlers?.size) {
      for (const handler of [...handlers]) guarded(() => handler(frame.payload, frame));
      return;
    }
    for (const listener of [...this.#unhandled]) guarded(() => listener(frame));
  }
}

/** A client typed by protocol `P`: `createClient<ChatProtocol>({ url })`. */
export function createClient<P extends Protocol = AnyProtocol>(options: ClientOptions): WsKitClient<P> {
  return new WsKitClient<P>(options);
}

function defaultFactory(url: string, protocols: string[]): WebSocket {
  if (typeof WebSocket === "undefined") {
    throw new Error(
      "no global WebSocket: on Node 20 run with --experimental-websocket (Node 22 has it), or pass `wsFactory`",
    );
  }
  return new WebSocket(url, protocols);
}

/** `url` as a `ws:`/`wss:` URL, relative ones resolved against the page. */
function toWebSocketUrl(url: string | URL): URL {
  const resolved = new URL(url, globalThis.location?.href);
  if (resolved.protocol === "http:") resolved.protocol = "ws:";
  if (resolved.protocol === "https:") resolved.protocol = "wss:";
  return resolved;
}

/** Runs a listener; a throw is logged, so that the other listeners and the client go on. */
function guarded(listener: () => void): void {
  try {
    listener();
  } catch (error) {
    console.error("a wskit client listener threw:", error);
  }
}
