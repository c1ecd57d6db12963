//! One open socket: writes what waits in the outbox (in bounded batches, one flush each),
//! routes what arrives, pings, and notices silence and writes that do not finish.

use super::connect::Socket;
use super::resume::{Inbound, Resume, SessionStart};
use super::shared::Shared;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tokio_tungstenite::tungstenite::Message as Frame;

/// How long a normal close waits for the server's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The most frames written per flush, so that reading goes on between batches.
const MAX_BATCH: usize = 64;

type Sink = SplitSink<Socket, Frame>;

/// Why a socket's session ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The client was closed: do not reconnect.
    Stopped,
    /// The socket closed, failed, went silent or stopped taking writes: reconnect.
    Lost,
}

/// Runs the socket until it ends, writing the outbox whenever [`Shared::writable`] wakes.
/// Every write is bounded by the write timeout, so the loop always gets back to reading,
/// to the silence timeout and to `close()`. `resume` counts what arrives, when the client
/// resumes sessions.
pub(crate) async fn run(shared: &Arc<Shared>, socket: Socket, mut resume: Option<&mut Resume>) -> End {
    let (mut sink, mut stream) = socket.split();
    let options = &shared.options;
    let mut ping = tokio::time::interval_at(Instant::now() + options.ping_interval, options.ping_interval);
    let silence = sleep(options.idle_timeout);
    tokio::pin!(silence);
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => {
                let close = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                if bounded(options.write_timeout, sink.send(Frame::Close(Some(close)))).await.is_ok() {
                    // The server answers with its close frame; then the stream ends.
                    let drained = async { while let Some(Ok(_)) = stream.next().await {} };
                    let _ = timeout(CLOSE_GRACE, drained).await;
                }
                return End::Stopped;
            }
            () = shared.writable.notified() => {
                let batch = shared.take_batch(MAX_BATCH);
                if let Err(reason) = bounded(options.write_timeout, write(&mut sink, batch)).await {
                    tracing::warn!(%reason, "dropping the socket");
                    return End::Lost;
                }
            }
            frame = stream.next() => {
                silence.as_mut().reset(Instant::now() + options.idle_timeout);
                match frame {
                    Some(Ok(Frame::Text(text))) => inbound(shared, resume.as_deref_mut(), Some(&text)),
                    Some(Ok(Frame::Binary(bytes))) => {
                        inbound(shared, resume.as_deref_mut(), std::str::from_utf8(&bytes).ok());
                    }
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
                if let Err(reason) = bounded(options.write_timeout, sink.send(Frame::Ping(Default::default()))).await {
                    tracing::warn!(%reason, "dropping the socket");
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

/// Takes a data frame from the server (`text`: `None` for a binary frame that is not
/// UTF-8): counted for the session first, then routed, unless it is the session's own.
fn inbound(shared: &Arc<Shared>, mut resume: Option<&mut Resume>, text: Option<&str>) {
    if let Some(resume) = resume.as_deref_mut() {
        match resume.inbound(text) {
            Inbound::Started(start) => return shared.session_started(start),
            Inbound::NotOffered => shared.session_started(SessionStart::NotResumable),
            Inbound::Route => {}
        }
    }
    match text {
        Some(text) => shared.receive(text, resume.as_deref()),
        None => tracing::warn!("dropped a binary frame that is not UTF-8 JSON"),
    }
}

/// Writes `batch` and flushes once.
async fn write(sink: &mut Sink, batch: Vec<String>) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    for text in batch {
        sink.feed(Frame::text(text)).await?;
    }
    sink.flush().await
}

/// Runs `write` for at most `limit`; the error says why it did not finish.
async fn bounded<E: Display>(
    limit: Duration,
    write: impl Future<Output = Result<(), E>>,
) -> Result<(), String> {
    match timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("the socket failed while writing: {error}")),
        Err(_) => Err(format!("a write did not finish within {limit:?}: the server does not read")),
    }
}
