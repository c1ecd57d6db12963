//! The hyper + tokio-tungstenite host: [`Server`] for the common case, and [`Endpoint`] to
//! mount the WebSocket route inside any hyper or axum service.

mod accept;
mod admission;
#[cfg(feature = "axum")]
pub mod axum;
mod budget;
pub(crate) mod deflate;
pub(crate) mod frame;
pub(crate) mod handshake;
mod listen;
mod routes;
mod socket;
mod ticker;

pub use admission::{token, Rejection};
pub use deflate::Deflate;
pub use routes::Routes;

use crate::close::Close;
use crate::connection::{
    Clock, Connection, Layers, Liveness, Outcome, Session, Signals, StaleConnection, StalePolicy,
};
use crate::ctx::Ctx;
use crate::limits::{LimitKind, Limits};
use crate::middleware::Middleware;
use crate::outbox::Outbox;
use crate::panics::{self, Site};
use crate::pubsub::{Authorize, Broadcast, Hub, TopicAction};
use crate::resume::{self, Resume};
use crate::route::Route;
use crate::router::Router;
use budget::Budget;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use socket::{Socket, TokioClock};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
pub(crate) use ticker::Ticker;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio_util::either::Either;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// The body of the HTTP responses wskit produces.
pub type Body = http_body_util::Full<Bytes>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Fallback = Arc<dyn Fn(Request<Incoming>) -> BoxFuture<Response<Body>> + Send + Sync>;
type Authenticate<D> = Arc<dyn Fn(&Parts) -> BoxFuture<Result<D, Rejection>> + Send + Sync>;
type UpgradeHook = Arc<dyn Fn(&Parts) -> Result<(), Rejection> + Send + Sync>;
type UserOf<D> = Arc<dyn Fn(&D) -> Option<String> + Send + Sync>;
type BroadcastHook = Arc<dyn Fn(&Broadcast<'_>) + Send + Sync>;

/// The client's address, put in the request's extensions by the built-in server.
#[derive(Debug, Clone, Copy)]
struct PeerAddr(SocketAddr);

/// The client's address, if the server that took the request recorded it: the built-in
/// server does, axum does with `into_make_service_with_connect_info::<SocketAddr>()`.
fn peer_addr(extensions: &http::Extensions) -> Option<SocketAddr> {
    let ours = extensions.get::<PeerAddr>().map(|PeerAddr(addr)| *addr);
    #[cfg(feature = "axum")]
    let ours = ours.or_else(|| {
        extensions.get::<::axum::extract::ConnectInfo<SocketAddr>>().map(|connect_info| connect_info.0)
    });
    ours
}

/// How long a client may take to send a request's headers, by default.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A WebSocket server for a [`Router`].
///
/// ```no_run
/// # use wskit::{message, router, Ctx, Error, Server};
/// # #[message("PING")] pub struct Ping;
/// # pub struct App;
/// # #[router] impl App { #[on] async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> { Ok(()) } }
/// # async fn run() -> std::io::Result<()> {
/// Server::new(App).path("/ws").serve("127.0.0.1:3000").await
/// # }
/// ```
pub struct Server<R: Router> {
    router: R,
    route: Route,
    protocols: Vec<String>,
    deflate: Deflate,
    resume: Option<Resume>,
    limits: Limits,
    authenticate: Authenticate<R::Data>,
    on_upgrade: Option<UpgradeHook>,
    user_of: Option<UserOf<R::Data>>,
    origins: Option<Vec<String>>,
    /// The ping interval and the time to answer; `None` without pings.
    heartbeat: Option<(Duration, Duration)>,
    stale: StalePolicy,
    fallback: Option<Fallback>,
    /// Where the metrics are served, if asked.
    #[cfg(feature = "metrics")]
    metrics_path: Option<String>,
    shutdown_grace: Duration,
    handshake_timeout: Duration,
    hub: Hub,
    on_broadcast: Option<BroadcastHook>,
    authorize: Option<Authorize<R::Data>>,
    layers: Vec<Arc<dyn Middleware<R::Data>>>,
}

impl<R: Router> Server<R>
where
    R::Data: Default,
{
    /// A server for `router` at `/`, with default connection data and [`Limits`].
    pub fn new(router: R) -> Self {
        Self::with_data(router, |_| R::Data::default())
    }
}

impl<R: Router> Server<R> {
    /// A server whose connection data is made from the upgrade request (its method, URI
    /// and headers).
    pub fn with_data(router: R, make_data: impl Fn(&Parts) -> R::Data + Send + Sync + 'static) -> Self {
        Self::with_authenticator(router, move |parts| std::future::ready(Ok(make_data(parts))))
    }

    /// A server that authenticates every upgrade request before accepting it: the callback
    /// gets the request's method, URI and headers and answers with the connection's data,
    /// or with a [`Rejection`] (401 by default, any status you choose). A panicking
    /// callback answers 500. Find the client's token with the [`token`] helpers.
    ///
    /// ```
    /// # use wskit::{message, router, Ctx, Error, Rejection, Server};
    /// # #[message("PING")] pub struct Ping;
    /// # pub struct User { pub name: String }
    /// # pub struct App;
    /// # #[router(data = User)] impl App { #[on] async fn ping(&self, _: &mut Ctx<User>, _: Ping) -> Result<(), Error> { Ok(()) } }
    /// let server = Server::with_authenticator(App, |parts| {
    ///     let token = wskit::token::any(parts);
    ///     async move {
    ///         match token.as_deref() {
    ///             Some("secret") => Ok(User { name: "ada".into() }),
    ///             _ => Err(Rejection::unauthorized("a valid access_token is required")),
    ///         }
    ///     }
    /// });
    /// ```
    pub fn with_authenticator<F, Fut>(router: R, authenticate: F) -> Self
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R::Data, Rejection>> + Send + 'static,
    {
        Server {
            router,
            route: Route::new("/"),
            protocols: Vec::new(),
            deflate: Deflate::default(),
            resume: None,
            limits: Limits::default(),
            authenticate: Arc::new(move |parts| Box::pin(authenticate(parts))),
            on_upgrade: None,
            user_of: None,
            origins: None,
            heartbeat: Some((Duration::from_secs(30), Duration::from_secs(10))),
            stale: StalePolicy::default(),
            fallback: None,
            #[cfg(feature = "metrics")]
            metrics_path: None,
            shutdown_grace: Duration::from_secs(5),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            hub: Hub::memory(),
            on_broadcast: None,
            authorize: None,
            layers: Vec::new(),
        }
    }

    /// Observes or refuses every upgrade request before it is authenticated (after the
    /// handshake, origin and connection-limit checks): return a [`Rejection`] to answer
    /// with its status instead, e.g. to refuse a client by its address or user agent
    /// before any authentication work. A panicking hook answers 500. Upgrades accepted
    /// through the axum extractor ([`axum::Upgrade`](crate::axum::Upgrade)) do not run it:
    /// there the app's own handler comes first.
    ///
    /// ```
    /// # use wskit::{message, router, Ctx, Error, Rejection, Server};
    /// # #[message("PING")] pub struct Ping;
    /// # pub struct App;
    /// # #[router] impl App { #[on] async fn ping(&self, _: &mut Ctx<()>, _: Ping) -> Result<(), Error> { Ok(()) } }
    /// let server = Server::new(App).on_upgrade(|request| {
    ///     match request.headers.get("user-agent").is_some_and(|agent| agent.as_bytes().starts_with(b"BadBot")) {
    ///         true => Err(Rejection::forbidden("bots are not welcome")),
    ///         false => Ok(()),
    ///     }
    /// });
    /// ```
    pub fn on_upgrade(
        mut self,
        hook: impl Fn(&Parts) -> Result<(), Rejection> + Send + Sync + 'static,
    ) -> Self {
        self.on_upgrade = Some(Arc::new(hook));
        self
    }

    /// Tags each connection with the user its data names (the authenticator's answer), so
    /// that the hub reaches, counts and closes all of a user's connections
    /// ([`Hub::send_to_user`], [`Hub::close_user`], [`Hub::is_online`]). Handlers can tag
    /// (or re-tag) a connection themselves with [`Ctx::set_user`].
    ///
    /// ```
    /// # use wskit::{message, router, Ctx, Error, Server};
    /// # #[message("PING")] pub struct Ping;
    /// # #[derive(Default)] pub struct Session { pub user: Option<String> }
    /// # pub struct App;
    /// # #[router(data = Session)] impl App { #[on] async fn ping(&self, _: &mut Ctx<Session>, _: Ping) -> Result<(), Error> { Ok(()) } }
    /// let server = Server::new(App).user(|session: &Session| session.user.clone());
    /// ```
    pub fn user(mut self, user_of: impl Fn(&R::Data) -> Option<String> + Send + Sync + 'static) -> Self {
        self.user_of = Some(Arc::new(user_of));
        self
    }

    /// Calls `hook` after each publish has been delivered to this server's subscribers,
    /// from handlers and from the hub alike: see [`Hub::on_broadcast`], which this sets on
    /// the server's hub when the server starts.
    pub fn on_broadcast(mut self, hook: impl Fn(&Broadcast<'_>) + Send + Sync + 'static) -> Self {
        self.on_broadcast = Some(Arc::new(hook));
        self
    }

    /// Adds a middleware layer that runs for every message of every connection, after the
    /// layers added before it and before the router's own `#[middleware]`. Layers run
    /// before the payload is decoded: see [`middleware`](crate::middleware).
    pub fn middleware(mut self, layer: impl Middleware<R::Data>) -> Self {
        self.layers.push(Arc::new(layer));
        self
    }

    /// Checks every new subscription and every publish of a handler: the hook gets the
    /// connection's data and id, the topic and the action, and returns an error (e.g.
    /// PERMISSION_DENIED) to refuse. It runs after the topic passed the hub's rules.
    ///
    /// ```
    /// # use wskit::{message, router, Ctx, Error, Server, TopicAction};
    /// # #[message("PING")] pub struct Ping;
    /// # #[derive(Default)] pub struct User { pub admin: bool }
    /// # pub struct App;
    /// # #[router(data = User)] impl App { #[on] async fn ping(&self, _: &mut Ctx<User>, _: Ping) -> Result<(), Error> { Ok(()) } }
    /// let server = Server::new(App).authorize_topics(|user: &User, _client, topic, action| {
    ///     match (topic.starts_with("admin:"), action) {
    ///         (true, TopicAction::Publish) if !user.admin => Err(Error::permission_denied("admins only")),
    ///         _ => Ok(()),
    ///     }
    /// });
    /// ```
    pub fn authorize_topics(
        mut self,
        authorize: impl Fn(&R::Data, uuid::Uuid, &str, TopicAction) -> Result<(), crate::Error>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.authorize = Some(Arc::new(Box::new(authorize)));
        self
    }

    /// The hub connections register with and publish through (default: a new in-memory
    /// hub). Share one hub between servers to let them publish to each other's topics.
    pub fn hub(mut self, hub: Hub) -> Self {
        self.hub = hub;
        self
    }

    /// A handle on the server's hub, to publish and send from outside handlers.
    pub fn hub_handle(&self) -> Hub {
        self.hub.clone()
    }

    /// The upgrade path (default `/`). Segments `:name` capture path parameters that
    /// handlers read with [`Ctx::param`]: `.path("/rooms/:room")`. Under axum the route
    /// is axum's, and so are the parameters (`wskit::axum`).
    pub fn path(mut self, path: &str) -> Self {
        self.route = Route::new(path);
        self
    }

    /// Subprotocols the server speaks, most preferred first. The server answers with the
    /// first of these the client offers (none if it offers none of them). Without this
    /// list, it answers with the first offered one, so that browser clients that offer a
    /// protocol (such as a `bearer.<token>`) can connect.
    pub fn protocols<I: IntoIterator<Item = S>, S: Into<String>>(mut self, protocols: I) -> Self {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// permessage-deflate (RFC 7692): off by default. With [`Deflate::enabled`], clients
    /// that offer the extension get compressed frames above the threshold; clients that
    /// do not offer it are served exactly as without it.
    pub fn deflate(mut self, deflate: Deflate) -> Self {
        self.deflate = deflate;
        self
    }

    /// Session resume: off by default. With [`Resume::enabled`], a client that asks for it
    /// when it connects (`wskit-resume` in the URL, as wskit's Rust and TypeScript clients
    /// do with their `resume` option) can reconnect within the window and get what it
    /// missed, its subscriptions restored; clients that do not ask are served exactly as
    /// without it. The protocol, the bounds and why it is off by default:
    /// [`resume`](crate::resume).
    ///
    /// ```
    /// # use wskit::{message, router, Ctx, Error, Resume, Server};
    /// # #[message("PING")] pub struct Ping;
    /// # pub struct App;
    /// # #[router] impl App { #[on] async fn ping(&self, _: &mut Ctx<()>, _: Ping) -> Result<(), Error> { Ok(()) } }
    /// let server = Server::new(App).resume(Resume::enabled());
    /// ```
    pub fn resume(mut self, resume: Resume) -> Self {
        self.resume = Some(resume);
        self
    }

    /// The origins browsers may connect from, e.g. `["https://app.example.com"]`. An
    /// upgrade whose `Origin` header is not in the list is refused with 403, which stops
    /// cross-site WebSocket hijacking. Requests without `Origin` (non-browser clients)
    /// are accepted. Without a list, every origin is.
    pub fn allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(mut self, origins: I) -> Self {
        self.origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Sends a protocol Ping every `interval` and closes a connection that has not
    /// answered (with a Pong or any frame) within `timeout` after it: a stale connection,
    /// closed with 1011 ([`stale_close_code`](Self::stale_close_code) changes it). The
    /// `#[on_close]` hook sees that close. Default: every 30 s, 10 s to answer.
    ///
    /// One timer per [`Hub`] runs the pings of all its connections, so that a waiting
    /// connection holds no timer of its own: it ticks every eighth of the shorter of
    /// `interval` and `timeout` (every second at most; the shortest of the servers on the
    /// hub), and a ping goes out, or a stale connection is closed, up to one tick after
    /// its time.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat = Some((interval, timeout));
        self
    }

    /// Sends no protocol pings: a silent connection stays open until TCP notices.
    pub fn without_heartbeat(mut self) -> Self {
        self.heartbeat = None;
        self
    }

    /// The close code of stale connections (default 1011, internal error; ws-kit's
    /// examples use 1008, policy). A code an application may not send becomes 1008.
    pub fn stale_close_code(mut self, code: u16) -> Self {
        self.stale.code = Close::application(code, "").code;
        self
    }

    /// Calls `hook` for every connection found stale by the heartbeat, just before it is
    /// closed (its `#[on_close]` runs after).
    pub fn on_stale(mut self, hook: impl Fn(&StaleConnection) + Send + Sync + 'static) -> Self {
        self.stale.hook = Some(Arc::new(hook));
        self
    }

    /// Per-connection limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long a graceful shutdown waits for connections to finish closing (default 5 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// How long a client may take to send the headers of a request, its upgrade request
    /// included (default 10 s); a slower connection is closed. Every unfinished request
    /// holds a file descriptor and one of the places that
    /// [`Limits::max_pending_handshakes`] bounds: clients that trickle half a request
    /// would otherwise hold them until none is left for new clients.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Serves plain HTTP requests that are not WebSocket upgrades on the configured path,
    /// e.g. the page of a browser client. Without a fallback they get 404 (other paths) or
    /// 426 (the WebSocket path).
    pub fn fallback<F, Fut>(mut self, fallback: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        self.fallback = Some(fallback_of(fallback));
        self
    }

    /// Serves the server's Prometheus metrics at `path` (e.g. `/metrics`), before the
    /// fallback: see [`metrics`](crate::metrics) for what is measured. The first server
    /// that serves them installs wskit's Prometheus recorder for the process.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = Some(path.into());
        self
    }

    /// The endpoint that turns upgrade requests into connections, to mount inside a
    /// hyper or axum service.
    pub fn into_endpoint(self) -> Endpoint<R> {
        #[cfg(feature = "metrics")]
        if self.metrics_path.is_some() {
            // Installed now, so that what happens before the first scrape is counted.
            if let Err(error) = crate::metrics::install() {
                tracing::warn!(%error, "metrics");
            }
        }
        if let Some(hook) = self.on_broadcast {
            self.hub.on_broadcast(move |broadcast| hook(broadcast));
        }
        let stale = self.stale;
        let liveness =
            self.heartbeat.map(|(interval, timeout)| Arc::new(Liveness { interval, timeout, stale }));
        Endpoint {
            shared: Arc::new(Shared {
                router: Arc::new(self.router),
                route: self.route,
                protocols: self.protocols,
                deflate: self.deflate,
                resume: self.resume,
                unfinished: Budget::new(self.limits.max_unfinished_bytes),
                limits: Arc::new(self.limits),
                authenticate: self.authenticate,
                on_upgrade: self.on_upgrade,
                user_of: self.user_of,
                origins: self.origins,
                tick: liveness.as_deref().map(ticker::period),
                liveness,
                open: Arc::default(),
                fallback: self.fallback,
                #[cfg(feature = "metrics")]
                metrics_path: self.metrics_path,
                signals: Signals::default(),
                abandoned: Arc::default(),
                connections: TaskTracker::new(),
                shutdown_grace: self.shutdown_grace,
                handshake_timeout: self.handshake_timeout,
                hub: self.hub,
                authorize: self.authorize,
                layers: Arc::new(self.layers),
            }),
        }
    }

    /// Binds `addr` and serves until Ctrl-C (or SIGTERM), then shuts down gracefully.
    ///
    /// Logs the address it listens on (`tracing`, level info, message `listening`). When
    /// `addr` cannot be bound, the error keeps the [`io::ErrorKind`] of the failure (such as
    /// [`AddrInUse`](io::ErrorKind::AddrInUse) for a port another process holds) and its
    /// message names the address and what to do, e.g. `could not listen on
    /// 127.0.0.1:3000: Address already in use (os error 98); another process listens
    /// there: stop it or choose another port`. To bind the socket yourself, use
    /// [`serve_with_shutdown`](Self::serve_with_shutdown), which also says how the server
    /// answers new clients when it is full.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let listener = listen::bind(addr).await?;
        self.serve_with_shutdown(listener, shutdown_signal()).await
    }

    /// Serves connections from `listener` until `signal` completes, then shuts down
    /// gracefully: stops accepting, closes every WebSocket with 1001 and waits up to the
    /// grace period for connections to finish.
    ///
    /// # When the server is full
    ///
    /// Clients that the server cannot serve are answered at once, not left waiting:
    ///
    /// - At [`Limits::max_pending_handshakes`] HTTP connections that have not become
    ///   WebSocket connections, a new connection is answered `503 Service Unavailable`
    ///   with `Connection: close` before its request is read, and closed;
    ///   [`LimitKind::PendingHandshakes`] is reported to [`Limits::on_exceeded`].
    /// - At [`Limits::max_connections`] WebSocket connections, an upgrade request is
    ///   answered 503 ([`LimitKind::Connections`]).
    /// - On Unix, when the process (or the system) runs out of file descriptors, the
    ///   server gives up a descriptor it keeps in reserve to accept the waiting
    ///   connection, answers it 503 with `Connection: close`, closes it and takes the
    ///   reserve back. Connections already open are served on. The hook is told
    ///   ([`LimitKind::FileDescriptors`]) and a warning is logged at most every 10 s,
    ///   with the number of connections refused. Elsewhere, the server retries the
    ///   accept every 50 ms, and new clients wait until a descriptor is free.
    ///
    /// Keep [`Limits::max_pending_handshakes`] plus [`Limits::max_connections`] below the
    /// process's descriptor limit, so that clients are refused by the limits, with a
    /// reason the hook can tell apart, before the descriptors run out.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let endpoint = self.into_endpoint();
        let settings = listen::Settings {
            limits: Arc::clone(&endpoint.shared.limits),
            handshake_timeout: endpoint.shared.handshake_timeout,
            shutdown_grace: endpoint.shared.shutdown_grace,
        };
        listen::serve(listener, signal, endpoint, settings).await
    }
}

