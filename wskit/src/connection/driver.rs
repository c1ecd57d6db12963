//! [`Connection::drive`]: runs a connection's [`Session`] and [`Control`] over a host's
//! [`Transport`] and [`Clock`].
//!
//! Writes are batched: every frame that has already arrived is handled before the queued
//! answers are flushed once, so a busy connection makes one write per batch instead of
//! one per frame.
//!
//! Handlers of one connection run one at a time, in arrival order. While one waits, the
//! connection keeps reading: [`Control`] sorts each new frame, and what the handler sends
//! is written as it comes. A handler that is aborted, passes its deadline, is cut off
//! by shutdown or whose connection is closed from outside (a kick) has its future dropped.
//!
//! Concurrent handlers (`#[rpc(concurrent)]`) are the exception: their requests take their
//! turn like the others, then their handlers ([`Forked`] jobs) are polled here beside the
//! in-order handler and the reading, until they end or are cancelled.

use super::control::{deadline_exceeded, Arrived, Busy, Control, Due};
use super::liveness::Liveness;
use super::session::{Session, Step};
use super::transport::{Clock, Received, Transport};
use super::{going_away, Exit, Flow};
use crate::close::Close;
use crate::concurrent::{Finished, Forked};
use crate::error::Error;
use crate::outbox::{slow_consumer_close, Frame, OutboxReceiver};
#[cfg(feature = "server")]
use crate::resume::Resumable;
use crate::router::Router;
use crate::time::Instant;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Frames handled in one batch before the answers are flushed, so one chatty client
/// cannot hold its answers back without bound.
const MAX_BATCH: usize = 64;

/// The running concurrent handlers of a connection, each with its id in [`Control`]; made
/// with the first, so that other connections hold no more than a pointer for them.
type Forks = Option<Box<FuturesUnordered<Pin<Box<dyn Future<Output = (u64, Box<Finished>)> + Send>>>>>;

/// The server's signals to its connections.
#[derive(Clone, Default)]
pub(crate) struct Signals {
    /// Close with 1001 once the running handlers (if any) have returned.
    pub(crate) shutdown: CancellationToken,
    /// Close with 1001 at once, abandoning a running handler.
    pub(crate) cut_off: CancellationToken,
}

/// Where [`Connection::drive`] stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Idle with nothing received: the host holds the connection until its next event
    /// (only for transports that get [drained](Transport::is_drained)).
    Paused,
    /// Closed, and `#[on_close]` has run.
    Ended {
        /// How it closed.
        close: Close,
        /// Whether a running handler was abandoned at the end of a shutdown's grace.
        abandoned: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    New,
    Open,
    Ended,
}

/// One connection: its session, and what its reading and writing work with.
pub(crate) struct Connection<R: Router, T> {
    session: Session<R>,
    state: IoState<T>,
    stage: Stage,
}

/// What a connection's reading and writing ([`Io`]) work with, beside the session that a
/// running handler holds: one reference for [`Io`] to keep, not one per part.
struct IoState<T> {
    control: Control<T>,
    outbox: OutboxReceiver,
    forks: Forks,
    /// The connection's part in session resume, if its client asked for it.
    #[cfg(feature = "server")]
    resume: Option<Box<Resumable>>,
}

impl<R: Router, T: AsRef<str> + From<String> + Send> Connection<R, T> {
    /// A connection of `session`, whose outbox `outbox` drains, opened at `now`.
    pub(crate) fn new(
        session: Session<R>,
        outbox: OutboxReceiver,
        liveness: Option<Arc<Liveness>>,
        now: Instant,
    ) -> Self {
        let control = session.control(liveness, now);
        Connection {
            session,
            state: IoState {
                control,
                outbox,
                forks: None,
                #[cfg(feature = "server")]
                resume: None,
            },
            stage: Stage::New,
        }
    }

    /// Makes the connection resumable, before it opens: it numbers and keeps what it
    /// writes, writes `$ws:session` (and what a resumed client missed) first, and parks
    /// its session when it ends by losing its client.
    #[cfg(feature = "server")]
    pub(crate) fn resume_with(&mut self, resumable: Box<Resumable>) {
        self.state.resume = Some(resumable);
    }

