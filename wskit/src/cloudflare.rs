//! The Cloudflare Durable Objects host: one Durable Object holds many WebSockets of one
//! router, accepted with the [WebSocket Hibernation API], so that an idle connection
//! costs the object nothing while it sleeps.
//!
//! The object forwards its events to a [`Host`]:
//!
//! ```ignore
//! use wskit::cloudflare::Host;
//! use worker::*;
//!
//! #[durable_object(websocket)]
//! pub struct ChatShard {
//!     host: Host<Chat>,
//! }
//!
//! impl DurableObject for ChatShard {
//!     fn new(state: State, _env: Env) -> Self {
//!         ChatShard { host: Host::new(state, Chat::default()).path("/ws/:room") }
//!     }
//!     async fn fetch(&self, request: Request) -> Result<Response> {
//!         self.host.upgrade(request).await
//!     }
//!     async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
//!         self.host.on_message(ws, message).await
//!     }
//!     async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, _clean: bool) -> Result<()> {
//!         self.host.on_close(ws, code, reason).await
//!     }
//!     async fn websocket_error(&self, ws: WebSocket, error: Error) -> Result<()> {
//!         self.host.on_error(ws, error).await
//!     }
//! }
//! ```
//!
//! `examples/cloudflare` runs the chat router this way, rooms sharded over objects.
//!
//! ## What differs from the hyper host
//!
//! The protocol core is the same: decoding, validation, dispatch, error frames, `$ws:abort`,
//! RPC deadlines, the in-flight limit, heartbeats, close codes, and pub/sub among the
//! object's sockets through its own in-memory [`Hub`]. The platform makes these differ:
//!
//! - **Connection data survives hibernation** in each socket's attachment, with the
//!   connection's id, path parameters and topics: `R::Data` must be serde `Serialize` and
//!   `DeserializeOwned`, and the whole attachment at most 2 KiB (the platform's limit). It
//!   is written after every event. State of the router itself (`&self`) lives in the
//!   object's memory and is lost when the object hibernates; keep what must last in the
//!   object's storage.
//! - **No protocol pings from the server**: the runtime answers the client's pings, and a
//!   hibernating object sends nothing. Stale connections are found by the platform;
//!   `__heartbeat` is answered as everywhere.
//! - **No authenticator, origin check or connection limit** before the upgrade: the
//!   Worker that routes the request to the object does those (it sees the request
//!   first). [`Host::with_data`] makes the connection data from the request.
//! - **The object's `Hub` reaches only its own sockets.** Shard by topic (as the example
//!   does by room) so that the sockets of a topic meet in one object.
//! - **A panicking handler traps the object's wasm instance** (wasm32 has no unwinding):
//!   the runtime starts the object again, and its sockets carry on from their attachments.
//! - **Handlers' futures are `Send`** as everywhere; wrap futures of JavaScript calls
//!   (storage, `fetch`) in [`worker::send::SendFuture`].
//! - **Subprotocols are not negotiated**: the 101 selects none.
//!
//! [WebSocket Hibernation API]: https://developers.cloudflare.com/durable-objects/best-practices/websockets/

use crate::close::Close;
use crate::connection::{
    lock, Clock, Connection, MemoryTransport, Outcome, Received, Session, Signals, Wire,
};
use crate::ctx::Ctx;
use crate::limits::Limits;
use crate::outbox::{Frame, Outbox, OutboxReceiver};
use crate::pubsub::Hub;
use crate::route::Route;
use crate::router::Router;
use crate::time::Instant;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use uuid::Uuid;
use worker::send::SendFuture;
use worker::{Delay, Request, Response, State, WebSocket, WebSocketIncomingMessage, WebSocketPair};

type MakeData<D> = Box<dyn Fn(&Request) -> D>;

