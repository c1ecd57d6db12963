//! [`Ctx`]: what a handler knows about its connection and the message it handles, and
//! how it answers.

use crate::close::Close;
use crate::envelope::{self, Meta};
use crate::error::Error;
use crate::limits::{LimitKind, Limits};
use crate::message::Message;
use crate::outbox::{ClientHandle, Frame, Outbox};
use crate::pubsub::{Authorize, Delivery, Hub, Publish, TopicAction};
use crate::time::{Instant, SystemTime};
use bytes::Bytes;
use serde::Serialize;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The context of one connection, passed to every handler as `&mut Ctx<Data>`.
///
/// It holds the connection's data (`#[router(data = Data)]`), its id and path parameters,
/// the meta of the message being handled, and the connection's outbound queue.
pub struct Ctx<D> {
    data: D,
    /// The client's address, where the host knows it.
    peer: Option<SocketAddr>,
    /// `None` when the upgrade carried neither path parameters nor a subprotocol, as for
    /// most connections: boxed, so that those hold only a pointer.
    upgrade: Option<Box<Upgrade>>,
    /// The user the connection belongs to, for the hub's index of users.
    user: Option<Box<str>>,
    /// Whether the connection is registered with the hub (from its opening to its close).
    attached: bool,
    /// The message being handled. Boxed, and let go while the connection is idle: every
    /// idle connection would otherwise hold its size.
    handling: Option<Box<Handling>>,
    outbox: Outbox,
    /// The close a handler asked for; boxed, as it is rare and every connection holds the
    /// field.
    closing: Option<Box<Close>>,
    hub: Hub,
    topics: Vec<Box<str>>,
    authorize: Option<Authorize<D>>,
    /// Whether this is the context of a concurrent handler ([`fork`](Self::fork)), which
    /// cannot change the connection's subscriptions.
    forked: bool,
    /// Whether the connection resumed a session ([`crate::resume`]).
    resumed: bool,
}

/// What the upgrade request carried beyond the client's address.
#[derive(Clone, Default)]
struct Upgrade {
    /// The parameters of the upgrade path.
    params: Vec<(String, String)>,
    /// The subprotocol selected.
    protocol: Option<Box<str>>,
}

/// What a context knows about the message being handled, from [`Ctx::begin`] until the
/// connection is idle again ([`Ctx::rest`]).
#[derive(Clone)]
struct Handling {
    /// The message's type: the router's own copy for routed types.
    message_type: Option<Cow<'static, str>>,
    meta: Meta,
    /// When the message arrived.
    arrived: Instant,
    /// When the RPC request must be answered; `None` for other messages.
    deadline: Option<Instant>,
    /// The message's cancellation token, made when first asked for.
    cancellation: Option<CancellationToken>,
    /// Whether the RPC request has had its terminal frame (its reply or `RPC_ERROR`):
    /// nothing more is sent for it.
    answered: bool,
}

impl Handling {
    fn new(arrived: Instant) -> Self {
        Handling {
            message_type: None,
            meta: Meta::default(),
            arrived,
            deadline: None,
            cancellation: None,
            answered: false,
        }
    }
}

/// The meta of no message, for a context between messages.
static NO_META: Meta = Meta { timestamp: None, correlation_id: None, timeout_ms: None };

impl<D> Ctx<D> {
    pub(crate) fn new(data: D, params: Vec<(String, String)>, outbox: Outbox, hub: Hub) -> Self {
        Ctx {
            data,
            peer: None,
            upgrade: (!params.is_empty()).then(|| Box::new(Upgrade { params, protocol: None })),
            user: None,
            attached: false,
            handling: None,
            outbox,
            closing: None,
            hub,
            topics: Vec::new(),
            authorize: None,
            forked: false,
            resumed: false,
        }
    }

