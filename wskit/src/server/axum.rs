//! axum 0.8 integration (feature `axum`): the WebSocket route of a wskit [`Endpoint`] inside
//! an axum [`Router`](::axum::Router), next to REST routes, sharing axum's state and
//! running under its tower layers.
//!
//! Two ways to mount it:
//!
//! - **As a service.** [`Endpoint`] is a tower `Service`:
//!   `Router::new().route_service("/ws", endpoint)`. The server's authenticator
//!   ([`Server::with_authenticator`]) decides on each connection's data, exactly as on the
//!   plain server.
//! - **As an extractor.** A handler takes [`Upgrade`] after the extractors that
//!   authenticate the request (`State`, your own `FromRequestParts` types), and hands the
//!   connection's data to wskit with [`Upgrade::accept`]. The server's authenticator is not
//!   asked: the handler has decided. Build such a server with
//!   [`Server::without_authenticator`] unless its data has a `Default`.
//!
//! Either way the upgrade is checked as on the plain server, by the same code: a request
//! that is not a WebSocket upgrade gets 405, 426, 400 or 505, a foreign origin 403
//! ([`Server::allowed_origins`]), a full or shutting-down server 503
//! ([`Limits::max_connections`](crate::Limits::max_connections)), and the 101 response
//! carries `x-client-id`.
//!
//! **Routing is axum's.** The endpoint serves every request axum routes to it: the path
//! pattern of [`Server::path`] is not consulted (it serves [`Server::serve`] and
//! [`Endpoint::upgrade`]), nor is [`Server::fallback`] (serve pages with axum routes).
//! [`Ctx::param`](crate::Ctx::param) reads the parameters axum's route captured, written
//! the axum way (`/rooms/{room}`), including those of the prefix of a `nest`. A parameter
//! that is not UTF-8 once percent-decoded gets 400.
//!
//! **Shutdown.** axum's server does not know the WebSocket connections, which outlive the
//! HTTP exchange that opened them: after `axum::serve` returns, call
//! [`Endpoint::shutdown`] to close them with 1001.
//!
//! ```no_run
//! use axum::extract::{FromRequestParts, State};
//! use axum::http::request::Parts;
//! use axum::response::Response;
//! use axum::routing::get;
//! use wskit::{message, router, Ctx, Endpoint, Error, Rejection, Server};
//!
//! #[message("WHO_AM_I")]
//! pub struct WhoAmI;
//!
//! #[message("YOU_ARE")]
//! pub struct YouAre {
//!     pub name: String,
//! }
//!
//! /// The connection's data: who authenticated.
//! pub struct User {
//!     pub name: String,
//! }
//!
//! pub struct Chat;
//!
//! #[router(data = User)]
//! impl Chat {
//!     #[on]
//!     async fn who(&self, ctx: &mut Ctx<User>, _: WhoAmI) -> Result<(), Error> {
//!         let name = ctx.data().name.clone();
//!         ctx.reply(&YouAre { name })
//!     }
//! }
//!
//! // An ordinary axum extractor authenticates; `Rejection` is an axum response.
//! impl<S: Send + Sync> FromRequestParts<S> for User {
//!     type Rejection = Rejection;
//!
//!     async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Rejection> {
//!         match wskit::token::any(parts).as_deref() {
//!             Some("secret") => Ok(User { name: "ada".into() }),
//!             _ => Err(Rejection::unauthorized("a valid access_token is required")),
//!         }
//!     }
//! }
//!
//! #[derive(Clone)]
//! struct App {
//!     ws: Endpoint<Chat>,
//! }
//!
//! async fn ws(State(app): State<App>, user: User, upgrade: wskit::axum::Upgrade) -> Response {
//!     upgrade.accept(&app.ws, user)
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let app = App { ws: Server::without_authenticator(Chat).into_endpoint() };
//!     let routes = axum::Router::new()
//!         .route("/health", get(|| async { "ok" }))
//!         .route("/ws", get(ws))
//!         .with_state(app.clone());
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     axum::serve(listener, routes).await?;
//!     app.ws.shutdown().await;
//!     Ok(())
//! }
//! ```

