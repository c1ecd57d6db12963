//! The accept loop that [`Server`](super::Server) and [`Routes`](super::Routes) share:
//! binding an address, accepting TCP connections within the bound on connections not yet
//! upgraded, serving HTTP/1.1 on each, and shutting down gracefully.

use super::{accept, Body, Slot};
use crate::limits::{LimitKind, Limits};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the accept loop serves: the answer to each HTTP request, the WebSocket connections
/// it started, and their shutdown.
pub(super) trait Service: Clone + Send + Sync + 'static {
    /// Answers one HTTP request (an upgrade or plain HTTP).
    fn respond(&self, request: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send;

    /// The number of open WebSocket connections.
    fn connections(&self) -> usize;

    /// Closes every WebSocket connection gracefully (see `Endpoint::shutdown`).
    fn shutdown(&self) -> impl Future<Output = ()> + Send;
}

/// The settings of the accept loop.
pub(super) struct Settings {
    /// `max_pending_handshakes`, and the hook told about refused connections.
    pub(super) limits: Arc<Limits>,
    pub(super) handshake_timeout: Duration,
    pub(super) shutdown_grace: Duration,
}

/// Binds `addr`, logging the address it listens on; the error names the address and
/// what to do.
pub(super) async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let resolved = tokio::net::lookup_host(addr).await.map_err(|error| {
        io::Error::new(error.kind(), format!("could not resolve the address to listen on: {error}"))
    })?;
    let mut failure = None;
    for addr in resolved {
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!(addr = %listener.local_addr()?, "listening");
                return Ok(listener);
            }
            Err(error) => failure = Some((addr, error)),
        }
    }
    Err(match failure {
        Some((addr, error)) => {
            let advice = match error.kind() {
                io::ErrorKind::AddrInUse => "; another process listens there: stop it or choose another port",
                io::ErrorKind::AddrNotAvailable => {
                    "; this machine has no such address: listen on 127.0.0.1 or 0.0.0.0"
                }
                io::ErrorKind::PermissionDenied => {
                    "; ports below 1024 need privileges: choose a port from 1024 up"
                }
                _ => "",
            };
            io::Error::new(error.kind(), format!("could not listen on {addr}: {error}{advice}"))
        }
        None => io::Error::new(io::ErrorKind::InvalidInput, "the address to listen on resolved to nothing"),
    })
}

/// Serves connections from `listener` with `service` until `signal` completes, then stops
/// accepting, ends the HTTP connections gracefully, shuts the service down and waits up to
/// the grace period for the HTTP connections to end.
pub(super) async fn serve<S: Service>(
    listener: TcpListener,
    signal: impl Future<Output = ()> + Send,
    service: S,
    settings: Settings,
) -> io::Result<()> {
    let Settings { limits, handshake_timeout, shutdown_grace } = settings;
    let http_connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    // HTTP connections not (yet) upgraded, against `Limits::max_pending_handshakes`.
    let pending = Arc::new(AtomicUsize::new(0));
    let mut reserve = accept::Reserve::new();
    let mut signal = pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    match reserve.shed(&listener, &error) {
                        accept::Shed::Refused => {
                            let held = pending.load(Ordering::Acquire) + service.connections();
                            limits.exceeded(LimitKind::FileDescriptors, held, held, None);
                            crate::observe::upgrade_refused("file_descriptors");
                        }
                        accept::Shed::NoneWaiting => {}
                        accept::Shed::Failed => {
                            // Back off instead of spinning on an error that persists.
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    continue;
                }
            },
        };
        let Some(slot) = Slot::take(&pending, limits.max_pending_handshakes) else {
            accept::refuse(stream);
            let max = limits.max_pending_handshakes;
            limits.exceeded(LimitKind::PendingHandshakes, max + 1, max, None);
            crate::observe::upgrade_refused("pending_handshakes");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let http = Http { service: service.clone(), handshake_timeout, stopping: stopping.clone() };
        http_connections.spawn(http.serve(TokioIo::new(stream), peer, slot));
    }
    drop(listener);
    stopping.cancel();
    http_connections.close();
    service.shutdown().await;
    let _ = tokio::time::timeout(shutdown_grace, http_connections.wait()).await;
    Ok(())
}

/// One HTTP/1.1 connection of the accept loop.
struct Http<S> {
    service: S,
    handshake_timeout: Duration,
    /// Cancelled when the server shuts down: the connection ends after its current request.
    stopping: CancellationToken,
}

impl<S: Service> Http<S> {
    /// Serves the HTTP/1.1 connection `io`, with upgrades, holding its `pending` place
    /// among the connections not yet upgraded until it upgrades or ends.
    async fn serve(self, io: TokioIo<TcpStream>, peer: SocketAddr, pending: Slot) {
        let service = self.service.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let service = service.clone();
            request.extensions_mut().insert(super::PeerAddr(peer));
            async move { Ok::<_, Infallible>(service.respond(request).await) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.handshake_timeout)
            .serve_connection(io, service)
            .with_upgrades();
        let mut connection = pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = self.stopping.cancelled() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        // Given back before the socket is dropped: a connection cut off for a slow request
        // is closed only then, so a client that sees the close finds the place free. An
        // upgraded connection counts under `max_connections` from here on.
        drop(pending);
        if let Err(error) = result {
            tracing::debug!(%peer, %error, "HTTP connection failed");
        }
    }
}
