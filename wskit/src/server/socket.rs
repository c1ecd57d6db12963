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
use crate::connection::{Flow, Session};
use crate::outbox::{Frame, OutboxReceiver};
use crate::router::Router;
use crate::server::Liveness;
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
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
    /// Cancelled when the server shuts down: close with 1001 once the running handler
    /// has returned.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled when the shutdown grace period is over: close with 1001 at once,
    /// abandoning a handler that is still running.
    pub(crate) cut_off: CancellationToken,
    pub(crate) liveness: Option<Liveness>,
    pub(crate) write_timeout: Duration,
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
        while let Ok(frame) = self.outbox.try_recv() {
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

/// Runs one write on the socket, giving up after `timeout`.
async fn bounded(timeout: Duration, write: impl Future<Output = Result<(), WsError>>) -> Result<(), Close> {
    match tokio::time::timeout(timeout, write).await {
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
    let mut link = Link { ws, outbox, write_timeout: policy.write_timeout };
    let opened = tokio::select! {
        flow = session.open() => flow,
        () = policy.cut_off.cancelled() => Flow::Close(going_away()),
    };
    let end = match opened {
        Flow::Continue => match link.flush_queued().await {
            Ok(()) => serve(&mut link, &mut session, &policy).await,
            Err(close) => End::Gone(close),
        },
        Flow::Close(close) => End::Close(close),
    };
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
    link.outbox.close();
    session.close(close).await;
}

async fn serve<R: Router, S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    session: &mut Session<R>,
    policy: &Policy,
) -> End {
    let mut pings = Pings::new(policy.liveness);
    let mut ping_timer = pin!(tokio::time::sleep(pings.first_delay()));
    loop {
        let flow = tokio::select! {
            biased;
            () = policy.shutdown.cancelled() => Ok(Flow::Close(going_away())),
            () = &mut ping_timer, if pings.enabled() => match pings.due() {
                PingStep::Send(next) => {
                    ping_timer.as_mut().reset(next);
                    link.ping().await.map(|()| Flow::Continue)
                }
                PingStep::Wait(next) => {
                    ping_timer.as_mut().reset(next);
                    Ok(Flow::Continue)
                }
                PingStep::Stale => Ok(Flow::Close(Close::new(Close::INTERNAL, "no answer to ping"))),
            },
            frame = link.ws.next() => {
                pings.heard();
                let mut result = handle(frame, link, session, policy).await;
                // Handle what has already arrived before flushing the answers.
                for _ in 1..MAX_BATCH {
                    if !matches!(result, Ok(Flow::Continue)) {
                        break;
                    }
                    if let Err(close) = link.buffer_queued().await {
                        return End::Gone(close);
                    }
                    match link.ws.next().now_or_never() {
                        Some(frame) => result = handle(frame, link, session, policy).await,
                        None => break,
                    }
                }
                result
            }
            Some(frame) = link.outbox.recv() => link.feed(frame).await.map(|()| Flow::Continue),
        };
        match flow {
            Ok(Flow::Continue) => {}
            Ok(Flow::Close(close)) => return End::Close(close),
            Err(gone) => return End::Gone(gone),
        }
        if let Err(gone) = link.flush_queued().await {
            return End::Gone(gone);
        }
        if let Flow::Close(close) = session.flow() {
            return End::Close(close);
        }
    }
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

/// Handles one read result; `Err` means the connection is gone.
async fn handle<R: Router, S: AsyncRead + AsyncWrite + Unpin>(
    frame: Option<Result<WsMessage, WsError>>,
    link: &mut Link<S>,
    session: &mut Session<R>,
    policy: &Policy,
) -> Result<Flow, Close> {
    let text = match frame {
        Some(Ok(WsMessage::Text(text))) => text,
        Some(Ok(WsMessage::Binary(bytes))) => match Utf8Bytes::try_from(bytes) {
            Ok(text) => text,
            Err(_) => return Ok(session.on_invalid_frame("binary frames must hold UTF-8 JSON").await),
        },
        // Pings are answered by tungstenite on the next flush; pongs need nothing.
        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => return Ok(Flow::Continue),
        Some(Ok(WsMessage::Close(frame))) => {
            let close = frame.map_or(Close::new(Close::NORMAL, ""), |frame| {
                Close::new(u16::from(frame.code), frame.reason.as_str().to_owned())
            });
            // tungstenite queued the close reply; push it out before leaving.
            let _ = link.flush().await;
            return Err(close);
        }
        Some(Err(WsError::Capacity(error))) => {
            tracing::debug!(%error, "frame above the hard size limit");
            return Ok(Flow::Close(Close::new(Close::TOO_BIG, "message too big")));
        }
        Some(Err(error)) => return Err(dropped(&error)),
        None => return Err(Close::new(Close::ABNORMAL, "connection dropped")),
    };
    // Run the handler, writing what it sends while it runs. Boxed: the handlers' futures
    // can be large, and inline they would grow every idle connection's task to their size.
    let mut handling = Box::pin(session.on_text(text.as_str()));
    loop {
        tokio::select! {
            biased;
            flow = &mut handling => return Ok(flow),
            () = policy.cut_off.cancelled() => {
                tracing::warn!("shutdown grace period over: abandoning a running handler");
                return Ok(Flow::Close(going_away()));
            }
            Some(frame) = link.outbox.recv() => {
                link.feed(frame).await?;
                link.flush().await?;
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
