/**
 * The errors the client rejects with: the server's error frames, and the client's own
 * reasons (timeout, closed connection, a refused send).
 *
 * @module
 */
/**
 * An error the server answered with: an `ERROR` frame (outside a request), or, as its
 * subclass {@link RpcError}, the `RPC_ERROR` that ended a request.
 */
export class WsKitError extends Error {
    /** The error code, e.g. `NOT_FOUND`, or a custom one. */
    code;
    /** `details`, if the server sent any (validation issues are `details.issues`). */
    details;
    /**
     * Whether retrying may succeed: as the server stated it, or `true` when it named a
     * delay, or `undefined` when it left it to the client.
     */
    retryable;
    /**
     * `retryAfterMs`: the delay the server asks for, `null` for "do not retry under the
     * current policy", `undefined` when it named none.
     */
    retryAfterMs;
    /** Reads an error frame's payload; a missing or malformed field reads cautiously. */
    constructor(payload) {
        const fields = isRecord(payload) ? payload : {};
        const code = typeof fields.code === "string" ? fields.code : "UNKNOWN";
        super(typeof fields.message === "string" ? fields.message : code);
        this.name = "WsKitError";
        this.code = code;
        this.details = isRecord(fields.details) ? fields.details : undefined;
        const after = fields.retryAfterMs;
        const retryAfterMs = typeof after === "number" ? Math.max(0, Math.round(after)) : after === null ? null : undefined;
        const stated = typeof fields.retryable === "boolean" ? fields.retryable : undefined;
        // PROTOCOL.md section 3: a delay or `null` implies retryable, unless `retryable: false`.
        this.retryable = stated ?? (retryAfterMs === undefined ? undefined : true);
        this.retryAfterMs = stated === false ? undefined : retryAfterMs;
    }
    /** The validation issues of an INVALID_ARGUMENT answer (`details.issues`), else `[]`. */
    get issues() {
        const issues = this.details?.issues;
        return Array.isArray(issues) ? issues.filter(isIssue) : [];
    }
}
/** The `RPC_ERROR` that ended a request. */
export class RpcError extends WsKitError {
    /** The request's `meta.correlationId`. */
    correlationId;
    constructor(payload, correlationId) {
        super(payload);
        this.name = "RpcError";
        this.correlationId = correlationId;
    }
}
/**
 * No reply within the request's timeout: the client sent `$ws:abort`, or the server had
 * ended the request at the same deadline (`meta.timeoutMs`) with DEADLINE_EXCEEDED.
 */
export class TimeoutError extends Error {
    timeoutMs;
    constructor(timeoutMs) {
        super(`no reply within ${timeoutMs} ms; the request was aborted (raise it with the \`timeoutMs\` option)`);
        this.timeoutMs = timeoutMs;
        this.name = "TimeoutError";
    }
}
/**
 * The socket closed (or `close()` was called) before the reply arrived. Requests are not
 * resent: retry if the request is safe to repeat.
 */
export class ConnectionClosedError extends Error {
    constructor() {
        super("the connection closed before the reply arrived; the request was not resent, retry it if that is safe");
        this.name = "ConnectionClosedError";
    }
}
/** The client refused a request: it is closed, does not queue, or a bound was reached. */
export class StateError extends Error {
    reason;
    constructor(reason, message) {
        super(message);
        this.reason = reason;
        this.name = "StateError";
    }
}
function isRecord(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
function isIssue(value) {
    return isRecord(value) && typeof value.path === "string" && typeof value.message === "string";
}
