//! Session resume: a client that loses its connection reconnects and gets what it missed.
//!
//! Off by default on both sides: a server offers it with
//! [`Server::resume`](crate::Server::resume), and each client asks for it when it connects.
//! A ws-kit client, which never asks, sees the plain protocol.
//!
//! # The wire contract
//!
//! **Asking.** The client adds the query parameter `wskit-resume` to the upgrade URL:
//! `wskit-resume=new` starts a resumable session; `wskit-resume=<token>:<received>`
//! resumes the session `<token>` (32 lowercase hex digits) after receiving `<received>`
//! of its numbered frames. A server that does not offer resume ignores the parameter.
//!
//! **The first frame.** On a connection that asked, the server's first frame, before
//! anything `#[on_open]` sends, says what became of the request:
//!
//! ```json
//! {"type":"$ws:session","meta":{},"payload":{"token":"0f3c…","resumed":false}}
//! {"type":"$ws:session","meta":{},"payload":{"token":"0f3c…","resumed":true,"replayed":3}}
//! {"type":"$ws:session","meta":{},"payload":{"token":"9a41…","resumed":false,"reason":"expired"}}
//! ```
//!
//! - `resumed: false` without `reason`: a new session, as asked.
//! - `resumed: true`: the session's subscriptions are restored (before `#[on_open]`
//!   runs, which sees them in [`Ctx::topics`](crate::Ctx::topics) and
//!   [`Ctx::is_resumed`](crate::Ctx::is_resumed)), and the next `replayed` frames are those
//!   the client missed, numbered `received + 1` on, in their original order, each once:
//!   replies, sends and publishes alike. Live frames follow. The token stays the same.
//! - `resumed: false` with a `reason`: the session could not be resumed, and this is a
//!   new one (a new token, numbered from 1): the application must resync (subscribe again,
//!   fetch what it shows). `reason` is one of
//!   - `expired`: no such session, because its window passed, it was resumed already or
//!     the token is unknown;
//!   - `overflowed`: the client missed more than the server keeps;
//!   - `invalid`: the parameter is malformed, or counts more frames than were sent;
//!   - `denied`: the new connection belongs to another user than the session did
//!     ([`Server::user`](crate::Server::user));
//!   - `unavailable`: the instance that held the session did not hand it over in time
//!     (Redis bus only).
//!
//! **Numbering.** Every data frame (text or binary) the server writes after `$ws:session`
//! counts one; the first is 1, and numbering goes on across resumes of a session. Numbers
//! are not on the wire, so a publish keeps the same bytes for all its subscribers: the
//! client counts the data frames it receives after `$ws:session` (every one, also those
//! it does not understand) and sends its count when it resumes. `$ws:session`, pings,
//! pongs and close frames do not count.
//!
//! # What is kept, and for how long
//!
//! When a resumable connection ends, its session is kept for the [window](Resume::window)
//! (2 minutes by default), unless the client closed with 1000 (it means to leave) or the
//! server closed it (shutdown, policy, a slow consumer, a close from the application):
//! a dropped socket, a stale connection and a client close with another code leave a
//! session to resume. `#[on_close]` runs when the connection ends, as for any connection;
//! a resumed connection is a new connection (a new client id, `#[on_open]` runs again) that
//! inherits the session.
//!
//! A client often comes back before the server found its old connection dead (a dropped
//! network sends nothing; the server learns of it at its next write or ping). A resume of
//! a session whose connection is still open takes it over: that connection is closed with
//! 1008 ("session resumed on another connection"), what was queued for it stays queued, and
//! the session is handed to the new connection as if it had been kept.
//!
//! While kept, the session stays subscribed to its topics: publishes to them and sends
//! through a [`ClientHandle`](crate::ClientHandle) queue up for it within the outbound
//! queue's limits ([`Limits::max_queued_frames`](crate::Limits::max_queued_frames),
//! [`Limits::max_queued_bytes`](crate::Limits::max_queued_bytes)); a session whose queue
//! overflows under [`SlowConsumer::Close`](crate::SlowConsumer::Close) cannot be resumed
//! (`overflowed`), one under a dropping policy resumes with its drop notice. Of the frames
//! written before the connection ended, the last [`Resume::replay_frames`] (and at most
//! [`Resume::replay_bytes`]) are kept, since the client may not have received them; a
//! client that missed older ones is refused (`overflowed`). A server keeps at most
//! [`Resume::max_sessions`] sessions; beyond that, connections end without one.
//!
//! With the [Redis bus](crate::Hub::redis) a client may resume on another instance: the
//! instance that kept the session hands it over through Redis (its subscriptions, and its
//! frames in a Redis stream), at a point of the bus's order of publishes that the two
//! instances agree on, so that no publish is lost or delivered twice. If that instance is
//! gone (it shut down or crashed), the session cannot be resumed (`unavailable` or
//! `expired`). Since any instance may hold a session, a resume of one that none holds is
//! refused once no instance answered within a second.
//!
//! # Why it is off by default
//!
//! A kept session holds memory and subscriptions for its window after its client left,
//! and an application has to decide what a resumed connection means for it (presence,
//! a welcome message in `#[on_open]`), so offering it is the application's choice. Each
//! client asks separately, because a client that does not count frames cannot use it.