    /// A connection of `session` that opened before (`#[on_open]` ran), e.g. before its
    /// host slept: it is registered with its hub again.
    #[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
    pub(crate) fn reopened(
        mut session: Session<R>,
        outbox: OutboxReceiver,
        liveness: Option<Arc<Liveness>>,
        now: Instant,
    ) -> Self {
        session.ctx_mut().attach();
        let mut connection = Self::new(session, outbox, liveness, now);
        connection.stage = Stage::Open;
        connection
    }

    /// The session, e.g. to read the connection's data between events.
    pub(crate) fn session(&self) -> &Session<R> {
        &self.session
    }

    /// Takes the frames queued for the connection while nothing drives it (publishes of
    /// other connections), for a host that writes them itself.
    #[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
    pub(crate) fn take_queued(&mut self) -> impl Iterator<Item = Frame> + '_ {
        std::iter::from_fn(|| self.state.outbox.try_recv())
    }

    /// Wakes `waker` when a frame is queued while nothing drives the connection.
    #[cfg(all(feature = "cloudflare", target_arch = "wasm32"))]
    pub(crate) fn watch_queue(&mut self, waker: &std::task::Waker) {
        self.state.outbox.watch(waker);
    }

    /// The session, to configure it before the connection opens.
    pub(crate) fn session_mut(&mut self) -> &mut Session<R> {
        &mut self.session
    }

    /// Runs the connection: opens it (the `#[on_open]` hook) on the first call, then
    /// handles what `transport` receives until the connection ends, or, for a transport
    /// that gets drained, until it is idle.
    pub(crate) async fn drive<X, C>(&mut self, transport: &mut X, clock: C, signals: &Signals) -> Outcome
    where
        X: Transport<Text = T>,
        C: Clock,
    {
        let alarm = Alarm { clock, armed: None };
        let mut turn =
            Turn { session: &mut self.session, io: Io { state: &mut self.state, transport, alarm, signals } };
        let opens = match self.stage {
            Stage::New => true,
            Stage::Open => false,
            Stage::Ended => unreachable!("a connection is not driven after it ended"),
        };
        self.stage = Stage::Open;
        let Err(exit) = turn.serve(opens).await else { return Outcome::Paused };
        self.stage = Stage::Ended;
        #[cfg(feature = "server")]
        let keep =
            turn.io.state.resume.as_ref().is_some_and(|resume| resume.keeps_session(exit.keeps_session()));
        #[cfg(not(feature = "server"))]
        let keep = false;
        let (close, topics) = Box::pin(turn.end(exit, keep)).await;
        self.state.outbox.wake_at(None);
        #[cfg(feature = "server")]
        if let (true, Some(resumable)) = (keep, self.state.resume.take()) {
            crate::resume::park(self.session.ctx(), *resumable, topics, self.state.outbox.keep());
        }
        #[cfg(not(feature = "server"))]
        drop(topics);
        Outcome::Ended { close, abandoned: self.state.control.is_abandoned() }
    }
}

/// The host's timer, armed at the next instant [`Control`] needs it; on a host with a
/// ticker of its own ([`Clock::SHARED_TICKER`]), the ping schedule is left to the ticker
/// and the timer serves the handlers' deadlines alone.
struct Alarm<C: Clock> {
    /// By value: a host's clock is a unit or a handle, and a reference would take room
    /// in every connection's future.
    clock: C,
    /// The instant the timer is armed for, and the timer: made when armed, let go when it
    /// fires or is disarmed, so that a connection without a deadline holds no timer.
    armed: Option<(Instant, Pin<Box<C::Timer>>)>,
}

impl<C: Clock> Alarm<C> {
    fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The instant the timer is armed for, if it is.
    fn armed_at(&self) -> Option<Instant> {
        self.armed.as_ref().map(|(at, _)| *at)
    }

    /// Points the timer at `at`, or disarms it.
    fn rearm(&mut self, at: Option<Instant>) {
        match (at, &mut self.armed) {
            (Some(at), Some((armed, timer))) => {
                if *armed != at {
                    self.clock.reset(timer.as_mut(), at);
                    *armed = at;
                }
            }
            (Some(at), None) => self.armed = Some((at, Box::pin(self.clock.timer(at)))),
            (None, _) => self.armed = None,
        }
    }