/// Serves the WebSockets of one Durable Object with a router: forward the object's
/// `fetch` and WebSocket events to it (see the [module docs](self)).
pub struct Host<R: Router> {
    state: State,
    router: Arc<R>,
    route: Route,
    limits: Arc<Limits>,
    hub: Hub,
    make_data: MakeData<R::Data>,
    connections: RefCell<HashMap<Uuid, Slot<R>>>,
    /// Never raised: the platform shuts objects down by itself.
    signals: Signals,
    /// Connections whose queue got frames while nothing drove them (publishes).
    queued: Arc<Mutex<Vec<Uuid>>>,
    /// Whether the sockets the object accepted before it last slept have their
    /// connections again.
    restored: RefCell<bool>,
}

/// One socket and its connection.
struct Slot<R: Router> {
    ws: WebSocket,
    wire: Arc<Wire>,
    /// `None` while an event drives it.
    connection: Option<Box<Connection<R, String>>>,
}

/// What a socket keeps across hibernation.
#[derive(Serialize, Deserialize)]
struct Attachment<D> {
    id: Uuid,
    data: D,
    params: Vec<(String, String)>,
    topics: Vec<String>,
    /// The user tag ([`Ctx::set_user`](crate::Ctx::set_user)); absent in attachments
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
}

impl<R: Router> Host<R>
where
    R::Data: Default + Serialize + DeserializeOwned,
{
    /// A host for `router` at `/`, with default connection data and [`Limits`].
    pub fn new(state: State, router: R) -> Self {
        Self::with_data(state, router, |_| R::Data::default())
    }
}

