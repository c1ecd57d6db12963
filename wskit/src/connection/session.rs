//! [`Session`]: a connection's handlers and hooks. It decodes each frame's envelope,
//! answers heartbeats and bad input, runs the router's handler (behind the middleware
//! layers) and turns what they return, errors and panics included, into frames and into
//! whether the connection goes on.

use super::control::{too_many_errors, Control};
use super::liveness::Liveness;
use super::{heartbeat_ack, Exit, Flow};
use crate::close::Close;
use crate::concurrent::Forked;
use crate::ctx::Ctx;
use crate::envelope::{self, Envelope, ExtraMeta, Inbound, Meta};
use crate::error::{Code, Error};
use crate::limits::{clip, LimitKind, Limits};
use crate::middleware::{Incoming, Middleware, Next};
use crate::observe;
use crate::panics::{self, Site};
use crate::protocol;
use crate::router::Router;
use crate::time::Instant;
use bytes::Bytes;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// One connection's state: the router, the handlers' context and the error count.
pub(crate) struct Session<R: Router> {
    router: Arc<R>,
    layers: Layers<R::Data>,
    ctx: Ctx<R::Data>,
    /// Protocol errors in a row, toward the consecutive-error limit.
    strikes: u32,
    /// The handler of the concurrent request just taken, for the connection to run.
    forked: Option<Box<Forked>>,
}

/// The server's middleware layers, shared by its connections. A `Vec` behind the `Arc`,
/// not a slice: a thin pointer, half the room in every connection.
pub(crate) type Layers<D> = Arc<Vec<Arc<dyn Middleware<D>>>>;

impl<R: Router> Session<R> {
    pub(crate) fn new(router: Arc<R>, layers: Layers<R::Data>, ctx: Ctx<R::Data>) -> Self {
        // The router's compile-time checks fail the build of any host serving it.
        const { R::CHECK };
        Session { router, layers, ctx, strikes: 0, forked: None }
    }

    /// The [`Control`] of this session's connection, opened at `now`.
    pub(crate) fn control<T: AsRef<str> + From<String>>(
        &self,
        liveness: Option<Arc<Liveness>>,
        now: Instant,
    ) -> Control<T> {
        let outbox = self.ctx.outbox().clone();
        Control::new(outbox, liveness, now, R::HANDLES_BINARY)
    }

    /// The connection's context.
    #[cfg(any(feature = "server", all(feature = "cloudflare", target_arch = "wasm32")))]
    pub(crate) fn ctx(&self) -> &Ctx<R::Data> {
        &self.ctx
    }

    /// The connection's context, to configure it before the connection opens.
    pub(crate) fn ctx_mut(&mut self) -> &mut Ctx<R::Data> {
        &mut self.ctx
    }

    /// Runs the `#[on_open]` hook.
    pub(crate) async fn open(&mut self) -> Flow {
        self.ctx.attach();
        observe::connection_opened();
        let quiet = self.ctx.limits().quiet_panics;
        let outcome = panics::catch(self.router.on_open(&mut self.ctx), quiet).await;
        let error = match outcome {
            Ok(Ok(())) => return self.flow(),
            Ok(Err(error)) => error,
            Err(panic) => panicked(&*panic, Site::OnOpen, panics::NO_TYPE),
        };
        let code = match error.code() {
            Code::Unauthenticated | Code::PermissionDenied => Close::POLICY,
            _ => Close::INTERNAL,
        };
        self.fail(error).await?;
        Err(Exit::Close(Close::new(code, "connection rejected")))
    }