mod handover;
mod parked;
#[cfg(feature = "redis")]
pub(crate) mod redis;
mod replay;

pub(crate) use handover::{open, park};
pub(crate) use parked::{ParkedSession, Sessions};
pub(crate) use replay::Replay;

pub use crate::protocol::Refusal;
use crate::protocol::{is_session_token, RESUME_PARAM};
use std::time::Duration;

/// Session resume settings: [`Server::resume`](crate::Server::resume). See the
/// [module docs](self) for the protocol and the bounds.
///
/// ```
/// use std::time::Duration;
/// use wskit::Resume;
///
/// let resume = Resume::enabled().window(Duration::from_secs(30)).replay_frames(500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub(crate) window: Duration,
    pub(crate) replay_frames: usize,
    pub(crate) replay_bytes: usize,
    pub(crate) max_sessions: usize,
}

impl Resume {
    /// Resume offered with the default bounds: a 2-minute window, the last 256 frames
    /// and 256 KiB written kept per connection, at most 10,000 sessions kept.
    pub fn enabled() -> Self {
        Resume {
            window: Duration::from_secs(120),
            replay_frames: 256,
            replay_bytes: 256 << 10,
            max_sessions: 10_000,
        }
    }

    /// How long a session is kept after its connection ended.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How many of the frames written last a resumable connection keeps to write again.
    /// They are kept while the connection is open too (a client finds out late that its
    /// connection died, and what was written meanwhile is lost with it), so this and
    /// [`replay_bytes`](Self::replay_bytes) bound what resume adds to a connection's
    /// memory; a publish's frame is shared with its other subscribers, not copied.
    pub fn replay_frames(mut self, frames: usize) -> Self {
        self.replay_frames = frames.max(1);
        self
    }

    /// How many bytes of the frames written last a connection keeps (the newest frame is
    /// kept whatever its size).
    pub fn replay_bytes(mut self, bytes: usize) -> Self {
        self.replay_bytes = bytes;
        self
    }

    /// How many sessions a server keeps at once; a connection that ends beyond that
    /// leaves none.
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// A fresh numbering within these bounds.
    pub(crate) fn replay(&self) -> Replay {
        Replay::new(self.replay_frames, self.replay_bytes)
    }
}

/// What a client asked for with `wskit-resume`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ask {
    /// A new resumable session.
    New,
    /// To resume the session `token` after receiving `received` frames of it.
    Resume { token: String, received: u64 },
    /// A value that is neither.
    Invalid,
}

impl Ask {
    /// What the query string `query` asks for; `None` when it does not ask.
    pub(crate) fn from_query(query: Option<&str>) -> Option<Ask> {
        // Decoded: browsers' `URLSearchParams` write the colon as `%3A`.
        let (_, value) =
            url::form_urlencoded::parse(query?.as_bytes()).find(|(key, _)| key == RESUME_PARAM)?;
        if value == "new" {
            return Some(Ask::New);
        }
        let parsed = value.split_once(':').and_then(|(token, received)| {
            let received = received.parse::<u64>().ok()?;
            is_session_token(token).then(|| Ask::Resume { token: token.to_owned(), received })
        });
        Some(parsed.unwrap_or(Ask::Invalid))
    }
}

