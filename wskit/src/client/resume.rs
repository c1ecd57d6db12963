//! Session resume (PROTOCOL.md section 8), the client's side: what it asks for on connect
//! (`wskit-resume=new` or `<token>:<received>`), the `$ws:session` frame that answers, the
//! count of data frames received since, and [`SessionStart`], which tells the application
//! how each connection's session began.

use super::wire::InFrame;
use crate::protocol::{is_session_token, Refusal, SESSION};
use serde::Deserialize;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

/// How the session of a newly opened socket began, given to the hook of
/// [`Client::on_session`](super::Client::on_session) when the client resumes sessions
/// ([`ClientOptions::resume`](super::ClientOptions::resume)).
///
/// Anything but [`Resumed`](Self::Resumed) means the server keeps nothing of an earlier
/// connection: the application sets up again what it needs (topics to join, state to
/// fetch), as it does on its first connect.
///
/// ```
/// use wskit::client::{Refusal, SessionStart};
///
/// let refused = SessionStart::Refused(Refusal::Expired);
/// assert!(!refused.is_resumed());
/// assert_eq!(refused.to_string(), "refused to resume (expired): a new session");
/// assert!(SessionStart::Resumed { replayed: 3 }.is_resumed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionStart {
    /// A new session: the first connect, or a reconnect after a connection that was not
    /// resumable.
    New,
    /// The earlier session goes on: its topic subscriptions are in place, and the next
    /// `replayed` frames are the ones sent while the client was away, in their original
    /// order, each once.
    Resumed {
        /// How many missed frames the server replays before live traffic.
        replayed: u64,
    },
    /// The server could not resume the earlier session and started a new one: what the
    /// application had set up on the server is gone and frames sent meanwhile are lost.
    Refused(Refusal),
    /// The server offers no resume (its first frame was not `$ws:session`, or the
    /// session frame was malformed), so this connection cannot be resumed either; the next
    /// connect asks again. Against such a server this is known only once its first frame
    /// arrives.
    NotResumable,
}

impl SessionStart {
    /// Whether the earlier session goes on, so that nothing needs to be set up again.
    pub fn is_resumed(&self) -> bool {
        matches!(self, SessionStart::Resumed { .. })
    }
}

impl fmt::Display for SessionStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionStart::New => f.write_str("a new session"),
            SessionStart::Resumed { replayed } => write!(f, "resumed, {replayed} missed frames replayed"),
            SessionStart::Refused(reason) => write!(f, "refused to resume ({reason}): a new session"),
            SessionStart::NotResumable => f.write_str("the server offers no session resume"),
        }
    }
}

/// The payload of `$ws:session`.
#[derive(Deserialize)]
struct SessionPayload {
    token: String,
    resumed: bool,
    #[serde(default)]
    replayed: u64,
    #[serde(default)]
    reason: Option<String>,
}

/// What to do with a data frame after [`Resume::inbound`] counted it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Route it as usual.
    Route,
    /// It was the `$ws:session` frame: tell the application, route nothing.
    Started(SessionStart),
    /// The server offers no resume: tell the application
    /// ([`SessionStart::NotResumable`]), then route the frame, which belongs to the
    /// application.
    NotOffered,
}

/// Where the current socket stands.
#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Resume was asked for; the first frame decides.
    Asked,
    /// In a session: every data frame counts.
    Counting,
    /// This socket is not resumable: nothing counts.
    Off,
}

/// The resume state of a client, kept by its connection task across sockets.
pub(crate) struct Resume {
    /// The session to resume, once a server granted one.
    token: Option<String>,
    /// Data frames received in the session since its `$ws:session`, across resumes.
    received: u64,
    phase: Phase,
    /// The count at which the replay of the current resume is over.
    replay_end: u64,
    /// Requests that were out on a lost socket (and failed with `ConnectionClosed`): a
    /// replayed reply to one of them answers nobody.
    orphans: Orphans,
}

