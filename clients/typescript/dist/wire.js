/**
 * The client's side of the wire: the frames it writes (with `meta.timestamp`, and
 * `correlationId` and `timeoutMs` on requests) and the frames it reads.
 *
 * @module
 */
/** Reserved types of the protocol (PROTOCOL.md section 2). */
export const HEARTBEAT = "__heartbeat";
export const HEARTBEAT_ACK = "__heartbeat_ack";
export const PROGRESS = "$ws:rpc-progress";
export const ABORT = "$ws:abort";
export const ERROR = "ERROR";
export const RPC_ERROR = "RPC_ERROR";
/** Encodes a frame: `{"type", "meta": {"timestamp", ...}, "payload"?}`. */
export function encode(type, payload, meta = {}) {
    const frame = { type, meta: { timestamp: Date.now(), ...meta } };
    if (payload !== undefined)
        frame.payload = payload;
    return JSON.stringify(frame);
}
/** `{"type":"$ws:abort","meta":{"timestamp","correlationId"}}`. */
export function abortFrame(correlationId) {
    return encode(ABORT, undefined, { correlationId });
}
/** Parses a text frame; `undefined` if it is not a JSON object with a string `type`. */
export function parse(text) {
    let value;
    try {
        value = JSON.parse(text);
    }
    catch {
        return undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
        return undefined;
    const frame = value;
    if (typeof frame.type !== "string")
        return undefined;
    const meta = typeof frame.meta === "object" && frame.meta !== null ? frame.meta : {};
    return { ...frame, type: frame.type, meta };
}
/** The frame's `meta.correlationId`, if it has one. */
export function correlationIdOf(frame) {
    const id = frame.meta.correlationId;
    return typeof id === "string" ? id : undefined;
}
/** A fresh correlation id: a UUID v4, as ws-kit's client makes them. */
export function newCorrelationId() {
    return globalThis.crypto.randomUUID();
}
