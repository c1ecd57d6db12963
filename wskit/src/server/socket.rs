//! Drives one upgraded connection: reads frames into the [`Session`], writes the outbox to
//! the socket, and closes it.
//!
//! Writes are batched: every frame that has already arrived is handled before the queued
//! answers are written and flushed once, so a busy connection makes one write syscall per
//! batch instead of one per frame.

use crate::close::Close;
use crate::connection::{Flow, Session};
use crate::outbox::{Frame, OutboxReceiver};
use crate::router::Router;
use crate::server::Liveness;
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::pin::pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// Frames handled in one batch before the answers are written, so one chatty client
/// cannot hold its answers back without bound.
const MAX_BATCH: usize = 64;

/// A timer delay that never comes, for connections without protocol pings.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long to wait for the client's close frame after sending ours.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why reading stopped.
enum End {
    /// We decided to close, with this close frame.
    Close(Close),
    /// The client closed, or the socket failed; nothing more can be sent.
    Gone(Close),
}

pub(crate) async fn run<R, S>(
    mut ws: WebSocketStream<S>,
    mut session: Session<R>,
    mut outbox: OutboxReceiver,
    shutdown: CancellationToken,
    liveness: Option<Liveness>,
) where
    R: Router,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let end = match session.open().await {
        Flow::Continue => match write_queued(&mut ws, &mut outbox).await {
            Ok(()) => serve(&mut ws, &mut session, &mut outbox, &shutdown, liveness).await,
            Err(error) => End::Gone(dropped(&error)),
        },
        Flow::Close(close) => End::Close(close),
    };
    let close = match end {
        End::Close(close) => {
            let _ = write_queued(&mut ws, &mut outbox).await;
            close_socket(&mut ws, close).await
        }
        End::Gone(close) => close,
    };
    outbox.close();
    session.close(close).await;
}

async fn serve<R: Router, S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    session: &mut Session<R>,
    outbox: &mut OutboxReceiver,
    shutdown: &CancellationToken,
    liveness: Option<Liveness>,
) -> End {
    let mut pings = Pings::new(liveness);
    let mut ping_timer = pin!(tokio::time::sleep(pings.first_delay()));
    loop {
        let flow = tokio::select! {
            biased;
            () = shutdown.cancelled() => Ok(Flow::Close(Close::new(Close::GOING_AWAY, "server shutting down"))),
            () = &mut ping_timer, if pings.enabled() => match pings.due() {
                PingStep::Send(next) => {
                    ping_timer.as_mut().reset(next);
                    match ws.send(WsMessage::Ping(Default::default())).await {
                        Ok(()) => Ok(Flow::Continue),
                        Err(error) => Err(dropped(&error)),
                    }
                }
                PingStep::Wait(next) => {
                    ping_timer.as_mut().reset(next);
                    Ok(Flow::Continue)
                }
                PingStep::Stale => Ok(Flow::Close(Close::new(Close::INTERNAL, "no answer to ping"))),
            },
            frame = ws.next() => {
                pings.heard();
                let mut result = handle(frame, ws, session, outbox).await;
                // Handle what has already arrived before writing the answers.
                for _ in 1..MAX_BATCH {
                    if !matches!(result, Ok(Flow::Continue)) {
                        break;
                    }
                    match ws.next().now_or_never() {
                        Some(frame) => result = handle(frame, ws, session, outbox).await,
                        None => break,
                    }
                }
                result
            }
            Some(frame) = outbox.recv() => {
                match ws.feed(text_message(frame)).await {
                    Ok(()) => Ok(Flow::Continue),
                    Err(error) => Err(dropped(&error)),
                }
            }
        };
        match flow {
            Ok(Flow::Continue) => {}
            Ok(Flow::Close(close)) => return End::Close(close),
            Err(gone) => return End::Gone(gone),
        }
        if let Err(error) = write_queued(ws, outbox).await {
            return End::Gone(dropped(&error));
        }
        if let Flow::Close(close) = session.flow() {
            return End::Close(close);
        }
    }
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
    ws: &mut WebSocketStream<S>,
    session: &mut Session<R>,
    outbox: &mut OutboxReceiver,
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
            let _ = ws.flush().await;
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
            Some(frame) = outbox.recv() => {
                if let Err(error) = ws.send(text_message(frame)).await {
                    return Err(dropped(&error));
                }
            }
        }
    }
}

/// Writes every queued frame, then flushes once.
async fn write_queued<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    outbox: &mut OutboxReceiver,
) -> Result<(), WsError> {
    while let Ok(frame) = outbox.try_recv() {
        ws.feed(text_message(frame)).await?;
    }
    ws.flush().await
}

/// Sends our close frame and waits, briefly, for the client's.
async fn close_socket<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, close: Close) -> Close {
    let mut reason = close.reason.to_string();
    truncate_reason(&mut reason);
    let frame = CloseFrame { code: CloseCode::from(close.code), reason: reason.into() };
    if ws.close(Some(frame)).await.is_ok() {
        let _ =
            tokio::time::timeout(CLOSE_TIMEOUT, async { while let Some(Ok(_)) = ws.next().await {} }).await;
    }
    close
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
