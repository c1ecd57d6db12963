//! [`ClientOptions`]: where to connect and how the client behaves.

use super::{Backoff, QueuePolicy};
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Fetches the token for one connect attempt; `None` connects without one.
pub(crate) type TokenSource = Arc<dyn Fn() -> BoxFuture<'static, Option<String>> + Send + Sync>;

/// Where the client puts its token in the upgrade request, in the conventions ws-kit's
/// servers (and [`wskit::token`](crate::token)) read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenTransport {
    /// The query parameter `access_token`: `/ws?access_token=<token>`. The default.
    #[default]
    Query,
    /// A `bearer.<token>` subprotocol in `Sec-WebSocket-Protocol` (keeps the token out of
    /// URLs and access logs).
    Subprotocol,
}

/// How a [`Client`](super::Client) connects and behaves: built from the URL, then adjusted.
///
/// ```
/// use std::time::Duration;
/// use wskit::client::{Backoff, ClientOptions, QueuePolicy, TokenTransport};
///
/// let options = ClientOptions::new("ws://127.0.0.1:3000/ws")
///     .token(|| async { Some("secret".to_owned()) })
///     .token_transport(TokenTransport::Subprotocol)
///     .request_timeout(Duration::from_secs(5))
///     .queue(QueuePolicy::DropOldest, 100)
///     .backoff(Backoff::default().max_attempts(10))
///     .resume(true);
/// ```
#[derive(Clone)]
pub struct ClientOptions {
    pub(crate) url: String,
    pub(crate) token: Option<TokenSource>,
    pub(crate) token_transport: TokenTransport,
    pub(crate) protocols: Vec<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) request_timeout: Duration,
    pub(crate) max_pending: usize,
    pub(crate) queue_policy: QueuePolicy,
    pub(crate) queue_capacity: usize,
    pub(crate) backoff: Backoff,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_message_bytes: usize,
    pub(crate) resume: bool,
}

impl ClientOptions {
    /// Options for `url` (`ws://host:port/path`) with the defaults: 30 s request timeout,
    /// 1000 pending requests, an offline queue of 1000 frames dropping the newest, backoff
    /// from 300 ms to 10 s without an attempt limit, a ping every 15 s, dead after 30 s of
    /// silence, 10 s to connect, 10 s for each write, messages of at most 16 MiB, no session
    /// resume.
    pub fn new(url: impl Into<String>) -> Self {
        ClientOptions {
            url: url.into(),
            token: None,
            token_transport: TokenTransport::default(),
            protocols: Vec::new(),
            headers: HeaderMap::new(),
            request_timeout: Duration::from_secs(30),
            max_pending: 1000,
            queue_policy: QueuePolicy::default(),
            queue_capacity: 1000,
            backoff: Backoff::default(),
            ping_interval: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_message_bytes: 16 * 1024 * 1024,
            resume: false,
        }
    }

    /// Fetches a token before every connect attempt (so a refreshed token is used on
    /// reconnect); returning `None` connects without one.
    pub fn token<F, Fut>(mut self, fetch: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.token = Some(Arc::new(move || Box::pin(fetch())));
        self
    }

    /// Where the token goes; the `access_token` query parameter by default.
    pub fn token_transport(mut self, transport: TokenTransport) -> Self {
        self.token_transport = transport;
        self
    }

    /// Offers a subprotocol in `Sec-WebSocket-Protocol` (besides a `bearer.` token).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Adds a header to every upgrade request.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// How long a request waits for its reply, counted from the call (time in the offline
    /// queue included). The time left when the request is written goes out as
    /// `meta.timeoutMs`, so that the server's deadline matches.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many requests may wait for replies at once; more fail with
    /// [`ClientError::TooManyPending`](super::ClientError::TooManyPending).
    pub fn max_pending(mut self, limit: usize) -> Self {
        self.max_pending = limit;
        self
    }

    /// The offline queue: what happens to frames sent while not open, and how many wait.
    pub fn queue(mut self, policy: QueuePolicy, capacity: usize) -> Self {
        self.queue_policy = policy;
        self.queue_capacity = capacity;
        self
    }

    /// The reconnect backoff.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Liveness: a Ping every `interval`, and a socket that receives nothing for `timeout`
    /// is dropped as dead (then the client reconnects).
    pub fn liveness(mut self, interval: Duration, timeout: Duration) -> Self {
        self.ping_interval = interval;
        self.idle_timeout = timeout;
        self
    }

    /// How long one connect attempt (TCP and upgrade) may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long writing to the socket (a batch of frames, a Ping, the close frame) may
    /// take. A server that stops reading blocks writes; once this runs out the socket is
    /// dropped as dead (then the client reconnects), so that a stuck write cannot stall
    /// the client for good.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// The largest message the client reads from the server, in bytes (default 16 MiB),
    /// fragments included. A larger one is not buffered: the connection fails, pending
    /// requests fail with [`ConnectionClosed`](super::ClientError::ConnectionClosed), and
    /// the client reconnects.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Session resume (PROTOCOL.md section 8), off by default. When on, every connect asks
    /// the server to resume the session of the previous connection (`wskit-resume` in the
    /// upgrade URL, next to the other query parameters): after a socket drops, the server
    /// keeps the session's topic subscriptions and what was sent to it for a while, and
    /// replays the missed frames, in order and each once, when the client is back. A server
    /// without resume ignores the request.
    ///
    /// [`Client::on_session`](super::Client::on_session) tells after every connect whether
    /// the session went on or the application must set things up again. Requests that
    /// were out on the lost socket still fail with
    /// [`ConnectionClosed`](super::ClientError::ConnectionClosed); their replayed replies
    /// are ignored. [`Client::close`](super::Client::close) ends the session for good.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<callback>"))
            .field("token_transport", &self.token_transport)
            .field("protocols", &self.protocols)
            .field("headers", &self.headers)
            .field("request_timeout", &self.request_timeout)
            .field("max_pending", &self.max_pending)
            .field("queue_policy", &self.queue_policy)
            .field("queue_capacity", &self.queue_capacity)
            .field("backoff", &self.backoff)
            .field("ping_interval", &self.ping_interval)
            .field("idle_timeout", &self.idle_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("resume", &self.resume)
            .finish()
    }
}
