//! PROTOCOL.md section 5 over real sockets: upgrade, client ids, subprotocols, paths,
//! hooks, closing, graceful shutdown, and mounting the endpoint in a hyper service.

mod common;

use common::TestApp;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wskit::{message, router, Close, Ctx, Error, Limits, Server};
use wskit_examples::{raw, RawClient, Received, TestServer, RECV_TIMEOUT};

/// Sends a raw HTTP/1.1 request and returns the response head and body.
async fn http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
            // Stop at the end of a 101 head: the socket stays open afterwards.
            if response.starts_with(b"HTTP/1.1 101") && response.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    });
    read.await.expect("an HTTP response within the timeout");
    String::from_utf8_lossy(&response).into_owned()
}

fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}Connection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn the_upgrade_response_carries_a_uuid_v7_client_id_that_handlers_see() {
    let (app, observed) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let header = client.response.headers()["x-client-id"].to_str().unwrap().to_owned();
    let id = uuid::Uuid::parse_str(&header).unwrap();
    assert_eq!(id.get_version_num(), 7);
    let you = client.request(json!({"type": "WHO_AM_I"})).await;
    assert_eq!(you["payload"]["clientId"], header);
    let mut other = RawClient::connect(&server.url("/ws")).await;
    assert_ne!(other.response.headers()["x-client-id"].to_str().unwrap(), header);
    other.request(json!({"type": "PING"})).await;
    assert_eq!(observed.opened.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_handshake_answer_is_rfc_6455() {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let response = http(server.addr, &upgrade_request("/ws", "")).await;
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    // The RFC's own example key and answer.
    assert!(response.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{response}");
}

#[tokio::test]
async fn path_parameters_reach_the_handler() {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/rooms/:room")).await;
    let mut client = RawClient::connect(&server.url("/rooms/general")).await;
    let you = client.request(json!({"type": "WHO_AM_I"})).await;
    assert_eq!(you["payload"]["room"], "general");
    let response = http(server.addr, &upgrade_request("/rooms/general/extra", "")).await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
}

#[tokio::test]
async fn connection_data_is_per_connection() {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let mut a = RawClient::connect(&server.url("/ws")).await;
    let mut b = RawClient::connect(&server.url("/ws")).await;
    for _ in 0..3 {
        a.request(json!({"type": "ECHO", "payload": {"text": "x"}})).await;
    }
    assert_eq!(a.request(json!({"type": "WHO_AM_I"})).await["payload"]["messages"], 3);
    assert_eq!(b.request(json!({"type": "WHO_AM_I"})).await["payload"]["messages"], 0);
}

#[tokio::test]
async fn the_server_selects_only_an_offered_subprotocol() {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws").protocols(["chat.v2", "chat.v1"])).await;
    let mut request = server.url("/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "bearer.abc, chat.v1".parse().unwrap());
    let client = RawClient::connect_with(request).await;
    assert_eq!(client.response.headers()["sec-websocket-protocol"], "chat.v1");
    let response = http(server.addr, &upgrade_request("/ws", "Sec-WebSocket-Protocol: other\r\n")).await;
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    assert!(!response.to_ascii_lowercase().contains("sec-websocket-protocol"), "{response}");

    // Without a configured list, a bearer-token client (ws-kit's convention) still connects.
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let mut request = server.url("/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "bearer.abc".parse().unwrap());
    let client = RawClient::connect_with(request).await;
    assert_eq!(client.response.headers()["sec-websocket-protocol"], "bearer.abc");
}

#[tokio::test]
async fn requests_that_are_not_upgrades_are_refused_clearly() {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let plain = http(server.addr, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(plain.starts_with("HTTP/1.1 426"), "{plain}");
    let elsewhere = http(server.addr, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(elsewhere.starts_with("HTTP/1.1 404"), "{elsewhere}");
    let old_version = upgrade_request("/ws", "").replace("Version: 13", "Version: 8");
    let response = http(server.addr, &old_version).await;
    assert!(
        response.starts_with("HTTP/1.1 426") && response.contains("sec-websocket-version: 13"),
        "{response}"
    );
    let post = upgrade_request("/ws", "").replacen("GET", "POST", 1);
    assert!(http(server.addr, &post).await.starts_with("HTTP/1.1 405"));
}

#[tokio::test]
async fn the_fallback_serves_plain_http_beside_the_websocket() {
    let (app, _) = TestApp::new();
    let server = Server::new(app).path("/ws").fallback(|request| async move {
        let body = format!("page for {}", request.uri().path());
        http::Response::new(wskit::Body::from(body))
    });
    let server = TestServer::start(server).await;
    let page = http(server.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(page.starts_with("HTTP/1.1 200") && page.ends_with("page for /"), "{page}");
    let mut client = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
}

#[tokio::test]
async fn a_handler_can_close_the_connection_after_its_reply() {
    let (app, observed) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    client.send(json!({"type": "CLOSE_ME", "payload": {"code": 4001}})).await;
    assert_eq!(client.recv().await["type"], "PONG");
    assert_eq!(client.closed().await, (4001, "asked to".to_owned()));
    observed.closed.notified().await;
    assert_eq!(observed.closes.lock().unwrap()[0].code, 4001);
    // A code an application may not send becomes 1008.
    let mut client = RawClient::connect(&server.url("/ws")).await;
    client.send(json!({"type": "CLOSE_ME", "payload": {"code": 1005}})).await;
    client.recv().await;
    assert_eq!(client.closed().await.0, 1008);
}

#[tokio::test]
async fn on_close_sees_the_clients_close_code() {
    let (app, observed) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    let closed = observed.closed.notified();
    client.close().await;
    closed.await;
    let closes = observed.closes.lock().unwrap();
    assert_eq!(closes[0].code, Close::NORMAL);
}

#[tokio::test]
async fn graceful_shutdown_closes_every_socket_with_1001() {
    let (app, observed) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let mut a = RawClient::connect(&server.url("/ws")).await;
    let mut b = RawClient::connect(&server.url("/ws")).await;
    a.request(json!({"type": "PING"})).await;
    b.request(json!({"type": "PING"})).await;
    let addr = server.addr;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(a.closed().await.0, 1001);
    assert_eq!(b.closed().await.0, 1001);
    stopping.await.unwrap();
    assert!(observed.closes.lock().unwrap().iter().all(|close| close.code == Close::GOING_AWAY));
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed after shutdown");
}

#[message("FLOOD")]
struct Flood {
    frames: u32,
}

#[message("ITEM")]
struct Item {
    n: u32,
}

#[message("HELLO")]
struct Hello;

/// Rejects connections without a name in the path, and floods on request.
struct Strict;

#[router]
impl Strict {
    #[on_open]
    async fn admit(&self, ctx: &mut Ctx<()>) -> Result<(), Error> {
        match ctx.param("name") {
            Some("guest") => Err(Error::unauthenticated("guests must log in")),
            Some("banned") => {
                ctx.close(4003, "banned");
                Ok(())
            }
            _ => ctx.send(&Hello),
        }
    }

    #[on]
    async fn flood(&self, ctx: &mut Ctx<()>, flood: Flood) -> Result<(), Error> {
        for n in 0..flood.frames {
            ctx.send(&Item { n })?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn on_open_can_reject_a_connection() {
    let server = TestServer::start(Server::new(Strict).path("/as/:name")).await;
    let mut welcome = RawClient::connect(&server.url("/as/ada")).await;
    assert_eq!(welcome.recv().await["type"], "HELLO");
    let mut rejected = RawClient::connect(&server.url("/as/guest")).await;
    let frame = rejected.recv().await;
    assert_eq!(frame["type"], "ERROR");
    assert_eq!(frame["payload"]["code"], "UNAUTHENTICATED");
    assert_eq!(rejected.closed().await.0, 1008);
    // Or with an application close code of its choosing, without an error frame.
    let mut banned = RawClient::connect(&server.url("/as/banned")).await;
    assert_eq!(banned.closed().await, (4003, "banned".to_owned()));
}

#[tokio::test]
async fn a_full_outbound_queue_fails_the_send_and_closes_with_1013() {
    let limits = Limits::default().max_queued_frames(8);
    let server = TestServer::start(Server::new(Strict).path("/as/:name").limits(limits)).await;
    let mut client = RawClient::connect(&server.url("/as/ada")).await;
    client.recv().await;
    // Within the limit, everything arrives in order.
    client.send(json!({"type": "FLOOD", "payload": {"frames": 8}})).await;
    for n in 0..8 {
        assert_eq!(client.recv().await["payload"]["n"], n);
    }
    // Beyond it, the handler's send fails: no frame is lost silently, the connection closes.
    // The client reads all it is sent, so the queue holds eight times the limit: the
    // server, not the client, is behind while the handler sends without pause.
    client.send(json!({"type": "FLOOD", "payload": {"frames": 100}})).await;
    let mut items = 0;
    loop {
        match client.next().await {
            Received::Json(frame) => {
                assert_eq!(frame["type"], "ITEM");
                items += 1;
            }
            Received::Close(code, _) => {
                assert_eq!(code, 1013);
                break;
            }
            Received::Ended => panic!("closed without a close frame"),
        }
    }
    assert_eq!(items, 8 * 8, "exactly the queued frames are delivered");
}

/// Serves `endpoint` inside a hyper service of its own on a loopback port: `/live/..` is the
/// WebSocket route, everything else the application's page.
async fn mount<R: wskit::Router>(endpoint: wskit::Endpoint<R>) -> std::net::SocketAddr {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let endpoint = endpoint.clone();
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let endpoint = endpoint.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(if request.uri().path().starts_with("/live/") {
                        endpoint.upgrade(request).await
                    } else {
                        http::Response::new(wskit::Body::from("my app"))
                    })
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades(),
            );
        }
    });
    addr
}

#[tokio::test]
async fn the_endpoint_mounts_inside_a_hyper_service() {
    let endpoint = Server::new(Strict).path("/live/:name").into_endpoint();
    let addr = mount(endpoint.clone()).await;
    let page = http(addr, "GET /home HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(page.ends_with("my app"), "{page}");
    let mut client = RawClient::connect(&format!("ws://{addr}/live/ada")).await;
    assert_eq!(client.recv().await["type"], "HELLO");
    assert_eq!(endpoint.connections(), 1);
    let report = endpoint.shutdown().await;
    assert_eq!((report.connections, report.abandoned), (1, 0));
    assert_eq!(client.closed().await.0, 1001);
}

/// The server's ticker, which runs the ping schedules, starts on the runtime of the
/// first connection: once that runtime has shut down, the next connection starts it again.
#[test]
fn pings_go_on_after_the_runtime_that_started_them_shut_down() {
    let (app, observed) = TestApp::new();
    let endpoint = Server::new(app)
        .path("/live/:name")
        .heartbeat(Duration::from_millis(20), Duration::from_millis(40))
        .into_endpoint();
    for round in 0..2 {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let addr = mount(endpoint.clone()).await;
            // A socket that reads nothing and so answers no ping.
            let (_silent, head) = raw::upgrade(addr, "/live/silent", "").await;
            assert_eq!(raw::status(&head), 101);
            let closed = tokio::time::timeout(RECV_TIMEOUT, observed.closed.notified()).await;
            closed.unwrap_or_else(|_| panic!("round {round}: the silent connection was not found stale"));
            assert_eq!(observed.closes.lock().unwrap()[round].code, 1011);
        });
    }
}

#[tokio::test]
async fn the_shutdown_report_counts_the_handlers_cut_off() {
    let recorded = Arc::new(Recorded::default());
    let endpoint = Server::new(Producer(recorded.clone()))
        .path("/live/:name")
        .shutdown_grace(Duration::from_millis(100))
        .into_endpoint();
    let addr = mount(endpoint.clone()).await;
    let mut idle = RawClient::connect(&format!("ws://{addr}/live/idle")).await;
    let mut busy = RawClient::connect(&format!("ws://{addr}/live/busy")).await;
    let started = recorded.started.notified();
    busy.send(json!({"type": "SLOW", "payload": {"millis": 600_000}})).await;
    started.await;
    let report = endpoint.shutdown().await;
    assert_eq!((report.connections, report.abandoned), (2, 1));
    assert_eq!(idle.closed().await.0, 1001);
    assert_eq!(busy.closed().await.0, 1001);
}

#[message("BLOB")]
struct Blob {
    chunks: u32,
    bytes: usize,
}

#[message("CHUNK")]
struct Chunk {
    data: String,
}

#[message("SLOW")]
struct Slow {
    millis: u64,
}

/// What a `Producer` server records, shared with the test.
#[derive(Default)]
struct Recorded {
    started: tokio::sync::Notify,
    closes: std::sync::Mutex<Vec<Close>>,
    closed: tokio::sync::Notify,
    /// What `ctx.subscribe` answered in `#[on_close]`.
    late_subscribe: std::sync::Mutex<Option<Result<(), Error>>>,
}

/// Sends large frames on request, runs slow handlers, and records how connections close.
struct Producer(Arc<Recorded>);

#[router]
impl Producer {
    #[on]
    async fn blob(&self, ctx: &mut Ctx<()>, blob: Blob) -> Result<(), Error> {
        let data = "x".repeat(blob.bytes);
        for _ in 0..blob.chunks {
            ctx.send(&Chunk { data: data.clone() })?;
        }
        Ok(())
    }

    #[on]
    async fn slow(&self, ctx: &mut Ctx<()>, slow: Slow) -> Result<(), Error> {
        self.0.started.notify_one();
        tokio::time::sleep(Duration::from_millis(slow.millis)).await;
        ctx.reply(&Pong)
    }

    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _: common::Ping) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[on_close]
    async fn closed(&self, ctx: &mut Ctx<()>, close: Close) {
        *self.0.late_subscribe.lock().unwrap() = Some(ctx.subscribe("too-late").await);
        self.0.closes.lock().unwrap().push(close);
        self.0.closed.notify_one();
    }
}

#[message("PONG")]
struct Pong;

/// Starts a `Producer` server and returns it with a handle on what it records.
async fn producer(
    configure: impl FnOnce(Server<Producer>) -> Server<Producer>,
) -> (TestServer, Arc<Recorded>) {
    let recorded = Arc::new(Recorded::default());
    let server = TestServer::start(configure(Server::new(Producer(recorded.clone())).path("/ws"))).await;
    (server, recorded)
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    let limits = Limits::default().write_timeout(Duration::from_millis(300));
    let (server, app) = producer(|server| server.limits(limits)).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let mut other = RawClient::connect(&server.url("/ws")).await;
    let closed = app.closed.notified();
    // 32 MiB: far more than the kernel buffers of a client that reads nothing.
    client.send(json!({"type": "BLOB", "payload": {"chunks": 512, "bytes": 65536}})).await;
    // Meanwhile another client is served as usual.
    assert_eq!(other.request(json!({"type": "PING"})).await["type"], "PONG");
    tokio::time::timeout(Duration::from_secs(10), closed).await.expect("the stalled connection is dropped");
    assert_eq!(app.closes.lock().unwrap()[0].code, Close::TRY_AGAIN_LATER);
    tokio::time::timeout(Duration::from_secs(5), server.stop()).await.expect("shutdown is not held up");
    drop(client);
}

#[tokio::test]
async fn pipelined_messages_do_not_overflow_a_small_outbound_queue() {
    let limits = Limits::default().max_queued_frames(4);
    let (server, app) = producer(|server| server.limits(limits)).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    // Forty messages in one write, each answered with one frame: ten times the queue.
    client.send_batch((0..40).map(|_| json!({"type": "PING"}))).await;
    for _ in 0..40 {
        assert_eq!(client.recv().await["type"], "PONG");
    }
    assert!(app.closes.lock().unwrap().is_empty(), "the connection stays open");
    drop(server);
}

#[tokio::test]
async fn graceful_shutdown_lets_a_running_handler_finish_within_the_grace_period() {
    let (server, app) = producer(|server| server.shutdown_grace(Duration::from_secs(10))).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let started = app.started.notified();
    client.send(json!({"type": "SLOW", "payload": {"millis": 300}})).await;
    started.await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(client.recv().await["type"], "PONG", "the handler's answer is delivered");
    assert_eq!(client.closed().await.0, 1001);
    stopping.await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_abandons_a_handler_still_running_after_the_grace_period() {
    let (server, app) = producer(|server| server.shutdown_grace(Duration::from_millis(200))).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let started = app.started.notified();
    client.send(json!({"type": "SLOW", "payload": {"millis": 600_000}})).await;
    started.await;
    let stopping = tokio::spawn(server.stop());
    assert_eq!(client.closed().await.0, 1001, "closed without waiting for the handler");
    tokio::time::timeout(Duration::from_secs(5), stopping).await.expect("shutdown ends").unwrap();
    assert_eq!(app.closes.lock().unwrap()[0].code, Close::GOING_AWAY);
}

#[tokio::test]
async fn a_closed_connection_cannot_subscribe_from_on_close() {
    let app = Producer(Arc::new(Recorded::default()));
    let recorded = app.0.clone();
    let server = Server::new(app).path("/ws");
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    let closed = recorded.closed.notified();
    client.close().await;
    closed.await;
    let refused = recorded.late_subscribe.lock().unwrap().take().expect("on_close ran");
    assert_eq!(refused.unwrap_err().code(), &wskit::Code::FailedPrecondition);
    assert_eq!(hub.topics().len(), 0, "no subscription outlives its connection");
}

#[message("HOLD")]
struct Hold;

#[message("HELD")]
struct Held;

/// Holds each `HOLD` until the test releases it.
struct Holding {
    release: Arc<tokio::sync::Notify>,
}

#[router]
impl Holding {
    #[on]
    async fn hold(&self, ctx: &mut Ctx<()>, _: Hold) -> Result<(), Error> {
        self.release.notified().await;
        ctx.reply(&Held)
    }
}

#[tokio::test]
async fn a_ping_is_answered_while_a_handler_runs() {
    use wskit_examples::raw::{self, client_frame};
    let release = Arc::new(tokio::sync::Notify::new());
    let server = TestServer::start(Server::new(Holding { release: Arc::clone(&release) }).path("/ws")).await;
    let (mut stream, _) = raw::upgrade(server.addr, "/ws", "").await;
    stream.write_all(&client_frame(0x81, br#"{"type":"HOLD"}"#)).await.unwrap();
    stream.write_all(&client_frame(0x89, b"still there?")).await.unwrap();
    // The pong comes while the handler still holds its message.
    let (opcode, pong) = tokio::time::timeout(Duration::from_secs(5), raw::read_frame(&mut stream))
        .await
        .expect("no pong while the handler ran");
    assert_eq!((opcode, &pong[..]), (0xA, &b"still there?"[..]));
    release.notify_one();
    let held: serde_json::Value = serde_json::from_str(&raw::read_text(&mut stream).await).unwrap();
    assert_eq!(held["type"], "HELD");
}

#[tokio::test]
async fn the_clients_close_is_answered_with_its_code() {
    use wskit_examples::raw::{self, client_frame};
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let (mut stream, _) = raw::upgrade(server.addr, "/ws", "").await;
    stream.write_all(&client_frame(0x88, &4321u16.to_be_bytes())).await.unwrap();
    let (opcode, payload) = tokio::time::timeout(Duration::from_secs(5), raw::read_frame(&mut stream))
        .await
        .expect("no answer to the close");
    assert_eq!((opcode, &payload[..]), (0x8, &4321u16.to_be_bytes()[..]));
}