    /// Decodes one inbound frame that arrived at `arrived`: answers what needs no handler
    /// (heartbeats, aborts of nothing) and bad input, or returns the job of the handler to
    /// run. An RPC request's deadline counts from its arrival, also when it waited for its
    /// turn.
    pub(crate) fn prepare<'t>(&mut self, text: &'t str, arrived: Instant) -> Step<'t> {
        self.ctx.begin(arrived);
        if text.len() > self.ctx.limits().max_message_bytes {
            return self.oversize(text.len(), Some(text));
        }
        let mut envelope = match Envelope::parse(text) {
            Ok(envelope) => envelope,
            Err(error) => return self.reject(text, error),
        };
        if envelope.ty == protocol::HEARTBEAT {
            return Step::Done(self.heartbeat());
        }
        self.ctx.set_message_type(routed_type::<R>(&envelope.ty));
        let (meta, extra_meta) = match envelope.meta() {
            Ok(meta) => meta,
            Err(error) => return self.reject(text, error),
        };
        let timeout_ms = meta.timeout_ms;
        self.ctx.set_meta(meta);
        if envelope.ty == protocol::ABORT {
            // A request waiting or running when the abort arrived is cancelled by
            // `Control`; here nothing is in flight: there is nothing to cancel.
            return Step::Done(Ok(()));
        }
        if protocol::is_reserved(&envelope.ty) {
            return Step::Fail(envelope::unknown_type(&envelope.ty));
        }
        if self.router.is_rpc(&envelope.ty) {
            let timeout = timeout_ms.map_or(self.ctx.limits().rpc_timeout, Duration::from_millis);
            self.ctx.start_request(arrived + timeout.min(self.ctx.limits().rpc_timeout));
        }
        Step::Run(Job::Message(Routed { ty: envelope.ty, payload: envelope.payload, extra_meta }))
    }

    /// Checks a binary frame that arrived at `arrived`, for the router's `#[on_binary]`
    /// handler, against the message size limit.
    pub(crate) fn prepare_binary(&mut self, bytes: Vec<u8>, arrived: Instant) -> Step<'static> {
        self.ctx.begin(arrived);
        if bytes.len() > self.ctx.limits().max_message_bytes {
            return self.oversize(bytes.len(), None);
        }
        Step::Run(Job::Binary(bytes.into()))
    }

    /// Runs a prepared job: a message through the server's middleware layers and then the
    /// router, a binary frame through the router's `#[on_binary]` handler. A request of a
    /// concurrent handler is only taken in its turn: its handler is left in
    /// [`take_forked`](Self::take_forked), or refused unless `can_fork`.
    pub(crate) async fn run(&mut self, job: Job<'_>, can_fork: bool) -> Flow {
        let binary = matches!(job, Job::Binary(_));
        // At debug level, so the default output stays quiet; its fields are only
        // evaluated when a subscriber wants the span.
        let span = tracing::debug_span!(
            "message",
            message_type = %match &job { Job::Message(routed) => clip(&routed.ty), Job::Binary(_) => BINARY.into() },
            correlation_id = self.ctx.meta().correlation_id.as_deref().unwrap_or_default(),
            outcome = tracing::field::Empty,
            handler_us = tracing::field::Empty,
        );
        let started = (observe::TIMES_HANDLERS || !span.is_disabled()).then(Instant::now);
        let (router, layers, ctx) = (&*self.router, self.layers.as_slice(), &mut self.ctx);
        let (shared, forked) = (&self.router, &mut self.forked);
        let quiet = ctx.limits().quiet_panics;
        // The message's parts live here while its handler borrows them.
        let message: Routed<'_>;
        let (ty, outcome) = match job {
            Job::Message(routed) => {
                message = routed;
                let Routed { ty, payload, extra_meta } = &message;
                // Pinned where it is made: the wrappers below then move a pointer, not the
                // handler's future (as large as the router's largest), at every message.
                let handling = std::pin::pin!(async {
                    let incoming = Incoming::raw(ty, *payload, R::handles);
                    for layer in layers {
                        if layer.handle(ctx, &incoming).await? == Next::Stop {
                            return Ok(());
                        }
                    }
                    let inbound = Inbound::new(ty, *payload, extra_meta);
                    if router.is_concurrent(ty) {
                        if !can_fork {
                            return Err(concurrency_exhausted(ctx.limits(), ctx.client_id()));
                        }
                        // Boxed: inline, it would grow the future of every message.
                        *forked =
                            Box::pin(router.fork(Arc::clone(shared), ctx, inbound)).await?.map(Box::new);
                        return Ok(());
                    }
                    router.dispatch(ctx, inbound).await
                });
                (&**ty, panics::catch(handling.instrument(span.clone()), quiet).await)
            }
            Job::Binary(bytes) => {
                (BINARY, panics::catch(router.on_binary(ctx, bytes).instrument(span.clone()), quiet).await)
            }
        };
        // The router's own copy of the type: `ty` borrows from the frame.
        let routed = if binary { Some(BINARY) } else { self.ctx.routed_type() };
        if let Some(started) = started {
            let (handled, elapsed) = (observe::Outcome::of(&outcome), started.elapsed());
            observe::message(routed, handled, elapsed);
            span.record("outcome", handled.as_str());
            span.record("handler_us", elapsed.as_micros() as u64);
        }
        self.ctx.release_cancellation(false);
        match outcome {
            Ok(Ok(())) if self.ctx.is_unanswered_request() => {
                // A middleware stopped the request: it still gets its one terminal frame.
                self.fail(Error::cancelled("the request was dropped before its handler ran")).await
            }
            Ok(Ok(())) => {
                self.strikes = 0;
                self.flow()
            }
            Ok(Err(error)) => {
                if !error.is_protocol_error() {
                    // A middleware layer fails messages of any type, made-up ones too.
                    tracing::debug!(message_type = %clip(ty), %error, "handler failed");
                }
                self.fail(error).await
            }
            Err(panic) => {
                // Logged under the router's own copy of the type: a type the router does
                // not handle (a middleware layer panicked on it) comes from the client and
                // must not grow the panic log.
                self.fail(panicked(&*panic, Site::Message, routed.unwrap_or(panics::UNROUTED))).await
            }
        }
    }

    /// Lets go of what belonged to the last message, before the connection waits.
    pub(crate) fn rest(&mut self) {
        self.ctx.rest();
    }

    /// The handler of the concurrent request [`run`](Self::run) just took, to run beside
    /// the connection's other messages.
    pub(crate) fn take_forked(&mut self) -> Option<Box<Forked>> {
        self.forked.take()
    }

    /// The connection's data.
    pub(crate) fn data(&self) -> &R::Data {
        self.ctx.data()
    }

    /// The correlation id of the message being handled.
    pub(crate) fn correlation_id(&self) -> Option<&str> {
        self.ctx.meta().correlation_id.as_deref()
    }

    /// The deadline of the job being run, if it is an RPC request.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.ctx.deadline()
    }

    /// Ends a job whose handler was stopped (its future dropped, or never started)
    /// because it was aborted or passed its deadline: fires the handler's cancellation
    /// token and answers the request with `error`, unless it was answered already.
    pub(crate) async fn interrupt(&mut self, error: Error) -> Flow {
        self.ctx.release_cancellation(true);
        tracing::debug!(%error, "request interrupted");
        self.fail(error).await
    }

    /// Fires the cancellation token of a handler dropped without an answer: the
    /// connection is closing.
    pub(crate) fn abandon(&mut self) {
        self.ctx.release_cancellation(true);
    }

    /// Tells the `#[on_error]` hook about an error already sent while a handler was
    /// running (a request beyond the in-flight limit), and counts it.
    pub(crate) async fn observe(&mut self, error: Error) -> Flow {
        self.count(&error);
        self.notify(&error).await;
        self.verdict()
    }

    /// Answers a frame whose envelope or meta is malformed, as `RPC_ERROR` if a
    /// correlation id can still be read from it.
    fn reject(&mut self, text: &str, error: Error) -> Step<'static> {
        let meta = Meta { correlation_id: envelope::salvage_correlation_id(text), ..Meta::default() };
        self.ctx.set_meta(meta);
        Step::Fail(error)
    }

    /// Answers a frame of `observed` bytes, too large to handle: RESOURCE_EXHAUSTED
    /// (`RPC_ERROR` if a correlation id can be read from its `text`), or close 1009 if so
    /// configured.
    fn oversize(&mut self, observed: usize, text: Option<&str>) -> Step<'static> {
        let limit = self.ctx.limits().max_message_bytes;
        self.ctx.limits().exceeded(LimitKind::MessageSize, observed, limit, Some(self.ctx.client_id()));
        if self.ctx.limits().oversize == crate::Oversize::Close {
            return Step::Done(Err(Exit::Close(Close::new(Close::TOO_BIG, "message too big"))));
        }
        let error =
            Error::resource_exhausted(format!("the message is {observed} bytes; the limit is {limit}"))
                .with_detail("observed", observed)
                .with_detail("limit", limit)
                .protocol();
        match text {
            Some(text) => self.reject(text, error),
            None => Step::Fail(error),
        }
    }

    /// Answers a frame that arrived at `arrived` and cannot be a message at all (a binary
    /// frame that is not UTF-8).
    pub(crate) async fn reject_frame(&mut self, error: Error, arrived: Instant) -> Flow {
        self.ctx.begin(arrived);
        self.fail(error).await
    }

    /// Runs the `#[on_close]` hook. With `keep_topics` the connection's subscriptions stay,
    /// for a session kept to be resumed, and are returned.
    pub(crate) async fn close(&mut self, close: Close, keep_topics: bool) -> Vec<Box<str>> {
        tracing::debug!(code = close.code, reason = %close.reason, "connection closed");
        observe::connection_closed(close.code);
        // A handler the host abandoned (the client left, or shutdown ran out of time).
        self.ctx.release_cancellation(true);
        // `#[on_close]` handles no message: not the one that was running, either.
        self.ctx.rest();
        let topics = self.ctx.detach(keep_topics);
        let quiet = self.ctx.limits().quiet_panics;
        let hook = self.router.on_close(&mut self.ctx, close);
        if let Err(panic) = panics::catch(hook, quiet).await {
            panicked(&*panic, Site::OnClose, panics::NO_TYPE);
        }
        topics
    }

    fn heartbeat(&mut self) -> Flow {
        match self.ctx.enqueue(heartbeat_ack()) {
            Ok(()) => Ok(()),
            Err(_) => self.flow(),
        }
    }

    /// Sends `error` to the client, tells the `#[on_error]` hook, and closes the
    /// connection once too many protocol errors came in a row.
    pub(crate) async fn fail(&mut self, error: Error) -> Flow {
        self.count(&error);
        // A failure to queue means the connection is closing or the queue overflowed;
        // `verdict` below turns either into the right close.
        let _ = self.ctx.error(&error);
        self.notify(&error).await;
        self.verdict()
    }

    fn count(&mut self, error: &Error) {
        if error.is_protocol_error() {
            self.strikes += 1;
            tracing::debug!(%error, "rejected a frame");
        }
    }

    async fn notify(&mut self, error: &Error) {
        let quiet = self.ctx.limits().quiet_panics;
        let hook = self.router.on_error(&mut self.ctx, error);
        if let Err(panic) = panics::catch(hook, quiet).await {
            panicked(&*panic, Site::OnError, panics::NO_TYPE);
        }
    }

    /// Whether to go on after an error: closes once too many protocol errors came in a row.
    fn verdict(&mut self) -> Flow {
        if let Some(close) = too_many_errors(self.ctx.limits(), self.strikes, self.ctx.client_id()) {
            return Err(Exit::Close(close));
        }
        self.flow()
    }

    /// Whether to go on: a close asked for by a handler, or the slow-consumer close
    /// after the outbound queue overflowed (also by publishes from elsewhere).
    pub(crate) fn flow(&mut self) -> Flow {
        self.ctx.take_close().map_or(Ok(()), |close| Err(Exit::Close(close)))
    }
}