/// A new session token: 128 random bits, as 32 lowercase hex digits.
pub(crate) fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The `$ws:session` frame of a session `token`: resumed with `replayed` frames to
/// follow, new, or new after `refusal`.
pub(crate) fn greeting(token: &str, resumed: Result<usize, Option<&Refusal>>) -> String {
    /// `$ws:session`, its keys in the order of every other frame's.
    #[derive(serde::Serialize)]
    struct Greeting<'a> {
        #[serde(rename = "type")]
        ty: &'static str,
        meta: Meta,
        payload: Payload<'a>,
    }
    #[derive(serde::Serialize)]
    struct Meta {}
    #[derive(serde::Serialize)]
    struct Payload<'a> {
        token: &'a str,
        resumed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        replayed: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
    }
    let payload = Payload {
        token,
        resumed: resumed.is_ok(),
        replayed: resumed.ok(),
        reason: resumed.err().flatten().map(Refusal::as_str),
    };
    let greeting = Greeting { ty: crate::protocol::SESSION, meta: Meta {}, payload };
    serde_json::to_string(&greeting).expect("a greeting serializes")
}

/// A resumable connection's part in resume: its token, the numbering of what it writes,
/// and, until the connection opens, the greeting and the frames to write first.
pub(crate) struct Resumable {
    pub(crate) token: String,
    pub(crate) replay: Replay,
    pub(crate) settings: Resume,
    /// `$ws:session` and the missed frames, written before anything else.
    pub(crate) first: Option<(String, Vec<crate::outbox::Frame>)>,
    pub(crate) hub: crate::pubsub::Hub,
}

impl Resumable {
    /// Whether the connection's session is kept now that it ends: it lost its client
    /// (`lost`), or a resume on another connection takes it over. A session not kept is
    /// forgotten.
    pub(crate) fn keeps_session(&self, lost: bool) -> bool {
        self.hub.registry().sessions.keeps(&self.token, lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_parameter_asks_for_a_new_session_or_a_resume() {
        assert_eq!(Ask::from_query(Some("access_token=x&wskit-resume=new")), Some(Ask::New));
        let token = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            Ask::from_query(Some(&format!("wskit-resume={token}:42"))),
            Some(Ask::Resume { token: token.into(), received: 42 })
        );
        assert_eq!(
            Ask::from_query(Some(&format!("wskit-resume={token}%3A7"))),
            Some(Ask::Resume { token: token.into(), received: 7 })
        );
        assert_eq!(Ask::from_query(Some("access_token=x")), None);
        assert_eq!(Ask::from_query(None), None);
        for bad in [
            "wskit-resume=",
            "wskit-resume=abc:1",
            &format!("wskit-resume={token}:-1"),
            &format!("wskit-resume={}:1", token.to_uppercase()),
        ] {
            assert_eq!(Ask::from_query(Some(bad)), Some(Ask::Invalid), "{bad}");
        }
    }

    #[test]
    fn the_greeting_says_what_became_of_the_request() {
        let parse = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();
        assert!(greeting("t", Err(None)).starts_with(r#"{"type":"$ws:session","meta":{},"payload":{"#));
        assert_eq!(
            parse(greeting("t", Ok(3))),
            serde_json::json!({"type":"$ws:session","meta":{},"payload":{"token":"t","resumed":true,"replayed":3}})
        );
        assert_eq!(
            parse(greeting("t", Err(None)))["payload"],
            serde_json::json!({"token":"t","resumed":false})
        );
        assert_eq!(parse(greeting("t", Err(Some(&Refusal::Expired))))["payload"]["reason"], "expired");
        assert_eq!(new_token().len(), 32);
        assert_ne!(new_token(), new_token());
    }
}