struct Shared<R: Router> {
    router: Arc<R>,
    route: Route,
    protocols: Vec<String>,
    deflate: Deflate,
    resume: Option<Resume>,
    limits: Arc<Limits>,
    /// What all connections may hold for messages that have not fully arrived.
    unfinished: Budget,
    authenticate: Authenticate<R::Data>,
    on_upgrade: Option<UpgradeHook>,
    user_of: Option<UserOf<R::Data>>,
    origins: Option<Vec<String>>,
    liveness: Option<Arc<Liveness>>,
    /// How often the hub's ticker must wake the connections whose ping is due; with
    /// `liveness`.
    tick: Option<Duration>,
    /// Connections admitted and not yet closed, against `Limits::max_connections`.
    open: Arc<AtomicUsize>,
    fallback: Option<Fallback>,
    #[cfg(feature = "metrics")]
    metrics_path: Option<String>,
    /// Shutdown, and the end of its grace period, when handlers still running are
    /// abandoned.
    signals: Signals,
    /// Handlers abandoned at the end of the grace period, for the shutdown report.
    abandoned: Arc<AtomicUsize>,
    connections: TaskTracker,
    shutdown_grace: Duration,
    handshake_timeout: Duration,
    hub: Hub,
    authorize: Option<Authorize<R::Data>>,
    layers: Layers<R::Data>,
}

