//! Drives one upgraded connection: reads frames into the [`Session`], writes the outbox to
//! the socket, and closes it.
//!
//! Writes are batched: every frame that has already arrived is handled before the queued
//! answers are flushed once, so a busy connection makes one write syscall per batch
//! instead of one per frame. Every write is bounded by [`Limits::write_timeout`]: a client
//! that stops reading is dropped instead of holding its connection forever.
//!
//! [`Limits::write_timeout`]: crate::Limits::write_timeout

use crate::close::Close;
use crate::connection::{classify, heartbeat_ack, in_flight_exceeded, Arrival, Flow, Session, Step};
use crate::envelope::encode_error;
use crate::error::Error;
use crate::limits::{LimitKind, Limits};
use crate::outbox::{Frame, OutboxReceiver};
use crate::router::Router;
use crate::server::backlog::Backlog;
use crate::server::Liveness;
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// Frames handled in one batch before the answers are flushed, so one chatty client
/// cannot hold its answers back without bound.
const MAX_BATCH: usize = 64;

/// A timer delay that never comes, for connections without protocol pings.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long to wait for the client's close frame after sending ours.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How a connection is run: when to stop, when to ping, how long a write may stall.
#[derive(Clone)]
pub(crate) struct Policy {
    /// The connection's id, for the limits hook.
    pub(crate) client_id: uuid::Uuid,
    /// Cancelled when the server shuts down: close with 1001 once the running handler
    /// has returned.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled when the shutdown grace period is over: close with 1001 at once,
    /// abandoning a handler that is still running.
    pub(crate) cut_off: CancellationToken,
    /// Counts the handlers abandoned at `cut_off`.
    pub(crate) abandoned: Arc<AtomicUsize>,
    pub(crate) liveness: Option<Liveness>,
    pub(crate) limits: Arc<Limits>,
}

impl Policy {
    /// Counts a handler abandoned at the end of the shutdown grace period, and returns
    /// the close for its connection.
    fn abandon(&self) -> Close {
        tracing::warn!("shutdown grace period over: abandoning a running handler");
        self.abandoned.fetch_add(1, Ordering::AcqRel);
        going_away()
    }
}

/// Why reading stopped.
enum End {
    /// We decided to close, with this close frame.
    Close(Close),
    /// The client closed, or the socket failed; nothing more can be sent.
    Gone(Close),
}

/// The socket and the outbound queue it drains.
struct Link<S> {
    ws: WebSocketStream<S>,
    outbox: OutboxReceiver,
    write_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    /// Puts `frame` in the socket's write buffer (written out once the buffer is full).
    async fn feed(&mut self, frame: Frame) -> Result<(), Close> {
        bounded(self.write_timeout, self.ws.feed(text_message(frame))).await
    }

    /// Moves every queued frame into the socket's write buffer, without flushing: the
    /// queue stays short while a batch of frames is handled.
    async fn buffer_queued(&mut self) -> Result<(), Close> {
        while let Some(frame) = self.outbox.try_recv() {
            self.feed(frame).await?;
        }
        Ok(())
    }

    /// Writes out the socket's write buffer.
    async fn flush(&mut self) -> Result<(), Close> {
        bounded(self.write_timeout, self.ws.flush()).await
    }

    /// Writes every queued frame, then flushes once.
    async fn flush_queued(&mut self) -> Result<(), Close> {
        self.buffer_queued().await?;
        self.flush().await
    }

    /// Sends a protocol ping.
    async fn ping(&mut self) -> Result<(), Close> {
        bounded(self.write_timeout, self.ws.feed(WsMessage::Ping(Default::default()))).await
    }

    /// Sends our close frame and waits, briefly, for the client's.
    async fn close(&mut self, close: Close) -> Close {
        let mut reason = close.reason.to_string();
        truncate_reason(&mut reason);
        let frame = CloseFrame { code: CloseCode::from(close.code), reason: reason.into() };
        if bounded(self.write_timeout, self.ws.close(Some(frame))).await.is_ok() {
            let drain = async { while let Some(Ok(_)) = self.ws.next().await {} };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
        }
        close
    }
}

