//! [`Limits`]: the bounds a client cannot push the server past, and what happens at each.

use std::time::Duration;

/// What the server does with a frame larger than [`Limits::max_message_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Oversize {
    /// Answer `ERROR` RESOURCE_EXHAUSTED with `details {observed, limit}` and keep the
    /// connection open. Frames above four times the limit still close it with 1009, so
    /// that the server never buffers without bound.
    #[default]
    Reply,
    /// Close the connection with 1009 (message too big).
    Close,
}

/// Per-connection limits. Every bound a client could otherwise grow is here, with its
/// default and the behaviour when it is reached.
///
/// ```
/// use wskit::{Limits, Oversize};
///
/// let limits = Limits::default()
///     .max_message_bytes(64 * 1024)
///     .on_oversize(Oversize::Close);
/// assert_eq!(limits.message_bytes(), 64 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct Limits {
    pub(crate) max_message_bytes: usize,
    pub(crate) oversize: Oversize,
    pub(crate) max_queued_frames: usize,
    pub(crate) max_consecutive_errors: u32,
    pub(crate) max_connections: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) rpc_timeout: Duration,
    pub(crate) max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 1024 * 1024,
            oversize: Oversize::Reply,
            max_queued_frames: 1024,
            max_consecutive_errors: 10,
            max_connections: 100_000,
            write_timeout: Duration::from_secs(10),
            rpc_timeout: Duration::from_secs(30),
            max_in_flight: 1000,
        }
    }
}

impl Limits {
    /// Largest inbound message, in bytes (default 1 MiB). See [`Oversize`].
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// What to do with a message above the size limit (default [`Oversize::Reply`]).
    pub fn on_oversize(mut self, oversize: Oversize) -> Self {
        self.oversize = oversize;
        self
    }

    /// Outbound frames queued for one connection and not yet written (default 1024). When
    /// the queue is full, `Ctx::send` fails with RESOURCE_EXHAUSTED and the connection is
    /// closed with 1013: the client is not reading fast enough.
    pub fn max_queued_frames(mut self, frames: usize) -> Self {
        self.max_queued_frames = frames.max(1);
        self
    }

    /// Protocol errors in a row (bad frames, unknown types, failed validation) after which
    /// the connection is closed with 1008 (default 10). A valid message resets the count.
    pub fn max_consecutive_errors(mut self, errors: u32) -> Self {
        self.max_consecutive_errors = errors.max(1);
        self
    }

    /// Connections a server holds at once (default 100 000); upgrades beyond it are
    /// refused with 503.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// How long a write to one connection's socket may stall (default 10 s). A client
    /// that stops reading fills its TCP window and then stalls every write; after this
    /// long the connection is dropped, so that it cannot hold a connection slot, a
    /// graceful shutdown or its outbound queue forever. `#[on_close]` sees 1013.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// The deadline of an RPC request that sets none with `meta.timeoutMs`, and the
    /// longest one it may set (default 30 s). At the deadline the handler is cancelled and
    /// the client gets `RPC_ERROR` DEADLINE_EXCEEDED.
    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.rpc_timeout = timeout;
        self
    }

    /// Messages of one connection in flight at once: the one being handled and those
    /// waiting behind it (default 1000). One more is answered with RESOURCE_EXHAUSTED
    /// (`RPC_ERROR` when it has a correlation id) without waiting. Waiting messages also
    /// hold at most [`max_message_bytes`](Self::max_message_bytes) in all; beyond that
    /// the connection stops reading until the running handler returns.
    pub fn max_in_flight(mut self, messages: usize) -> Self {
        self.max_in_flight = messages.max(1);
        self
    }

    /// The inbound message size limit in bytes.
    pub fn message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// The size above which a message is not read at all and the connection is closed
    /// with 1009.
    pub(crate) fn hard_message_bytes(&self) -> usize {
        match self.oversize {
            Oversize::Reply => self.max_message_bytes.saturating_mul(4),
            Oversize::Close => self.max_message_bytes,
        }
    }
}