/// The WebSocket endpoint of a [`Server`]: answers upgrade requests and runs the
/// connections. Cheap to clone.
///
/// Use it to mount wskit inside your own hyper service: call
/// [`upgrade`](Endpoint::upgrade) with the request; any request type whose extensions
/// carry hyper's upgrade handle works. In an axum app, mount it as a service or accept
/// upgrades with an extractor instead (the `axum` feature, `wskit::axum`).
pub struct Endpoint<R: Router> {
    shared: Arc<Shared<R>>,
}

impl<R: Router> Clone for Endpoint<R> {
    fn clone(&self) -> Self {
        Endpoint { shared: Arc::clone(&self.shared) }
    }
}

impl<R: Router> Endpoint<R> {
    /// Answers a WebSocket upgrade request: 101 and a connection served in the background,
    /// or the error status the request deserves: 400, 404, 405, 426 or 505 for a request
    /// that is not a valid upgrade here, 403 for a foreign origin, 503 when the server is
    /// full or shutting down, and the authenticator's rejection.
    pub async fn upgrade<B>(&self, request: Request<B>) -> Response<Body> {
        let (parts, _) = request.into_parts();
        let Some(params) = self.shared.route.matches(parts.uri.path()) else {
            return handshake::plain(StatusCode::NOT_FOUND, "not found");
        };
        self.upgrade_parts(parts, params).await
    }

    fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let (Some(allowed), Some(origin)) = (&self.shared.origins, headers.get(http::header::ORIGIN)) else {
            return true;
        };
        allowed.iter().any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
    }

    /// Shuts the endpoint down: new upgrades are refused with 503, and every connection
    /// is closed with 1001 once its running handlers (if any, concurrent ones included)
    /// return. Handlers still
    /// running after the grace period are abandoned (their futures dropped, their
    /// cancellation tokens fired) and their connections closed with 1001 too. Returns what
    /// was cut off.
    pub async fn shutdown(&self) -> ShutdownReport {
        let shared = &self.shared;
        shared.signals.shutdown.cancel();
        // Connections do not wait on the signal itself (`Connection::drive`): they look at
        // it when woken.
        shared.hub.registry().wake_all();
        shared.connections.close();
        let connections = shared.connections.len();
        if tokio::time::timeout(shared.shutdown_grace, shared.connections.wait()).await.is_err() {
            tracing::warn!(
                remaining = shared.connections.len(),
                "connections still open after the shutdown grace period; abandoning running handlers"
            );
            shared.signals.cut_off.cancel();
            // Closing takes at most a bounded write and the wait for the client's close frame.
            let closing = shared.limits.write_timeout + socket::CLOSE_TIMEOUT;
            let _ = tokio::time::timeout(closing, shared.connections.wait()).await;
        }
        let abandoned = shared.abandoned.load(Ordering::Acquire);
        let report = ShutdownReport { connections, abandoned };
        tracing::info!(connections, abandoned, "shut down");
        report
    }

    /// The number of open WebSocket connections.
    pub fn connections(&self) -> usize {
        self.shared.connections.len()
    }

    /// Routes one HTTP request: upgrades on the WebSocket path, the fallback otherwise.
    async fn route(&self, request: Request<Incoming>) -> Response<Body> {
        #[cfg(feature = "metrics")]
        if self.shared.metrics_path.as_deref() == Some(request.uri().path()) {
            return crate::metrics::response();
        }
        let on_route = self.shared.route.matches(request.uri().path()).is_some();
        match &self.shared.fallback {
            _ if on_route && handshake::is_upgrade(request.headers()) => self.upgrade(request).await,
            Some(fallback) => fallback(request).await,
            None if on_route => self.upgrade(request).await,
            None => handshake::plain(StatusCode::NOT_FOUND, "not found"),
        }
    }
}

