//! The hyper host's IO: a WebSocket over an upgraded connection as the core's
//! [`Transport`], and tokio's timers as its [`Clock`].
//!
//! Memory is spent on purpose here:
//! - Reads go into one buffer per thread; a connection keeps only bytes that do not make a
//!   complete frame yet, in a buffer that grows as they arrive and is let go once they are
//!   used. An idle connection holds no read buffer.
//! - What a connection keeps for unfinished messages while it waits for more counts
//!   against the server's budget; past it the connection is closed with 1013.
//! - A message must arrive within [`Limits::message_timeout`] once it has begun.
//! - Every write is bounded by [`Limits::write_timeout`]: a client that stops reading is
//!   dropped instead of holding its connection forever.
//!
//! [`Limits::message_timeout`]: crate::Limits::message_timeout
//! [`Limits::write_timeout`]: crate::Limits::write_timeout

use super::budget::{Held, OverBudget};
use super::deflate::codec::{Deflater, Inflater};
use super::deflate::Agreed;
use super::frame::{self, Event, Fault, Opcode, Reader, Step};
use crate::close::Close;
use crate::connection::{Clock, Received, Transport};
use crate::limits::{LimitKind, Limits};
use crate::outbox::Frame;
use bytes::Bytes;
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// How long to wait for the client's close frame after sending ours.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Bytes read from a socket at once, into the thread's read buffer.
const READ_CHUNK: usize = 64 * 1024;

/// Bytes written to the write buffer before it is written out even without a flush.
const WRITE_BUFFER: usize = 16 * 1024;

/// The write buffer's first allocation after a flush: room for a batch of small frames,
/// and no larger than the largest block glibc's per-thread cache hands out (1,032 bytes):
/// a larger one takes the allocator's slow path twice per flush, which cost a fan-out to
/// 1000 subscribers about 5 % of its instructions (callgrind, with glibc's allocator).
const WRITE_BUFFER_START: usize = 1024;

