//! [`Outbox`]: a connection's bounded queue of outbound frames, filled by handlers (and by
//! [`ClientHandle`]s elsewhere) and drained by the host that owns the socket.

use crate::envelope;
use crate::error::Error;
use crate::message::Message;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;

/// One outbound text frame.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// Encoded for this connection alone.
    Owned(String),
    /// Encoded once and shared by every subscriber of a topic; always UTF-8.
    Shared(Bytes),
}

/// What happens when a connection's outbound queue is full: the client reads slower than
/// it is sent to ([`Limits::max_queued_frames`](crate::Limits::max_queued_frames)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumer {
    /// Close the connection with 1013 (the default): whatever a client receives, it
    /// receives every frame it was sent, without gaps.
    #[default]
    Close,
    /// Keep the connection and drop each frame that does not fit: the send fails with
    /// RESOURCE_EXHAUSTED, a publish counts one delivery fewer. For feeds where the latest
    /// update matters more than every update.
    Drop,
}

/// The sending half of a connection's outbound queue.
#[derive(Clone)]
pub(crate) struct Outbox {
    frames: mpsc::Sender<Frame>,
    policy: SlowConsumer,
    /// Set when a push found the queue full under [`SlowConsumer::Close`]: the connection
    /// is then closed with 1013.
    overflowed: Arc<AtomicBool>,
}

/// The receiving half, owned by the host.
pub(crate) type OutboxReceiver = mpsc::Receiver<Frame>;

impl Outbox {
    /// A queue holding at most `capacity` frames, full by `policy`.
    pub(crate) fn new(capacity: usize, policy: SlowConsumer) -> (Self, OutboxReceiver) {
        let (frames, receiver) = mpsc::channel(capacity);
        (Outbox { frames, policy, overflowed: Arc::default() }, receiver)
    }

    /// Queues `frame`. Once the queue has overflowed it takes nothing more: the
    /// connection is being closed as a slow consumer, and frames queued behind the
    /// overflow would reach the client with a gap before them.
    pub(crate) fn push(&self, frame: Frame) -> Result<(), Error> {
        if self.overflowed() {
            return Err(self.full());
        }
        self.frames.try_send(frame).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => {
                if self.policy == SlowConsumer::Close {
                    self.overflowed.store(true, Ordering::Relaxed);
                }
                self.full()
            }
            mpsc::error::TrySendError::Closed(_) => Error::unavailable("the connection is closed"),
        })
    }

    fn full(&self) -> Error {
        Error::resource_exhausted(
            "the connection's outbound queue is full: the client is not reading fast enough",
        )
        .with_detail("limit", self.frames.max_capacity())
    }

    /// Whether the host stopped draining the queue: the connection has closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.frames.is_closed()
    }

    /// Whether the queue is at least half full: the client reads slower than it is sent
    /// to, and best-effort frames (RPC progress) are dropped to keep room for the rest.
    pub(crate) fn is_backpressured(&self) -> bool {
        self.frames.capacity() * 2 <= self.frames.max_capacity()
    }

    /// Whether a push failed because the queue was full.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }
}

/// A cloneable handle that sends messages to one connection from anywhere: another
/// connection's handler, a background task, an HTTP endpoint.
///
/// Get one with [`Ctx::handle`](crate::Ctx::handle). Sends fail once the connection has
/// closed, and with RESOURCE_EXHAUSTED when its outbound queue is full (the connection is
/// then closed with 1013).
#[derive(Clone)]
pub struct ClientHandle {
    client_id: Uuid,
    outbox: Outbox,
}

impl ClientHandle {
    pub(crate) fn new(client_id: Uuid, outbox: Outbox) -> Self {
        ClientHandle { client_id, outbox }
    }

    /// The id of the connection this handle sends to.
    pub fn client_id(&self) -> Uuid {
        self.client_id
    }

    /// Queues `message` for the connection.
    pub fn send<M: Message>(&self, message: &M) -> Result<(), Error> {
        self.outbox.push(Frame::Owned(envelope::encode(message, None)?))
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.outbox.is_closed()
    }
}

impl std::fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHandle").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}