/// Runs one write on the socket, giving up after `timeout`. Most writes complete at once
/// (into the write buffer or the kernel's); only one that has to wait starts the timer.
async fn bounded(timeout: Duration, write: impl Future<Output = Result<(), WsError>>) -> Result<(), Close> {
    let mut write = pin!(write);
    let outcome = match futures_util::poll!(write.as_mut()) {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => tokio::time::timeout(timeout, write).await,
    };
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(dropped(&error)),
        Err(_) => {
            tracing::debug!(?timeout, "write stalled: the client stopped reading");
            Err(Close::new(Close::TRY_AGAIN_LATER, "the client stopped reading"))
        }
    }
}

pub(crate) async fn run<R, S>(
    ws: WebSocketStream<S>,
    mut session: Session<R>,
    outbox: OutboxReceiver,
    policy: Policy,
) where
    R: Router,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut link = Link { ws, outbox, write_timeout: policy.limits.write_timeout };
    let opened = tokio::select! {
        flow = session.open() => flow,
        () = policy.cut_off.cancelled() => Flow::Close(policy.abandon()),
    };
    let end = match opened {
        Flow::Continue => match link.flush_queued().await {
            Ok(()) => serve(&mut link, &mut session, &policy).await,
            Err(close) => End::Gone(close),
        },
        Flow::Close(close) => End::Close(close),
    };
    // From here on nothing more is accepted: what is queued is all that can still go out.
    link.outbox.close();
    let close = match end {
        End::Close(close) => {
            // Frames queued before the close were accepted: deliver them if the client
            // reads them within the write timeout.
            match link.flush_queued().await {
                Ok(()) => link.close(close).await,
                Err(_) => close,
            }
        }
        End::Gone(close) => close,
    };
    session.close(close).await;
}

async fn serve<R: Router, S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    session: &mut Session<R>,
    policy: &Policy,
) -> End {
    let mut pings = Pings::new(policy.liveness);
    let mut ping_timer = pin!(tokio::time::sleep(pings.first_delay()));
    let mut backlog = Backlog::new(policy.limits.max_in_flight, policy.limits.max_message_bytes);
    let mut turn = Turn { session, io: Io { link, backlog: &mut backlog, pings: &mut pings, policy } };
    loop {
        let flow = if let Some((frame, arrived)) = turn.io.backlog.pop() {
            // Messages that arrived while a handler ran go first, in order.
            match policy.shutdown.is_cancelled() {
                true => Ok(Flow::Close(going_away())),
                false => turn.handle(Some(Ok(frame)), arrived).await,
            }
        } else {
            tokio::select! {
                biased;
                () = policy.shutdown.cancelled() => Ok(Flow::Close(going_away())),
                () = &mut ping_timer, if turn.io.pings.enabled() => match turn.io.pings.due() {
                    PingStep::Send(next) => {
                        ping_timer.as_mut().reset(next);
                        turn.io.link.ping().await.map(|()| Flow::Continue)
                    }
                    PingStep::Wait(next) => {
                        ping_timer.as_mut().reset(next);
                        Ok(Flow::Continue)
                    }
                    PingStep::Stale => Ok(Flow::Close(Close::new(Close::INTERNAL, "no answer to ping"))),
                },
                frame = turn.io.link.ws.next() => turn.handle_batch(frame).await,
                Some(frame) = turn.io.link.outbox.recv() => turn.io.link.feed(frame).await.map(|()| Flow::Continue),
            }
        };
        // Errors answered while a handler ran reach `#[on_error]` now, also on the way out.
        let reported = turn.report_answered().await;
        let flow = match flow {
            Ok(Flow::Continue) => reported,
            other => other,
        };
        match flow {
            Ok(Flow::Continue) => {}
            Ok(Flow::Close(close)) => return End::Close(close),
            Err(gone) => return End::Gone(gone),
        }
        if let Err(gone) = turn.io.link.flush_queued().await {
            return End::Gone(gone);
        }
        if let Flow::Close(close) = turn.session.flow() {
            return End::Close(close);
        }
    }
}

