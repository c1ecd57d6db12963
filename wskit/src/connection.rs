//! [`Session`]: the protocol logic of one connection, free of socket and runtime types.
//!
//! A host (the hyper + tokio-tungstenite server, or another) reads frames from its socket
//! and hands their text to [`Session::on_text`]; the session decodes the envelope, answers
//! heartbeats and bad input, runs the router's handler and returns whether to go on. What
//! handlers send lands in the [`Outbox`](crate::outbox::Outbox), which the host drains to
//! its socket, also while a handler is still running.

use crate::close::Close;
use crate::ctx::Ctx;
use crate::envelope::{self, Envelope, Inbound, Meta};
use crate::error::{Code, Error};
use crate::limits::Limits;
use crate::router::Router;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the host does after a frame was handled.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep reading.
    Continue,
    /// Write what is queued, then close the socket with this code.
    Close(Close),
}

/// One connection's state: the router, the handlers' context and the error count.
pub(crate) struct Session<R: Router> {
    router: Arc<R>,
    ctx: Ctx<R::Data>,
    limits: Arc<Limits>,
    consecutive_errors: u32,
}

impl<R: Router> Session<R> {
    pub(crate) fn new(router: Arc<R>, ctx: Ctx<R::Data>, limits: Arc<Limits>) -> Self {
        Session { router, ctx, limits, consecutive_errors: 0 }
    }

    /// Runs the `#[on_open]` hook.
    pub(crate) async fn open(&mut self) -> Flow {
        self.ctx.attach();
        let outcome = AssertUnwindSafe(self.router.on_open(&mut self.ctx)).catch_unwind().await;
        let error = match outcome {
            Ok(Ok(())) => return self.flow(),
            Ok(Err(error)) => error,
            Err(panic) => panicked(&*panic, "on_open"),
        };
        let code = match error.code() {
            Code::Unauthenticated | Code::PermissionDenied => Close::POLICY,
            _ => Close::INTERNAL,
        };
        match self.fail(error).await {
            Flow::Continue => Flow::Close(Close::new(code, "connection rejected")),
            close => close,
        }
    }

    /// Handles the text of one inbound frame.
    pub(crate) async fn on_text(&mut self, text: &str) -> Flow {
        self.ctx.begin();
        let limit = self.limits.max_message_bytes;
        if text.len() > limit {
            return self.oversize(text.len()).await;
        }
        let envelope = match Envelope::parse(text) {
            Ok(envelope) => envelope,
            Err(error) => return self.reject(text, error).await,
        };
        if envelope.ty == envelope::HEARTBEAT {
            return self.heartbeat();
        }
        let (meta, extra_meta) = match envelope.meta() {
            Ok(meta) => meta,
            Err(error) => return self.reject(text, error).await,
        };
        self.ctx.set_meta(meta);
        if envelope.ty == envelope::ABORT {
            // Messages of a connection run one at a time, so no request is in flight
            // while this frame is read: there is nothing to cancel.
            return Flow::Continue;
        }
        if is_reserved(&envelope.ty) {
            return self.fail(envelope::unknown_type(&envelope.ty)).await;
        }
        let inbound = Inbound::new(&envelope.ty, envelope.payload, &extra_meta);
        let outcome = AssertUnwindSafe(self.router.dispatch(&mut self.ctx, inbound)).catch_unwind().await;
        match outcome {
            Ok(Ok(())) => {
                self.consecutive_errors = 0;
                self.flow()
            }
            Ok(Err(error)) => {
                if !error.is_protocol_error() {
                    tracing::debug!(message_type = %envelope.ty, %error, "handler failed");
                }
                self.fail(error).await
            }
            Err(panic) => self.fail(panicked(&*panic, &envelope.ty)).await,
        }
    }

    /// Answers a frame whose envelope or meta is malformed, as `RPC_ERROR` if a
    /// correlation id can still be read from it.
    async fn reject(&mut self, text: &str, error: Error) -> Flow {
        let meta = Meta { correlation_id: envelope::salvage_correlation_id(text), ..Meta::default() };
        self.ctx.set_meta(meta);
        self.fail(error).await
    }

    /// Answers a frame too large to handle: RESOURCE_EXHAUSTED, or close 1009 if so
    /// configured.
    pub(crate) async fn oversize(&mut self, observed: usize) -> Flow {
        let limit = self.limits.max_message_bytes;
        if self.limits.oversize == crate::Oversize::Close {
            return Flow::Close(Close::new(Close::TOO_BIG, "message too big"));
        }
        let error =
            Error::resource_exhausted(format!("the message is {observed} bytes; the limit is {limit}"))
                .with_detail("observed", observed)
                .with_detail("limit", limit)
                .protocol();
        self.fail(error).await
    }

    /// Answers a frame that cannot be a message at all (a binary frame that is not UTF-8).
    pub(crate) async fn on_invalid_frame(&mut self, reason: &'static str) -> Flow {
        self.ctx.begin();
        self.fail(Error::invalid_argument(reason).protocol()).await
    }

    /// Runs the `#[on_close]` hook.
    pub(crate) async fn close(&mut self, close: Close) {
        tracing::debug!(code = close.code, reason = %close.reason, "connection closed");
        self.ctx.detach();
        let hook = AssertUnwindSafe(self.router.on_close(&mut self.ctx, close));
        if let Err(panic) = hook.catch_unwind().await {
            panicked(&*panic, "on_close");
        }
    }

    fn heartbeat(&mut self) -> Flow {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        match self.ctx.enqueue(envelope::heartbeat_ack(now_ms)) {
            Ok(()) => Flow::Continue,
            Err(_) => self.flow(),
        }
    }

    /// Sends `error` to the client, tells the `#[on_error]` hook, and closes the
    /// connection once too many protocol errors came in a row.
    async fn fail(&mut self, error: Error) -> Flow {
        if error.is_protocol_error() {
            self.consecutive_errors += 1;
            tracing::debug!(%error, "rejected a frame");
        }
        // A failure to queue means the connection is closing or the queue overflowed;
        // `flow` below turns either into the right close.
        let _ = self.ctx.error(&error);
        let hook = AssertUnwindSafe(self.router.on_error(&mut self.ctx, &error));
        if let Err(panic) = hook.catch_unwind().await {
            panicked(&*panic, "on_error");
        }
        if self.consecutive_errors >= self.limits.max_consecutive_errors {
            return Flow::Close(Close::new(Close::POLICY, "too many invalid messages"));
        }
        self.flow()
    }

    /// Whether to go on: a close asked for by a handler, or the slow-consumer close
    /// after the outbound queue overflowed (also by publishes from elsewhere).
    pub(crate) fn flow(&mut self) -> Flow {
        self.ctx.take_close().map_or(Flow::Continue, Flow::Close)
    }
}

/// Types starting with `$` or `__` belong to the protocol; those it does not define for
/// clients are answered as unknown.
fn is_reserved(ty: &str) -> bool {
    ty.starts_with('$') || ty.starts_with("__")
}

/// Logs a panic of a handler or hook and returns the INTERNAL error the client gets: the
/// panic message stays in the server's log.
fn panicked(panic: &(dyn std::any::Any + Send), location: &str) -> Error {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(handler = location, panic = message, "handler panicked");
    Error::internal()
}
