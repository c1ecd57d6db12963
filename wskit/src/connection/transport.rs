//! The interface between the protocol core and a host: [`Transport`] moves frames,
//! [`Clock`] tells the time and runs timers. Neither decides anything.

use crate::close::Close;
use crate::limits::LimitKind;
use crate::outbox::Frame;
use crate::time::Instant;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a host's socket delivered.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code, reason = "socket hosts construct every variant"))]
pub(crate) enum Received<T> {
    /// A text frame.
    Text(T),
    /// A binary frame: routed to the router's `#[on_binary]` handler, or handled as text
    /// if it holds UTF-8 and the router has none.
    Binary(Vec<u8>),
    /// A ping or a pong: the peer is alive. The transport answers pings itself.
    Control,
    /// The peer reached a limit the transport enforces (the hard message size, the
    /// server's budget for unfinished messages, the time a message may take to arrive):
    /// tell the limits hook, then close with `close`.
    OverLimit {
        /// Which limit.
        kind: LimitKind,
        /// The value that reached it.
        observed: usize,
        /// The limit's value.
        limit: usize,
        /// How the connection closes.
        close: Close,
    },
    /// The peer broke the WebSocket protocol (a reserved opcode or bit, an unmasked
    /// frame, a text frame that is not UTF-8, ...): close with this close.
    Broken(Close),
    /// The peer closed the connection with this close; the transport answered it, as far
    /// as the socket took the answer at once.
    Closed(Close),
    /// The socket failed or ended without a close frame.
    Dropped,
}

/// A connection's socket, as the protocol core sees it. Write errors mean the peer is
/// gone (or stopped reading past the host's write timeout): the `Close` says why.
pub(crate) trait Transport: Send {
    /// The host's own text frames, kept as they are (not copied) while they wait; binary
    /// frames handled as text become one.
    type Text: AsRef<str> + From<String> + Send;

    /// Polls for the next frame from the peer. A poll function rather than a future, so
    /// that a connection waiting for its next frame holds no future for that wait.
    /// Answers the transport owes the peer (a pong) go into the write buffer, for the
    /// connection's next [`flush`](Self::flush).
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Received<Self::Text>>;

    /// Puts `frame` into the write buffer, to go out at the next flush. Returns `true`
    /// once the buffer holds enough to be written out before more is added. Buffering
    /// never waits: only [`flush`](Self::flush) does, so a connection's future holds no
    /// write in progress but the flush's.
    fn send(&mut self, frame: Frame) -> bool;

    /// Puts a copy of `frame`, which the caller keeps, into the write buffer, as
    /// [`send`](Self::send) does: for the frames a resumable connection keeps to write
    /// again. A host that copies frames into its buffer anyway copies only once.
    #[cfg(feature = "server")]
    fn send_kept(&mut self, frame: &Frame) -> bool {
        self.send(frame.clone())
    }

    /// Writes out the write buffer.
    fn flush(&mut self) -> impl Future<Output = Result<(), Close>> + Send;

    /// Writes as much of the write buffer as the socket takes without waiting, and
    /// whether that was all of it. What is left (a socket that would block, or failed)
    /// is for [`flush`](Self::flush), which waits, bounds the wait and reports errors. A
    /// host that cannot write without waiting leaves everything to `flush`.
    fn try_flush(&mut self, _cx: &mut Context<'_>) -> bool {
        false
    }

    /// Puts a protocol ping into the write buffer.
    fn ping(&mut self);

    /// Sends our close frame and waits, briefly, for the peer's.
    fn close(&mut self, close: &Close) -> impl Future<Output = ()> + Send;

    /// Whether nothing received is waiting. Event-driven hosts, which hold a connection
    /// between events, say so to get the connection back when it is idle; a socket host
    /// waits in [`poll_recv`](Self::poll_recv) instead and never is drained.
    fn is_drained(&self) -> bool {
        false
    }
}

/// The host's clock and timers.
pub(crate) trait Clock: Send + Sync {
    /// A timer, reset as deadlines move.
    type Timer: Future<Output = ()> + Send;

    /// Whether the host wakes its connections for their ping schedules from one ticker
    /// of its own, at the wake-up each asks for in its queue
    /// ([`OutboxReceiver::wake_at`](crate::outbox::OutboxReceiver::wake_at)), within the
    /// ticker's period. Otherwise the ping schedule runs on the connection's own timer.
    const SHARED_TICKER: bool = false;

    /// The current instant.
    fn now(&self) -> Instant;

    /// A timer that completes at `at`.
    fn timer(&self, at: Instant) -> Self::Timer;

    /// Moves `timer` to complete at `at`.
    fn reset(&self, timer: Pin<&mut Self::Timer>, at: Instant);
}