/// What the read loop works with.
struct Turn<'c, R: Router, S> {
    session: &'c mut Session<R>,
    io: Io<'c, S>,
}

/// The socket side of the read loop, usable while a handler holds the session.
struct Io<'c, S> {
    link: &'c mut Link<S>,
    backlog: &'c mut Backlog,
    pings: &'c mut Pings,
    policy: &'c Policy,
}

impl<R: Router, S: AsyncRead + AsyncWrite + Unpin> Turn<'_, R, S> {
    /// Handles `frame` and every frame that has already arrived after it, before the
    /// answers are flushed.
    async fn handle_batch(&mut self, frame: Option<Result<WsMessage, WsError>>) -> Result<Flow, Close> {
        // One stamp for the batch: its frames follow handlers that finished without
        // waiting (a waiting one ends the batch), so they arrived within microseconds.
        let arrived = Instant::now();
        let mut result = self.handle(frame, arrived).await;
        for _ in 1..MAX_BATCH {
            if !matches!(result, Ok(Flow::Continue)) || self.io.backlog.has_waiting() {
                break;
            }
            self.io.link.buffer_queued().await?;
            match self.io.link.ws.next().now_or_never() {
                Some(frame) => result = self.handle(frame, arrived).await,
                None => break,
            }
        }
        result
    }

    /// Handles one read result, of a frame that arrived at `arrived`; `Err` means the
    /// connection is gone.
    async fn handle(
        &mut self,
        frame: Option<Result<WsMessage, WsError>>,
        arrived: Instant,
    ) -> Result<Flow, Close> {
        self.io.pings.heard();
        let text = match frame {
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(WsMessage::Binary(bytes))) => match Utf8Bytes::try_from(bytes) {
                Ok(text) => text,
                Err(_) => {
                    return Ok(self.session.on_invalid_frame("binary frames must hold UTF-8 JSON").await);
                }
            },
            Some(Ok(other)) => return self.io.on_control(other).await.map(|()| Flow::Continue),
            Some(Err(WsError::Capacity(error))) => return Ok(Flow::Close(too_big(self.io.policy, &error))),
            Some(Err(error)) => return Err(dropped(&error)),
            None => return Err(Close::new(Close::ABNORMAL, "connection dropped")),
        };
        let job = match self.session.prepare(text.as_str(), arrived.into_std()) {
            Step::Done(flow) => return Ok(flow),
            Step::Fail(error) => return Ok(self.session.fail(error).await),
            Step::Run(job) => job,
        };
        let deadline = self.session.deadline().map(Instant::from_std);
        if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
            // It waited for its turn past its deadline: answered without running.
            drop(job);
            return Ok(self.session.interrupt(deadline_exceeded()).await);
        }
        // Only an RPC request can be aborted, by its correlation id.
        let abortable = deadline.and(self.session.correlation_id()).map(str::to_owned);
        // Boxed: the handlers' futures can be large, and inline they would grow every
        // idle connection's task to their size.
        let mut handling = Box::pin(self.session.run(job));
        if let Poll::Ready(flow) = futures_util::poll!(handling.as_mut()) {
            return Ok(flow);
        }
        // The handler waits: keep reading meanwhile. Boxed too, for the same reason.
        let outcome = Box::pin(while_busy(&mut self.io, handling, abortable, deadline)).await;
        match outcome {
            Busy::Done(flow) => Ok(flow),
            Busy::Interrupted(error) => Ok(self.session.interrupt(error).await),
            Busy::Close(close) => {
                self.session.abandon();
                Ok(Flow::Close(close))
            }
            Busy::Gone(close) => {
                self.session.abandon();
                Err(close)
            }
        }
    }

    /// Reports the errors answered while the last handler ran to the `#[on_error]` hook.
    async fn report_answered(&mut self) -> Result<Flow, Close> {
        for error in self.io.backlog.take_answered() {
            if let Flow::Close(close) = self.session.observe(error).await {
                return Ok(Flow::Close(close));
            }
        }
        Ok(Flow::Continue)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Io<'_, S> {
    /// Deals with a frame that arrived while a handler runs: answers heartbeats and
    /// pings, cancels an aborted waiting request, rejects a message beyond the in-flight
    /// limit and queues the rest. Returns what the message was (`None` for a control
    /// frame), for the caller to cancel the running request on its abort.
    async fn on_arrival(
        &mut self,
        frame: Option<Result<WsMessage, WsError>>,
    ) -> Result<Option<Arrival>, End> {
        let (frame, arrival) = match frame {
            Some(Ok(WsMessage::Text(text))) => {
                let arrival = classify(text.as_str());
                (WsMessage::Text(text), arrival)
            }
            Some(Ok(WsMessage::Binary(bytes))) => {
                let arrival = std::str::from_utf8(&bytes).map_or(Arrival::Message(None), classify);
                (WsMessage::Binary(bytes), arrival)
            }
            Some(Ok(other)) => return self.on_control(other).await.map(|()| None).map_err(End::Gone),
            // The client left, or broke the protocol: the running handler is dropped.
            Some(Err(WsError::Capacity(error))) => return Err(End::Close(too_big(self.policy, &error))),
            Some(Err(error)) => return Err(End::Gone(dropped(&error))),
            None => return Err(End::Gone(Close::new(Close::ABNORMAL, "connection dropped"))),
        };
        match &arrival {
            Arrival::Heartbeat => self.answer(heartbeat_ack()).await.map_err(End::Gone)?,
            Arrival::Abort(Some(id)) if self.backlog.remove(id) => {
                let error = Error::cancelled("the client aborted the request");
                self.answer(encode_error(&error, Some(id))).await.map_err(End::Gone)?;
                self.backlog.answered(error);
            }
            Arrival::Abort(_) => {}
            Arrival::Message(correlation_id) if !self.backlog.has_slot() => {
                let limit = self.backlog.max_in_flight();
                let policy = self.policy;
                policy.limits.exceeded(LimitKind::InFlight, limit + 1, limit, Some(policy.client_id));
                let error = in_flight_exceeded(limit);
                self.answer(encode_error(&error, correlation_id.as_deref())).await.map_err(End::Gone)?;
                self.backlog.answered(error);
            }
            Arrival::Message(correlation_id) => {
                self.backlog.push(frame, correlation_id.clone(), Instant::now())
            }
        }
        Ok(Some(arrival))
    }

    /// Writes a frame the host answers with while a handler runs.
    async fn answer(&mut self, frame: String) -> Result<(), Close> {
        self.link.feed(Frame::Owned(frame)).await?;
        self.link.flush().await
    }

    /// Pings are answered by tungstenite on the next flush; pongs need nothing. A close
    /// frame ends the connection.
    async fn on_control(&mut self, frame: WsMessage) -> Result<(), Close> {
        match frame {
            WsMessage::Close(close) => {
                let close = close.map_or(Close::new(Close::NORMAL, ""), |frame| {
                    Close::new(u16::from(frame.code), frame.reason.as_str().to_owned())
                });
                // tungstenite queued the close reply; push it out before leaving.
                let _ = self.link.flush().await;
                Err(close)
            }
            WsMessage::Ping(_) => self.link.flush().await,
            _ => Ok(()),
        }
    }
}

