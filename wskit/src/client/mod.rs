//! The Rust client: talks to a wskit (or ws-kit) server with the same `#[message]` structs
//! the server routes, over tokio-tungstenite.
//!
//! - [`Client::send`] sends a message (validated by its own rules first, stamped with
//!   `meta.timestamp`).
//! - [`Client::request`] sends an RPC request with a fresh `correlationId` (UUID v4) and
//!   `meta.timeoutMs`, and resolves to its typed response or a typed [`ClientError`];
//!   [`Client::call`] also yields the progress values that come before the response;
//!   [`Client::request_with_retry`] waits out the server's `retryAfterMs` and tries again.
//!   Dropping the future cancels the request: the client sends `$ws:abort`.
//! - [`Client::on`] subscribes to a message type; [`Client::on_unhandled`] sees the rest.
//!   Callbacks get a [`Client`] to answer with; a callback that panics is logged and the
//!   client carries on.
//! - The connection is kept up: exponential backoff with full jitter between attempts, a
//!   token fetched anew before every connect, Ping frames, a silence timeout and a write
//!   timeout. While not open, sends wait in a bounded offline queue and are flushed in order
//!   on open; frames not yet written when a socket drops wait for the next one. Requests
//!   that were out on a socket that drops fail with [`ClientError::ConnectionClosed`]
//!   (they are not resent).
//! - [`Client::states`] watches the [`State`]; [`Client::close`] closes for good.
//! - With [`ClientOptions::resume`], a reconnect resumes the session: the server replays
//!   what the client missed while away, and [`Client::on_session`] says after every
//!   connect whether the session went on or must be set up again ([`SessionStart`]).
//!
//! ```no_run
//! use wskit::client::{Client, ClientOptions};
//! use wskit::message;
//!
//! #[message("GET_USER", response = User)]
//! pub struct GetUser { pub id: String }
//!
//! #[message("USER")]
//! pub struct User { pub name: String }
//!
//! #[message("NEW_MESSAGE")]
//! pub struct NewMessage { pub text: String }
//!
//! # async fn run() -> Result<(), wskit::client::ClientError> {
//! let options = ClientOptions::new("ws://127.0.0.1:3000/ws")
//!     .token(|| async { Some("secret".to_owned()) });
//! let client = Client::connect(options).await?;
//!
//! client.on(|message: NewMessage, _client: &Client| println!("new message: {}", message.text));
//!
//! let user = client.request(&GetUser { id: "1".into() }).await?;
//! println!("hello, {}", user.name);
//!
//! let mut call = client.call::<_, serde_json::Value>(&GetUser { id: "2".into() })?;
//! while let Some(progress) = call.progress().await {
//!     println!("progress: {}", progress?);
//! }
//! match call.response().await {
//!     Ok(user) => println!("hello, {}", user.name),
//!     Err(error) => match error.as_server() {
//!         Some(server) => println!("{} (retry after {:?})", server.code(), server.retry_after()),
//!         None => return Err(error),
//!     },
//! }
//! client.close().await;
//! # Ok(())
//! # }
//! ```

mod backoff;
mod call;
mod connect;
mod driver;
mod error;
mod handlers;
mod options;
mod pending;
mod queue;
mod resume;
mod session;
mod shared;
mod state;
mod wire;

pub use backoff::Backoff;
pub use call::Call;
pub use error::{ClientError, ServerError};
pub use options::{ClientOptions, TokenTransport};
pub use queue::QueuePolicy;
pub use resume::{Refusal, SessionStart};
pub use state::State;

use crate::{Message, Rpc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::Shared;
use std::fmt;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::DropGuard;

/// A connection to a server that stays up: cheap to clone, every clone shares the one
/// socket. Built by [`Client::new`] or [`Client::connect`]; it stops when
/// [`close`](Self::close) is called or the last handle that keeps it running is dropped.
///
/// Handles from [`Client::new`] and [`Client::connect`], and their clones, keep the client
/// running. The handle a callback receives (see [`on`](Self::on)), and its clones, do not:
/// a callback can answer with it without keeping the connection up forever.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    /// Stops the connection task when the last handle that keeps the client running is
    /// dropped; `None` in the handles given to callbacks.
    _keep_running: Option<Arc<DropGuard>>,
}

