//! Middleware: code that runs before handlers, to log, authorize, rate-limit or enrich
//! the connection's data, and that may stop a message from reaching its handler.
//!
//! Two places hold middleware, run in this order for every message:
//!
//! 1. the server's layers ([`Server::middleware`](crate::Server::middleware)), for
//!    cross-cutting concerns such as rate limiting: they run before the payload is decoded
//!    (a rejected message costs no decoding) and see its type, meta and raw payload;
//! 2. the router's own `#[middleware]` methods, named in `#[router(middleware = [..])]`
//!    (for every message of the router) and then in `#[on(middleware = [..])]` or
//!    `#[rpc(middleware = [..])]` (for one handler): they run after decoding and validation,
//!    and also see the decoded message.
//!
//! Each returns [`Next::Continue`] to go on, [`Next::Stop`] to drop the message silently,
//! or an error, which stops the message and is sent to the client as its error frame.
//!
//! Code that runs after the handler (to time it, or to see its result or error) goes in
//! the router's `#[after]` methods, `async fn(&self, ctx: &mut Ctx<Data>, handled:
//! &Handled<'_>)`. They run, in the order they are declared, for every message routed to
//! one of the router's handlers, once it is done: decoded, passed through the
//! middleware and handled (an RPC's reply queued; an error is sent to the client after
//! them, so what they send comes first). [`Handled`] tells them the message
//! type, the outcome (also a decoding, validation or middleware error; `Ok` when a
//! middleware stopped the message silently) and the time since the router began with
//! the message. They do not run for frames the router never routed (malformed, unknown
//! types, refused by a server layer), for a handler that panicked, nor for one that was
//! cancelled (aborted, past its deadline, or cut off by the connection's end): its future
//! is dropped at the point where it waited. A router without `#[after]` methods pays
//! nothing for them, not even a clock read.

use crate::ctx::Ctx;
use crate::error::Error;
use crate::message::Message;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What a middleware decides about the message it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Next {
    /// Go on: to the next middleware, then the handler.
    Continue,
    /// Stop here without an answer: the message is dropped silently.
    Stop,
}

/// The message a middleware sees.
pub struct Incoming<'a> {
    message_type: &'a str,
    raw_payload: Option<&'a str>,
    decoded: Option<&'a (dyn Any + Send + Sync)>,
    /// The router's [`handles`](crate::Router::handles), for [`is_routed`](Self::is_routed).
    routed: fn(&str) -> Option<&'static str>,
}

impl<'a> Incoming<'a> {
    /// A message before decoding, as server layers see it.
    pub(crate) fn raw(
        message_type: &'a str,
        raw_payload: Option<&'a str>,
        routed: fn(&str) -> Option<&'static str>,
    ) -> Self {
        Incoming { message_type, raw_payload, decoded: None, routed }
    }

    /// A decoded message, as router middleware sees it. Used by the code `#[router]`
    /// generates.
    #[doc(hidden)]
    pub fn decoded<M: Message + Sync>(message: &'a M) -> Self {
        Incoming { message_type: M::TYPE, raw_payload: None, decoded: Some(message), routed: |_| None }
    }

    /// The message's type string.
    pub fn message_type(&self) -> &'a str {
        self.message_type
    }

    /// Whether the router has a handler for this type. Server layers see every frame,
    /// also those with types a client made up, which the router will refuse: do not key
    /// state by such types. (Router middleware only ever sees routed types.)
    pub fn is_routed(&self) -> bool {
        self.decoded.is_some() || (self.routed)(self.message_type).is_some()
    }

    /// The decoded message, if it is an `M`. Always `None` in server layers, which run
    /// before decoding.
    pub fn payload<M: Message>(&self) -> Option<&'a M> {
        self.decoded.and_then(|decoded| decoded.downcast_ref())
    }

    /// The payload's JSON text as it arrived. Only in server layers; router middleware
    /// reads the decoded message with [`payload`](Self::payload).
    pub fn raw_payload(&self) -> Option<&'a str> {
        self.raw_payload
    }
}

/// A message the router is done with, as its `#[after]` methods see it.
///
/// ```
/// use wskit::middleware::Handled;
/// use wskit::{message, router, Ctx, Error};
///
/// #[message("PING")]
/// pub struct Ping;
///
/// pub struct App;
///
/// #[router]
/// impl App {
///     #[on]
///     async fn ping(&self, _ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
///         Ok(())
///     }
///
///     /// Logs every message with its outcome and how long it took.
///     #[after]
///     async fn log(&self, _ctx: &mut Ctx<()>, handled: &Handled<'_>) {
///         match handled.result() {
///             Ok(()) => tracing::info!(ty = handled.message_type(), took = ?handled.elapsed(), "handled"),
///             Err(error) => tracing::warn!(ty = handled.message_type(), %error, "failed"),
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Handled<'a> {
    message_type: &'static str,
    result: Result<(), &'a Error>,
    elapsed: Duration,
}

impl<'a> Handled<'a> {
    /// The outcome of a message of `message_type`, handled in `elapsed`. Used by the code
    /// `#[router]` generates.
    #[doc(hidden)]
    pub fn new(message_type: &'static str, result: &'a Result<(), Error>, elapsed: Duration) -> Self {
        Handled { message_type, result: result.as_ref().map(|_| ()), elapsed }
    }

    /// The message's type string.
    pub fn message_type(&self) -> &'static str {
        self.message_type
    }

    /// `Ok` once the handler returned `Ok` (or a middleware stopped the message silently);
    /// otherwise the error the client is sent, whether decoding, validation, a middleware
    /// or the handler failed.
    pub fn result(&self) -> Result<(), &'a Error> {
        self.result
    }

    /// The time from the router's start on the message (before decoding it) to the end of
    /// its handler: decoding, validation, middleware and handler together.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

/// A boxed future of a middleware's decision.
pub type Decision<'a> = Pin<Box<dyn Future<Output = Result<Next, Error>> + Send + 'a>>;

/// A server layer: middleware that runs for every message of every connection, before
/// the router's own.
///
/// ```
/// use wskit::middleware::{Decision, Incoming, Middleware, Next};
/// use wskit::{Ctx, Error};
///
/// /// Refuses every message type starting with `ADMIN_`.
/// struct NoAdmin;
///
/// impl<D: Send + 'static> Middleware<D> for NoAdmin {
///     fn handle<'a>(&'a self, _ctx: &'a mut Ctx<D>, incoming: &'a Incoming<'a>) -> Decision<'a> {
///         let refused = incoming.message_type().starts_with("ADMIN_");
///         Box::pin(async move {
///             match refused {
///                 true => Err(Error::permission_denied("admin messages are disabled")),
///                 false => Ok(Next::Continue),
///             }
///         })
///     }
/// }
/// ```
pub trait Middleware<D>: Send + Sync + 'static {
    /// Decides about `incoming`: go on, stop silently, or stop with an error frame. It may
    /// read and change the connection's data through `ctx`.
    fn handle<'a>(&'a self, ctx: &'a mut Ctx<D>, incoming: &'a Incoming<'a>) -> Decision<'a>;
}
