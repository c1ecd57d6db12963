//! Helpers shared by the examples and the end-to-end tests of wskit: the address an
//! example listens on, a raw JSON WebSocket client that speaks exactly what a browser
//! would, a way to run a server on a free port, and faults to put the Redis bus under.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wskit::{Router, Routes, Server};

pub mod faults;
pub mod raw;

/// The Redis the tests of the Redis bus use: `REDIS_URL`, by default
/// `redis://127.0.0.1:6379`. `None` (with the reason printed) when it cannot be reached
/// and `WSKIT_REQUIRE_REDIS` is not `1`; with `WSKIT_REQUIRE_REDIS=1` an unreachable
/// Redis fails the test instead.
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let reachable = async {
        let client = redis::Client::open(url.as_str())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut connection).await
    };
    let reason = match tokio::time::timeout(Duration::from_secs(3), reachable).await {
        Ok(Ok(_)) => return Some(url),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "no answer within 3 s".to_owned(),
    };
    skip_redis_test(&format!("Redis at {url} is unreachable ({reason}); set REDIS_URL to run this test"))
}

/// Skips a test of the Redis bus, saying `why`; under `WSKIT_REQUIRE_REDIS=1` fails it.
pub(crate) fn skip_redis_test<T>(why: &str) -> Option<T> {
    let required = std::env::var("WSKIT_REQUIRE_REDIS").is_ok_and(|value| value == "1");
    assert!(!required, "WSKIT_REQUIRE_REDIS=1, but {why}");
    eprintln!("skipped: {why}");
    None
}

/// A channel prefix no other test run uses, so that tests sharing a Redis stay apart.
pub fn unique_prefix(test: &str) -> String {
    format!("wskit-test:{test}:{}:", uuid::Uuid::now_v7().simple())
}

/// The address an example listens on: `127.0.0.1` at the port in the `PORT` environment
/// variable, or at `default_port` when `PORT` is not set.
pub fn listen_addr(default_port: u16) -> std::io::Result<SocketAddr> {
    let port = match std::env::var_os("PORT") {
        None => default_port,
        Some(value) => {
            value.to_str().and_then(|port| port.parse().ok()).filter(|&port| port != 0).ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("PORT must be a port number from 1 to 65535, not {value:?}"),
                )
            })?
        }
    };
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Binds `addr`, for an example that serves with
/// [`Server::serve_with_shutdown`](wskit::Server::serve_with_shutdown); a failure names the
/// address, as [`Server::serve`](wskit::Server::serve) does.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|error| {
        let advice = match error.kind() {
            std::io::ErrorKind::AddrInUse => "; stop the other server or set PORT",
            _ => "",
        };
        std::io::Error::new(error.kind(), format!("could not listen on {addr}: {error}{advice}"))
    })
}

/// Sends a bare HTTP/1.1 GET for `path` to `addr` and returns the whole response; panics
/// after [`RECV_TIMEOUT`].
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut response = String::new();
    tokio::time::timeout(RECV_TIMEOUT, stream.read_to_string(&mut response))
        .await
        .expect("a response within the timeout")
        .expect("read the response");
    response
}

/// How long a test waits for a frame before failing.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// A server running on a free loopback port, shut down gracefully on [`stop`](Self::stop)
/// or when dropped.
pub struct TestServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts `server` on `127.0.0.1:0`.
    pub async fn start<R: Router>(server: Server<R>) -> Self {
        Self::start_with(|listener, stopped| server.serve_with_shutdown(listener, stopped)).await
    }

    /// Starts `routes` on `127.0.0.1:0`.
    pub async fn start_routes(routes: Routes) -> Self {
        Self::start_with(|listener, stopped| routes.serve_with_shutdown(listener, stopped)).await
    }

    /// Binds `127.0.0.1:0` and spawns `serve` on the listener, with a signal that
    /// completes on [`stop`](Self::stop): for servers of other kinds, e.g. an axum app
    /// with `axum::serve(listener, app).with_graceful_shutdown(stopped)`.
    pub async fn start_with<F, S>(serve: F) -> Self
    where
        F: FnOnce(TcpListener, Pin<Box<dyn Future<Output = ()> + Send>>) -> S,
        S: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(
            listener,
            Box::pin(async {
                let _ = stopped.await;
            }),
        ));
        TestServer { addr, stop: Some(stop), task: Some(task) }
    }

    /// The `ws://` URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Shuts the server down gracefully and waits until it has finished.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A WebSocket client that sends and receives raw JSON frames.