impl<R: Router> listen::Service for Endpoint<R> {
    async fn respond(&self, request: Request<Incoming>) -> Response<Body> {
        self.route(request).await
    }

    fn connections(&self) -> usize {
        Endpoint::connections(self)
    }

    async fn shutdown(&self) {
        Endpoint::shutdown(self).await;
    }
}

/// The steps of every upgrade, whichever way it arrives: [`Endpoint::upgrade`] and the
/// plain server after matching the route, the axum service and extractor (`axum.rs`)
/// after axum's router matched it.
impl<R: Router> Endpoint<R> {
    /// Answers the upgrade request `parts`, whose route captured `params`: checks and
    /// admits it, authenticates it with the server's authenticator and starts its
    /// connection.
    pub(crate) async fn upgrade_parts(
        &self,
        mut parts: Parts,
        params: Vec<(String, String)>,
    ) -> Response<Body> {
        let peer = peer_addr(&parts.extensions);
        let accepted = match handshake::check(&mut parts) {
            Ok(accepted) => accepted,
            Err(response) => return refused("handshake", *response),
        };
        let admitted = match self.admit(&parts.headers, peer, accepted) {
            Ok(admitted) => admitted,
            Err(response) => return *response,
        };
        let quiet = self.shared.limits.quiet_panics;
        if let Some(on_upgrade) = &self.shared.on_upgrade {
            match panics::guard(Site::OnUpgrade, quiet, || on_upgrade(&parts)) {
                Some(Ok(())) => {}
                Some(Err(rejection)) => return refused("on_upgrade", rejection.response()),
                None => return refused("on_upgrade", Rejection::internal().response()),
            }
        }
        let data = match panics::catch((self.shared.authenticate)(&parts), quiet).await {
            Ok(Ok(data)) => data,
            Ok(Err(rejection)) => return refused("authentication", rejection.response()),
            Err(panic) => {
                panics::report(&*panic, Site::Authenticator, panics::NO_TYPE);
                return refused("authentication", Rejection::internal().response());
            }
        };
        self.start(admitted, data, params, &parts.uri)
    }

