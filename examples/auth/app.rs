//! The auth application: JWT claims, the authenticator, the messages and the router.
//!
//! Every connection proves who it is with an HS256 JSON Web Token before the upgrade; the
//! authenticator turns the token's claims into a [`User`], the connection's data, which
//! every handler reads typed. Anyone may `SAY` something in the lobby; `ANNOUNCE` is for
//! admins, guarded by the `admin_only` middleware. A rate limiter, keyed by user name,
//! gives all the connections of one user a single token bucket, and an announcement
//! costs more than a word in the lobby.

use http::{header, HeaderValue, Response};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wskit::middleware::{Incoming, Next};
use wskit::ratelimit::{Limit, RateLimiter};
use wskit::{message, router, Body, Ctx, Error, Limits, Rejection, Server};

/// The topic every connection joins: the lobby.
const LOBBY: &str = "lobby";

/// The port the example listens on unless `PORT` says another.
pub(crate) const PORT: u16 = 3001;

/// The origins a browser may connect from: pages served by this example on `port`.
pub(crate) fn allowed_origins(port: u16) -> [String; 2] {
    [format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")]
}

/// Tokens an `ANNOUNCE` takes from its sender's bucket; every other message takes 1.
pub(crate) const ANNOUNCE_COST: u32 = 5;

/// Seconds of clock skew tolerated when checking a token's `exp`.
pub(crate) const LEEWAY_SECONDS: u64 = 5;

// ---- Tokens ----

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// May announce to everyone.
    Admin,
    /// May talk in the lobby.
    Member,
}

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user's name.
    pub(crate) sub: String,
    /// What the user may do.
    pub(crate) role: Role,
    /// When the token expires, in seconds since the Unix epoch.
    pub(crate) exp: u64,
}

impl Claims {
    /// Claims for `name` with `role`, valid for `ttl` from now.
    pub(crate) fn new(name: &str, role: Role, ttl: Duration) -> Self {
        Claims { sub: name.to_owned(), role, exp: unix_now() + ttl.as_secs() }
    }

    /// The claims signed with HS256 and `secret`: an access token.
    pub(crate) fn sign(&self, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), self, &EncodingKey::from_secret(secret))
            .expect("HS256 signing with a secret cannot fail")
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970").as_secs()
}

/// The connection's data: who is connected, from the token's claims.
#[derive(Debug)]
pub(crate) struct User {
    name: String,
    role: Role,
    /// The token's `exp`: the session ends with the token.
    expires_at: u64,
}

/// Checks the token a client presents (`?access_token=`, a `bearer.<token>` subprotocol or
/// an `Authorization: Bearer` header) and answers with its user, or 401 saying what is wrong.
fn authenticate(key: &DecodingKey, validation: &Validation, token: Option<&str>) -> Result<User, Rejection> {
    let token = token.ok_or_else(|| {
        Rejection::unauthorized(
            "missing access token: pass it as ?access_token=<JWT>, as a bearer.<JWT> subprotocol \
         or in an Authorization: Bearer <JWT> header",
        )
    })?;
    let claims = jsonwebtoken::decode::<Claims>(token, key, validation)
        .map_err(|error| match error.kind() {
            ErrorKind::ExpiredSignature => Rejection::unauthorized("the access token has expired"),
            ErrorKind::InvalidSignature => {
                Rejection::unauthorized("the access token's signature is not valid")
            }
            _ => Rejection::unauthorized(format!("the access token is not valid: {error}")),
        })?
        .claims;
    Ok(User { name: claims.sub, role: claims.role, expires_at: claims.exp })
}

// ---- Client to server ----

/// Says something to everyone in the lobby. Anyone may.
#[message("SAY")]
struct Say {
    #[validate(length(min = 1, max = 500))]
    text: String,
}

/// Announces something to everyone in the lobby. Admins only.
#[message("ANNOUNCE")]
struct Announce {
    #[validate(length(min = 1, max = 500))]
    text: String,
}

// ---- Server to client ----

/// Sent on connecting: who the token says this connection is.
#[message("WELCOME")]
struct Welcome {
    user: String,
    role: Role,
}

/// Someone said something in the lobby.
#[message("SAID")]
struct Said {
    user: String,
    text: String,
}

/// An admin's announcement.
#[message("ANNOUNCEMENT")]
struct Announcement {
    from: String,
    text: String,
}

// ---- The router ----

/// The lobby: everyone connected, talking.
pub(crate) struct Lobby;

