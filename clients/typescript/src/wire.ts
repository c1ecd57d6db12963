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

/** A frame from the server, read leniently. */
export interface InboundFrame {
  type: string;
  meta: Record<string, unknown>;
  payload?: unknown;
  /** Where ws-kit's client reads a progress value; wskit's server writes it under both. */
  data?: unknown;
}

/** Encodes a frame: `{"type", "meta": {"timestamp", ...}, "payload"?}`. */
export function encode(type: string, payload: unknown, meta: Record<string, unknown> = {}): string {
  const frame: Record<string, unknown> = { type, meta: { timestamp: Date.now(), ...meta } };
  if (payload !== undefined) frame.payload = payload;
  return JSON.stringify(frame);
}

/** `{"type":"$ws:abort","meta":{"timestamp","correlationId"}}`. */
export function abortFrame(correlationId: string): string {
  return encode(ABORT, undefined, { correlationId });
}

/** Parses a text frame; `undefined` if it is not a JSON object with a string `type`. */
export function parse(text: string): InboundFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const frame = value as Record<string, unknown>;
  if (typeof frame.type !== "string") return undefined;
  const meta = typeof frame.meta === "object" && frame.meta !== null ? (frame.meta as Record<string, unknown>) : {};
  return { ...frame, type: frame.type, meta };
}

/** The frame's `meta.correlationId`, if it has one. */
export function correlationIdOf(frame: InboundFrame): string | undefined {
  const id = frame.meta.correlationId;
  return typeof id === "string" ? id : undefined;
}

/** A fresh correlation id: a UUID v4, as ws-kit's client makes them. */
export function newCorrelationId(): string {
  return globalThis.crypto.randomUUID();
}