impl Resume {
    /// `limit` bounds the requests remembered as [orphans](Self::is_orphan).
    pub(crate) fn new(limit: usize) -> Self {
        Resume { token: None, received: 0, phase: Phase::Off, replay_end: 0, orphans: Orphans::new(limit) }
    }

    /// The value of `wskit-resume` for the next connect; the socket it opens starts out
    /// waiting for `$ws:session`.
    pub(crate) fn ask(&mut self) -> String {
        self.phase = Phase::Asked;
        match &self.token {
            Some(token) => format!("{token}:{}", self.received),
            None => "new".to_owned(),
        }
    }

    /// Counts a data frame from the server (`text`: `None` for a binary frame that is not
    /// UTF-8, which counts too) and says what to do with it.
    pub(crate) fn inbound(&mut self, text: Option<&str>) -> Inbound {
        match self.phase {
            Phase::Off => Inbound::Route,
            Phase::Counting => {
                if self.received >= self.replay_end {
                    // A live frame: the replay, and what it could answer, is over.
                    self.orphans.clear();
                }
                self.received += 1;
                Inbound::Route
            }
            Phase::Asked => match text.and_then(InFrame::parse).filter(|frame| frame.ty == SESSION) {
                Some(frame) => Inbound::Started(self.start(frame)),
                None => {
                    self.not_resumable();
                    Inbound::NotOffered
                }
            },
        }
    }

    /// Takes the session `$ws:session` announces.
    fn start(&mut self, frame: InFrame) -> SessionStart {
        let payload = frame.payload.map(serde_json::from_value::<SessionPayload>);
        let payload = match payload {
            // Anything but a token's form would not be safe to echo into a URL unchecked,
            // and marks a server this client does not understand.
            Some(Ok(payload)) if is_session_token(&payload.token) => payload,
            _ => {
                tracing::warn!(
                    "the server's `$ws:session` frame is malformed; this connection is not resumable"
                );
                self.not_resumable();
                return SessionStart::NotResumable;
            }
        };
        self.phase = Phase::Counting;
        let resumed = payload.resumed && self.token.as_deref() == Some(payload.token.as_str());
        if resumed {
            self.replay_end = self.received + payload.replayed;
            if payload.replayed == 0 {
                self.orphans.clear();
            }
            return SessionStart::Resumed { replayed: payload.replayed };
        }
        if payload.resumed {
            tracing::warn!(
                "the server resumed a session this client did not ask for; taking it as a new one"
            );
        }
        self.token = Some(payload.token);
        self.received = 0;
        self.orphans.clear();
        match payload.reason {
            Some(reason) => SessionStart::Refused(Refusal::parse(reason)),
            None => SessionStart::New,
        }
    }

    /// Forgets the session: the next connect asks for a new one.
    fn not_resumable(&mut self) {
        self.phase = Phase::Off;
        self.token = None;
        self.received = 0;
        self.orphans.clear();
    }

    /// Remembers the requests that were out on a lost socket.
    pub(crate) fn orphan(&mut self, ids: impl IntoIterator<Item = Arc<str>>) {
        if self.token.is_some() {
            ids.into_iter().for_each(|id| self.orphans.insert(id));
        }
    }

    /// Whether `id` belongs to a request that was out on a lost socket, whose reply the
    /// server may replay.
    pub(crate) fn is_orphan(&self, id: &str) -> bool {
        self.orphans.contains(id)
    }
}

/// A bounded set of correlation ids; the oldest go first.
struct Orphans {
    ids: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
    limit: usize,
}

impl Orphans {
    fn new(limit: usize) -> Self {
        Orphans { ids: HashSet::new(), order: VecDeque::new(), limit }
    }