    /// A context for the concurrent handler of the request being handled: a copy of the
    /// connection's data, and the request itself (its meta, deadline and cancellation),
    /// which this context hands over as answered. Returns the fork, the token that
    /// cancels it, and whether its panics are quiet.
    pub(crate) fn fork(&mut self) -> (Ctx<D>, CancellationToken, bool)
    where
        D: Clone,
    {
        let handling = self.handling_mut();
        let token = handling.cancellation.take().unwrap_or_default();
        handling.answered = true;
        let handling = Handling { cancellation: Some(token.clone()), answered: false, ..handling.clone() };
        let fork = Ctx {
            data: self.data.clone(),
            upgrade: self.upgrade.clone(),
            peer: self.peer,
            user: self.user.clone(),
            // Not registered with the hub: the connection's own context is.
            attached: false,
            handling: Some(Box::new(handling)),
            outbox: self.outbox.clone(),
            closing: None,
            hub: self.hub.clone(),
            topics: Vec::new(),
            authorize: self.authorize.clone(),
            forked: true,
            resumed: self.resumed,
        };
        (fork, token, self.limits().quiet_panics)
    }

    /// What the concurrent handler of this forked context left behind once it `ran`.
    pub(crate) fn finish_fork(mut self, ran: crate::concurrent::Ran) -> Box<crate::concurrent::Finished> {
        Box::new(crate::concurrent::Finished {
            ran,
            answered: self.handling.as_ref().is_some_and(|handling| handling.answered),
            correlation_id: self.handling.as_mut().and_then(|handling| handling.meta.correlation_id.take()),
            close: self.closing.take().map(|close| *close),
        })
    }

    /// Refuses a change of subscriptions in a concurrent handler.
    fn check_not_forked(&self) -> Result<(), Error> {
        match self.forked {
            true => Err(Error::failed_precondition(
                "a concurrent handler cannot subscribe or unsubscribe: the connection's topics \
                 belong to its in-order handlers; subscribe from one of those",
            )),
            false => Ok(()),
        }
    }

    /// The server's limits (its outbound queue's: read there rather than copied).
    pub(crate) fn limits(&self) -> &Arc<Limits> {
        self.outbox.limits()
    }

    /// The connection's outbound queue.
    pub(crate) fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The parameters of the upgrade path.
    pub(crate) fn params(&self) -> &[(String, String)] {
        self.upgrade.as_ref().map_or(&[], |upgrade| &upgrade.params)
    }

    /// Subscribes again to `topics`, which the connection held before its host slept: on
    /// a new hub, the rules and limits were checked when they were first subscribed.
    #[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
    pub(crate) fn resubscribe(&mut self, topics: Vec<String>) {
        for topic in topics {
            self.hub.subscribe(&topic, self.client_id(), &self.outbox);
            self.topics.push(topic.into());
        }
    }

    /// Adds a parameter of the upgrade path.
    pub(crate) fn add_param(&mut self, name: String, value: String) {
        self.upgrade.get_or_insert_default().params.push((name, value));
    }

    /// Records what the upgrade told about the client: its address and the subprotocol
    /// selected.
    #[cfg(feature = "server")]
    pub(crate) fn set_origin(&mut self, peer: Option<SocketAddr>, protocol: Option<&str>) {
        self.peer = peer;
        if let Some(protocol) = protocol {
            self.upgrade.get_or_insert_default().protocol = Some(protocol.into());
        }
    }

    /// Records the type of the message being handled.
    pub(crate) fn set_message_type(&mut self, message_type: Cow<'static, str>) {
        self.handling_mut().message_type = Some(message_type);
    }

