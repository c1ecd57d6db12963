//! The outbox: frames waiting to be written, held under the offline policy while no socket
//! is open and taken by the writer, in order, while one is.

use super::wire::Request;
use std::collections::VecDeque;

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

/// How many frames beyond the offline capacity may wait for an open socket before sends
/// are refused: the bound that keeps a server that reads slowly from growing the client's
/// memory without limit.
pub(crate) const WRITE_BUFFER: usize = 1024;

/// A frame waiting to be written.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A one-way frame, encoded.
    Message(String),
    /// A request, rendered when written.
    Request(Request),
}

impl Outgoing {
    fn correlation_id(&self) -> Option<&str> {
        match self {
            Outgoing::Message(_) => None,
            Outgoing::Request(request) => Some(&request.correlation_id),
        }
    }
}

/// Why [`Outbox`] refused a frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not open, and the policy is [`QueuePolicy::Off`].
    Off,
    /// Full: not open under [`QueuePolicy::DropNewest`], or open with
    /// [`limit_when_open`](Outbox::limit_when_open) frames waiting.
    Full,
}

/// The frames waiting to be written, oldest first. While no socket is open they are held
/// under a [`QueuePolicy`]; while one is, the writer takes them from the front. Frames the
/// writer has not taken when a socket drops simply stay, in order, for the next one.
#[derive(Debug)]
pub(crate) struct Outbox {
    frames: VecDeque<Outgoing>,
    policy: QueuePolicy,
    capacity: usize,
}

impl Outbox {
    pub(crate) fn new(policy: QueuePolicy, capacity: usize) -> Self {
        Outbox { frames: VecDeque::new(), policy, capacity }
    }

    /// The offline capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many frames may wait while a socket is open (the offline queue it may have
    /// started with, plus [`WRITE_BUFFER`]).
    pub(crate) fn limit_when_open(&self) -> usize {
        self.capacity.saturating_add(WRITE_BUFFER)
    }

    /// Queues `frame` while no socket is open. Under [`QueuePolicy::DropOldest`] a full
    /// queue evicts its oldest frame, which is returned so that a request it carried can be
    /// failed.
    pub(crate) fn push_offline(&mut self, frame: Outgoing) -> Result<Option<Outgoing>, Refused> {
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

    /// Queues `frame` for the open socket, unless [`limit_when_open`](Self::limit_when_open)
    /// frames already wait.
    pub(crate) fn push_open(&mut self, frame: Outgoing) -> Result<(), Refused> {
        if self.frames.len() >= self.limit_when_open() {
            return Err(Refused::Full);
        }
        self.frames.push_back(frame);
        Ok(())
    }

    /// Removes the queued request with `correlation_id`, if it is queued.
    pub(crate) fn remove_request(&mut self, correlation_id: &str) {
        if let Some(index) =
            self.frames.iter().position(|frame| frame.correlation_id() == Some(correlation_id))
        {
            self.frames.remove(index);
        }
    }

    /// Takes up to `max` frames from the front, oldest first.
    pub(crate) fn take(&mut self, max: usize) -> Vec<Outgoing> {
        let count = max.min(self.frames.len());
        self.frames.drain(..count).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Discards every frame.
    pub(crate) fn clear(&mut self) {
        self.frames.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn frame(text: &str) -> Outgoing {
        Outgoing::Message(text.to_owned())
    }

    fn request(id: &str) -> Outgoing {
        Outgoing::Request(Request::stub(id, Instant::now()))
    }

    /// Takes every frame: a message as its text, a request as `request <id>`.
    fn texts(outbox: &mut Outbox) -> Vec<String> {
        let frames = outbox.take(usize::MAX);
        frames
            .into_iter()
            .map(|frame| match frame {
                Outgoing::Message(text) => text,
                Outgoing::Request(request) => format!("request {}", request.correlation_id),
            })
            .collect()
    }

    #[test]
    fn drop_newest_refuses_frames_beyond_capacity() {
        let mut outbox = Outbox::new(QueuePolicy::DropNewest, 2);
        assert!(outbox.push_offline(frame("a")).unwrap().is_none());
        assert!(outbox.push_offline(frame("b")).unwrap().is_none());
        assert_eq!(outbox.push_offline(frame("c")).unwrap_err(), Refused::Full);
        assert_eq!(texts(&mut outbox), ["a", "b"]);
    }

    #[test]
    fn drop_oldest_evicts_the_head() {
        let mut outbox = Outbox::new(QueuePolicy::DropOldest, 2);
        for text in ["a", "b"] {
            assert!(outbox.push_offline(frame(text)).unwrap().is_none());
        }
        match outbox.push_offline(frame("c")).unwrap() {
            Some(Outgoing::Message(evicted)) => assert_eq!(evicted, "a"),
            other => panic!("expected `a` evicted, got {other:?}"),
        }
        assert_eq!(texts(&mut outbox), ["b", "c"]);
    }

    #[test]
    fn off_queues_nothing_offline_but_still_buffers_for_an_open_socket() {
        let mut outbox = Outbox::new(QueuePolicy::Off, 10);
        assert_eq!(outbox.push_offline(frame("a")).unwrap_err(), Refused::Off);
        outbox.push_open(frame("b")).unwrap();
        assert_eq!(texts(&mut outbox), ["b"]);
    }

    #[test]
    fn the_open_buffer_is_bounded() {
        let mut outbox = Outbox::new(QueuePolicy::DropNewest, 1);
        for n in 0..outbox.limit_when_open() {
            outbox.push_open(frame(&n.to_string())).unwrap();
        }
        assert_eq!(outbox.push_open(frame("one too many")).unwrap_err(), Refused::Full);
    }

    #[test]
    fn the_writer_takes_bounded_batches_and_the_rest_stays_in_order() {
        let mut outbox = Outbox::new(QueuePolicy::DropNewest, 10);
        for text in ["a", "b", "c"] {
            outbox.push_open(frame(text)).unwrap();
        }
        assert_eq!(outbox.take(2).len(), 2);
        // The socket drops now: what was not taken waits for the next one, ahead of
        // what is sent meanwhile.
        outbox.push_offline(frame("d")).unwrap();
        assert_eq!(texts(&mut outbox), ["c", "d"]);
    }

    #[test]
    fn a_queued_request_can_be_withdrawn() {
        let mut outbox = Outbox::new(QueuePolicy::DropNewest, 10);
        outbox.push_offline(frame("a")).unwrap();
        outbox.push_offline(request("id")).unwrap();
        outbox.push_offline(request("other")).unwrap();
        outbox.remove_request("id");
        assert_eq!(texts(&mut outbox), ["a", "request other"]);
    }
}
