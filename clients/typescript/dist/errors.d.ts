/**
 * The errors the client rejects with: the server's error frames, and the client's own
 * reasons (timeout, closed connection, a refused send).
 *
 * @module
 */
/** The standard codes of an error frame (gRPC-aligned); servers may send custom codes too. */
export type ErrorCode = "UNAUTHENTICATED" | "PERMISSION_DENIED" | "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "NOT_FOUND" | "ALREADY_EXISTS" | "UNIMPLEMENTED" | "CANCELLED" | "DEADLINE_EXCEEDED" | "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "ABORTED" | "INTERNAL" | (string & {});
/** One problem a validation failure found, as in `details.issues` of INVALID_ARGUMENT. */
export interface Issue {
    /** Where, e.g. `payload.text`. */
    path: string;
    /** What is wrong, e.g. `must be at most 500 characters`. */
    message: string;
}
/** The payload of an `ERROR` or `RPC_ERROR` frame. */
export interface ErrorPayload {
    code: string;
    message?: string;
    details?: Record<string, unknown>;
    retryable?: boolean;
    retryAfterMs?: number | null;
}
/**
 * An error the server answered with: an `ERROR` frame (outside a request), or, as its
 * subclass {@link RpcError}, the `RPC_ERROR` that ended a request.
 */
export declare class WsKitError extends Error {
    /** The error code, e.g. `NOT_FOUND`, or a custom one. */
    readonly code: ErrorCode;
    /** `details`, if the server sent any (validation issues are `details.issues`). */
    readonly details: Record<string, unknown> | undefined;
    /**
     * Whether retrying may succeed: as the server stated it, or `true` when it named a
     * delay, or `undefined` when it left it to the client.
     */
    readonly retryable: boolean | undefined;
    /**
     * `retryAfterMs`: the delay the server asks for, `null` for "do not retry under the
     * current policy", `undefined` when it named none.
     */
    readonly retryAfterMs: number | null | undefined;
    /** Reads an error frame's payload; a missing or malformed field reads cautiously. */
    constructor(payload: unknown);
    /** The validation issues of an INVALID_ARGUMENT answer (`details.issues`), else `[]`. */
    get issues(): Issue[];
}
/** The `RPC_ERROR` that ended a request. */
export declare class RpcError extends WsKitError {
    /** The request's `meta.correlationId`. */
    readonly correlationId: string;
    constructor(payload: unknown, correlationId: string);
}
/**
 * No reply within the request's timeout: the client sent `$ws:abort`, or the server had
 * ended the request at the same deadline (`meta.timeoutMs`) with DEADLINE_EXCEEDED.
 */
export declare class TimeoutError extends Error {
    readonly timeoutMs: number;
    constructor(timeoutMs: number);
}
/**
 * The socket closed (or `close()` was called) before the reply arrived. Requests are not
 * resent: retry if the request is safe to repeat.
 */
export declare class ConnectionClosedError extends Error {
    constructor();
}
/** Why the client refused a message or request. */
export type Refusal = "closed" | "queue-off" | "queue-full" | "too-many-pending";
/** The client refused a request: it is closed, does not queue, or a bound was reached. */
export declare class StateError extends Error {
    readonly reason: Refusal;
    constructor(reason: Refusal, message: string);
}
