//! [`Backlog`]: the messages that arrive while a connection's handler runs, waiting for
//! their turn.

use crate::time::Instant;
use std::collections::VecDeque;

/// One waiting message: its text (in the host's own text type, not copied), its
/// correlation id, by which a `$ws:abort` finds it, and when it arrived, from which its
/// deadline counts.
struct Waiting<T> {
    text: T,
    correlation_id: Option<String>,
    arrived: Instant,
}

/// Messages waiting behind the running handler, bounded by count (the in-flight limit,
/// the running message included) and by bytes.
pub(super) struct Backlog<T> {
    waiting: VecDeque<Waiting<T>>,
    bytes: usize,
    max_in_flight: usize,
    max_bytes: usize,
}

impl<T: AsRef<str>> Backlog<T> {
    pub(super) fn new(max_in_flight: usize, max_bytes: usize) -> Self {
        Backlog { waiting: VecDeque::new(), bytes: 0, max_in_flight, max_bytes }
    }

    /// Whether another message may wait: fewer than the in-flight limit besides the
    /// running one. Beyond it, a message is answered with RESOURCE_EXHAUSTED.
    pub(super) fn has_slot(&self) -> bool {
        self.waiting.len() + 1 < self.max_in_flight
    }

    /// Whether messages are waiting for their turn.
    pub(super) fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The in-flight limit.
    pub(super) fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Whether to go on reading while a handler runs: not while the waiting messages
    /// hold their byte budget (the transport then holds the client back).
    pub(super) fn accepts_bytes(&self) -> bool {
        self.bytes < self.max_bytes
    }

    pub(super) fn push(&mut self, text: T, correlation_id: Option<String>, arrived: Instant) {
        self.bytes += text.as_ref().len();
        self.waiting.push_back(Waiting { text, correlation_id, arrived });
    }

    /// The next waiting message and when it arrived, oldest first.
    pub(super) fn pop(&mut self) -> Option<(T, Instant)> {
        let Waiting { text, arrived, .. } = self.waiting.pop_front()?;
        self.bytes -= text.as_ref().len();
        Some((text, arrived))
    }

    /// Takes the waiting message with `correlation_id` out of the queue, for an abort.
    pub(super) fn remove(&mut self, correlation_id: &str) -> bool {
        let found = self.waiting.iter().position(|w| w.correlation_id.as_deref() == Some(correlation_id));
        let Some(index) = found else { return false };
        if let Some(Waiting { text, .. }) = self.waiting.remove(index) {
            self.bytes -= text.as_ref().len();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_and_bytes() {
        let now = Instant::now();
        let mut backlog = Backlog::new(3, 10);
        assert!(backlog.has_slot() && backlog.accepts_bytes() && !backlog.has_waiting());
        backlog.push("abcdef".to_owned(), Some("a".into()), now);
        assert!(backlog.has_slot() && backlog.accepts_bytes());
        backlog.push("ghijk".to_owned(), None, now);
        assert!(!backlog.has_slot(), "two waiting and one running make three in flight");
        assert!(!backlog.accepts_bytes(), "11 bytes are over the budget of 10");
        assert!(backlog.remove("a") && !backlog.remove("a"));
        assert!(backlog.accepts_bytes());
        assert_eq!(backlog.pop().map(|(text, _)| text).as_deref(), Some("ghijk"));
        assert!(backlog.pop().is_none());
    }
}
