//! One open socket: writes what is sent (batched, one flush), routes what arrives, pings,
//! and notices silence.

use super::connect::Socket;
use super::shared::Shared;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{sleep, Instant};
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tokio_tungstenite::tungstenite::Message as Frame;

/// How long a normal close waits for the server's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Why a socket's session ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The client was closed: do not reconnect.
    Stopped,
    /// The socket closed, failed or went silent: reconnect.
    Lost,
}

/// Runs the socket until it ends; `outbox` carries the frames to write.
pub(crate) async fn run(shared: &Shared, socket: Socket, mut outbox: mpsc::UnboundedReceiver<String>) -> End {
    let (mut sink, mut stream) = socket.split();
    let options = &shared.options;
    let mut ping = tokio::time::interval_at(Instant::now() + options.ping_interval, options.ping_interval);
    let silence = sleep(options.idle_timeout);
    tokio::pin!(silence);
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => {
                let close = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                if sink.send(Frame::Close(Some(close))).await.is_ok() {
                    // The server answers with its close frame; then the stream ends.
                    let drained = async { while let Some(Ok(_)) = stream.next().await {} };
                    let _ = tokio::time::timeout(CLOSE_GRACE, drained).await;
                }
                return End::Stopped;
            }
            Some(text) = outbox.recv() => {
                let mut written = sink.feed(Frame::text(text)).await;
                while let (Ok(()), Ok(text)) = (&written, outbox.try_recv()) {
                    written = sink.feed(Frame::text(text)).await;
                }
                let flushed = match written {
                    Ok(()) => sink.flush().await,
                    Err(error) => Err(error),
                };
                if let Err(error) = flushed {
                    tracing::debug!(%error, "the socket failed while writing");
                    return End::Lost;
                }
            }
            frame = stream.next() => {
                silence.as_mut().reset(Instant::now() + options.idle_timeout);
                match frame {
                    Some(Ok(Frame::Text(text))) => shared.receive(&text),
                    Some(Ok(Frame::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                        Ok(text) => shared.receive(text),
                        Err(_) => tracing::warn!("dropped a binary frame that is not UTF-8 JSON"),
                    },
                    Some(Ok(Frame::Close(close))) => {
                        tracing::debug!(?close, "the server closed the socket");
                        return End::Lost;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        tracing::debug!(%error, "the socket failed while reading");
                        return End::Lost;
                    }
                    None => return End::Lost,
                }
            }
            _ = ping.tick() => {
                if sink.send(Frame::Ping(Default::default())).await.is_err() {
                    return End::Lost;
                }
            }
            _ = &mut silence => {
                tracing::warn!(timeout = ?options.idle_timeout, "the server went silent; dropping the socket");
                return End::Lost;
            }
        }
    }
}