thread_local! {
    /// The read buffer of every connection this thread serves: each read's bytes are
    /// copied out (as messages, or as the start of one) before the next read.
    static READ_BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// A WebSocket over an upgraded HTTP connection `S`.
pub(crate) struct Socket<S> {
    io: S,
    inbox: Inbox,
    reader: Reader,
    /// Frames written and not yet written out; empty (no allocation) after a flush.
    out: Vec<u8>,
    /// Present when the client agreed on permessage-deflate.
    deflater: Option<Box<Deflater>>,
    /// This connection's share of the server's budget for unfinished messages.
    held: Held,
    /// Fires when the message that has begun to arrive is late. Boxed: a message that has
    /// begun is rare, and inline the timer would grow every connection by its size.
    late: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The server's limits: the message and write timeouts (shared, rather than copied
    /// into every connection).
    limits: Arc<Limits>,
    /// Our close frame is sent: the peer's close needs no answer.
    closing: bool,
}

/// How reading the next event ended instead.
enum Ended {
    Fault(Fault),
    OverBudget(OverBudget),
    /// A message did not arrive within the timeout.
    Late,
    /// The peer closed TCP or the socket failed.
    Gone,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Socket<S> {
    /// A socket over `io`, of which `read` was read already (with the upgrade request), for
    /// a connection bounded by `limits`, holding unfinished messages in `held`, which
    /// agreed on permessage-deflate with `deflate` if it did.
    ///
    /// `read` is taken, copied and let go here: it is a view of the HTTP server's read
    /// buffer, which it would otherwise keep alive for as long as the connection lives.
    pub(crate) fn new(io: S, read: Bytes, limits: &Arc<Limits>, held: Held, deflate: Option<Agreed>) -> Self {
        let mut inbox = Inbox::default();
        inbox.bytes.extend_from_slice(&read);
        drop(read);
        let mut reader = Reader::default();
        if let Some(agreed) = &deflate {
            reader = reader.inflating(Inflater::new(agreed));
        }
        Socket {
            io,
            inbox,
            reader,
            out: Vec::new(),
            deflater: deflate.map(|agreed| Box::new(Deflater::new(agreed))),
            held,
            late: None,
            limits: Arc::clone(limits),
            closing: false,
        }
    }

    /// The next complete message or control frame, reading the socket as far as needed.
    /// A poll function, not a future: a connection waits for its next frame beside its
    /// other sources, and a future held for that wait would be held by every idle
    /// connection.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<Event, Ended>> {
        loop {
            while !self.inbox.is_empty() {
                match self
                    .reader
                    .read(self.inbox.unread(), self.limits.hard_message_bytes())
                    .map_err(Ended::Fault)?
                {
                    Step::More => break,
                    Step::Frame { used, event } => {
                        self.inbox.consume(used);
                        if let Some(event) = event {
                            return Poll::Ready(Ok(event));
                        }
                    }
                }
            }
            self.settle()?;
            match self.poll_fill(cx) {
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Ok(false)) => return Poll::Ready(Err(Ended::Gone)),
                Poll::Ready(Err(ended)) => return Poll::Ready(Err(ended)),
                Poll::Pending => {
                    if let Some(late) = &mut self.late {
                        ready!(late.as_mut().poll(cx));
                        return Poll::Ready(Err(Ended::Late));
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Before waiting for more bytes: sizes the connection's share of the budget to what
    /// it holds, and starts the clock on a message that has begun. Only what a connection
    /// holds while it waits counts: bytes that made complete frames were used before, so
    /// honest clients with small messages are served even when the budget is spent.
    fn settle(&mut self) -> Result<(), Ended> {
        self.inbox.release_if_empty();
        self.held.resize(self.held_bytes()).map_err(Ended::OverBudget)?;
        let unfinished = !self.inbox.is_empty() || self.reader.is_mid_message();
        match (unfinished, &self.late) {
            (true, None) => self.late = Some(Box::pin(tokio::time::sleep(self.limits.message_timeout))),
            (false, Some(_)) => self.late = None,
            _ => {}
        }
        Ok(())
    }

    fn held_bytes(&self) -> usize {
        self.inbox.bytes.capacity() + self.reader.held_bytes()
    }

    /// Reads what the socket has into the inbox: `false` once the peer closed TCP.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, Ended>> {
        READ_BUFFER.with_borrow_mut(|buffer| {
            let mut read = ReadBuf::new(buffer);
            if let Err(error) = ready!(Pin::new(&mut self.io).poll_read(cx, &mut read)) {
                tracing::debug!(%error, "connection dropped");
                return Poll::Ready(Err(Ended::Gone));
            }
            let bytes = read.filled();
            if bytes.is_empty() {
                return Poll::Ready(Ok(false));
            }
            self.inbox.append(bytes);
            Poll::Ready(Ok(true))
        })
    }

    /// Writes out the write buffer, then lets it go.
    async fn write_out(&mut self) -> io::Result<()> {
        self.io.write_all(&self.out).await?;
        self.out = Vec::new();
        self.io.flush().await
    }

    /// Writes as much of the write buffer as the socket takes without waiting.
    fn write_now(&mut self, cx: &mut Context<'_>) {
        while !self.out.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out) {
                Poll::Ready(Ok(written)) if written > 0 => drop(self.out.drain(..written)),
                _ => return,
            }
        }
        let _ = Pin::new(&mut self.io).poll_flush(cx);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Transport for Socket<S> {
    type Text = String;

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Received<String>> {
        Poll::Ready(match ready!(self.poll_event(cx)) {
            Ok(Event::Text(text)) => Received::Text(text),
            Ok(Event::Binary(bytes)) => Received::Binary(bytes),
            // Answered at the connection's next flush, which follows every frame read.
            Ok(Event::Ping(payload)) => {
                frame::write_frame(&mut self.out, Opcode::Pong, &payload);
                Received::Control
            }
            Ok(Event::Pong) => Received::Control,
            Ok(Event::Close(close)) => {
                if !self.closing {
                    self.closing = true;
                    // The connection ends here, with no flush to come: the answer (behind
                    // any frames still buffered) goes out as far as the socket takes it
                    // now. A peer that sent a close and stopped reading does not get it.
                    frame::write_frame(&mut self.out, Opcode::Close, &close.code.to_be_bytes());
                    self.write_now(cx);
                }
                Received::Closed(close)
            }
            // RFC 6455 section 7.1.7: fail the connection with a close frame that says why.
            Err(Ended::Fault(Fault::Broken(close))) => Received::Broken(close),
            Err(Ended::Fault(Fault::TooBig { size, limit })) => Received::OverLimit {
                kind: LimitKind::MessageSize,
                observed: size,
                limit,
                close: Close::new(Close::TOO_BIG, "message too big"),
            },
            Err(Ended::OverBudget(OverBudget { observed, limit })) => Received::OverLimit {
                kind: LimitKind::UnfinishedBytes,
                observed,
                limit,
                close: Close::new(Close::TRY_AGAIN_LATER, "the server holds too much unfinished data"),
            },
            Err(Ended::Late) => {
                let limit = self.limits.message_timeout.as_millis().try_into().unwrap_or(usize::MAX);
                Received::OverLimit {
                    kind: LimitKind::MessageTime,
                    observed: limit,
                    limit,
                    close: Close::new(Close::POLICY, "a message did not arrive in time"),
                }
            }
            Err(Ended::Gone) => Received::Dropped,
        })
    }

    fn send(&mut self, frame: Frame) -> bool {
        self.send_kept(&frame)
    }

    fn send_kept(&mut self, frame: &Frame) -> bool {
        if self.out.capacity() == 0 {
            // The buffer is let go after each flush; starting it at a size that holds a
            // batch of small frames spares a chain of reallocations per batch.
            self.out.reserve(WRITE_BUFFER_START);
        }
        match &mut self.deflater {
            Some(deflater) => deflater.write(&mut self.out, frame),
            None => frame::write_frame(&mut self.out, Opcode::of(frame), frame.payload()),
        }
        self.out.len() >= WRITE_BUFFER
    }

    async fn flush(&mut self) -> Result<(), Close> {
        if self.out.is_empty() {
            return Ok(());
        }
        bounded(self.limits.write_timeout, self.write_out()).await
    }

    fn try_flush(&mut self, cx: &mut Context<'_>) -> bool {
        self.write_now(cx);
        if !self.out.is_empty() {
            return false;
        }
        // Let go, as after every flush: an idle connection holds no write buffer.
        self.out = Vec::new();
        true
    }

    fn ping(&mut self) {
        frame::write_frame(&mut self.out, Opcode::Ping, &[]);
    }

    async fn close(&mut self, close: &Close) {
        self.closing = true;
        frame::write_close(&mut self.out, close);
        if self.flush().await.is_err() {
            return;
        }
        // Wait briefly for the peer's close frame, then end TCP from our side.
        let peer_closed = poll_fn(|cx| loop {
            match ready!(self.poll_event(cx)) {
                Ok(Event::Close(_)) | Err(_) => return Poll::Ready(()),
                Ok(_) => {}
            }
        });
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, peer_closed).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.io.shutdown()).await;
    }
}

/// The bytes read and not yet used: at most one frame that is not complete yet once the
/// complete ones before it are read.
#[derive(Default)]
struct Inbox {
    bytes: Vec<u8>,
    /// Where the unread bytes begin.
    start: usize,
}

impl Inbox {
    fn is_empty(&self) -> bool {
        self.start == self.bytes.len()
    }

    fn unread(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn consume(&mut self, used: usize) {
        self.start += used;
    }

    /// Lets the buffer go once everything in it was read: an idle connection holds none.
    fn release_if_empty(&mut self) {
        if self.is_empty() && self.bytes.capacity() > 0 {
            self.bytes = Vec::new();
            self.start = 0;
        }
    }

    /// Appends `bytes`, growing the buffer by doubling (or to what the bytes need).
    fn append(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        let needed = self.bytes.len() + bytes.len();
        if needed > self.bytes.capacity() {
            let capacity = needed.max(self.bytes.capacity() * 2);
            self.bytes.reserve_exact(capacity - self.bytes.len());
        }
        self.bytes.extend_from_slice(bytes);
    }
}

/// Runs one write on the socket, giving up after `timeout`. Most writes complete at once
/// (into the kernel's buffer); only one that has to wait starts the timer.
async fn bounded(timeout: Duration, write: impl Future<Output = io::Result<()>>) -> Result<(), Close> {
    let mut write = pin!(write);
    let outcome = match futures_util::poll!(write.as_mut()) {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => tokio::time::timeout(timeout, write).await,
    };
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::debug!(%error, "connection dropped");
            Err(Close::new(Close::ABNORMAL, "connection dropped"))
        }
        Err(_) => {
            tracing::debug!(?timeout, "write stalled: the client stopped reading");
            Err(Close::new(Close::TRY_AGAIN_LATER, "the client stopped reading"))
        }
    }
}

/// tokio's clock and timers.
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Timer = tokio::time::Sleep;

    /// The server's [`Ticker`](super::ticker::Ticker).
    const SHARED_TICKER: bool = true;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn timer(&self, at: Instant) -> Self::Timer {
        tokio::time::sleep_until(at.into())
    }

    fn reset(&self, timer: Pin<&mut Self::Timer>, at: Instant) {
        timer.reset(at.into());
    }
}