    /// Completes when the armed timer fires or the ticker rang `outbox`'s wake-up, as
    /// [`poll_fired`](Self::poll_fired) tells.
    async fn fired(&mut self, outbox: &OutboxReceiver) {
        std::future::poll_fn(|cx| {
            if C::SHARED_TICKER {
                // The ticker rings through the queue: registered before looking.
                outbox.watch(cx.waker());
            }
            self.poll_fired(outbox, cx)
        })
        .await
    }

    /// Ready when the armed timer fires, which disarms it, or, on a host with a ticker of
    /// its own, when the ticker rang `outbox`'s wake-up (the caller watches `outbox`);
    /// never while neither is armed.
    fn poll_fired(&mut self, outbox: &OutboxReceiver, cx: &mut Context<'_>) -> Poll<()> {
        if C::SHARED_TICKER && outbox.take_wake_up() {
            return Poll::Ready(());
        }
        let Some((_, timer)) = &mut self.armed else { return Poll::Pending };
        ready!(timer.as_mut().poll(cx));
        self.armed = None;
        Poll::Ready(())
    }
}

/// What the read loop works with.
struct Turn<'c, R: Router, T, X, C: Clock> {
    session: &'c mut Session<R>,
    io: Io<'c, T, X, C>,
}

/// Everything but the session: usable while a handler holds the session.
struct Io<'c, T, X, C: Clock> {
    state: &'c mut IoState<T>,
    transport: &'c mut X,
    alarm: Alarm<C>,
    signals: &'c Signals,
}