impl<R: Router> Host<R>
where
    R::Data: Serialize + DeserializeOwned,
{
    /// A host whose connection data is made from the upgrade request.
    pub fn with_data(state: State, router: R, make_data: impl Fn(&Request) -> R::Data + 'static) -> Self {
        Host {
            state,
            router: Arc::new(router),
            route: Route::new("/"),
            limits: Arc::new(Limits::default()),
            hub: Hub::memory(),
            make_data: Box::new(make_data),
            connections: RefCell::default(),
            signals: Signals::default(),
            queued: Arc::default(),
            restored: RefCell::new(false),
        }
    }

    /// The upgrade path (default `/`); `:name` segments capture path parameters for
    /// [`Ctx::param`](crate::Ctx::param): `.path("/ws/:room")`.
    pub fn path(mut self, pattern: &str) -> Self {
        self.route = Route::new(pattern);
        self
    }

    /// Per-connection limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Arc::new(limits);
        self
    }

    /// The object's state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The object's hub: publish to its sockets' topics from outside a handler (e.g. in
    /// the object's `alarm`), then [`flush`](Self::flush).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Writes to their sockets the frames published or sent to connections outside of
    /// their events, through [`hub`](Self::hub) or a [`ClientHandle`](crate::ClientHandle).
    /// Frames published by handlers are written without it.
    pub fn flush(&self) {
        self.restore();
        self.write_queued();
    }

    /// Answers the object's `fetch` with a WebSocket: 101 with `x-client-id`, 404 off the
    /// path, 426 for a request that is no upgrade. Runs `#[on_open]`.
    pub async fn upgrade(&self, request: Request) -> worker::Result<Response> {
        self.restore();
        let Some(params) = self.route.matches(&request.path()) else {
            return Response::error("not found", 404);
        };
        let upgrade = request.headers().get("Upgrade")?;
        if !upgrade.is_some_and(|value| value.eq_ignore_ascii_case("websocket")) {
            return Response::error("this endpoint only speaks WebSocket", 426);
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        let id = Uuid::now_v7();
        let data = (self.make_data)(&request);
        let (session, receiver) = self.session(id, data, params);
        self.insert(id, pair.server, Connection::new(session, receiver, None, Instant::now()));
        self.drive(id).await;
        let mut response = Response::from_websocket(pair.client)?;
        response.headers_mut().set("x-client-id", &id.as_hyphenated().to_string())?;
        Ok(response)
    }

    /// Handles the object's `websocket_message` event.
    pub async fn on_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        let received = match message {
            WebSocketIncomingMessage::String(text) => Received::Text(text),
            WebSocketIncomingMessage::Binary(bytes) => Received::Binary(bytes),
        };
        self.deliver(&ws, received).await
    }

    /// Handles the object's `websocket_close` event: runs `#[on_close]`.
    pub async fn on_close(&self, ws: WebSocket, code: usize, reason: String) -> worker::Result<()> {
        let code = u16::try_from(code).unwrap_or(Close::ABNORMAL);
        self.deliver(&ws, Received::Closed(Close::new(code, reason))).await?;
        // Complete the closing handshake; the socket may be gone already.
        let _ = ws.close(Some(Close::NORMAL), Some("closed"));
        Ok(())
    }

    /// Handles the object's `websocket_error` event: the connection is gone.
    pub async fn on_error(&self, ws: WebSocket, error: worker::Error) -> worker::Result<()> {
        tracing::debug!(%error, "socket error");
        self.deliver(&ws, Received::Dropped).await
    }

    /// Hands `received` to the connection of `ws`, and drives it unless another event
    /// drives it already (which then handles it).
    async fn deliver(&self, ws: &WebSocket, received: Received<String>) -> worker::Result<()> {
        self.restore();
        let Some(attachment) = ws.deserialize_attachment::<Attachment<R::Data>>()? else {
            tracing::warn!("a socket without an attachment: not one of this host's");
            return Ok(());
        };
        let wire = match self.connections.borrow().get(&attachment.id) {
            Some(slot) => Arc::clone(&slot.wire),
            None => return Ok(()),
        };
        wire.push(received);
        self.drive(attachment.id).await;
        Ok(())
    }

    /// Runs the connection `id` until it is idle or closed, writing what it sends as it
    /// goes, and what other connections were sent meanwhile.
    async fn drive(&self, id: Uuid) {
        let taken = self.connections.borrow_mut().get_mut(&id).and_then(|slot| {
            let connection = slot.connection.take()?;
            Some((connection, slot.ws.clone(), Arc::clone(&slot.wire)))
        });
        // Another event drives it: that one picks up what was just received.
        let Some((mut connection, ws, wire)) = taken else { return };
        let mut transport = MemoryTransport::new(Arc::clone(&wire));
        let outcome = {
            let mut driving = pin!(connection.drive(&mut transport, JsClock, &self.signals));
            std::future::poll_fn(|cx| {
                let outcome = driving.as_mut().poll(cx);
                send_all(&ws, wire.take_frames());
                self.write_queued();
                outcome
            })
            .await
        };
        match outcome {
            Outcome::Paused => {
                if let Err(error) = ws.serialize_attachment(attachment(id, &connection)) {
                    tracing::error!(%error, "could not store the connection's attachment");
                }
                watch_queue(&self.queued, id, &mut connection);
                if let Some(slot) = self.connections.borrow_mut().get_mut(&id) {
                    slot.connection = Some(connection);
                }
            }
            Outcome::Ended { .. } => {
                self.connections.borrow_mut().remove(&id);
                if let Some(close) = wire.take_close() {
                    let _ = ws.close(Some(close.code), Some(close.reason.as_ref()));
                }
            }
        }
    }

    /// Writes the frames queued for connections that nothing drives (what handlers of
    /// other connections published to them).
    fn write_queued(&self) {
        let queued = std::mem::take(&mut *lock(&self.queued));
        let mut connections = self.connections.borrow_mut();
        for id in queued {
            let Some(slot) = connections.get_mut(&id) else { continue };
            if let Some(connection) = slot.connection.as_mut() {
                send_all(&slot.ws, connection.take_queued());
                watch_queue(&self.queued, id, connection);
            }
        }
    }

    /// Gives back their connections to the sockets the object accepted before it slept,
    /// once per wake-up, so that publishes reach them all.
    fn restore(&self) {
        if std::mem::replace(&mut *self.restored.borrow_mut(), true) {
            return;
        }
        for ws in self.state.get_websockets() {
            let attachment = match ws.deserialize_attachment::<Attachment<R::Data>>() {
                Ok(Some(attachment)) => attachment,
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(%error, "could not read a socket's attachment");
                    continue;
                }
            };
            let Attachment { id, data, params, topics, user } = attachment;
            let (mut session, receiver) = self.session(id, data, params);
            session.ctx_mut().resubscribe(topics);
            if let Some(user) = user {
                session.ctx_mut().set_user(user);
            }
            let mut connection = Connection::reopened(session, receiver, None, Instant::now());
            watch_queue(&self.queued, id, &mut connection);
            self.insert(id, ws, connection);
        }
    }

    /// The session of a connection, and the receiving end of its queue.
    fn session(
        &self,
        id: Uuid,
        data: R::Data,
        params: Vec<(String, String)>,
    ) -> (Session<R>, OutboxReceiver) {
        let (outbox, receiver) = Outbox::new(id, &self.limits);
        let ctx = Ctx::new(data, params, outbox, self.hub.clone());
        (Session::new(Arc::clone(&self.router), Arc::default(), ctx), receiver)
    }

    fn insert(&self, id: Uuid, ws: WebSocket, connection: Connection<R, String>) {
        let slot = Slot { ws, wire: Arc::default(), connection: Some(Box::new(connection)) };
        self.connections.borrow_mut().insert(id, slot);
    }
}

