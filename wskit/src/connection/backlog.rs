//! [`Backlog`]: the messages that arrive while a connection's handler runs, waiting for
//! their turn.

use super::control::Arrived;
use crate::time::Instant;
use std::collections::VecDeque;

/// One waiting message: its frame (text in the host's own text type, not copied, or
/// binary), its correlation id, by which a `$ws:abort` finds it, and when it arrived, from
/// which its deadline counts.
struct Waiting<T> {
    frame: Arrived<T>,
    correlation_id: Option<String>,
    arrived: Instant,
}

/// Messages waiting behind the running handler, bounded by count (the in-flight limit,
/// the running message included) and by bytes. The limits are the caller's (the server's
/// shared ones), not copies kept by every connection.
pub(super) struct Backlog<T> {
    waiting: VecDeque<Waiting<T>>,
    bytes: usize,
}

impl<T> Default for Backlog<T> {
    fn default() -> Self {
        Backlog { waiting: VecDeque::new(), bytes: 0 }
    }
}

impl<T: AsRef<str>> Backlog<T> {
    /// Whether another message may wait: fewer than `max_in_flight` besides the running
    /// one and `concurrent` concurrent handlers. Beyond it, a message is answered with
    /// RESOURCE_EXHAUSTED.
    pub(super) fn has_slot(&self, concurrent: usize, max_in_flight: usize) -> bool {
        self.waiting.len() + 1 + concurrent < max_in_flight
    }

    /// Whether messages are waiting for their turn.
    pub(super) fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Whether to go on reading while a handler runs: not while the waiting messages
    /// hold their byte budget, `max_bytes` (the transport then holds the client back).
    pub(super) fn accepts_bytes(&self, max_bytes: usize) -> bool {
        self.bytes < max_bytes
    }

    pub(super) fn push(&mut self, frame: Arrived<T>, correlation_id: Option<String>, arrived: Instant) {
        self.bytes += frame.len();
        self.waiting.push_back(Waiting { frame, correlation_id, arrived });
    }

    /// The next waiting message and when it arrived, oldest first.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<(Arrived<T>, Instant)> {
        let Waiting { frame, arrived, .. } = self.waiting.pop_front()?;
        self.bytes -= frame.len();
        Some((frame, arrived))
    }

    /// Takes the waiting message with `correlation_id` out of the queue, for an abort.
    pub(super) fn remove(&mut self, correlation_id: &str) -> bool {
        let found = self.waiting.iter().position(|w| w.correlation_id.as_deref() == Some(correlation_id));
        let Some(index) = found else { return false };
        if let Some(Waiting { frame, .. }) = self.waiting.remove(index) {
            self.bytes -= frame.len();
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
        let (max_in_flight, max_bytes) = (3, 10);
        let mut backlog = Backlog::default();
        assert!(
            backlog.has_slot(0, max_in_flight) && backlog.accepts_bytes(max_bytes) && !backlog.has_waiting()
        );
        assert!(
            backlog.has_slot(1, max_in_flight) && !backlog.has_slot(2, max_in_flight),
            "concurrent handlers count"
        );
        backlog.push(Arrived::Text("abcdef".to_owned()), Some("a".into()), now);
        assert!(backlog.has_slot(0, max_in_flight) && backlog.accepts_bytes(max_bytes));
        backlog.push(Arrived::Binary(b"ghijk".to_vec()), None, now);
        assert!(!backlog.has_slot(0, max_in_flight), "two waiting and one running make three in flight");
        assert!(!backlog.accepts_bytes(max_bytes), "11 bytes are over the budget of 10");
        assert!(backlog.remove("a") && !backlog.remove("a"));
        assert!(backlog.accepts_bytes(max_bytes));
        assert!(matches!(backlog.pop(), Some((Arrived::Binary(bytes), _)) if bytes == b"ghijk"));
        assert!(backlog.pop().is_none());
    }
}
