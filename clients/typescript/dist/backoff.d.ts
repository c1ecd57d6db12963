/**
 * How long to wait before each reconnect attempt: exponential backoff with full jitter.
 *
 * @module
 */
/** The reconnect policy. */
export interface ReconnectOptions {
    /** Reconnect at all after a lost socket or a failed attempt. Default `true`. */
    enabled?: boolean;
    /** Give up (state `closed`) after this many failed attempts in a row. Default unlimited. */
    maxAttempts?: number;
    /** The ceiling of the first delay, in ms. Default 300. */
    initialDelayMs?: number;
    /** The cap of every delay, in ms. Default 10 000. */
    maxDelayMs?: number;
}
/** The defaults of {@link ReconnectOptions}, those of ws-kit's clients and wskit's Rust client. */
export declare const RECONNECT_DEFAULTS: Required<ReconnectOptions>;
/** The ceiling of the delay before attempt `attempt` (from 0): `min(max, initial * 2^attempt)`. */
export declare function backoffCeiling(attempt: number, options: Required<ReconnectOptions>): number;
/**
 * A delay before attempt `attempt`: full jitter, uniform between zero and its ceiling.
 * `random` returns a number in `[0, 1)`, like `Math.random`.
 */
export declare function backoffDelay(attempt: number, options: Required<ReconnectOptions>, random?: () => number): number;