    /// The type of the message being handled, if the router handles it.
    pub(crate) fn routed_type(&self) -> Option<&'static str> {
        match self.handling.as_ref()?.message_type {
            Some(Cow::Borrowed(routed)) => Some(routed),
            _ => None,
        }
    }

    /// Checks subscriptions and publishes with `authorize` from now on.
    #[cfg(feature = "server")]
    pub(crate) fn set_authorizer(&mut self, authorize: Option<Authorize<D>>) {
        self.authorize = authorize;
    }

    fn authorize(&self, topic: &str, action: TopicAction) -> Result<(), Error> {
        match &self.authorize {
            Some(authorize) => authorize(&self.data, self.client_id(), topic, action),
            None => Ok(()),
        }
    }

    /// The connection's data.
    pub fn data(&self) -> &D {
        &self.data
    }

    /// The connection's data, to change it.
    pub fn data_mut(&mut self) -> &mut D {
        &mut self.data
    }

    /// The connection's id: a UUIDv7, also sent to the client in the `x-client-id` header
    /// of the upgrade response.
    pub fn client_id(&self) -> Uuid {
        self.outbox.client_id()
    }

    /// A parameter of the upgrade path, e.g. `room` for a server at `/rooms/:room`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params().iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The client's IP address and port, as the host saw it: the TCP peer for the built-in
    /// server (behind a proxy, the proxy's; read `X-Forwarded-For` in the authenticator
    /// then), axum's `ConnectInfo<SocketAddr>` when the app provides it; `None` where the
    /// host does not know it (the testing host, Cloudflare).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The subprotocol the server selected at the upgrade from those the client offered
    /// ([`Server::protocols`](crate::Server::protocols)), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.upgrade.as_ref()?.protocol.as_deref()
    }

    /// The type of the message being handled (in `#[on_error]`: of the message that
    /// failed), also for types the router does not handle; `None` in `#[on_open]` and
    /// `#[on_close]`, and for a frame that had no readable type.
    pub fn message_type(&self) -> Option<&str> {
        self.handling.as_ref()?.message_type.as_deref()
    }

    /// The user this connection belongs to, if tagged ([`set_user`](Self::set_user),
    /// [`Server::user`](crate::Server::user)).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Tags the connection as one of `user`'s (a user may have several: devices, tabs),
    /// e.g. in `#[on_open]` or after a login message. The hub then reaches, counts and
    /// closes it among the user's connections ([`Hub::send_to_user`],
    /// [`Hub::close_user`], [`Hub::is_online`]) until it closes or is tagged again.
    pub fn set_user(&mut self, user: impl Into<String>) {
        let user: Box<str> = user.into().into_boxed_str();
        if self.attached {
            self.hub.tag_user(self.client_id(), &self.outbox, &user, self.user.as_deref());
        }
        self.user = Some(user);
    }

    /// A cloneable handle that sends to this connection from anywhere, e.g. to keep in a
    /// room registry that other connections' handlers broadcast to.
    pub fn handle(&self) -> ClientHandle {
        ClientHandle::new(self.outbox.clone())
    }

    /// The standard meta of the message being handled (empty in `#[on_open]`).
    pub fn meta(&self) -> &Meta {
        self.handling.as_ref().map_or(&NO_META, |handling| &handling.meta)
    }

    /// When the server received the message being handled, on the wall clock (in
    /// `#[on_open]` and `#[on_close]`: now). Derived when asked, so that no message pays
    /// for a clock read it does not use.
    pub fn received_at(&self) -> SystemTime {
        let waited = self.handling.as_ref().map_or(Duration::ZERO, |handling| handling.arrived.elapsed());
        SystemTime::now() - waited
    }

    /// When the RPC request being handled must be answered: its `meta.timeoutMs`, capped
    /// by [`Limits::rpc_timeout`](crate::Limits::rpc_timeout), which is also the default.
    /// `None` outside an `#[rpc]` handler.
    ///
    /// At the deadline the handler is cancelled and the client gets `RPC_ERROR`
    /// DEADLINE_EXCEEDED; pass the remaining time on to slow calls so that they give up
    /// in time.
    pub fn deadline(&self) -> Option<Instant> {
        self.handling.as_ref()?.deadline
    }

    /// The time left until [`deadline`](Self::deadline), zero once it has passed.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.deadline().map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// A token cancelled when the message being handled is cancelled: by the client's
    /// `$ws:abort`, at the RPC deadline, when the client disconnects, or when a graceful
    /// shutdown runs out of time.
    ///
    /// A cancelled handler's future is dropped at the `.await` it was waiting on (as in
    /// `tokio::select!`), so code after that point does not run; give a clone of the token
    /// to tasks the handler starts, so that they stop too.
    pub fn cancellation(&mut self) -> CancellationToken {
        self.handling_mut().cancellation.get_or_insert_with(CancellationToken::new).clone()
    }

    /// Sends a `$ws:rpc-progress` frame for the RPC request being handled, carrying
    /// `value` (as both `payload` and `data`, for ws-kit's server and client alike) and
    /// the request's correlation id.
    ///
    /// Progress is best-effort: it returns `false`, sending nothing, outside an `#[rpc]`
    /// handler, when the connection's outbound queue is half full (the client is slow to
    /// read; the terminal reply must still fit), or once the connection is closing.
    pub fn progress<T: Serialize + ?Sized>(&mut self, value: &T) -> bool {
        if !self.is_unanswered_request() || self.closing.is_some() || self.outbox.is_backpressured() {
            return false;
        }
        match envelope::encode_progress(value, self.correlation_id()) {
            Ok(frame) => self.outbox.push(Frame::Owned(frame)).is_ok(),
            Err(error) => {
                tracing::error!(%error, "failed to serialize a progress value");
                false
            }
        }
    }

    /// Queues `message` for the client.
    ///
    /// Fails with RESOURCE_EXHAUSTED when the connection's outbound queue is full (the
    /// client is not reading; the connection is then closed with 1013), and with
    /// FAILED_PRECONDITION once the connection is closing.
    pub fn send<M: Message>(&mut self, message: &M) -> Result<(), Error> {
        let frame = envelope::encode(message, None)?;
        self.enqueue(frame)
    }

    /// Queues a binary frame holding `bytes`, e.g. a chunk of a download, or the answer
    /// of an `#[on_binary]` handler. It goes through the same outbound queue as messages,
    /// in order with them, and fails in the same ways as [`send`](Self::send).
    ///
    /// Binary frames are a wskit extension: send them only to clients that expect them
    /// (ws-kit's client ignores what it cannot parse).
    pub fn send_binary(&mut self, bytes: impl Into<Bytes>) -> Result<(), Error> {
        self.push(Frame::Binary(bytes.into()))
    }

    /// Queues `message` as the answer to the message being handled: it carries that
    /// message's `meta.correlationId`, if any.
    ///
    /// In an `#[rpc]` handler the reply is the request's terminal frame, which the handler
    /// normally sends by returning its response; once it is sent, further replies and
    /// errors for the request fail with FAILED_PRECONDITION and send nothing.
    pub fn reply<M: Message>(&mut self, message: &M) -> Result<(), Error> {
        self.answer()?;
        let frame = envelope::encode(message, self.correlation_id())?;
        self.enqueue(frame)
    }

    /// Sends `error` to the client without ending the handler: `RPC_ERROR` if the message
    /// being handled is an RPC request or carried a correlation id, `ERROR` otherwise.
    ///
    /// Returning `Err(error)` from the handler does the same; use this to report a problem
    /// and carry on.
    ///
    /// In an `#[rpc]` handler this `RPC_ERROR` ends the request, as a reply would: see
    /// [`reply`](Self::reply).
    pub fn error(&mut self, error: &Error) -> Result<(), Error> {
        self.answer()?;
        let ends_request = self.deadline().is_some();
        let frame = envelope::encode_error(error, self.correlation_id(), ends_request);
        self.enqueue(frame)
    }

    /// Whether the message being handled is an RPC request still without its terminal
    /// frame.
    pub(crate) fn is_unanswered_request(&self) -> bool {
        self.handling.as_ref().is_some_and(|handling| handling.deadline.is_some() && !handling.answered)
    }

    /// The correlation id of the message being handled.
    fn correlation_id(&self) -> Option<&str> {
        self.meta().correlation_id.as_deref()
    }

    /// Records the terminal frame of an RPC request, refusing a second one.
    fn answer(&mut self) -> Result<(), Error> {
        let Some(handling) = self.handling.as_mut().filter(|handling| handling.deadline.is_some()) else {
            return Ok(());
        };
        if handling.answered {
            return Err(Error::failed_precondition(
                "this RPC request was already answered; a request gets exactly one reply or error",
            ));
        }
        handling.answered = true;
        Ok(())
    }

    /// Subscribes this connection to `topic`: it receives every message published there
    /// until it unsubscribes or closes. Subscribing twice is a no-op.
    ///
    /// Fails with INVALID_ARGUMENT (`details.reason` `length` or `pattern`) for a name the
    /// hub's [`TopicRules`](crate::TopicRules) reject, RESOURCE_EXHAUSTED when the
    /// connection already holds its limit of topics, and with the error of the server's
    /// [authorization hook](crate::Server::authorize_topics) if it refuses.
    ///
    /// Fails with FAILED_PRECONDITION once the connection has closed (in `#[on_close]`),
    /// and in a concurrent handler (`#[rpc(concurrent)]`).
    pub async fn subscribe(&mut self, topic: &str) -> Result<(), Error> {
        self.check_not_forked()?;
        if self.topics.iter().any(|held| **held == *topic) {
            return Ok(());
        }
        if self.outbox.is_closed() {
            return Err(Error::failed_precondition(
                "the connection has closed; it cannot subscribe any more",
            ));
        }
        self.hub.rules().check(topic)?;
        self.authorize(topic, TopicAction::Subscribe)?;
        let limit = self.hub.rules().limit();
        if self.topics.len() >= limit {
            self.limits().exceeded(LimitKind::Topics, self.topics.len() + 1, limit, Some(self.client_id()));
            return Err(Error::resource_exhausted(format!(
                "a connection subscribes to at most {limit} topics; unsubscribe from one first"
            ))
            .with_detail("limit", limit)
            .with_detail("current", self.topics.len()));
        }
        self.hub.subscribe(topic, self.client_id(), &self.outbox);
        self.topics.push(topic.into());
        Ok(())
    }

    /// Unsubscribes this connection from `topic`. Unsubscribing from a topic it does not
    /// hold is a no-op. Fails with FAILED_PRECONDITION in a concurrent handler.
    pub async fn unsubscribe(&mut self, topic: &str) -> Result<(), Error> {
        self.check_not_forked()?;
        if let Some(index) = self.topics.iter().position(|held| **held == *topic) {
            self.topics.swap_remove(index);
            self.hub.unsubscribe(topic, self.client_id());
        }
        Ok(())
    }

    /// Whether this connection resumed a session after a reconnect ([session
    /// resume](crate::resume)): its subscriptions were restored before `#[on_open]` ran,
    /// and the client was sent what it missed. `#[on_open]` can skip what a returning
    /// client already has, such as a welcome message.
    pub fn is_resumed(&self) -> bool {
        self.resumed
    }

    /// The topics this connection subscribes to (none in a concurrent handler's context).
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(|topic| &**topic)
    }

    /// Publishes `message` to every subscriber of `topic`, this connection included if it
    /// subscribes. The message is serialized once for all of them.
    pub async fn publish<M: Message>(&self, topic: &str, message: &M) -> Result<Delivery, Error> {
        self.publish_with(topic, message, &Publish::new()).await
    }

    /// Publishes with [`Publish`] options, e.g. `Publish::new().exclude_self()`.
    pub async fn publish_with<M: Message>(
        &self,
        topic: &str,
        message: &M,
        options: &Publish,
    ) -> Result<Delivery, Error> {
        self.hub.rules().check(topic)?;
        self.authorize(topic, TopicAction::Publish)?;
        self.hub.publish_checked(Some(self.client_id()), topic, message, options).await
    }

    /// The server's hub: publish, send to other connections, count connections.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Closes the connection with `code` and `reason` once the handler returns. Frames
    /// queued before are still delivered; sends after this fail.
    ///
    /// Codes that an application may not send (1004-1006, 1015, outside 1000-4999) are
    /// replaced by 1008 (policy).
    pub fn close(&mut self, code: u16, reason: impl Into<std::borrow::Cow<'static, str>>) {
        self.closing.get_or_insert_with(|| Box::new(Close::application(code, reason)));
    }

    pub(crate) fn enqueue(&mut self, frame: String) -> Result<(), Error> {
        self.push(Frame::Owned(frame))
    }

    fn push(&mut self, frame: Frame) -> Result<(), Error> {
        if self.closing.is_some() {
            return Err(Error::failed_precondition("the connection is closing; nothing more can be sent"));
        }
        self.outbox.push(frame)
    }

    /// Starts handling a frame that arrived at `arrived`: stamps its arrival and forgets
    /// what belonged to the previous one.
    pub(crate) fn begin(&mut self, arrived: Instant) {
        match &mut self.handling {
            // The box of the last message, if the connection has not rested since.
            Some(handling) => **handling = Handling::new(arrived),
            None => self.handling = Some(Box::new(Handling::new(arrived))),
        }
    }

    /// Lets go of what belonged to the last message: the connection is idle.
    pub(crate) fn rest(&mut self) {
        self.handling = None;
    }

    /// The message being handled; a message of now if none was begun.
    fn handling_mut(&mut self) -> &mut Handling {
        self.handling.get_or_insert_with(|| Box::new(Handling::new(Instant::now())))
    }

    /// Marks the message being handled as an RPC request due by `deadline`.
    pub(crate) fn start_request(&mut self, deadline: Instant) {
        self.handling_mut().deadline = Some(deadline);
    }

    /// Lets go of the cancellation token of the message being handled; with `cancel`, it
    /// fires first (the handler was stopped).
    pub(crate) fn release_cancellation(&mut self, cancel: bool) {
        if let Some(token) = self.handling.as_mut().and_then(|handling| handling.cancellation.take()) {
            if cancel {
                token.cancel();
            }
        }
    }

    /// Sets the meta of the frame being handled, once it is decoded.
    pub(crate) fn set_meta(&mut self, meta: Meta) {
        self.handling_mut().meta = meta;
    }

    /// Registers the connection with the hub, so that it can be sent to.
    pub(crate) fn attach(&mut self) {
        self.hub.connect(self.client_id(), self.outbox.clone());
        if let Some(user) = &self.user {
            self.hub.tag_user(self.client_id(), &self.outbox, user, None);
        }
        self.attached = true;
    }

    /// Removes the connection and its user tag from the hub, and its subscriptions unless
    /// `keep_topics`: then they stay, for a session kept to be resumed, and are returned.
    pub(crate) fn detach(&mut self, keep_topics: bool) -> Vec<Box<str>> {
        self.attached = false;
        let topics = std::mem::take(&mut self.topics);
        let leaving: &[Box<str>] = if keep_topics { &[] } else { &topics };
        self.hub.disconnect(self.client_id(), leaving, self.user.as_deref());
        match keep_topics {
            true => topics,
            false => Vec::new(),
        }
    }

    /// Takes over the subscriptions of the session this connection resumed.
    #[cfg(feature = "server")]
    pub(crate) fn restore_topics(&mut self, topics: Vec<Box<str>>) {
        self.topics = topics;
        self.resumed = true;
    }

    /// The close a handler asked for, the slow-consumer close if the queue overflowed, or
    /// a close asked for from outside the handlers ([`ClientHandle::close`]).
    pub(crate) fn take_close(&mut self) -> Option<Close> {
        if let (Some(overflow), None) = (self.outbox.overflow(), &self.closing) {
            self.limits().exceeded(overflow.kind, overflow.observed, overflow.limit, Some(self.client_id()));
            self.closing = Some(Box::new(crate::outbox::slow_consumer_close()));
        }
        self.closing.take().map(|close| *close).or_else(|| self.outbox.take_close_request())
    }
}

impl<D: std::fmt::Debug> std::fmt::Debug for Ctx<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("client_id", &self.client_id())
            .field("data", &self.data)
            .field("meta", self.meta())
            .finish_non_exhaustive()
    }
}
