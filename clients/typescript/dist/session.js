/**
 * Session resume, a wskit extension of the protocol (PROTOCOL.md section 8): the client asks
 * for a resumable session with the `wskit-resume` query parameter, counts the data frames it
 * receives, and after a reconnect asks the server to replay what it missed.
 *
 * @module
 */
/** The control frame that opens a resumable connection; never passed to the application. */
export const SESSION = "$ws:session";
/** The query parameter that asks for a resumable session. */
const RESUME_PARAM = "wskit-resume";
const TOKEN = /^[0-9a-f]{32}$/;
/**
 * Adds {@link RESUME_PARAM}, asking for `held` or for a new session, to the query of `url`.
 * Written as is, not form-encoded: servers read `<token>:<received>` with its colon.
 */
export function askFor(url, held) {
    const ask = `${RESUME_PARAM}=${held ? `${held.token}:${held.received}` : "new"}`;
    url.search = url.search ? `${url.search}&${ask}` : ask;
}
/**
 * Reads a `$ws:session` payload against the session the client asked to resume: what to
 * tell the application, and the session held from now on. `undefined` if the payload is
 * malformed (then the connection is not resumable).
 */
export function answer(payload, asked) {
    if (typeof payload !== "object" || payload === null)
        return undefined;
    const { token, resumed, replayed, reason } = payload;
    if (typeof token !== "string" || !TOKEN.test(token))
        return undefined;
    if (resumed === true && asked?.token === token) {
        const count = typeof replayed === "number" && Number.isSafeInteger(replayed) && replayed > 0 ? replayed : 0;
        return { event: { status: "resumed", token, replayed: count }, held: asked };
    }
    // A new session: numbering starts again.
    const held = { token, received: 0 };
    if (!asked)
        return { event: { status: "new", token }, held };
    return { event: { status: "refused", token, reason: typeof reason === "string" ? reason : "invalid" }, held };
}
