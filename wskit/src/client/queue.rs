//! The offline queue: frames sent while no socket is open, flushed in order on open.

use std::collections::VecDeque;
use std::sync::Arc;

/// What the client does with a frame sent while no socket is open.
///
/// ```
/// use wskit::client::{ClientOptions, QueuePolicy};
///
/// let options = ClientOptions::new("ws://127.0.0.1:3000/ws").queue(QueuePolicy::DropOldest, 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueuePolicy {
    /// Queue it; when the queue is full, refuse the new frame
    /// ([`ClientError::QueueFull`](super::ClientError::QueueFull)). The default.
    #[default]
    DropNewest,
    /// Queue it; when the queue is full, evict the oldest queued frame to make room.
    DropOldest,
    /// Do not queue: sending while not open fails with
    /// [`ClientError::NotOpen`](super::ClientError::NotOpen).
    Off,
}

/// A frame waiting to be sent, with the correlation id of the request it carries, if any.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) text: String,
    pub(crate) correlation_id: Option<Arc<str>>,
}

/// Why [`OfflineQueue::push`] refused a frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The policy is [`QueuePolicy::Off`].
    Off,
    /// The queue is full under [`QueuePolicy::DropNewest`].
    Full,
}

/// A bounded FIFO of frames under a [`QueuePolicy`].
#[derive(Debug)]
pub(crate) struct OfflineQueue {
    frames: VecDeque<Outgoing>,
    policy: QueuePolicy,
    capacity: usize,
}

impl OfflineQueue {
    pub(crate) fn new(policy: QueuePolicy, capacity: usize) -> Self {
        OfflineQueue { frames: VecDeque::new(), policy, capacity }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queues `frame`. Under [`QueuePolicy::DropOldest`] a full queue evicts its oldest
    /// frame, which is returned so that a request it carried can be failed.
    pub(crate) fn push(&mut self, frame: Outgoing) -> Result<Option<Outgoing>, Refused> {
        match self.policy {
            QueuePolicy::Off => Err(Refused::Off),
            _ if self.capacity == 0 => Err(Refused::Full),
            QueuePolicy::DropNewest if self.frames.len() >= self.capacity => Err(Refused::Full),
            QueuePolicy::DropNewest => {
                self.frames.push_back(frame);
                Ok(None)
            }
            QueuePolicy::DropOldest => {
                let evicted = (self.frames.len() >= self.capacity).then(|| self.frames.pop_front()).flatten();
                self.frames.push_back(frame);
                Ok(evicted)
            }
        }
    }

    /// Removes the queued request with `correlation_id`; whether it was queued.
    pub(crate) fn remove_request(&mut self, correlation_id: &str) -> bool {
        let position =
            self.frames.iter().position(|frame| frame.correlation_id.as_deref() == Some(correlation_id));
        position.and_then(|index| self.frames.remove(index)).is_some()
    }

    /// Takes every queued frame, oldest first.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Outgoing> + '_ {
        self.frames.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Outgoing {
        Outgoing { text: text.to_owned(), correlation_id: None }
    }

    fn texts(queue: &mut OfflineQueue) -> Vec<String> {
        queue.drain().map(|frame| frame.text).collect()
    }

    #[test]
    fn drop_newest_refuses_frames_beyond_capacity() {
        let mut queue = OfflineQueue::new(QueuePolicy::DropNewest, 2);
        assert!(queue.push(frame("a")).unwrap().is_none());
        assert!(queue.push(frame("b")).unwrap().is_none());
        assert_eq!(queue.push(frame("c")).unwrap_err(), Refused::Full);
        assert_eq!(texts(&mut queue), ["a", "b"]);
    }

    #[test]
    fn drop_oldest_evicts_the_head() {
        let mut queue = OfflineQueue::new(QueuePolicy::DropOldest, 2);
        for text in ["a", "b"] {
            assert!(queue.push(frame(text)).unwrap().is_none());
        }
        assert_eq!(queue.push(frame("c")).unwrap().unwrap().text, "a");
        assert_eq!(texts(&mut queue), ["b", "c"]);
    }

    #[test]
    fn off_queues_nothing() {
        let mut queue = OfflineQueue::new(QueuePolicy::Off, 10);
        assert_eq!(queue.push(frame("a")).unwrap_err(), Refused::Off);
        assert!(texts(&mut queue).is_empty());
    }

    #[test]
    fn a_queued_request_can_be_withdrawn() {
        let mut queue = OfflineQueue::new(QueuePolicy::DropNewest, 10);
        queue.push(frame("a")).unwrap();
        queue.push(Outgoing { text: "r".into(), correlation_id: Some("id".into()) }).unwrap();
        assert!(queue.remove_request("id"));
        assert!(!queue.remove_request("id"));
        assert_eq!(texts(&mut queue), ["a"]);
    }
}