use super::{handshake, Body, Endpoint, Rejection, Server};
use crate::router::Router;
use ::axum::extract::rejection::RawPathParamsRejection;
use ::axum::extract::{FromRequestParts, RawPathParams};
use ::axum::response::IntoResponse;
use http::request::Parts;
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A WebSocket upgrade request, extracted by an axum handler to accept it with connection
/// data the handler chose: see [`Upgrade::accept`] and the [module docs](self).
///
/// Extraction checks the handshake, so a request that is not a valid WebSocket upgrade
/// is answered ([`UpgradeRejection`]) without running the handler.
pub struct Upgrade {
    accepted: handshake::Accepted,
    headers: HeaderMap,
    uri: Uri,
    params: Vec<(String, String)>,
    peer: Option<std::net::SocketAddr>,
}

impl std::fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgrade")
            .field("uri", &self.uri)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, UpgradeRejection> {
        let accepted = handshake::check(parts).map_err(UpgradeRejection)?;
        let params = path_params(parts).await.map_err(UpgradeRejection)?;
        // The origin and subprotocol checks need the endpoint's settings, which `accept` brings.
        let peer = super::peer_addr(&parts.extensions);
        Ok(Upgrade { accepted, headers: parts.headers.clone(), uri: parts.uri.clone(), params, peer })
    }
}

impl Upgrade {
    /// Accepts the upgrade on `endpoint` with the connection's `data`: admits it (origin,
    /// connection limit, shutdown) and starts the connection in the background, answering
    /// 101, or answers the refusal (403, 503). The endpoint's authenticator is not asked.
    pub fn accept<R: Router>(self, endpoint: &Endpoint<R>, data: R::Data) -> ::axum::response::Response {
        match endpoint.admit(&self.headers, self.peer, self.accepted) {
            Ok(admitted) => endpoint.start(admitted, data, self.params, &self.uri).into_response(),
            Err(refused) => refused.into_response(),
        }
    }
}

/// Why a request is not a WebSocket upgrade [`Upgrade`] can accept: answered with the
/// status the plain server gives it (405, 426, 400, 505, or 400 for a path parameter that
/// is not UTF-8) and a short text.
#[derive(Debug)]
pub struct UpgradeRejection(Box<Response<Body>>);

impl UpgradeRejection {
    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.0.status()
    }
}

impl IntoResponse for UpgradeRejection {
    fn into_response(self) -> ::axum::response::Response {
        self.0.into_response()
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> ::axum::response::Response {
        self.response().into_response()
    }
}

impl<R: Router> Server<R> {
    /// A server whose connections get their data from the axum handler that accepts them
    /// with [`Upgrade::accept`]. It has no authenticator: an upgrade that reaches its
    /// endpoint another way (as a service, [`Endpoint::upgrade`], [`Server::serve`]) is
    /// refused with 401.
    pub fn without_authenticator(router: R) -> Self {
        Self::with_authenticator(router, |_| {
            std::future::ready(Err(Rejection::unauthorized(
                "this WebSocket route accepts connections only through its handler",
            )))
        })
    }
}

/// Mounts the endpoint in an axum router: `Router::new().route_service("/ws", endpoint)`.
///
/// Every request it is given is treated as an upgrade on its route, authenticated by the
/// server's authenticator; see the [module docs](self) for routing and path parameters.
impl<R: Router, B> tower_service::Service<Request<B>> for Endpoint<R> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // An upgrade request has no body to read: dropping it here keeps the future `Send`
        // whatever the body type.
        let (mut parts, _) = request.into_parts();
        let endpoint = self.clone();
        Box::pin(async move {
            Ok(match path_params(&mut parts).await {
                Ok(params) => endpoint.upgrade_parts(parts, params).await,
                Err(refused) => *refused,
            })
        })
    }
}

/// The parameters axum's router captured on the way to this request (none outside an
/// axum router), or the 400 answer to one that is not UTF-8 once percent-decoded.
async fn path_params(parts: &mut Parts) -> Result<Vec<(String, String)>, Box<Response<Body>>> {
    match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => Ok(params.iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect()),
        Err(RawPathParamsRejection::MissingPathParams(_)) => Ok(Vec::new()),
        Err(_) => {
            Err(Box::new(handshake::plain(StatusCode::BAD_REQUEST, "a path parameter is not valid UTF-8")))
        }
    }
}
