//! [`MemoryTransport`]: the transport of event-driven hosts, which hand the connection
//! each event themselves and deliver what it writes: frames pass through a [`Wire`] in
//! memory.

use super::transport::{Received, Transport};
use crate::close::Close;
use crate::outbox::Frame;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

/// What passes between an event-driven host and its connection.
#[derive(Default)]
pub(crate) struct Wire {
    inbox: Mutex<VecDeque<Received<String>>>,
    /// The connection, waiting for the next frame.
    reader: AtomicWaker,
    /// The text frames the connection wrote.
    written: Mutex<Vec<String>>,
    /// The binary frames it wrote, each with the number of text frames written before it
    /// since `written` was last taken, to put them back in order.
    binary: Mutex<Vec<(usize, Bytes)>>,
    /// The close frame the connection sent.
    closed: Mutex<Option<Close>>,
}

impl Wire {
    /// Hands `received` to the connection.
    pub(crate) fn push(&self, received: Received<String>) {
        lock(&self.inbox).push_back(received);
        self.reader.wake();
    }

    /// The text frames the connection wrote since the last call, in order.
    pub(crate) fn take_written(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.written))
    }

    /// The binary frames the connection wrote since the last call, in order.
    pub(crate) fn take_binary(&self) -> impl Iterator<Item = Bytes> {
        std::mem::take(&mut *lock(&self.binary)).into_iter().map(|(_, bytes)| bytes)
    }

    /// Every frame the connection wrote since the last call, text and binary in the order
    /// they were written.
    #[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
    pub(crate) fn take_frames(&self) -> Vec<Frame> {
        let text = self.take_written();
        let mut binary = std::mem::take(&mut *lock(&self.binary)).into_iter().peekable();
        let mut frames = Vec::with_capacity(text.len() + binary.len());
        for (index, text) in text.into_iter().enumerate() {
            while let Some((_, bytes)) = binary.next_if(|(before, _)| *before <= index) {
                frames.push(Frame::Binary(bytes));
            }
            frames.push(Frame::Owned(text));
        }
        frames.extend(binary.map(|(_, bytes)| Frame::Binary(bytes)));
        frames
    }

    /// The close frame the connection sent, once it has.
    #[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
    pub(crate) fn take_close(&self) -> Option<Close> {
        lock(&self.closed).take()
    }
}

/// The connection's end of a [`Wire`].
pub(crate) struct MemoryTransport {
    wire: Arc<Wire>,
}

impl MemoryTransport {
    pub(crate) fn new(wire: Arc<Wire>) -> Self {
        MemoryTransport { wire }
    }
}

impl Transport for MemoryTransport {
    type Text = String;

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Received<String>> {
        if let Some(received) = lock(&self.wire.inbox).pop_front() {
            return Poll::Ready(received);
        }
        self.wire.reader.register(cx.waker());
        // Look again: a frame pushed before the registration woke nobody.
        match lock(&self.wire.inbox).pop_front() {
            Some(received) => Poll::Ready(received),
            None => Poll::Pending,
        }
    }

    fn send(&mut self, frame: Frame) -> bool {
        match frame.into_message() {
            Ok(text) => lock(&self.wire.written).push(text),
            Err(bytes) => {
                let before = lock(&self.wire.written).len();
                lock(&self.wire.binary).push((before, bytes));
            }
        }
        false
    }

    async fn flush(&mut self) -> Result<(), Close> {
        Ok(())
    }

    /// Event-driven hosts have no protocol pings of their own to send.
    fn ping(&mut self) {}

    async fn close(&mut self, close: &Close) {
        *lock(&self.wire.closed) = Some(close.clone());
    }

    fn is_drained(&self) -> bool {
        lock(&self.wire.inbox).is_empty()
    }
}

/// Locks `mutex`; a panic while it was held cannot leave these values half-changed.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
