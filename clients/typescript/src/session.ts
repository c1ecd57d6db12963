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

/**
 * Why a resume was refused. The server's reasons: `expired` (no such session: the resume
 * window passed, another connection resumed it, or it ended), `overflowed` (more was missed than the server
 * keeps), `invalid` (the server found the token or the count wrong), `denied` (the new
 * connection belongs to another user), `unavailable` (the instance that held the session did
 * not answer). The client's own: `unsupported` (the server answered without `$ws:session`:
 * it does not offer resume, or no longer does). A server may name others.
 */
export type ResumeRefusal =
  | "expired"
  | "overflowed"
  | "invalid"
  | "denied"
  | "unavailable"
  | "unsupported"
  | (string & {});

/**
 * What became of the session on a connect of a client with `resume` on, told once per
 * socket before any other frame of it reaches the application:
 *
 * - `new`: a new session (the first connect, or one after a socket that was not resumable).
 * - `resumed`: the session goes on. The server restored its subscriptions and replays the
 *   `replayed` frames the client missed, in their original order; they reach the handlers
 *   right after this event, each once, then live frames follow.
 * - `refused`: the client asked to resume and the server could not (`reason`). This is a new
 *   session: subscriptions and whatever else the server kept for the old one are gone, and
 *   what was sent meanwhile is lost, so the application must resync (subscribe again,
 *   refetch state).
 *
 * Whenever a reconnect is not `resumed`, the server knows nothing of the earlier connection.
 */
export type SessionEvent =
  | { status: "new"; token: string }
  | { status: "resumed"; token: string; replayed: number }
  | { status: "refused"; token: string | undefined; reason: ResumeRefusal };

/** A session the client can resume: its token and the data frames received in it. */
export interface Held {
  token: string;
  received: number;
}

const TOKEN = /^[0-9a-f]{32}$/;

/**
 * Adds {@link RESUME_PARAM}, asking for `held` or for a new session, to the query of `url`.
 * Written as is, not form-encoded: servers read `<token>:<received>` with its colon.
 */
export function askFor(url: URL, held: Held | undefined): void {
  const ask = `${RESUME_PARAM}=${held ? `${held.token}:${held.received}` : "new"}`;
  url.search = url.search ? `${url.search}&${ask}` : ask;
}

/**
 * Reads a `$ws:session` payload against the session the client asked to resume: what to
 * tell the application, and the session held from now on. `undefined` if the payload is
 * malformed (then the connection is not resumable).
 */
export function answer(payload: unknown, asked: Held | undefined): { event: SessionEvent; held: Held } | undefined {
  if (typeof payload !== "object" || payload === null) return undefined;
  const { token, resumed, replayed, reason } = payload as Record<string, unknown>;
  if (typeof token !== "string" || !TOKEN.test(token)) return undefined;
  if (resumed === true && asked?.token === token) {
    const count = typeof replayed === "number" && Number.isSafeInteger(replayed) && replayed > 0 ? replayed : 0;
    return { event: { status: "resumed", token, replayed: count }, held: asked };
  }
  // A new session: numbering starts again.
  const held = { token, received: 0 };
  if (!asked) return { event: { status: "new", token }, held };
  return { event: { status: "refused", token, reason: typeof reason === "string" ? reason : "invalid" }, held };
}