/// What [`Session::prepare`] made of a frame.
pub(crate) enum Step<'t> {
    /// Handled already (a heartbeat, an abort of nothing, a close-worthy frame).
    Done(Flow),
    /// Rejected: send this error with [`Session::fail`].
    Fail(Error),
    /// A message for the router: run it with [`Session::run`].
    Run(Job<'t>),
}

/// A frame waiting for its handler.
pub(crate) enum Job<'t> {
    /// A message for the router.
    Message(Routed<'t>),
    /// A binary frame for the router's `#[on_binary]` handler.
    Binary(Bytes),
}

/// A decoded message waiting for its handler, borrowed from the frame's text.
pub(crate) struct Routed<'t> {
    ty: Cow<'t, str>,
    payload: Option<&'t str>,
    extra_meta: Vec<ExtraMeta<'t>>,
}

/// The router's own copy of `ty` if it handles that type (no allocation per message),
/// else a copy of the client's, clipped.
fn routed_type<R: Router>(ty: &str) -> Cow<'static, str> {
    match R::handles(ty) {
        Some(routed) => Cow::Borrowed(routed),
        None => Cow::Owned(clip(ty).into_owned()),
    }
}

/// What logs name a binary frame by in place of a message type.
const BINARY: &str = "#[on_binary]";

/// The error for a concurrent request whose turn comes while the connection runs as many
/// concurrent handlers as it may; the limits hook is told.
fn concurrency_exhausted(limits: &Limits, client_id: uuid::Uuid) -> Error {
    let limit = limits.max_concurrent_handlers;
    limits.exceeded(LimitKind::ConcurrentHandlers, limit + 1, limit, Some(client_id));
    Error::resource_exhausted(format!(
        "{limit} concurrent requests of this connection are running; wait for one to finish"
    ))
    .with_detail("limit", limit)
    .protocol()
}

/// Logs a panic of a handler or hook (rate-limited) and returns the INTERNAL error the
/// client gets: the panic message stays in the server's log.
fn panicked(panic: &(dyn std::any::Any + Send), site: Site, message_type: &'static str) -> Error {
    panics::report(panic, site, message_type);
    Error::internal()
}
