//! [`MemoryTransport`]: the transport of event-driven hosts, which hand the connection
//! each event themselves and deliver what it writes: frames pass through a [`Wire`] in
//! memory.

use super::transport::{Received, Transport};
use crate::close::Close;
use crate::outbox::Frame;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

/// What passes between an event-driven host and its connection.
#[derive(Default)]
pub(crate) struct Wire {
    inbox: Mutex<VecDeque<Received<String>>>,
    /// The connection, waiting for the next frame.
    reader: AtomicWaker,
    written: Mutex<Vec<Frame>>,
    /// The close frame the connection sent.
    closed: Mutex<Option<Close>>,
}

impl Wire {
    /// Hands `received` to the connection.
    pub(crate) fn push(&self, received: Received<String>) {
        lock(&self.inbox).push_back(received);
        self.reader.wake();
    }

    /// The frames the connection wrote since the last call, in order.
    pub(crate) fn take_written(&self) -> Vec<Frame> {
        std::mem::take(&mut *lock(&self.written))
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

    async fn recv(&mut self) -> Received<String> {
        std::future::poll_fn(|cx| {
            if let Some(received) = lock(&self.wire.inbox).pop_front() {
                return Poll::Ready(received);
            }
            self.wire.reader.register(cx.waker());
            // Look again: a frame pushed before the registration woke nobody.
            match lock(&self.wire.inbox).pop_front() {
                Some(received) => Poll::Ready(received),
                None => Poll::Pending,
            }
        })
        .await
    }

    fn send(&mut self, frame: Frame) -> bool {
        lock(&self.wire.written).push(frame);
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