impl<R, T, X, C> Turn<'_, R, T, X, C>
where
    R: Router,
    T: AsRef<str> + From<String> + Send,
    X: Transport<Text = T>,
    C: Clock,
{
    /// Runs the `#[on_open]` hook and writes what it sent; a resumable connection first
    /// writes `$ws:session` and what its client missed.
    async fn open(&mut self) -> Flow {
        #[cfg(feature = "server")]
        self.greet().await?;
        let opened = tokio::select! {
            biased;
            flow = self.session.open() => flow,
            () = self.io.signals.cut_off.cancelled() => Err(self.io.abandon()),
        };
        opened?;
        self.io.flush_queued().await
    }

    /// Writes `$ws:session` and the frames a resumed client missed, before anything else.
    #[cfg(feature = "server")]
    async fn greet(&mut self) -> Flow {
        let Some((greeting, missed)) = self.io.state.resume.as_mut().and_then(|resume| resume.first.take())
        else {
            return Ok(());
        };
        // Not numbered: the count starts after it.
        if self.io.transport.send(Frame::Owned(greeting)) {
            self.io.flush().await.map_err(Exit::Left)?;
        }
        for frame in missed {
            self.io.send(frame).await.map_err(Exit::Left)?;
        }
        Ok(())
    }

    /// Opens the connection if `opens`, then handles frames until it ends (`Err`) or, for
    /// a drained transport, until it is idle (`Ok`). One function for both, so that the
    /// opening takes no room of its own in the future while the connection is served.
    async fn serve(&mut self, opens: bool) -> Flow {
        if opens {
            // Boxed, as `end`: each runs once, and inline their futures would make every
            // idle connection's as large as theirs.
            Box::pin(self.open()).await?;
        }
        loop {
            // The last message is done with (its errors reported): an idle connection
            // holds nothing of it.
            self.session.rest();
            self.io.rearm();
            let mut idle = false;
            let step = 'step: {
                if self.io.state.control.has_waiting() {
                    // Messages that arrived while a handler ran go first, in order.
                    match self.io.signals.shutdown.is_cancelled() {
                        true => Err(Exit::Close(going_away())),
                        false => Box::pin(self.handle_waiting()).await,
                    }
                } else if self.io.transport.is_drained() && !self.io.state.control.has_forks() {
                    let now = self.io.alarm.now();
                    match self.io.alarm.armed_at() {
                        Some(at) if at <= now => self.io.on_timer(now),
                        // Idle: hand the connection back once what is queued is written.
                        _ => {
                            idle = true;
                            Ok(())
                        }
                    }
                } else {
                    // One poll function over every source, rather than a select over a future
                    // for each: an idle connection waits here, and holds only this.
                    let batch = match std::future::poll_fn(|cx| self.io.poll_wake(cx)).await {
                        // Boxed: handling frames takes a larger future than waiting for them,
                        // and inline every idle connection would hold its size. One
                        // allocation per batch of frames, not per frame. (Made here and awaited
                        // below, so that the connection holds no `Wake` meanwhile.)
                        Wake::Received(received) => Box::pin(self.handle_batch(received)),
                        Wake::Shutdown => break 'step Err(Exit::Close(going_away())),
                        // Taken below, with the closes handlers ask for.
                        Wake::CloseRequested => break 'step Ok(()),
                        Wake::Timer => {
                            let now = self.io.alarm.now();
                            break 'step self.io.on_timer(now);
                        }
                        // Written by the flush below; an overflow then closes the connection.
                        Wake::Queued => break 'step Ok(()),
                        Wake::ForkEnded(id, finished) => {
                            self.io.state.control.fork_ended(id, *finished);
                            break 'step Ok(());
                        }
                    };
                    batch.await
                }
            };
            // Errors answered while a handler ran reach `#[on_error]` now, also on the way out.
            let step = match self.io.state.control.has_answered() {
                true => Box::pin(self.report_answered(step)).await,
                false => step,
            };
            step?;
            self.io.flush_queued().await?;
            self.session.flow()?;
            if let Some(close) = self.io.state.control.take_close() {
                return Err(Exit::Close(close));
            }
            if idle {
                return Ok(());
            }
        }
    }

    /// Handles `received` and every frame that has already arrived after it, before the
    /// answers are flushed.
    async fn handle_batch(&mut self, received: Received<T>) -> Flow {
        // One stamp for the batch: its frames follow handlers that finished without
        // waiting (a waiting one ends the batch), so they arrived within microseconds.
        let arrived = self.io.alarm.now();
        self.handle_received(received, arrived).await?;
        for _ in 1..MAX_BATCH {
            if self.io.state.control.has_waiting() {
                break;
            }
            self.io.buffer_queued().await?;
            match std::future::poll_fn(|cx| self.io.transport.poll_recv(cx)).now_or_never() {
                Some(received) => self.handle_received(received, arrived).await?,
                None => break,
            }
        }
        Ok(())
    }

    /// Handles the oldest message that waited for its turn.
    async fn handle_waiting(&mut self) -> Flow {
        match self.io.state.control.next_waiting() {
            Some((frame, arrived)) => self.handle(frame, arrived).await,
            None => Ok(()),
        }
    }

    async fn handle_received(&mut self, received: Received<T>, arrived: Instant) -> Flow {
        match self.io.state.control.read(received, arrived)? {
            Some(frame) => self.handle(frame, arrived).await,
            None => Ok(()),
        }
    }

    /// Handles one frame that arrived at `arrived`, running its handler to the end while
    /// the connection keeps reading.
    async fn handle(&mut self, frame: Arrived<T>, arrived: Instant) -> Flow {
        // The job borrows the frame's text, which lives until the handler returns.
        let text: T;
        let mut running = None;
        let step = match frame {
            Arrived::Text(frame) => {
                text = frame;
                // With no in-order handler running, an abort of a concurrent one lands here.
                if self.io.state.control.has_forks() && self.io.state.control.abort_fork(text.as_ref()) {
                    return Ok(());
                }
                running = Some(text.as_ref());
                self.session.prepare(text.as_ref(), arrived)
            }
            Arrived::Binary(bytes) => self.session.prepare_binary(bytes, arrived),
            Arrived::Invalid(error) => return Box::pin(self.session.reject_frame(*error, arrived)).await,
        };
        let job = match step {
            Step::Done(flow) => return flow,
            Step::Fail(error) => return Box::pin(self.session.fail(error)).await,
            Step::Run(job) => job,
        };
        let deadline = self.session.deadline();
        if deadline.is_some_and(|deadline| deadline <= self.io.alarm.now()) {
            // It waited for its turn past its deadline: answered without running.
            drop(job);
            return Box::pin(self.session.interrupt(deadline_exceeded())).await;
        }
        self.io.state.control.start(deadline);
        // Inline: this runs inside the boxed future of a batch of frames, which idle
        // connections do not hold, so the handler's future costs no allocation per frame.
        let ended = {
            let mut handling = pin!(self.session.run(job, self.io.state.control.can_fork()));
            match futures_util::poll!(handling.as_mut()) {
                Poll::Ready(flow) => Ended::Done(flow),
                // The handler waits: keep reading meanwhile.
                Poll::Pending => Box::pin(self.io.while_busy(handling, running)).await,
            }
        };
        self.io.state.control.finish();
        if let Some(forked) = self.session.take_forked() {
            self.io.spawn(*forked, deadline, self.session.correlation_id());
        }
        match ended {
            Ended::Done(flow) => flow,
            Ended::Interrupted(error) => Box::pin(self.session.interrupt(error)).await,
            Ended::Stopped(exit) => {
                self.session.abandon();
                Err(exit)
            }
        }
    }

    /// Reports the errors answered while the last handler ran to the `#[on_error]` hook,
    /// after the `step` that ran it, which ends the connection first if it does.
    async fn report_answered(&mut self, step: Flow) -> Flow {
        let mut reported = Ok(());
        for error in self.io.state.control.take_answered() {
            reported = Box::pin(self.session.observe(error)).await;
            if reported.is_err() {
                break;
            }
        }
        step.and(reported)
    }

    /// Closes the connection: writes what is queued and our close frame (unless the peer
    /// left), then runs the `#[on_close]` hook. With `keep` the session is kept to be
    /// resumed: its queue stays open and its subscriptions stay, returned.
    async fn end(&mut self, exit: Exit, keep: bool) -> (Close, Vec<Box<str>>) {
        let exit = match exit {
            // A shutdown lets the concurrent handlers still running finish first, within
            // its grace period, as it lets an in-order one.
            Exit::Close(close)
                if self.io.signals.shutdown.is_cancelled() && self.io.state.control.has_forks() =>
            {
                let finished = self.io.finish_forks().await;
                let reported = match self.io.state.control.has_answered() {
                    true => self.report_answered(finished).await,
                    false => finished,
                };
                reported.err().unwrap_or(Exit::Close(close))
            }
            exit => exit,
        };
        // From here on nothing more is accepted: what is queued is all that can still go
        // out. A kept session's queue takes on what is sent to it, for its next connection.
        if !keep {
            self.io.state.outbox.close();
        }
        // Concurrent handlers still running are cancelled with the connection.
        self.io.state.control.cancel_forks();
        self.io.state.forks = None;
        let close = match exit {
            Exit::Close(close) | Exit::Stale(close) => {
                // Frames queued before the close were accepted: deliver them if the client
                // reads them within the write timeout.
                if self.io.flush_queued().await.is_ok() {
                    self.io.transport.close(&close).await;
                }
                close
            }
            Exit::Left(close) => {
                // A slow consumer cut off in the middle of a write is reported to the
                // limits hook like one found between writes.
                let _ = self.session.flow();
                close
            }
        };
        let topics = self.session.close(close.clone(), keep).await;
        (close, topics)
    }
}