#[router(data = User, middleware = [unexpired])]
impl Lobby {
    /// Ends the session once its token has expired: the message is refused with
    /// UNAUTHENTICATED and the connection closed with 4001, so that the client reconnects
    /// with a fresh token.
    #[middleware]
    async fn unexpired(&self, ctx: &mut Ctx<User>, _incoming: &Incoming<'_>) -> Result<Next, Error> {
        if unix_now() < ctx.data().expires_at + LEEWAY_SECONDS {
            return Ok(Next::Continue);
        }
        ctx.error(&Error::unauthenticated("the access token has expired; reconnect with a fresh one"))?;
        ctx.close(4001, "access token expired");
        Ok(Next::Stop)
    }

    /// Joins the lobby and tells the client who it is.
    #[on_open]
    async fn welcome(&self, ctx: &mut Ctx<User>) -> Result<(), Error> {
        ctx.subscribe(LOBBY).await?;
        let user = ctx.data();
        let welcome = Welcome { user: user.name.clone(), role: user.role };
        ctx.send(&welcome)
    }

    /// Lets admins through; answers PERMISSION_DENIED to everyone else.
    #[middleware]
    async fn admin_only(&self, ctx: &mut Ctx<User>, incoming: &Incoming<'_>) -> Result<Next, Error> {
        match ctx.data().role {
            Role::Admin => Ok(Next::Continue),
            Role::Member => Err(Error::permission_denied(format!(
                "{} is for admins, and {} is a member",
                incoming.message_type(),
                ctx.data().name
            ))),
        }
    }

    /// Passes the words on to the lobby, signed with the sender's name.
    #[on]
    async fn say(&self, ctx: &mut Ctx<User>, say: Say) -> Result<(), Error> {
        let said = Said { user: ctx.data().name.clone(), text: say.text };
        ctx.publish(LOBBY, &said).await?;
        Ok(())
    }

    /// Announces to the lobby; `admin_only` has already let only admins through.
    #[on(middleware = [admin_only])]
    async fn announce(&self, ctx: &mut Ctx<User>, announce: Announce) -> Result<(), Error> {
        let announcement = Announcement { from: ctx.data().name.clone(), text: announce.text };
        ctx.publish(LOBBY, &announcement).await?;
        Ok(())
    }
}

// ---- The server ----

/// How the server is set up: `main` uses [`Config::demo`], tests tighten it.
pub(crate) struct Config {
    /// The HS256 secret access tokens are signed with.
    pub(crate) secret: Vec<u8>,
    /// Each user's bucket: the largest burst of tokens, and the tokens it regains a second.
    pub(crate) burst: u32,
    /// See [`burst`](Self::burst).
    pub(crate) refill_per_second: f64,
    /// Connections the server holds at once; more get 503.
    pub(crate) max_connections: usize,
    /// The port the server's pages are served from: browsers on them may connect.
    pub(crate) port: u16,
}

impl Config {
    /// The demo's settings, signing with `secret`: bursts of 20 tokens, 2 tokens a
    /// second, 100 connections, pages on [`PORT`].
    pub(crate) fn demo(secret: Vec<u8>) -> Self {
        Config { secret, burst: 20, refill_per_second: 2.0, max_connections: 100, port: PORT }
    }
}

/// The server: the lobby at `/ws` behind the JWT authenticator, the origin allow-list, the
/// connection limit and the per-user rate limiter, and a short text page at every other
/// path.
pub(crate) fn server(config: Config) -> Server<Lobby> {
    let key = DecodingKey::from_secret(&config.secret);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECONDS;
    let limit = Limit::new(config.burst, config.refill_per_second).cost("ANNOUNCE", ANNOUNCE_COST);
    Server::with_authenticator(Lobby, move |parts| {
        let token = wskit::token::any(parts);
        std::future::ready(authenticate(&key, &validation, token.as_deref()))
    })
    .path("/ws")
    .allowed_origins(allowed_origins(config.port))
    .limits(Limits::default().max_connections(config.max_connections))
    .middleware(RateLimiter::new(limit).per_user(|user: &User, _| user.name.clone()))
    .fallback(|_| async { page() })
}

/// The page at every path but `/ws`: how to connect, for a browser's console.
fn page() -> Response<Body> {
    let mut response = Response::new(Body::from(
        "wskit auth example: connect a WebSocket to /ws with an access token, e.g. in this \
         page's console:\n\n  new WebSocket(\"ws://\" + location.host + \"/ws?access_token=<JWT>\")\n",
    ));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