/// How a running handler ended, as [`while_busy`] saw it.
enum Busy {
    /// It returned.
    Done(Flow),
    /// It was stopped, to be answered with this error: aborted, or past its deadline.
    Interrupted(Error),
    /// It was abandoned, and the connection is to close with this close frame.
    Close(Close),
    /// It was abandoned: the client is gone.
    Gone(Close),
}

/// Polls a running handler to its end while the connection keeps reading: heartbeats and
/// pings are answered, `$ws:abort` of the running request (with id `abortable`) or of a
/// waiting one cancels it, the deadline stops it, other messages wait in the backlog, and
/// what the handler sends is written.
async fn while_busy<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<'_, S>,
    mut handling: Pin<Box<impl Future<Output = Flow>>>,
    abortable: Option<String>,
    deadline: Option<Instant>,
) -> Busy {
    let policy = io.policy;
    loop {
        tokio::select! {
            biased;
            flow = &mut handling => return Busy::Done(flow),
            () = policy.cut_off.cancelled() => return Busy::Close(policy.abandon()),
            () = sleep_until_deadline(deadline) => return Busy::Interrupted(deadline_exceeded()),
            Some(frame) = io.link.outbox.recv() => {
                if let Err(gone) = io.link.feed(frame).await.and(io.link.flush().await) {
                    return Busy::Gone(gone);
                }
            }
            frame = io.link.ws.next(), if io.backlog.accepts_bytes() => {
                io.pings.heard();
                match io.on_arrival(frame).await {
                    Ok(Some(Arrival::Abort(Some(id)))) if abortable.as_deref() == Some(id.as_str()) => {
                        return Busy::Interrupted(Error::cancelled("the client aborted the request"));
                    }
                    Ok(_) => {}
                    Err(End::Close(close)) => return Busy::Close(close),
                    Err(End::Gone(close)) => return Busy::Gone(close),
                }
                if io.backlog.protocol_errors() >= policy.limits.max_consecutive_errors {
                    return Busy::Close(Close::new(Close::POLICY, "too many invalid messages"));
                }
            }
        }
    }
}

