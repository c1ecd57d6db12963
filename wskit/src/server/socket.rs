//! The hyper host's IO: a tokio-tungstenite socket as the core's [`Transport`], and
//! tokio's timers as its [`Clock`]. Every write is bounded by [`Limits::write_timeout`]:
//! a client that stops reading is dropped instead of holding its connection forever.
//!
//! [`Limits::write_timeout`]: crate::Limits::write_timeout

use crate::close::Close;
use crate::connection::{Clock, Received, Transport};
use crate::outbox::Frame;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// How long to wait for the client's close frame after sending ours.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A WebSocket over an upgraded HTTP connection.
pub(crate) struct Socket<S> {
    ws: WebSocketStream<S>,
    write_timeout: Duration,
}

impl<S> Socket<S> {
    pub(crate) fn new(ws: WebSocketStream<S>, write_timeout: Duration) -> Self {
        Socket { ws, write_timeout }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Socket<S> {
    /// A flush on a rare path of [`recv`](Transport::recv), boxed: inline, its timer would
    /// grow the future that every read creates, and that is moved on every read.
    fn flush_boxed(&mut self) -> Pin<Box<dyn Future<Output = Result<(), Close>> + Send + '_>> {
        Box::pin(self.flush())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Transport for Socket<S> {
    type Text = Utf8Bytes;

    async fn recv(&mut self) -> Received<Utf8Bytes> {
        match self.ws.next().await {
            Some(Ok(WsMessage::Text(text))) => Received::Text(text),
            Some(Ok(WsMessage::Binary(bytes))) => {
                Utf8Bytes::try_from(bytes).map_or(Received::NotUtf8, Received::Text)
            }
            Some(Ok(WsMessage::Close(frame))) => {
                let close = frame.map_or(Close::new(Close::NORMAL, ""), |frame| {
                    Close::new(u16::from(frame.code), frame.reason.as_str().to_owned())
                });
                // tungstenite queued the close reply; push it out before leaving.
                let _ = self.flush_boxed().await;
                Received::Closed(close)
            }
            // tungstenite answers a ping on the next flush.
            Some(Ok(WsMessage::Ping(_))) => match self.flush_boxed().await {
                Ok(()) => Received::Control,
                Err(_) => Received::Dropped,
            },
            Some(Ok(WsMessage::Pong(_) | WsMessage::Frame(_))) => Received::Control,
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                Received::TooBig { size, limit: max_size }
            }
            // RFC 6455 section 7.1.7: fail the connection with a close frame that says why.
            Some(Err(WsError::Protocol(error))) => {
                Received::Broken(Close::new(Close::PROTOCOL_ERROR, error.to_string()))
            }
            Some(Err(WsError::Utf8(_))) => {
                Received::Broken(Close::new(Close::INVALID_DATA, "a text frame is not UTF-8"))
            }
            Some(Err(error)) => {
                tracing::debug!(%error, "connection dropped");
                Received::Dropped
            }
            None => Received::Dropped,
        }
    }

    async fn send(&mut self, frame: Frame) -> Result<(), Close> {
        bounded(self.write_timeout, self.ws.feed(text_message(frame))).await
    }

    async fn flush(&mut self) -> Result<(), Close> {
        bounded(self.write_timeout, self.ws.flush()).await
    }

    async fn ping(&mut self) -> Result<(), Close> {
        bounded(self.write_timeout, self.ws.feed(WsMessage::Ping(Default::default()))).await
    }

    async fn close(&mut self, close: &Close) {
        let mut reason = close.reason.to_string();
        truncate_reason(&mut reason);
        let frame = CloseFrame { code: CloseCode::from(close.code), reason: reason.into() };
        if bounded(self.write_timeout, self.ws.close(Some(frame))).await.is_ok() {
            let drain = async { while let Some(Ok(_)) = self.ws.next().await {} };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
        }
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
        Ok(Err(error)) => {
            tracing::debug!(%error, "connection dropped");
            Err(Close::new(Close::ABNORMAL, "connection dropped"))
        }
        Err(_) => {
            tracing::debug!(?timeout, "write stalled: the client stopped reading");
            Err(Close::new(Close::TRY_AGAIN_LATER, "the client stopped reading"))
        }
    }
}

/// tokio's clock and timers.
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Timer = tokio::time::Sleep;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn timer(&self, at: Instant) -> Self::Timer {
        tokio::time::sleep_until(at.into())
    }

    fn reset(&self, timer: Pin<&mut Self::Timer>, at: Instant) {
        timer.reset(at.into());
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

/// The WebSocket message of an outbound frame.
fn text_message(frame: Frame) -> WsMessage {
    match frame {
        Frame::Owned(text) => WsMessage::Text(text.into()),
        Frame::Shared(bytes) => {
            WsMessage::Text(Utf8Bytes::try_from(bytes).expect("shared frames are encoded from UTF-8 text"))
        }
    }
}