/// The attachment of the connection `id`.
fn attachment<R: Router>(id: Uuid, connection: &Connection<R, String>) -> Attachment<&R::Data> {
    let ctx = connection.session().ctx();
    Attachment {
        id,
        data: ctx.data(),
        params: ctx.params().to_vec(),
        topics: ctx.topics().map(str::to_owned).collect(),
        user: ctx.user().map(str::to_owned),
    }
}

/// Has a push to the queue of the parked connection `id` mark it in `queued`.
fn watch_queue<R: Router>(queued: &Arc<Mutex<Vec<Uuid>>>, id: Uuid, connection: &mut Connection<R, String>) {
    let waker = Waker::from(Arc::new(Queued { id, queued: Arc::clone(queued) }));
    connection.watch_queue(&waker);
}

/// Marks a connection whose queue got a frame.
struct Queued {
    id: Uuid,
    queued: Arc<Mutex<Vec<Uuid>>>,
}

impl Wake for Queued {
    fn wake(self: Arc<Self>) {
        lock(&self.queued).push(self.id);
    }
}

/// Sends `frames` on `ws`; a socket that is gone reports its end with its own event.
fn send_all(ws: &WebSocket, frames: impl IntoIterator<Item = Frame>) {
    for frame in frames {
        let sent = match frame.into_message() {
            Ok(text) => ws.send_with_str(&text),
            Err(bytes) => ws.send_with_bytes(&bytes),
        };
        if let Err(error) = sent {
            tracing::debug!(%error, "could not send a frame");
            return;
        }
    }
}

/// The JavaScript clock, and `setTimeout` timers.
struct JsClock;

impl Clock for JsClock {
    type Timer = JsTimer;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn timer(&self, at: Instant) -> JsTimer {
        JsTimer { at, delay: None }
    }

    fn reset(&self, timer: Pin<&mut JsTimer>, at: Instant) {
        let timer = timer.get_mut();
        timer.at = at;
        timer.delay = None;
    }
}

/// A timer that completes at `at`. Its `setTimeout` starts when it is first polled, and
/// is cleared when it is dropped, so a parked connection holds no timer that would keep
/// the object from hibernating.
struct JsTimer {
    at: Instant,
    delay: Option<Pin<Box<SendFuture<Delay>>>>,
}

impl Future for JsTimer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let timer = self.get_mut();
        loop {
            let now = Instant::now();
            if now >= timer.at {
                return Poll::Ready(());
            }
            let delay =
                timer.delay.get_or_insert_with(|| Box::pin(SendFuture::new(Delay::from(timer.at - now))));
            match delay.as_mut().poll(cx) {
                // The clock moves across timers: look again.
                Poll::Ready(()) => timer.delay = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
