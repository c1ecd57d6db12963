//! [`Limits`]: the bounds a client cannot push the server past, and what happens at each.

use crate::outbox::SlowConsumer;
use crate::panics::{self, Site};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Which limit a client reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::max_message_bytes`]: an inbound message was too large (bytes).
    MessageSize,
    /// [`Limits::max_in_flight`]: too many messages in flight on one connection.
    InFlight,
    /// [`Limits::max_concurrent_handlers`]: too many concurrent handlers running on one
    /// connection.
    ConcurrentHandlers,
    /// The hub's per-connection topic limit ([`TopicRules`](crate::TopicRules)).
    Topics,
    /// [`Limits::max_queued_frames`]: the outbound queue overflowed (a slow consumer);
    /// `observed` and `limit` in frames.
    OutboundQueue,
    /// [`Limits::max_queued_bytes`]: the outbound queue overflowed (a slow consumer);
    /// `observed` and `limit` in bytes.
    OutboundBytes,
    /// [`Limits::max_consecutive_errors`]: too many protocol errors in a row.
    ConsecutiveErrors,
    /// [`Limits::max_connections`]: the server was full; `client_id` is `None`.
    Connections,
    /// [`Limits::max_unfinished_bytes`]: the server's connections together would hold
    /// more bytes of messages that have not fully arrived (`observed` bytes).
    UnfinishedBytes,
    /// [`Limits::message_timeout`]: a message began to arrive and did not finish in time
    /// (`observed` and `limit` in milliseconds).
    MessageTime,
    /// [`Limits::max_pending_handshakes`]: too many HTTP connections had not become
    /// WebSocket connections yet; `client_id` is `None`.
    PendingHandshakes,
    /// The process or the system ran out of file descriptors when the server accepted a
    /// connection, which was answered 503 and closed (on Unix; see
    /// [`Server::serve_with_shutdown`](crate::Server::serve_with_shutdown)). The limit is
    /// the operating system's (`ulimit -n`), so `observed` and `limit` are both the number
    /// of connections the server held then, WebSocket connections and pending handshakes;
    /// `client_id` is `None`.
    FileDescriptors,
    /// A [`RateLimiter`](crate::ratelimit::RateLimiter) refused a message: `observed` is
    /// the message's cost and `limit` the bucket's capacity, in tokens (the error frame
    /// tells the client when to retry).
    MessageRate,
}

impl LimitKind {
    /// The kind in snake case, e.g. `message_size`: the label of the
    /// `wskit_limits_exceeded_total` metric.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::MessageSize => "message_size",
            LimitKind::InFlight => "in_flight",
            LimitKind::Topics => "topics",
            LimitKind::OutboundQueue => "outbound_queue",
            LimitKind::OutboundBytes => "outbound_bytes",
            LimitKind::ConsecutiveErrors => "consecutive_errors",
            LimitKind::Connections => "connections",
            LimitKind::UnfinishedBytes => "unfinished_bytes",
            LimitKind::MessageTime => "message_time",
            LimitKind::PendingHandshakes => "pending_handshakes",
            LimitKind::FileDescriptors => "file_descriptors",
            LimitKind::MessageRate => "message_rate",
            LimitKind::ConcurrentHandlers => "concurrent_handlers",
        }
    }
}

/// What [`Limits::on_exceeded`] hooks receive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitExceeded {
    /// The limit reached.
    pub kind: LimitKind,
    /// The value that reached it: bytes, messages, topics, frames, errors or connections.
    pub observed: usize,
    /// The limit's configured value.
    pub limit: usize,
    /// The connection, if there is one yet.
    pub client_id: Option<Uuid>,
}

/// A hook told about every limit a client reaches.
#[derive(Clone)]
struct Hook(Arc<dyn Fn(&LimitExceeded) + Send + Sync>);

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hook(..)")
    }
}

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
    pub(crate) max_queued_bytes: usize,
    pub(crate) slow_consumer: SlowConsumer,
    pub(crate) max_consecutive_errors: u32,
    pub(crate) max_connections: usize,
    pub(crate) max_pending_handshakes: usize,
    pub(crate) write_timeout: Duration,
    pub(crate) max_write_stall: Duration,
    pub(crate) rpc_timeout: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) max_concurrent_handlers: usize,
    pub(crate) max_unfinished_bytes: usize,
    pub(crate) message_timeout: Duration,
    pub(crate) quiet_panics: bool,
    on_exceeded: Option<Hook>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 1024 * 1024,
            oversize: Oversize::Reply,
            max_queued_frames: 1024,
            max_queued_bytes: 4 * 1024 * 1024,
            slow_consumer: SlowConsumer::Close,
            max_consecutive_errors: 10,
            max_connections: 100_000,
            max_pending_handshakes: 1024,
            write_timeout: Duration::from_secs(10),
            max_write_stall: Duration::from_secs(1),
            rpc_timeout: Duration::from_secs(30),
            max_in_flight: 1000,
            max_concurrent_handlers: 16,
            max_unfinished_bytes: 128 * 1024 * 1024,
            message_timeout: Duration::from_secs(30),
            quiet_panics: true,
            on_exceeded: None,
        }
    }
}

impl Limits {
    /// The longest `meta.correlationId` a frame may carry, in bytes (ws-kit's clients
    /// send UUIDs, 36 bytes). The id is kept while its request waits and runs and is
    /// echoed in every progress, reply and error frame of the request: a longer one is
    /// answered `ERROR` INVALID_ARGUMENT at `meta.correlationId`, without the id.
    pub const MAX_CORRELATION_ID_BYTES: usize = 128;

    /// The most `meta` keys a frame may carry besides the standard ones (`timestamp`,
    /// `correlationId`, `timeoutMs`): the keys a message declares. Each is held while the
    /// message's handler runs; a frame with more is answered INVALID_ARGUMENT at `meta`.
    pub const MAX_EXTRA_META_KEYS: usize = 32;

    /// The most bytes of client input an error frame or a log line quotes: a type string
    /// (UNIMPLEMENTED, rate limits), a value or key that serde names in a decoding issue,
    /// a path through a map's keys. Longer text is cut at a character boundary and ends
    /// with `…`, so that a client cannot make the server send or log back more than it
    /// sent, many times over.
    pub const MAX_ECHO_BYTES: usize = 256;

    /// The most validation issues an INVALID_ARGUMENT error lists in `details.issues`.
    /// The rest are counted in `details.omittedIssues`, and the message gives the total.
    pub const MAX_ISSUES: usize = 32;

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

    /// Outbound frames queued for a connection whose client is not reading (default
    /// 1024): one whose socket has taken no write for
    /// [`max_write_stall`](Self::max_write_stall). When the queue is full, `Ctx::send`
    /// fails with RESOURCE_EXHAUSTED and the connection is closed with 1013 (or frames are
    /// dropped, see [`on_slow_consumer`](Self::on_slow_consumer)).
    ///
    /// While the client takes what it is sent, the queue may hold 8 times as many: then it
    /// grows because the server itself is behind (a burst of publishes, a busy core),
    /// which is no reason to close a healthy client. A slow consumer is told apart by what
    /// it fails to take, not by the server's backlog.
    pub fn max_queued_frames(mut self, frames: usize) -> Self {
        self.max_queued_frames = frames.max(1);
        self
    }

    /// Bytes of outbound frames queued for a connection whose client is not reading
    /// (default 4 MiB), next to [`max_queued_frames`](Self::max_queued_frames) and with the
    /// same behaviour when passed; eight times that while the client reads. It bounds
    /// what a few large frames hold, which a count of frames does not. A frame larger
    /// than the limit still goes into an empty queue, or it could never be sent.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes.max(1);
        self
    }

    /// How long a write may wait for the client's socket to take it before the client
    /// counts as not reading (default 1 s); from then on its outbound queue is bounded by
    /// [`max_queued_frames`](Self::max_queued_frames). A write that waits past
    /// [`write_timeout`](Self::write_timeout) drops the connection in any case.
    pub fn max_write_stall(mut self, stall: Duration) -> Self {
        self.max_write_stall = stall;
        self
    }

    /// What to do when a connection's outbound queue is full (default
    /// [`SlowConsumer::Close`]: close with 1013).
    pub fn on_slow_consumer(mut self, policy: SlowConsumer) -> Self {
        self.slow_consumer = policy;
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

    /// HTTP connections the server holds that have not become WebSocket connections
    /// (default 1024): clients still sending their upgrade request and plain HTTP requests
    /// to the [fallback](crate::Server::fallback). A connection beyond it is answered `503
    /// Service Unavailable` with `Connection: close` before its request is read, and
    /// closed. A connection gives its place back when its upgrade completes (it then
    /// counts under [`max_connections`](Self::max_connections)) or when it closes.
    ///
    /// Together with [`Server::handshake_timeout`](crate::Server::handshake_timeout) this
    /// bounds what clients that open connections and never finish a request can hold:
    /// this many connections, each for at most that long. Keep it well below the
    /// process's file descriptor limit (`ulimit -n`), so that descriptors remain for the
    /// WebSocket connections. It counts the connections that
    /// [`Server::serve`](crate::Server::serve) accepts; behind an
    /// [`Endpoint`](crate::Endpoint) mounted in your own hyper or axum server, the
    /// accept loop and its bounds are yours.
    pub fn max_pending_handshakes(mut self, connections: usize) -> Self {
        self.max_pending_handshakes = connections;
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

    /// Concurrent handlers (`#[rpc(concurrent)]`) of one connection running at once
    /// (default 16). A concurrent request whose turn comes while this many run is answered
    /// with `RPC_ERROR` RESOURCE_EXHAUSTED (retryable) at once; the connection's other
    /// messages are not held back. Running concurrent handlers also count toward
    /// [`max_in_flight`](Self::max_in_flight).
    pub fn max_concurrent_handlers(mut self, handlers: usize) -> Self {
        self.max_concurrent_handlers = handlers;
        self
    }

    /// Bytes of inbound messages that have begun and not fully arrived, held by all
    /// connections of a server together (default 128 MiB). One connection holds at most
    /// one unfinished message, of at most the hard size limit (see [`Oversize`]); this
    /// bounds what many of them hold at once, e.g. clients that each send most of a large
    /// message and stall. A connection whose next bytes would pass the budget is closed
    /// with 1013 (try again later). Buffers grow as bytes arrive, never by the length a
    /// frame announces, and the budget is checked before each growth, except that the
    /// fragments of one message may pass it by one frame before the connection is closed.
    pub fn max_unfinished_bytes(mut self, bytes: usize) -> Self {
        self.max_unfinished_bytes = bytes;
        self
    }

    /// How long a message may take to arrive, from the moment its first bytes are found
    /// incomplete to its last byte, fragments included (default 30 s). A client that
    /// starts a message and stalls is closed with 1008 (policy) after this long, instead
    /// of holding the bytes it sent for as long as it answers pings.
    pub fn message_timeout(mut self, timeout: Duration) -> Self {
        self.message_timeout = timeout;
        self
    }

    /// Whether a panic that wskit catches (in a handler, a hook, a middleware layer or the
    /// authenticator) skips the process's panic hook (default `true`). A client that
    /// makes a handler panic on every message must not make the server print every panic
    /// to stderr, with a backtrace under `RUST_BACKTRACE`: such panics are logged with
    /// `tracing`, once per handler and message type every 10 s with the count of the rest
    /// (see [the crate docs](crate#when-a-handler-panics)). `false` passes each of them to
    /// the panic hook too, for a crash reporter installed as one; panics elsewhere always
    /// reach it.
    pub fn quiet_panics(mut self, quiet: bool) -> Self {
        self.quiet_panics = quiet;
        self
    }

    /// Calls `hook` whenever a client reaches one of these limits (or the hub's topic
    /// limit), just before the client is answered as the limit's doc says: for metrics,
    /// logs or banning abusive clients. It runs on the connection's task: keep it quick. A
    /// panic in it is logged and otherwise ignored.
    ///
    /// ```
    /// use wskit::{LimitExceeded, Limits};
    ///
    /// let limits = Limits::default().on_exceeded(|event: &LimitExceeded| {
    ///     eprintln!("{:?} reached {:?}: {} of {}", event.client_id, event.kind, event.observed, event.limit);
    /// });
    /// ```
    pub fn on_exceeded(mut self, hook: impl Fn(&LimitExceeded) + Send + Sync + 'static) -> Self {
        self.on_exceeded = Some(Hook(Arc::new(hook)));
        self
    }

    /// Tells the hook, if any, that `client_id` reached the limit `kind`.
    pub(crate) fn exceeded(&self, kind: LimitKind, observed: usize, limit: usize, client_id: Option<Uuid>) {
        tracing::debug!(?kind, observed, limit, ?client_id, "limit exceeded");
        crate::observe::limit_exceeded(kind);
        if let Some(Hook(hook)) = &self.on_exceeded {
            let event = LimitExceeded { kind, observed, limit, client_id };
            panics::guard(Site::OnExceeded, self.quiet_panics, || hook(&event));
        }
    }

    /// The inbound message size limit in bytes.
    pub fn message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// The size above which a message is not read at all and the connection is closed
    /// with 1009.
    #[cfg(feature = "server")]
    pub(crate) fn hard_message_bytes(&self) -> usize {
        match self.oversize {
            Oversize::Reply => self.max_message_bytes.saturating_mul(4),
            Oversize::Close => self.max_message_bytes,
        }
    }
}

/// `text` as an error frame or a log line may quote it: at most
/// [`Limits::MAX_ECHO_BYTES`] bytes of it, cut at a character boundary and marked with `…`.
pub(crate) fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= Limits::MAX_ECHO_BYTES {
        return text.into();
    }
    let mut end = Limits::MAX_ECHO_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_long_text_at_a_character_boundary() {
        assert_eq!(clip("JOIN_ROOM"), "JOIN_ROOM");
        let exact = "x".repeat(Limits::MAX_ECHO_BYTES);
        assert_eq!(clip(&exact), exact);
        let long = format!("{}é{}", "x".repeat(Limits::MAX_ECHO_BYTES - 1), "y".repeat(1 << 20));
        let clipped = clip(&long);
        assert_eq!(clipped, format!("{}…", "x".repeat(Limits::MAX_ECHO_BYTES - 1)));
    }
}