fn deadline_exceeded() -> Error {
    Error::deadline_exceeded("the request did not finish before its deadline")
}

/// Completes at `deadline`, or never without one.
async fn sleep_until_deadline(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The close for a frame above the hard size limit, which tungstenite refused to read.
fn too_big(policy: &Policy, error: &CapacityError) -> Close {
    tracing::debug!(%error, "frame above the hard size limit");
    if let CapacityError::MessageTooLong { size, max_size } = *error {
        policy.limits.exceeded(LimitKind::MessageSize, size, max_size, Some(policy.client_id));
    }
    Close::new(Close::TOO_BIG, "message too big")
}

fn going_away() -> Close {
    Close::new(Close::GOING_AWAY, "server shutting down")
}

/// What the ping timer calls for when it fires.
enum PingStep {
    /// Send a ping now; fire again at this instant to check for an answer.
    Send(Instant),
    /// The last ping was answered: fire again at this instant to send the next.
    Wait(Instant),
    /// The last ping went unanswered within the timeout.
    Stale,
}

/// The protocol ping schedule of one connection: a ping every interval, and a
/// connection that sends nothing within the timeout after a ping is stale.
struct Pings {
    liveness: Option<Liveness>,
    last_heard: Instant,
    sent: Option<Instant>,
}

impl Pings {
    fn new(liveness: Option<Liveness>) -> Self {
        Pings { liveness, last_heard: Instant::now(), sent: None }
    }

    fn enabled(&self) -> bool {
        self.liveness.is_some()
    }

    fn first_delay(&self) -> Duration {
        self.liveness.map_or(NEVER, |liveness| liveness.interval)
    }

    /// Any frame from the client proves it alive.
    fn heard(&mut self) {
        if self.liveness.is_some() {
            self.last_heard = Instant::now();
        }
    }

    fn due(&mut self) -> PingStep {
        let Some(Liveness { interval, timeout }) = self.liveness else {
            return PingStep::Wait(Instant::now() + NEVER);
        };
        match self.sent.take() {
            Some(sent) if self.last_heard < sent => PingStep::Stale,
            Some(sent) => PingStep::Wait(sent + interval),
            None => {
                let now = Instant::now();
                self.sent = Some(now);
                PingStep::Send(now + timeout)
            }
        }
    }
}

/// A close frame's reason is at most 123 bytes.
fn truncate_reason(reason: &mut String) {
    if reason.len() > 123 {
        let mut end = 123;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
}

fn dropped(error: &WsError) -> Close {
    tracing::debug!(%error, "connection dropped");
    Close::new(Close::ABNORMAL, "connection dropped")
}

/// The WebSocket message of an outbound frame.
fn text_message(frame: Frame) -> WsMessage {
    match frame {
        Frame::Owned(text) => WsMessage::Text(text.into()),
        Frame::Shared(bytes) => {
            WsMessage::Text(Utf8Bytes::try_from(bytes).expect("shared frames are encoded from UTF-8 text"))
        }
    }
}
