//! [`Backlog`]: the messages that arrive while a connection's handler runs, waiting for
//! their turn, and the errors the host answered meanwhile.

use crate::error::Error;
use std::collections::VecDeque;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// One waiting message, its correlation id, by which a `$ws:abort` finds it, and when
/// it arrived, from which its deadline counts.
struct Waiting {
    frame: WsMessage,
    correlation_id: Option<String>,
    arrived: Instant,
}

/// Messages waiting behind the running handler, bounded by count (the in-flight limit,
/// the running message included) and by bytes.
pub(super) struct Backlog {
    waiting: VecDeque<Waiting>,
    bytes: usize,
    max_in_flight: usize,
    max_bytes: usize,
    /// Errors sent while a handler ran, for the `#[on_error]` hook once it has returned.
    answered: Vec<Error>,
    /// How many of them were the client's fault (toward the consecutive error limit).
    protocol_errors: u32,
}

impl Backlog {
    pub(super) fn new(max_in_flight: usize, max_bytes: usize) -> Self {
        Backlog {
            waiting: VecDeque::new(),
            bytes: 0,
            max_in_flight,
            max_bytes,
            answered: Vec::new(),
            protocol_errors: 0,
        }
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
    /// hold their byte budget (TCP then holds the client back).
    pub(super) fn accepts_bytes(&self) -> bool {
        self.bytes < self.max_bytes
    }

    pub(super) fn push(&mut self, frame: WsMessage, correlation_id: Option<String>, arrived: Instant) {
        self.bytes += frame.len();
        self.waiting.push_back(Waiting { frame, correlation_id, arrived });
    }

    /// The next waiting message and when it arrived, oldest first.
    pub(super) fn pop(&mut self) -> Option<(WsMessage, Instant)> {
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

    /// Records an error the host sent while the handler ran.
    pub(super) fn answered(&mut self, error: Error) {
        self.protocol_errors += u32::from(error.is_protocol_error());
        self.answered.push(error);
    }

    /// How many of the errors sent while the handler ran were the client's fault.
    pub(super) fn protocol_errors(&self) -> u32 {
        self.protocol_errors
    }

    /// The errors sent while the handler ran, to report now that it has returned.
    pub(super) fn take_answered(&mut self) -> Vec<Error> {
        self.protocol_errors = 0;
        std::mem::take(&mut self.answered)
    }
}
