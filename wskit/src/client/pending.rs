//! The requests waiting for their replies, by correlation id.

use super::wire::InFrame;
use super::ClientError;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// How many progress values wait for a slow reader before new ones are dropped (the
/// protocol allows dropping progress; the terminal frame is never dropped).
pub(crate) const PROGRESS_BUFFER: usize = 64;

/// The terminal frame of a request (its reply or error frame), or why none will come.
pub(crate) type Outcome = Result<InFrame, ClientError>;

struct Entry {
    done: oneshot::Sender<Outcome>,
    progress: Option<mpsc::Sender<Value>>,
    /// Whether the writer took the request for the socket, rather than it waiting in the
    /// outbox.
    sent: bool,
}

/// A bounded map from correlation id to the waiting request.
pub(crate) struct Pending {
    entries: HashMap<Arc<str>, Entry>,
    limit: usize,
}

impl Pending {
    pub(crate) fn new(limit: usize) -> Self {
        Pending { entries: HashMap::new(), limit }
    }

    /// Fails with [`ClientError::TooManyPending`] when the limit is reached.
    pub(crate) fn check_room(&self) -> Result<(), ClientError> {
        if self.entries.len() >= self.limit {
            return Err(ClientError::TooManyPending { limit: self.limit });
        }
        Ok(())
    }

    pub(crate) fn insert(
        &mut self,
        id: Arc<str>,
        done: oneshot::Sender<Outcome>,
        progress: Option<mpsc::Sender<Value>>,
        sent: bool,
    ) {
        self.entries.insert(id, Entry { done, progress, sent });
    }

    pub(crate) fn mark_sent(&mut self, id: &str) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.sent = true;
        }
    }

    /// Removes the request; `Some(sent)` if it was waiting.
    pub(crate) fn remove(&mut self, id: &str) -> Option<bool> {
        self.entries.remove(id).map(|entry| entry.sent)
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// Hands a progress value to the request, dropping it if the reader lags behind (or
    /// if the request is no longer waiting).
    pub(crate) fn progress(&self, id: &str, value: Value) {
        let Some(entry) = self.entries.get(id) else { return };
        if let Some(progress) = &entry.progress {
            if progress.try_send(value).is_err() {
                tracing::debug!(correlation_id = id, "dropped a progress value: the reader lags behind");
            }
        }
    }

    /// Ends the request with `outcome`, if it is waiting.
    pub(crate) fn finish(&mut self, id: &str, outcome: Outcome) {
        if let Some(entry) = self.entries.remove(id) {
            // The caller may have stopped waiting: then nobody needs the outcome.
            let _ = entry.done.send(outcome);
        }
    }

    /// Fails the requests the writer took for the lost socket (or every request, when
    /// `queued_too`) with [`ClientError::ConnectionClosed`]; returns their ids.
    pub(crate) fn fail_sent(&mut self, queued_too: bool) -> Vec<Arc<str>> {
        let lost: Vec<Arc<str>> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.sent || queued_too)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &lost {
            self.finish(id, Err(ClientError::ConnectionClosed));
        }
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(pending: &mut Pending, id: &str, sent: bool) -> oneshot::Receiver<Outcome> {
        let (done, receiver) = oneshot::channel();
        pending.insert(id.into(), done, None, sent);
        receiver
    }

    #[test]
    fn a_lost_socket_fails_only_the_requests_it_carried() {
        let mut pending = Pending::new(10);
        let mut sent = waiting(&mut pending, "sent", true);
        let mut queued = waiting(&mut pending, "queued", false);
        assert_eq!(pending.fail_sent(false), vec![Arc::<str>::from("sent")]);
        assert!(matches!(sent.try_recv(), Ok(Err(ClientError::ConnectionClosed))));
        assert!(queued.try_recv().is_err(), "a queued request still waits");
        pending.fail_sent(true);
        assert!(matches!(queued.try_recv(), Ok(Err(ClientError::ConnectionClosed))));
    }

    #[test]
    fn the_limit_refuses_more_requests() {
        let mut pending = Pending::new(1);
        let _first = waiting(&mut pending, "a", true);
        assert!(matches!(pending.check_room(), Err(ClientError::TooManyPending { limit: 1 })));
        assert_eq!(pending.remove("a"), Some(true));
        assert!(pending.check_room().is_ok());
    }
}
