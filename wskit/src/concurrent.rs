//! Concurrent handlers (`#[rpc(concurrent)]`): a request whose handler runs side by side
//! with the rest of its connection.
//!
//! The request takes its turn like every message: it is decoded, validated and passed
//! through the middleware in arrival order, with the connection's context. Then the router
//! [forks](fork) the context, and its handler becomes a [`Forked`] job that the connection
//! polls beside its in-order handlers, while it goes on to the next message. The job owns
//! its context (a copy of the connection's data) and reports how it [`Finished`].

use crate::close::Close;
use crate::ctx::Ctx;
use crate::error::Error;
use crate::panics::{self, Site};
use std::future::Future;
use std::pin::Pin;
use tokio_util::sync::CancellationToken;

/// The handler of a concurrent request, running on its own context.
pub struct Forked {
    pub(crate) token: CancellationToken,
    pub(crate) job: Pin<Box<dyn Future<Output = Box<Finished>> + Send>>,
}

impl Forked {
    /// A job that `token` cancels. Used by the code `#[router]` generates.
    #[doc(hidden)]
    pub fn new(token: CancellationToken, job: impl Future<Output = Box<Finished>> + Send + 'static) -> Self {
        Forked { token, job: Box::pin(job) }
    }
}

impl std::fmt::Debug for Forked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forked").finish_non_exhaustive()
    }
}

/// How a concurrent handler ended.
#[doc(hidden)]
#[derive(Debug)]
pub enum Ran {
    /// It returned; an error was sent to the client already.
    Done(Result<(), Error>),
    /// It was cancelled (aborted, past its deadline): the connection answers.
    Cancelled,
    /// It panicked; the client was sent INTERNAL.
    Panicked,
}

/// What a concurrent handler's job reports to its connection.
#[derive(Debug)]
pub struct Finished {
    pub(crate) ran: Ran,
    /// Whether the request had its terminal frame.
    pub(crate) answered: bool,
    pub(crate) correlation_id: Option<String>,
    /// The close the handler asked for.
    pub(crate) close: Option<Close>,
}

/// Runs a concurrent handler: stops it when its token is cancelled, catches its panic.
#[doc(hidden)]
#[derive(Debug)]
pub struct Guard {
    token: CancellationToken,
    quiet: bool,
    message_type: &'static str,
}

impl Guard {
    /// The token that cancels the handler.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Runs `handler` until it returns, panics or is cancelled.
    pub async fn run(&self, handler: impl Future<Output = Result<(), Error>>) -> Ran {
        tokio::select! {
            biased;
            () = self.token.cancelled() => Ran::Cancelled,
            outcome = panics::catch(handler, self.quiet) => match outcome {
                Ok(result) => Ran::Done(result),
                Err(panic) => {
                    panics::report(&*panic, Site::Message, self.message_type);
                    Ran::Panicked
                }
            },
        }
    }

    /// Answers what the handler left unanswered on its context `ctx`, and reports (boxed:
    /// the connection waits for it beside everything else, also while idle).
    pub fn finish<D>(self, mut ctx: Ctx<D>, ran: Ran) -> Box<Finished> {
        let unanswered = match &ran {
            Ran::Done(Err(error)) => Some(error.clone()),
            Ran::Panicked => Some(Error::internal()),
            Ran::Done(Ok(())) | Ran::Cancelled => None,
        };
        if let Some(error) = unanswered {
            // A refused error frame means it was answered already, or the connection closes.
            let _ = ctx.error(&error);
        }
        ctx.finish_fork(ran)
    }
}

/// The connection data of a router with concurrent handlers: each gets a copy.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a router with `#[rpc(concurrent)]` handlers needs connection data that is `Clone`; `{Self}` is not",
    label = "each concurrent handler gets a copy of the connection's data",
    note = "derive `Clone` for `{Self}`, or keep what concurrent handlers share behind an `Arc`"
)]
pub trait ForkData: Clone {}

impl<D: Clone> ForkData for D {}

/// Forks `ctx` for the concurrent handler of a request of `message_type`: the fork copies
/// the connection's data and takes over the request (its reply, deadline and
/// cancellation). Used by the code `#[router]` generates.
#[doc(hidden)]
pub fn fork<D: ForkData>(ctx: &mut Ctx<D>, message_type: &'static str) -> (Ctx<D>, Guard) {
    let (fork, token, quiet) = ctx.fork();
    (fork, Guard { token, quiet, message_type })
}