impl Client {
    /// Starts a client: it connects in the background (state [`State::Connecting`]) and
    /// queues what is sent meanwhile. Must be called inside a tokio runtime.
    ///
    /// Fails with [`ClientError::Config`] for a URL that is not `ws://…`, or outside a
    /// runtime.
    pub fn new(options: ClientOptions) -> Result<Client, ClientError> {
        let url = connect::parse_url(&options.url)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            ClientError::Config("`Client::new` spawns a task: call it inside a tokio runtime".to_owned())
        })?;
        let shared = Arc::new(Shared::new(options));
        let stop = shared.stop.clone().drop_guard();
        runtime.spawn(driver::run(shared.clone(), url));
        Ok(Client { shared, _keep_running: Some(Arc::new(stop)) })
    }

    /// The handle callbacks receive: it does not keep the client running, so that a
    /// callback holding it (the client holds its callbacks) forms no cycle.
    pub(crate) fn for_callbacks(shared: Arc<Shared>) -> Client {
        Client { shared, _keep_running: None }
    }

    /// Starts a client and waits until its socket is open.
    ///
    /// With the default, unlimited backoff this waits as long as the server is
    /// unreachable (wrap it in `tokio::time::timeout` to bound it); with
    /// [`Backoff::max_attempts`] it fails with [`ClientError::NotOpen`] once the attempts
    /// ran out.
    pub async fn connect(options: ClientOptions) -> Result<Client, ClientError> {
        let client = Client::new(options)?;
        client.opened().await?;
        Ok(client)
    }

    /// Waits until the socket is open; fails with [`ClientError::NotOpen`] if the client
    /// closes first.
    pub async fn opened(&self) -> Result<(), ClientError> {
        let mut states = self.states();
        let state = *states
            .wait_for(|state| matches!(state, State::Open | State::Closed))
            .await
            .map_err(|_| ClientError::NotOpen { state: State::Closed })?;
        match state {
            State::Open => Ok(()),
            state => Err(ClientError::NotOpen { state }),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.shared.state()
    }

    /// A receiver that sees every state change.
    ///
    /// ```no_run
    /// # async fn run(client: wskit::client::Client) {
    /// let mut states = client.states();
    /// while states.changed().await.is_ok() {
    ///     println!("now {}", *states.borrow());
    /// }
    /// # }
    /// ```
    pub fn states(&self) -> watch::Receiver<State> {
        self.shared.states()
    }

    /// Sends a message: validated by its own rules, stamped with `meta.timestamp`, then
    /// written at once when open or queued otherwise.
    ///
    /// Fails with [`ClientError::Validation`] (nothing sent), [`ClientError::NotOpen`]
    /// (closed, or not open with the queue off) or [`ClientError::QueueFull`].
    pub fn send<M: Message>(&self, message: &M) -> Result<(), ClientError> {
        self.shared.send(wire::encode(message)?)
    }

    /// Sends an RPC request and waits for its response, up to the request timeout.
    /// Progress values are ignored; use [`call`](Self::call) to read them.
    ///
    /// Dropping the future before the reply cancels the request (`$ws:abort`).
    pub async fn request<R: Rpc>(&self, request: &R) -> Result<R::Response, ClientError> {
        self.start::<R, Value>(request, false)?.response().await
    }

    /// Sends an RPC request like [`request`](Self::request), honouring the server's retry
    /// hints: while the answer is an error that names a delay (`retryAfterMs`, e.g.
    /// RESOURCE_EXHAUSTED from a rate limit or a full queue), it waits that long and sends
    /// the request again, at most `retries` more times. Any other outcome, and the error of
    /// the last attempt, is returned as it is; an error with `retryAfterMs: null` or
    /// `retryable: false` is not retried. Each attempt has the full request timeout. Use
    /// it only for requests that are safe to repeat.
    ///
    /// ```no_run
    /// # #[wskit::message("SEND_DATA", response = DataAck)] pub struct SendData { pub id: String }
    /// # #[wskit::message("DATA_ACK")] pub struct DataAck { pub id: String }
    /// # async fn run(client: wskit::client::Client) -> Result<(), wskit::client::ClientError> {
    /// let ack = client.request_with_retry(&SendData { id: "a".into() }, 3).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn request_with_retry<R: Rpc>(
        &self,
        request: &R,
        retries: u32,
    ) -> Result<R::Response, ClientError> {
        let mut attempt = 0;
        loop {
            let outcome = self.request(request).await;
            let delay = match &outcome {
                Err(ClientError::Server(error)) if attempt < retries => error.retry_after(),
                _ => None,
            };
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return outcome,
            }
            attempt += 1;
        }
    }

    /// Sends an RPC request and returns its [`Call`], which yields the progress values
    /// (decoded as `P`, e.g. `serde_json::Value`) before the response.
    ///
    /// Fails at once like [`send`](Self::send), or with [`ClientError::TooManyPending`].
    pub fn call<R: Rpc, P: DeserializeOwned>(&self, request: &R) -> Result<Call<R, P>, ClientError> {
        self.start(request, true)
    }

    fn start<R: Rpc, P: DeserializeOwned>(
        &self,
        request: &R,
        with_progress: bool,
    ) -> Result<Call<R, P>, ClientError> {
        let id: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let timeout = self.shared.options.request_timeout;
        let deadline = Instant::now() + timeout;
        let request = wire::Request::new(request, id.clone(), deadline)?;
        let (progress, values) = if with_progress {
            let (sender, receiver) = mpsc::channel(pending::PROGRESS_BUFFER);
            (Some(sender), Some(receiver))
        } else {
            (None, None)
        };
        let outcome = self.shared.start_request(request, progress)?;
        Ok(Call::new(self.shared.clone(), id, outcome, values, deadline, timeout))
    }

    /// Calls `callback` with every inbound message of type `M`, in arrival order, on the
    /// connection task (keep it short; hand long work to a task or channel). Frames of the
    /// type that do not decode as `M` are logged and dropped; a callback that panics is
    /// logged with `tracing::error!` and the client carries on.
    ///
    /// The callback gets a handle to answer with, which does not keep the client running.
    /// Use it rather than capturing a clone of a handle: a captured clone lives as long as
    /// the callback, so the client would run until [`close`](Self::close).
    ///
    /// ```no_run
    /// # use wskit::client::Client;
    /// # #[wskit::message("PING_ME")] struct PingMe;
    /// # #[wskit::message("PONG_YOU")] struct PongYou;
    /// # fn run(client: &Client) {
    /// client.on(|_: PingMe, client: &Client| {
    ///     let _ = client.send(&PongYou);
    /// });
    /// # }
    /// ```
    pub fn on<M: Message>(&self, callback: impl Fn(M, &Client) + Send + Sync + 'static) -> Subscription {
        let id = self.shared.handlers.add(callback);
        Subscription { shared: self.shared.clone(), message_type: M::TYPE, id }
    }

    /// Calls `hook` with every inbound frame (as JSON) that no subscription takes and that
    /// answers no pending request, e.g. `ERROR` frames. Replaces the previous hook. Like
    /// [`on`](Self::on)'s callbacks, it gets a handle that does not keep the client running,
    /// and a panic is logged.
    pub fn on_unhandled(&self, hook: impl Fn(Value, &Client) + Send + Sync + 'static) {
        self.shared.handlers.set_unhandled(hook);
    }

    /// Calls `hook` each time a socket opens and the server told how its session began,
    /// before any other frame of that socket is routed. Only with
    /// [`ClientOptions::resume`]; replaces the previous hook. Like [`on`](Self::on)'s
    /// callbacks, it runs on the connection task, gets a handle that does not keep the
    /// client running, and a panic is logged.
    ///
    /// Register it before the first socket opens (between [`Client::new`] and
    /// [`opened`](Self::opened)) to see the first session too. Whatever the application
    /// sets up on the server (topics to join, state to fetch) belongs in the hook, for
    /// every start that is not [resumed](SessionStart::is_resumed): then it happens on
    /// the first connect and again whenever the server could not resume. Frames queued
    /// while offline go out as soon as the socket opens, before the hook runs.
    ///
    /// ```no_run
    /// use wskit::client::{Client, ClientOptions, SessionStart};
    /// use wskit::message;
    ///
    /// #[message("JOIN_ROOM")]
    /// pub struct JoinRoom { pub room_id: String }
    ///
    /// # async fn run() -> Result<(), wskit::client::ClientError> {
    /// let client = Client::new(ClientOptions::new("ws://127.0.0.1:3000/ws").resume(true))?;
    /// client.on_session(|start: SessionStart, client: &Client| match start {
    ///     SessionStart::Resumed { replayed } => println!("back, {replayed} missed messages follow"),
    ///     other => {
    ///         println!("{other}: joining again");
    ///         let _ = client.send(&JoinRoom { room_id: "general".into() });
    ///     }
    /// });
    /// client.opened().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_session(&self, hook: impl Fn(SessionStart, &Client) + Send + Sync + 'static) {
        self.shared.handlers.set_session_hook(hook);
    }

    /// Closes the socket normally (1000) and stops reconnecting; pending requests fail
    /// with [`ClientError::ConnectionClosed`], queued frames are discarded. Returns once
    /// the client is [`State::Closed`].
    pub async fn close(&self) {
        self.shared.begin_close();
        self.shared.stop.cancel();
        let mut states = self.states();
        let _ = states.wait_for(|state| *state == State::Closed).await;
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("url", &self.shared.options.url).field("state", &self.state()).finish()
    }
}

/// A callback registered with [`Client::on`]. It stays registered until
/// [`unsubscribe`](Self::unsubscribe) is called, also when this handle is dropped.
pub struct Subscription {
    shared: Arc<Shared>,
    message_type: &'static str,
    id: u64,
}

impl Subscription {
    /// Removes the callback.
    pub fn unsubscribe(self) {
        self.shared.handlers.remove(self.message_type, self.id);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("message_type", &self.message_type)
            .field("id", &self.id)
            .finish()
    }
}