    /// Admits a well-formed upgrade request with `headers`, or refuses it: 503 while
    /// shutting down or at the connection limit, 403 from a foreign origin.
    pub(crate) fn admit(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        accepted: handshake::Accepted,
    ) -> Result<Admitted, Box<Response<Body>>> {
        let shared = &self.shared;
        let refuse = |reason, status, text| Err(Box::new(refused(reason, handshake::plain(status, text))));
        if shared.signals.shutdown.is_cancelled() {
            return refuse("shutdown", StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down");
        }
        if !self.origin_allowed(headers) {
            return refuse("origin", StatusCode::FORBIDDEN, "connections from this origin are not allowed");
        }
        let Some(slot) = Slot::take(&shared.open, shared.limits.max_connections) else {
            let max = shared.limits.max_connections;
            shared.limits.exceeded(LimitKind::Connections, max + 1, max, None);
            return refuse(
                "connections",
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is at its connection limit",
            );
        };
        Ok(Admitted {
            accepted,
            protocol: handshake::choose_protocol(headers, &shared.protocols),
            deflate: deflate::offer::negotiate(headers, &shared.deflate),
            peer,
            slot,
        })
    }

    /// Starts the connection of an admitted upgrade, with its `data` and the parameters
    /// of its `path`, in the background, and answers 101.
    pub(crate) fn start(
        &self,
        admitted: Admitted,
        data: R::Data,
        params: Vec<(String, String)>,
        uri: &Uri,
    ) -> Response<Body> {
        let shared = &self.shared;
        let path = uri.path();
        let resume =
            shared.resume.and_then(|settings| Some((resume::Ask::from_query(uri.query())?, settings)));
        let Admitted { accepted, protocol, deflate, peer, slot } = admitted;
        let client_id = uuid::Uuid::now_v7();
        let user = shared.user_of.as_ref().and_then(|user_of| user_of(&data));
        let (agreed, extensions) = deflate.unzip();
        let (outbox, outbox_receiver) = Outbox::new(client_id, &shared.limits);
        let mut ctx = Ctx::new(data, params, outbox, shared.hub.clone());
        ctx.set_origin(peer, protocol.as_ref().and_then(|protocol| protocol.to_str().ok()));
        if let Some(user) = user {
            ctx.set_user(user);
        }
        let (response, on_upgrade) = accepted.respond(protocol, extensions, &client_id);
        ctx.set_authorizer(shared.authorize.clone());
        let session = Session::new(Arc::clone(&shared.router), Arc::clone(&shared.layers), ctx);
        // Made here, not in the task: a value the task's future moves from keeps its place
        // in the future for the connection's whole life.
        let mut connection =
            Connection::new(session, outbox_receiver, shared.liveness.clone(), TokioClock.now());
        if let Some(period) = shared.tick {
            shared.hub.registry_arc().tick_every(period);
        }
        let shared = Arc::clone(shared);
        let span = tracing::debug_span!("ws", client_id = %client_id, path);
        // What only the opening uses, in one box: every value the task's future takes keeps
        // its place in it for the connection's whole life, used or not.
        let opening = Box::new(Opening { on_upgrade, resume, agreed });
        let task = async move {
            let Some(mut socket) = Box::pin(opening.open(&mut connection, &shared)).await else { return };
            let outcome = connection.drive(&mut socket, TokioClock, &shared.signals).await;
            if let Outcome::Ended { abandoned: true, .. } = outcome {
                shared.abandoned.fetch_add(1, Ordering::AcqRel);
            }
            // Held until here: the connection counts against the server's limit until
            // it has ended. (Not moved into a local: that would be a second place for it
            // in the future.)
            drop(slot);
        };
        // Without a subscriber for the span, no span: every connection's task would hold
        // one (40 bytes) for its whole life.
        match span.is_disabled() {
            true => self.shared.connections.spawn(task),
            false => self.shared.connections.spawn(task.instrument(span)),
        };
        response
    }
}

/// What the task of a connection that [`Endpoint::start`] started needs only to open it.
struct Opening {
    on_upgrade: OnUpgrade,
    resume: Option<(resume::Ask, Resume)>,
    agreed: Option<deflate::Agreed>,
}

impl Opening {
    /// Waits for the upgrade of `connection`, sets up its session resume if its client
    /// asked for it, and returns its socket; `None` if the upgrade failed.
    async fn open<R: Router>(
        self: Box<Self>,
        connection: &mut Connection<R, String>,
        shared: &Shared<R>,
    ) -> Option<Socket<Either<TcpStream, TokioIo<Upgraded>>>> {
        let Opening { on_upgrade, resume, agreed } = *self;
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::debug!(%error, "upgrade failed");
                return None;
            }
        };
        tracing::debug!("connection open");
        // The plain server's own TCP stream comes back without hyper's wrapper; other
        // hyper and axum servers' connections are used as they are.
        let (io, read) = match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => (Either::Left(parts.io.into_inner()), parts.read_buf),
            Err(upgraded) => (Either::Right(TokioIo::new(upgraded)), Bytes::new()),
        };
        if let Some((ask, settings)) = resume {
            let resumable = resume::open(ask, settings, connection.session_mut().ctx_mut()).await;
            connection.resume_with(resumable);
        }
        let held = shared.unfinished.share();
        Some(Socket::new(io, read, &shared.limits, held, agreed))
    }
}

