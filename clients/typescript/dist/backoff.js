/**
 * How long to wait before each reconnect attempt: exponential backoff with full jitter.
 *
 * @module
 */
/** The defaults of {@link ReconnectOptions}, those of ws-kit's clients and wskit's Rust client. */
export const RECONNECT_DEFAULTS = {
    enabled: true,
    maxAttempts: Infinity,
    initialDelayMs: 300,
    maxDelayMs: 10_000,
};
/** The ceiling of the delay before attempt `attempt` (from 0): `min(max, initial * 2^attempt)`. */
export function backoffCeiling(attempt, options) {
    return Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** attempt);
}
/**
 * A delay before attempt `attempt`: full jitter, uniform between zero and its ceiling.
 * `random` returns a number in `[0, 1)`, like `Math.random`.
 */
export function backoffDelay(attempt, options, random = Math.random) {
    return Math.floor(random() * (backoffCeiling(attempt, options) + 1));
}