pub struct RawClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The upgrade response.
    pub response: tungstenite::handshake::client::Response,
}

/// What [`RawClient::next`] saw.
#[derive(Debug, PartialEq)]
pub enum Received {
    /// A text frame, parsed as JSON.
    Json(Value),
    /// A close frame with its code and reason.
    Close(u16, String),
    /// The connection ended without a close frame.
    Ended,
}

impl RawClient {
    /// Connects to `url`.
    pub async fn connect(url: &str) -> Self {
        Self::connect_with(url.into_client_request().expect("a valid URL")).await
    }

    /// Connects with a prepared request (extra headers, subprotocols).
    pub async fn connect_with(request: tungstenite::handshake::client::Request) -> Self {
        let (ws, response) = tokio_tungstenite::connect_async(request).await.expect("WebSocket handshake");
        RawClient { ws, response }
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws.send(Message::text(text.into())).await.expect("send a frame");
    }

    /// Sends `value` as a JSON text frame.
    pub async fn send(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    /// Sends every value as a JSON text frame in one write, so that the server reads them
    /// all at once, as from a client that pipelines its messages.
    pub async fn send_batch(&mut self, values: impl IntoIterator<Item = Value>) {
        for value in values {
            self.ws.feed(Message::text(value.to_string())).await.expect("buffer a frame");
        }
        self.ws.flush().await.expect("send the frames");
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).await.expect("send a frame");
    }

    /// The next frame, close or end; panics after [`RECV_TIMEOUT`].
    pub async fn next(&mut self) -> Received {
        self.next_within(RECV_TIMEOUT).await
    }

    /// The next frame, close or end; panics after `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Received {
        loop {
            let frame = tokio::time::timeout(timeout, self.ws.next())
                .await
                .expect("no frame from the server within the timeout");
            return match frame {
                Some(Ok(Message::Text(text))) => {
                    Received::Json(serde_json::from_str(&text).expect("the server sends JSON"))
                }
                Some(Ok(Message::Close(frame))) => match frame {
                    Some(frame) => Received::Close(frame.code.into(), frame.reason.to_string()),
                    None => Received::Close(1005, String::new()),
                },
                Some(Ok(Message::Binary(_))) => panic!("the server sent a binary frame"),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Received::Ended,
            };
        }
    }

    /// The next JSON frame; panics on anything else.
    pub async fn recv(&mut self) -> Value {
        match self.next().await {
            Received::Json(value) => value,
            other => panic!("expected a JSON frame, got {other:?}"),
        }
    }

    /// The next text frame as it came, not parsed: for tests that read many frames and
    /// check a part of each, where parsing every one would cost more than the server's
    /// work. Panics on anything else, or after [`RECV_TIMEOUT`].
    pub async fn recv_text(&mut self) -> String {
        match self.next_data().await {
            Some(Ok(Message::Text(text))) => text.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next binary frame; panics on anything else, or after [`RECV_TIMEOUT`].
    pub async fn recv_binary(&mut self) -> Vec<u8> {
        match self.next_data().await {
            Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }

    /// The next frame that is not a ping or pong, as it came; panics after
    /// [`RECV_TIMEOUT`].
    async fn next_data(&mut self) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
        loop {
            let frame = tokio::time::timeout(RECV_TIMEOUT, self.ws.next())
                .await
                .expect("no frame from the server within the timeout");
            if !matches!(frame, Some(Ok(Message::Ping(_) | Message::Pong(_)))) {
                return frame;
            }
        }
    }

    /// Sends `value` and returns the next JSON frame.
    pub async fn request(&mut self, value: Value) -> Value {
        self.send(value).await;
        self.recv().await
    }

    /// The close code the server closes with; panics if a JSON frame comes first.
    pub async fn closed(&mut self) -> (u16, String) {
        match self.next().await {
            Received::Close(code, reason) => (code, reason),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// Closes the connection normally.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Some(Ok(_)) = self.ws.next().await {}
    }

    /// Closes the connection with `code`.
    pub async fn close_with(mut self, code: u16) {
        let frame = tungstenite::protocol::CloseFrame { code: code.into(), reason: "".into() };
        let _ = self.ws.close(Some(frame)).await;
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}