/// Counts an upgrade refused for `reason` (a metric label), and answers with `response`.
fn refused(reason: &'static str, response: Response<Body>) -> Response<Body> {
    crate::observe::upgrade_refused(reason);
    response
}

/// An upgrade the endpoint admitted: its handshake, the subprotocol it answers with, the
/// permessage-deflate parameters it agrees to (with their answer), and its place among
/// the connections.
pub(crate) struct Admitted {
    accepted: handshake::Accepted,
    protocol: Option<HeaderValue>,
    deflate: Option<(deflate::Agreed, HeaderValue)>,
    peer: Option<SocketAddr>,
    slot: Slot,
}

/// What a graceful shutdown ([`Endpoint::shutdown`]) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Connections open when the shutdown began, all closed with 1001.
    pub connections: usize,
    /// Of those, how many were still running a handler after the grace period: their
    /// handlers were abandoned.
    pub abandoned: usize,
}

/// A place among a bounded number of connections (`Limits::max_connections`,
/// `Limits::max_pending_handshakes`), given back on drop.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| (count < max).then_some(count + 1))
            .ok()
            .map(|_| Slot(Arc::clone(open)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `fallback` as the servers keep it.
fn fallback_of<F, Fut>(fallback: F) -> Fallback
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    Arc::new(move |request| Box::pin(fallback(request)))
}

/// Completes on Ctrl-C, or on SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
