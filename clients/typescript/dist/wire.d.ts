/**
 * The client's side of the wire: the frames it writes (with `meta.timestamp`, and
 * `correlationId` and `timeoutMs` on requests) and the frames it reads.
 *
 * @module
 */
/** Reserved types of the protocol (PROTOCOL.md section 2). */
export declare const HEARTBEAT = "__heartbeat";
export declare const HEARTBEAT_ACK = "__heartbeat_ack";
export declare const PROGRESS = "$ws:rpc-progress";
export declare const ABORT = "$ws:abort";
export declare const ERROR = "ERROR";
export declare const RPC_ERROR = "RPC_ERROR";
/** A frame from the server, read leniently. */
export interface InboundFrame {
    type: string;
    meta: Record<string, unknown>;
    payload?: unknown;
    /** Where ws-kit's client reads a progress value; wskit's server writes it under both. */
    data?: unknown;
}
/** Encodes a frame: `{"type", "meta": {"timestamp", ...}, "payload"?}`. */
export declare function encode(type: string, payload: unknown, meta?: Record<string, unknown>): string;
/** `{"type":"$ws:abort","meta":{"timestamp","correlationId"}}`. */
export declare function abortFrame(correlationId: string): string;
/** Parses a text frame; `undefined` if it is not a JSON object with a string `type`. */
export declare function parse(text: string): InboundFrame | undefined;
/** The frame's `meta.correlationId`, if it has one. */
export declare function correlationIdOf(frame: InboundFrame): string | undefined;
/** A fresh correlation id: a UUID v4, as ws-kit's client makes them. */
export declare function newCorrelationId(): string;
