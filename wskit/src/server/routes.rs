//! [`Routes`]: several WebSocket routes in one server, each with its own router,
//! connection data and authenticator.

use super::listen::{self, Service};
use super::{
    fallback_of, handshake, shutdown_signal, Body, BoxFuture, Endpoint, Fallback, Server,
    DEFAULT_HANDSHAKE_TIMEOUT,
};
use crate::limits::Limits;
use crate::pubsub::Hub;
use crate::router::Router;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, ToSocketAddrs};

/// Several WebSocket routes served from one address: each path with its own [`Server`],
/// so its own router, connection data, authenticator, middleware and limits.
///
/// ```no_run
/// use wskit::{message, router, Ctx, Error, Rejection, Routes, Server};
///
/// #[message("SAY")]
/// pub struct Say { pub text: String }
///
/// #[message("JOIN")]
/// pub struct Join;
///
/// pub struct Chat;
///
/// #[router]
/// impl Chat {
///     #[on]
///     async fn say(&self, _ctx: &mut Ctx<()>, _say: Say) -> Result<(), Error> { Ok(()) }
/// }
///
/// /// Who joins, from the token.
/// pub struct Member { pub name: String }
///
/// pub struct Rooms;
///
/// #[router(data = Member)]
/// impl Rooms {
///     #[on]
///     async fn join(&self, ctx: &mut Ctx<Member>, _: Join) -> Result<(), Error> {
///         let topic = format!("room:{}", ctx.param("room").unwrap_or_default());
///         ctx.subscribe(&topic).await?;
///         Ok(())
///     }
/// }
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let rooms = Server::with_authenticator(Rooms, |parts| {
///         let token = wskit::token::any(parts);
///         async move {
///             match token {
///                 Some(name) => Ok(Member { name }),
///                 None => Err(Rejection::unauthorized("an access_token is required")),
///             }
///         }
///     });
///     Routes::new()
///         .route("/ws/chat", Server::new(Chat))
///         .route("/ws/rooms/:room", rooms)
///         .serve("127.0.0.1:3000")
///         .await
/// }
/// ```
///
/// - **Routing.** A request goes to the first route whose path pattern matches (as in
///   [`Server::path`], with `:name` parameters). An upgrade there is that route's; a plain
///   HTTP request goes to that route's own [`Server::fallback`], else to the fallback of
///   [`Routes::fallback`], else is answered as by a lone server (405, 426). A path no route
///   matches goes to [`Routes::fallback`], else gets 404.
/// - **Shared by all routes**: the accept loop, the bound on connections not yet upgraded
///   and its hook ([`Routes::limits`]), the handshake timeout, graceful shutdown (every
///   route's connections get 1001) and the [`Hub`]: a publish on one route reaches the
///   subscribers of every route, as one server's topics do. What a route's [`Server`]
///   sets for these is not used.
/// - **Per route**: everything else its [`Server`] sets: authenticator, connection data,
///   middleware layers, [`Limits`] ([`Limits::max_connections`] counts that route's
///   connections), origins, subprotocols, heartbeat, topic authorization.
pub struct Routes {
    routes: Vec<Mount>,
    fallback: Option<Fallback>,
    #[cfg(feature = "metrics")]
    metrics_path: Option<String>,
    hub: Hub,
    limits: Limits,
    handshake_timeout: Duration,
    shutdown_grace: Duration,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    /// No routes yet, on a new in-memory hub: every path gets 404.
    pub fn new() -> Self {
        Routes {
            routes: Vec::new(),
            fallback: None,
            #[cfg(feature = "metrics")]
            metrics_path: None,
            hub: Hub::memory(),
            limits: Limits::default(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            shutdown_grace: Duration::from_secs(5),
        }
    }

    /// Serves `server` at `path` (which replaces the server's own [`Server::path`]).
    /// Routes are tried in the order they were added.
    pub fn route<R: Router>(mut self, path: &str, server: Server<R>) -> Self {
        let server = server.path(path);
        self.routes.push(Box::new(move |hub| Box::new(server.hub(hub.clone()).into_endpoint())));
        self
    }

    /// Serves plain HTTP requests that no route takes (see the routing rules above), e.g.
    /// the page of a browser client.
    pub fn fallback<F, Fut>(mut self, fallback: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        self.fallback = Some(fallback_of(fallback));
        self
    }

    /// Serves the Prometheus metrics at `path`, before the fallback, as
    /// [`Server::metrics`] does.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = Some(path.into());
        self
    }

    /// The hub every route's connections register with and publish through (default: a
    /// new in-memory hub).
    pub fn hub(mut self, hub: Hub) -> Self {
        self.hub = hub;
        self
    }

    /// A handle on the routes' hub, to publish and send from outside handlers.
    pub fn hub_handle(&self) -> Hub {
        self.hub.clone()
    }

    /// The bounds of the accept loop: [`Limits::max_pending_handshakes`], and
    /// [`Limits::on_exceeded`] for it and for running out of file descriptors. Every other
    /// bound is per route, on its [`Server`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long a client may take to send a request's headers (default 10 s); see
    /// [`Server::handshake_timeout`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long a graceful shutdown waits for connections to finish closing (default 5 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Binds `addr` and serves until Ctrl-C (or SIGTERM), then shuts down gracefully; see
    /// [`Server::serve`].
    pub async fn serve(self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let listener = listen::bind(addr).await?;
        self.serve_with_shutdown(listener, shutdown_signal()).await
    }

    /// Serves connections from `listener` until `signal` completes, then shuts every
    /// route down gracefully; see [`Server::serve_with_shutdown`].
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        signal: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let hub = self.hub;
        let routes = self.routes.into_iter().map(|mount| mount(&hub)).collect();
        #[cfg(feature = "metrics")]
        if self.metrics_path.is_some() {
            if let Err(error) = crate::metrics::install() {
                tracing::warn!(%error, "metrics");
            }
        }
        let service = Paths(Arc::new(Table {
            routes,
            fallback: self.fallback,
            #[cfg(feature = "metrics")]
            metrics_path: self.metrics_path,
        }));
        let settings = listen::Settings {
            limits: Arc::new(self.limits),
            handshake_timeout: self.handshake_timeout,
            shutdown_grace: self.shutdown_grace,
        };
        listen::serve(listener, signal, service, settings).await
    }
}

/// A route waiting for the server to start: made into its endpoint on the routes' hub.
type Mount = Box<dyn FnOnce(&Hub) -> Box<dyn Mounted> + Send>;

/// An [`Endpoint`] with its router type erased: one box per route, and a boxed future per
/// HTTP request, none per message.
trait Mounted: Send + Sync {
    fn matches(&self, path: &str) -> bool;
    fn has_fallback(&self) -> bool;
    fn respond(&self, request: Request<Incoming>) -> BoxFuture<Response<Body>>;
    fn connections(&self) -> usize;
    fn shutdown(&self) -> BoxFuture<()>;
}

impl<R: Router> Mounted for Endpoint<R> {
    fn matches(&self, path: &str) -> bool {
        self.shared.route.matches(path).is_some()
    }

    fn has_fallback(&self) -> bool {
        self.shared.fallback.is_some()
    }

    fn respond(&self, request: Request<Incoming>) -> BoxFuture<Response<Body>> {
        let endpoint = self.clone();
        Box::pin(async move { endpoint.route(request).await })
    }

    fn connections(&self) -> usize {
        Endpoint::connections(self)
    }

    fn shutdown(&self) -> BoxFuture<()> {
        let endpoint = self.clone();
        Box::pin(async move {
            endpoint.shutdown().await;
        })
    }
}

struct Table {
    routes: Vec<Box<dyn Mounted>>,
    fallback: Option<Fallback>,
    #[cfg(feature = "metrics")]
    metrics_path: Option<String>,
}

/// The routes as the accept loop's service.
#[derive(Clone)]
struct Paths(Arc<Table>);

impl Service for Paths {
    async fn respond(&self, request: Request<Incoming>) -> Response<Body> {
        let Table { routes, fallback, .. } = &*self.0;
        #[cfg(feature = "metrics")]
        if self.0.metrics_path.as_deref() == Some(request.uri().path()) {
            return crate::metrics::response();
        }
        let route = routes.iter().find(|route| route.matches(request.uri().path()));
        match (route, fallback) {
            (Some(route), _) if route.has_fallback() || handshake::is_upgrade(request.headers()) => {
                route.respond(request).await
            }
            (_, Some(fallback)) => fallback(request).await,
            (Some(route), None) => route.respond(request).await,
            (None, None) => handshake::plain(StatusCode::NOT_FOUND, "not found"),
        }
    }

    fn connections(&self) -> usize {
        self.0.routes.iter().map(|route| route.connections()).sum()
    }

    async fn shutdown(&self) {
        futures_util::future::join_all(self.0.routes.iter().map(|route| route.shutdown())).await;
    }
}