    fn insert(&mut self, id: Arc<str>) {
        if self.limit == 0 || !self.ids.insert(id.clone()) {
            return;
        }
        self.order.push_back(id);
        if self.order.len() > self.limit {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";
    const OTHER: &str = "fedcba9876543210fedcba9876543210";

    fn session(token: &str, rest: &str) -> String {
        format!(r#"{{"type":"$ws:session","meta":{{}},"payload":{{"token":"{token}",{rest}}}}}"#)
    }

    /// A resume that took session `TOKEN` and counted `received` frames of it.
    fn counted(received: u64) -> Resume {
        let mut resume = Resume::new(10);
        assert_eq!(resume.ask(), "new");
        assert_eq!(
            resume.inbound(Some(&session(TOKEN, r#""resumed":false"#))),
            Inbound::Started(SessionStart::New)
        );
        for _ in 0..received {
            assert_eq!(resume.inbound(Some(r#"{"type":"X"}"#)), Inbound::Route);
        }
        resume
    }

    #[test]
    fn every_data_frame_after_the_session_counts_unreadable_ones_too() {
        let mut resume = counted(1);
        assert_eq!(resume.inbound(Some("not json")), Inbound::Route);
        assert_eq!(resume.inbound(None), Inbound::Route);
        assert_eq!(resume.ask(), format!("{TOKEN}:3"));
    }

    #[test]
    fn a_resume_keeps_the_count_and_a_refusal_restarts_it() {
        let mut resume = counted(2);
        resume.ask();
        let resumed = resume.inbound(Some(&session(TOKEN, r#""resumed":true,"replayed":4"#)));
        assert_eq!(resumed, Inbound::Started(SessionStart::Resumed { replayed: 4 }));
        resume.inbound(Some("{}"));
        assert_eq!(resume.ask(), format!("{TOKEN}:3"));

        let refused = resume.inbound(Some(&session(OTHER, r#""resumed":false,"reason":"overflowed""#)));
        assert_eq!(refused, Inbound::Started(SessionStart::Refused(Refusal::Overflowed)));
        assert_eq!(resume.ask(), format!("{OTHER}:0"));
        let unknown = resume.inbound(Some(&session(TOKEN, r#""resumed":false,"reason":"moved""#)));
        assert_eq!(unknown, Inbound::Started(SessionStart::Refused(Refusal::Other("moved".into()))));
    }

    #[test]
    fn a_server_without_resume_makes_the_next_connect_ask_anew() {
        let mut resume = counted(5);
        resume.ask();
        assert_eq!(resume.inbound(Some(r#"{"type":"HELLO"}"#)), Inbound::NotOffered);
        assert_eq!(resume.inbound(Some(r#"{"type":"HELLO"}"#)), Inbound::Route);
        assert_eq!(resume.ask(), "new");
        assert_eq!(resume.inbound(None), Inbound::NotOffered, "a binary first frame is no session frame");
    }

    #[test]
    fn a_malformed_session_frame_is_taken_but_not_trusted() {
        for bad in [session("../../etc", r#""resumed":false"#), session(TOKEN, r#""resumed":"yes""#)] {
            let mut resume = counted(1);
            resume.ask();
            assert_eq!(resume.inbound(Some(&bad)), Inbound::Started(SessionStart::NotResumable), "{bad}");
            assert_eq!(resume.ask(), "new");
        }
    }

    #[test]
    fn orphans_are_forgotten_once_the_replay_is_over() {
        let mut resume = counted(1);
        resume.orphan(["a".into(), "b".into()]);
        resume.ask();
        resume.inbound(Some(&session(TOKEN, r#""resumed":true,"replayed":2"#)));
        for _ in 0..2 {
            resume.inbound(Some("{}"));
            assert!(resume.is_orphan("a") && resume.is_orphan("b"), "a replayed frame may answer them");
        }
        resume.inbound(Some("{}"));
        assert!(!resume.is_orphan("a"), "a live frame comes after the replay");
    }

    #[test]
    fn orphans_are_bounded_oldest_out() {
        let mut resume = counted(0);
        resume.orphan((0..12).map(|n| Arc::from(n.to_string())));
        assert!(!resume.is_orphan("1"));
        assert!(resume.is_orphan("2") && resume.is_orphan("11"));
    }
}