/// How a running handler ended, as [`Io::while_busy`] saw it.
enum Ended {
    /// It returned.
    Done(Flow),
    /// It was stopped, to be answered with this error: aborted, or past its deadline.
    Interrupted(Error),
    /// It was abandoned, and the connection ends so.
    Stopped(Exit),
}

/// What an idle connection woke for ([`Io::poll_wake`]).
enum Wake<T> {
    Shutdown,
    CloseRequested,
    Timer,
    Received(Received<T>),
    /// Queued frames wait for the serve loop: the socket did not take them all at once,
    /// or the queue overflowed, which closes the connection once they are written.
    Queued,
    ForkEnded(u64, Box<Finished>),
}

impl<'c, T, X, C> Io<'c, T, X, C>
where
    T: AsRef<str> + From<String> + Send,
    X: Transport<Text = T>,
    C: Clock,
{
    /// Waits for what an idle connection acts on next, looking at its sources in order: a
    /// shutdown or a close asked for from outside, its timer, a frame from the peer, a
    /// queued frame (written from here if the socket takes it at once), a concurrent
    /// handler that ended.
    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake<T>> {
        // Registered before looking: whatever changes in between wakes the connection.
        // Not a wait on the shutdown token itself: that joins and leaves its list of
        // waiters, under its lock, at every event; the server wakes each connection
        // through its queue instead.
        self.state.outbox.watch(cx.waker());
        if self.signals.shutdown.is_cancelled() {
            return Poll::Ready(Wake::Shutdown);
        }
        if self.state.outbox.is_close_requested() {
            return Poll::Ready(Wake::CloseRequested);
        }
        if self.alarm.poll_fired(&self.state.outbox, cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        if let Poll::Ready(received) = self.transport.poll_recv(cx) {
            // The replies to come are flushed before the connection waits again.
            self.state.outbox.at_work();
            return Poll::Ready(Wake::Received(received));
        }
        // The last look before waiting: an empty queue gives back its first buffer here.
        while let Some(frame) = self.state.outbox.try_recv_or_rest() {
            // Frames sent to an idle connection (publishes, mostly) go out from here when
            // the socket takes them at once: a fan-out wakes every subscriber for them,
            // and a turn of the serve loop for each would cost more than the write.
            let full = self.buffer(frame) || self.buffer_some_queued();
            if full || !self.transport.try_flush(cx) || self.state.outbox.has_overflowed() {
                return Poll::Ready(Wake::Queued);
            }
        }
        if let Some(forks) = &mut self.state.forks {
            if let Poll::Ready(Some((id, finished))) = forks.poll_next_unpin(cx) {
                return Poll::Ready(Wake::ForkEnded(id, finished));
            }
        }
        Poll::Pending
    }

    /// Polls a running handler to its end while the connection keeps reading and writing.
    /// `running` is the text of the frame it handles (none for a binary frame).
    async fn while_busy(
        &mut self,
        mut handling: Pin<&mut impl Future<Output = Flow>>,
        running: Option<&str>,
    ) -> Ended {
        loop {
            self.rearm();
            tokio::select! {
                biased;
                flow = &mut handling => return Ended::Done(flow),
                () = self.signals.cut_off.cancelled() => return Ended::Stopped(self.abandon()),
                () = self.alarm.fired(&self.state.outbox) => {
                    let now = self.alarm.now();
                    match self.state.control.on_timer(now) {
                        Ok(Due::Interrupt(error)) => return Ended::Interrupted(error),
                        Ok(Due::Ping) => {
                            if let Err(gone) = self.ping_now().await {
                                return Ended::Stopped(Exit::Left(gone));
                            }
                        }
                        Ok(Due::Nothing) => {}
                        Err(exit) => return Ended::Stopped(exit),
                    }
                }
                Some(frame) = self.state.outbox.recv() => {
                    if let Err(gone) = self.send_now(frame).await {
                        return Ended::Stopped(Exit::Left(gone));
                    }
                }
                // Closed from outside (a kick): the handler is stopped, not waited for.
                () = self.state.outbox.close_requested() => {
                    if let Some(close) = self.state.outbox.take_close_request() {
                        return Ended::Stopped(Exit::Close(close));
                    }
                }
                (id, finished) = next_fork(&mut self.state.forks), if self.state.control.has_forks() => {
                    self.state.control.fork_ended(id, *finished);
                }
                received = std::future::poll_fn(|cx| self.transport.poll_recv(cx)), if self.state.control.accepts_frames() => {
                    let now = self.alarm.now();
                    // A ping's answer goes out now, not when the handler returns.
                    if matches!(received, Received::Control) {
                        if let Err(gone) = self.flush().await {
                            return Ended::Stopped(Exit::Left(gone));
                        }
                    }
                    let busy = match self.state.control.read(received, now) {
                        Ok(Some(frame)) => self.state.control.arrive(frame, now, running),
                        Ok(None) => Ok(Busy::Continue),
                        Err(exit) => Err(exit),
                    };
                    match busy {
                        Ok(Busy::Continue) => {}
                        Ok(Busy::Interrupt(error)) => return Ended::Interrupted(error),
                        Err(exit) => return Ended::Stopped(exit),
                    }
                }
            }
        }
    }

    /// Waits for the concurrent handlers still running to end, writing what they send as
    /// it comes, without reading on: the connection is shutting down. Ends early when the
    /// shutdown's grace period is over, abandoning them, and when the client is gone.
    async fn finish_forks(&mut self) -> Flow {
        while self.state.control.has_forks() {
            self.rearm();
            tokio::select! {
                biased;
                () = self.signals.cut_off.cancelled() => return Err(self.abandon()),
                (id, finished) = next_fork(&mut self.state.forks) => {
                    self.state.control.fork_ended(id, *finished);
                }
                // Deadlines cancel the handlers that pass them, which then end.
                () = self.alarm.fired(&self.state.outbox) => {
                    let now = self.alarm.now();
                    self.on_timer(now)?;
                }
                Some(frame) = self.state.outbox.recv() => self.send_now(frame).await.map_err(Exit::Left)?,
            }
        }
        self.flush_queued().await
    }

    /// Runs the concurrent handler `forked` of the request with `correlation_id`, due by
    /// `deadline`, beside the connection's other messages.
    fn spawn(&mut self, forked: Forked, deadline: Option<Instant>, correlation_id: Option<&str>) {
        let Forked { token, job } = forked;
        let id = self.state.control.fork(deadline, correlation_id, token);
        let forks = self.state.forks.get_or_insert_with(Box::default);
        forks.push(Box::pin(job.map(move |finished| (id, finished))));
    }

    /// Writes `frame` and flushes: while a handler runs, each frame goes out as it comes.
    async fn send_now(&mut self, frame: Frame) -> Result<(), Close> {
        self.send(frame).await?;
        self.flush().await
    }

    async fn ping_now(&mut self) -> Result<(), Close> {
        self.transport.ping();
        self.flush().await
    }

    /// Buffers `frame`, and writes the buffer out once the transport says it is full.
    async fn send(&mut self, frame: Frame) -> Result<(), Close> {
        match self.buffer(frame) {
            true => self.flush().await,
            false => Ok(()),
        }
    }

    /// Buffers `frame` in the transport, numbered and kept first on a resumable
    /// connection; `true` once the transport's buffer is full and must be written out.
    fn buffer(&mut self, frame: Frame) -> bool {
        #[cfg(feature = "server")]
        if let Some(resume) = &mut self.state.resume {
            return self.transport.send_kept(resume.replay.record(frame));
        }
        self.transport.send(frame)
    }

    /// Writes out what the transport buffered. Boxed: a flush that waits on the client
    /// holds a timer and the write in progress, which inline would grow every idle
    /// connection's future by their size.
    fn flush(&mut self) -> Pin<Box<impl Future<Output = Result<(), Close>> + Send + '_>> {
        Box::pin(self.write_out())
    }

    /// Writes out what the transport buffered, watching for a client that stopped reading.
    fn write_out(&mut self) -> impl Future<Output = Result<(), Close>> + Send + '_ {
        let write = self.transport.flush();
        watched(&self.state.outbox, &self.alarm.clock, self.state.control.stall_limit(), write)
    }

    /// Arms the timer for the next deadline of a handler and the ping schedule; on a host
    /// with a ticker of its own, the ping schedule is the ticker's, through the queue.
    fn rearm(&mut self) {
        let control = &self.state.control;
        let (deadline, ping) = (control.next_deadline(), control.next_ping());
        if C::SHARED_TICKER {
            self.state.outbox.wake_at(ping);
            self.alarm.rearm(deadline);
        } else {
            self.alarm.rearm(deadline.into_iter().chain(ping).min());
        }
    }

    /// Buffers a ping when one is due (the loop flushes it); closes a stale connection.
    fn on_timer(&mut self, now: Instant) -> Flow {
        match self.state.control.on_timer(now)? {
            Due::Ping => self.transport.ping(),
            // Deadlines belong to running handlers, which `while_busy` watches.
            Due::Nothing | Due::Interrupt(_) => {}
        }
        Ok(())
    }

    /// Counts a handler abandoned at the end of the shutdown grace period, and returns
    /// how its connection ends.
    fn abandon(&mut self) -> Exit {
        tracing::warn!("shutdown grace period over: abandoning a running handler");
        self.state.control.abandon();
        Exit::Close(going_away())
    }

    /// Moves every queued frame into the transport's write buffer, writing the buffer out
    /// whenever it is full, without a final flush: the queue stays short while a batch of
    /// frames is handled.
    async fn buffer_queued(&mut self) -> Flow {
        while self.buffer_some_queued() {
            self.flush().await.map_err(Exit::Left)?;
        }
        Ok(())
    }

    /// Moves queued frames into the transport's write buffer until the queue is empty
    /// (`false`) or the buffer is full (`true`). Not an await per frame: most frames only
    /// go into the buffer, and a future per frame would cost its setup for each of them.
    #[inline]
    fn buffer_some_queued(&mut self) -> bool {
        let Some((frame, more)) = self.state.outbox.try_recv_and_more() else { return false };
        let mut full = self.buffer(frame);
        let mut queued = 1;
        if more && !full {
            let rest;
            (full, rest) = self.buffer_rest_of_queue();
            queued += rest;
        }
        crate::observe::outbound_queue(queued);
        full
    }

    /// Moves the frames queued behind the one just taken into the write buffer, with one
    /// look at the queue rather than one per frame, until the buffer is full; whether it
    /// is, and how many frames there were. Apart: most often a single reply is queued,
    /// and one look took it.
    #[inline(never)]
    fn buffer_rest_of_queue(&mut self) -> (bool, usize) {
        let mut rest = self.state.outbox.take_all();
        let queued = rest.len();
        let mut full = false;
        while let Some(frame) = rest.pop_front() {
            if self.buffer(frame) {
                full = true;
                break;
            }
        }
        self.state.outbox.give_back(rest);
        (full, queued)
    }

    /// Writes every queued frame, then flushes once. One box, as [`flush`](Self::flush):
    /// the read loop awaits this after every wake, and inline its future would grow
    /// every idle connection's.
    fn flush_queued(&mut self) -> Pin<Box<impl Future<Output = Flow> + Send + use<'_, 'c, T, X, C>>> {
        Box::pin(async move {
            loop {
                let full = self.buffer_some_queued();
                self.write_out().await.map_err(Exit::Left)?;
                if !full {
                    return Ok(());
                }
            }
        })
    }
}

