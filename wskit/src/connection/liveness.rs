//! [`Pings`]: when to send a protocol ping, and when a silent connection is stale.

use crate::close::Close;
use crate::panics::{self, Site};
use crate::time::Instant;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Protocol pings: how often, how long an answer may take, and what becomes of a
/// connection that gives none.
#[derive(Clone)]
pub(crate) struct Liveness {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) stale: StalePolicy,
}

/// How a stale connection is closed, and who is told.
#[derive(Clone)]
pub(crate) struct StalePolicy {
    /// The close code (1011 by default).
    pub(crate) code: u16,
    pub(crate) hook: Option<StaleHook>,
}

impl Default for StalePolicy {
    fn default() -> Self {
        StalePolicy { code: Close::INTERNAL, hook: None }
    }
}

/// A hook told of every stale connection ([`Server::on_stale`](crate::Server::on_stale)).
pub(crate) type StaleHook = Arc<dyn Fn(&StaleConnection) + Send + Sync>;

/// What [`Server::on_stale`](crate::Server::on_stale) hooks receive: a connection that
/// did not answer a ping in time, about to be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaleConnection {
    /// The connection's id.
    pub client_id: Uuid,
    /// How long nothing was heard from the client.
    pub silent_for: Duration,
}

/// What the ping schedule calls for when its time comes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum PingStep {
    /// Send a ping now.
    Send,
    /// Nothing yet.
    Wait,
    /// The last ping went unanswered within the timeout.
    Stale,
}

/// The protocol ping schedule of one connection: a ping every interval, and a
/// connection that sends nothing within the timeout after a ping is stale.
pub(super) struct Pings {
    /// The server's settings, shared by its connections.
    liveness: Option<Arc<Liveness>>,
    last_heard: Instant,
    /// When the current round began: at the opening, or when its ping went out.
    round: Instant,
    /// Whether the round's ping went out and waits for its answer.
    pinged: bool,
}

impl Pings {
    pub(super) fn new(liveness: Option<Arc<Liveness>>, now: Instant) -> Self {
        Pings { liveness, last_heard: now, round: now, pinged: false }
    }

    /// When the schedule needs the host's attention: the answer's timeout after a ping,
    /// else the next ping; `None` without pings.
    pub(super) fn next(&self) -> Option<Instant> {
        let liveness = self.liveness.as_ref()?;
        Some(self.round + if self.pinged { liveness.timeout } else { liveness.interval })
    }

    /// Any frame from the client proves it alive.
    pub(super) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// What to do at `now`; a ping is due once the interval has passed since the last
    /// one was answered.
    pub(super) fn due(&mut self, now: Instant) -> PingStep {
        if self.next().is_none_or(|next| now < next) {
            return PingStep::Wait;
        }
        match self.pinged {
            true if self.last_heard < self.round => PingStep::Stale,
            // Answered: the next ping is an interval after this one.
            true => {
                self.pinged = false;
                self.due(now)
            }
            false => {
                self.round = now;
                self.pinged = true;
                PingStep::Send
            }
        }
    }

    /// The close of the connection `client_id`, found stale at `now`; the stale hook is
    /// told (`quiet`: without the default panic output if it panics).
    pub(super) fn stale(&self, client_id: Uuid, now: Instant, quiet: bool) -> Close {
        let policy = self.liveness.as_ref().map(|liveness| &liveness.stale);
        let code = policy.map_or(Close::INTERNAL, |policy| policy.code);
        if let Some(hook) = policy.and_then(|policy| policy.hook.as_ref()) {
            let stale =
                StaleConnection { client_id, silent_for: now.saturating_duration_since(self.last_heard) };
            panics::guard(Site::OnStale, quiet, || hook(&stale));
        }
        Close::new(code, "no answer to ping")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_every_interval_and_finds_stale_connections() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let liveness = Liveness {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(30),
            stale: StalePolicy::default(),
        };
        let mut pings = Pings::new(Some(Arc::new(liveness)), start);
        assert_eq!(pings.next(), Some(at(100)));
        assert_eq!(pings.due(at(50)), PingStep::Wait);
        assert_eq!(pings.due(at(100)), PingStep::Send);
        assert_eq!(pings.next(), Some(at(130)), "the answer is due within the timeout");
        pings.heard(at(110));
        assert_eq!(pings.due(at(130)), PingStep::Wait, "answered: the next ping is an interval after");
        assert_eq!(pings.next(), Some(at(200)));
        assert_eq!(pings.due(at(200)), PingStep::Send);
        assert_eq!(pings.due(at(230)), PingStep::Stale, "nothing heard since the ping");
    }

    #[test]
    fn without_liveness_nothing_is_due() {
        let now = Instant::now();
        let mut pings = Pings::new(None, now);
        assert_eq!(pings.next(), None);
        assert_eq!(pings.due(now + Duration::from_secs(3600)), PingStep::Wait);
    }
}
