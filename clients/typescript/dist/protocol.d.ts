/**
 * The shape of a router's messages, as the generated `*Protocol` interfaces spell it, and
 * the types the client derives from it.
 *
 * @module
 */
/**
 * What a client may send, what a server may send, and which requests are answered by which
 * response. One interface of this shape is generated per router; write one by hand until then.
 *
 * ```ts
 * interface ChatProtocol {
 *   client: { JOIN_ROOM: { roomId: string }; GET_HISTORY: { roomId: string; limit: number } };
 *   server: { HISTORY: { messages: string[] } };
 *   rpc: { GET_HISTORY: "HISTORY" };
 * }
 * ```
 */
export interface Protocol {
    /** What a client may send: type -> payload type (`undefined` for a message without payload). */
    client: object;
    /** What the server may send: type -> payload type. */
    server: object;
    /** RPC requests: request type -> response type (a key of `server`). */
    rpc: object;
}
/** The protocol of a client used untyped: any type, any payload. */
export interface AnyProtocol {
    client: Record<string, any>;
    server: Record<string, any>;
    rpc: Record<string, string>;
}
/** The message types a client of `P` may send. */
export type ClientType<P extends Protocol> = keyof P["client"] & string;
/** The message types the server of `P` may send. */
export type ServerType<P extends Protocol> = keyof P["server"] & string;
/** The request types of `P`: client messages answered by a response. */
export type RequestType<P extends Protocol> = keyof P["rpc"] & ClientType<P>;
/** The payload of client message `K`. */
export type ClientPayload<P extends Protocol, K extends ClientType<P>> = P["client"][K];
/** The payload of server message `K`. */
export type ServerPayload<P extends Protocol, K extends ServerType<P>> = P["server"][K];
/** The payload of the response to request `K`. */
export type ResponsePayload<P extends Protocol, K extends RequestType<P>> = P["rpc"][K] extends keyof P["server"] ? P["server"][P["rpc"][K]] : unknown;
/** `true` for `any`. */
type IsAny<T> = 0 extends 1 & T ? true : false;
/**
 * The payload argument of `send`: required for a message with payload, left out for one
 * without (`undefined`).
 */
export type PayloadArgs<T> = IsAny<T> extends true ? [payload?: any] : [T] extends [undefined] ? [payload?: undefined] : [payload: T];
export {};