/// The next concurrent handler to end, with its id; never while there are none. A plain
/// poll function: idle connections hold it beside their other waits.
fn next_fork(forks: &mut Forks) -> impl Future<Output = (u64, Box<Finished>)> + '_ {
    std::future::poll_fn(move |cx| match forks {
        Some(forks) => match forks.poll_next_unpin(cx) {
            Poll::Ready(Some(ended)) => Poll::Ready(ended),
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        },
        None => Poll::Pending,
    })
}

/// Runs one write of the transport. Once the socket has not taken it for `stall_limit`,
/// the client counts as stalled for its outbound queue, and if the queue overflows then
/// the write is given up: a client that does not read is closed as a slow consumer as soon
/// as it is one, not after the write timeout, while a client that reads, if not always as
/// fast as it is sent to, is not taken for one.
async fn watched<C: Clock>(
    outbox: &OutboxReceiver,
    clock: &C,
    stall_limit: Duration,
    write: impl Future<Output = Result<(), Close>>,
) -> Result<(), Close> {
    let mut write = pin!(write);
    if let Poll::Ready(written) = futures_util::poll!(write.as_mut()) {
        return written;
    }
    tokio::select! {
        biased;
        written = write.as_mut() => return written,
        () = clock.timer(clock.now() + stall_limit) => {}
    }
    outbox.set_stalled(true);
    let written = tokio::select! {
        biased;
        written = write => written,
        () = outbox.overflow() => Err(slow_consumer_close()),
    };
    outbox.set_stalled(false);
    written
}
