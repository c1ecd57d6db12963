//! Admission before the upgrade and liveness after it (PROTOCOL.md section 5):
//! authentication, origin checks, the connection limit, and protocol pings.

mod common;

use common::TestApp;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wskit::{message, router, Ctx, Error, LimitKind, Limits, Rejection, Server};
use wskit_examples::raw::{self, client_frame, close_code, status};
use wskit_examples::{RawClient, TestServer};

#[message("WHO")]
struct Who;

#[message("USER")]
struct User {
    name: String,
}

/// Connection data: the authenticated user.
struct Account {
    name: String,
}

struct Accounts;

#[router(data = Account)]
impl Accounts {
    #[on]
    async fn who(&self, ctx: &mut Ctx<Account>, _: Who) -> Result<(), Error> {
        let name = ctx.data().name.clone();
        ctx.reply(&User { name })
    }
}

fn authenticated_server() -> Server<Accounts> {
    Server::with_authenticator(Accounts, |parts| {
        let token = wskit::token::any(parts);
        async move {
            match token.as_deref() {
                Some("ada-token") => Ok(Account { name: "ada".into() }),
                Some("banned") => Err(Rejection::forbidden("banned")),
                Some("crash") => panic!("the user store exploded"),
                Some(_) => Err(Rejection::unauthorized("unknown token")),
                None => Err(Rejection::unauthorized("a token is required")),
            }
        }
    })
    .path("/ws")
}

#[tokio::test]
async fn the_authenticator_decides_before_the_upgrade() {
    let server = TestServer::start(authenticated_server()).await;
    let mut client = RawClient::connect(&server.url("/ws?access_token=ada-token")).await;
    assert_eq!(client.request(json!({"type": "WHO"})).await["payload"]["name"], "ada");

    let mut request = server.url("/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "bearer.ada-token".parse().unwrap());
    let mut client = RawClient::connect_with(request).await;
    assert_eq!(client.request(json!({"type": "WHO"})).await["payload"]["name"], "ada");

    assert_eq!(status(&raw::upgrade(server.addr, "/ws", "").await.1), 401);
    assert_eq!(status(&raw::upgrade(server.addr, "/ws?access_token=nope", "").await.1), 401);
    assert_eq!(status(&raw::upgrade(server.addr, "/ws", "Authorization: Bearer banned\r\n").await.1), 403);
    assert_eq!(status(&raw::upgrade(server.addr, "/ws?access_token=crash", "").await.1), 500);
    // The server survives a panicking authenticator.
    let mut client = RawClient::connect(&server.url("/ws?access_token=ada-token")).await;
    assert_eq!(client.request(json!({"type": "WHO"})).await["payload"]["name"], "ada");
}

#[tokio::test]
async fn only_allowed_origins_may_connect() {
    let (app, _) = TestApp::new();
    let server = Server::new(app).path("/ws").allowed_origins(["https://app.example"]);
    let server = TestServer::start(server).await;
    let (_, head) = raw::upgrade(server.addr, "/ws", "Origin: https://evil.example\r\n").await;
    assert_eq!(status(&head), 403);
    let (_, head) = raw::upgrade(server.addr, "/ws", "Origin: https://app.example\r\n").await;
    assert_eq!(status(&head), 101);
    // Non-browser clients send no Origin.
    let (_, head) = raw::upgrade(server.addr, "/ws", "").await;
    assert_eq!(status(&head), 101);
}

#[tokio::test]
async fn connections_beyond_the_limit_get_503_until_one_closes() {
    let (app, observed) = TestApp::new();
    let server = Server::new(app).path("/ws").limits(Limits::default().max_connections(2));
    let server = TestServer::start(server).await;
    let first = RawClient::connect(&server.url("/ws")).await;
    let mut second = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(status(&raw::upgrade(server.addr, "/ws", "").await.1), 503);
    let closed = observed.closed.notified();
    first.close().await;
    closed.await;
    // The slot is given back once the connection's task is done, just after on_close.
    let mut admitted = None;
    for _ in 0..100 {
        let (stream, head) = raw::upgrade(server.addr, "/ws", "").await;
        if status(&head) == 101 {
            admitted = Some(stream);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(admitted.is_some(), "a slot was not given back");
    assert_eq!(second.request(json!({"type": "PING"})).await["type"], "PONG");
}

#[tokio::test]
async fn a_client_that_answers_pings_stays_connected() {
    let (app, _) = TestApp::new();
    let server = Server::new(app).path("/ws").heartbeat(Duration::from_millis(20), Duration::from_millis(40));
    let server = TestServer::start(server).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    // Reading answers the server's pings; many ping intervals pass without a frame.
    let quiet = tokio::time::timeout(Duration::from_millis(300), client.next()).await;
    assert!(quiet.is_err(), "the server sent something: {quiet:?}");
    assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
}

#[tokio::test]
async fn a_client_that_never_answers_is_closed_with_1011() {
    let (app, observed) = TestApp::new();
    let server = Server::new(app).path("/ws").heartbeat(Duration::from_millis(20), Duration::from_millis(40));
    let server = TestServer::start(server).await;
    // A socket that reads nothing and so answers no ping.
    let (mut stream, head) = raw::upgrade(server.addr, "/ws", "").await;
    assert_eq!(status(&head), 101);
    let closed = observed.closed.notified();
    closed.await;
    assert_eq!(observed.closes.lock().unwrap()[0].code, 1011);
    // On the wire: pings, then a close frame with code 1011.
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut bytes)).await;
    let close = bytes.windows(4).any(|w| w[0] == 0x88 && w[2..4] == 1011u16.to_be_bytes());
    assert!(close, "no close frame with 1011 in {bytes:?}");
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_is_cut_off() {
    let (app, _) = TestApp::new();
    let timeout = Duration::from_millis(300);
    let server = TestServer::start(Server::new(app).path("/ws").handshake_timeout(timeout)).await;
    let started = std::time::Instant::now();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n").await.unwrap();
    // Meanwhile an honest client is served.
    let mut honest = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(honest.request(json!({"type": "PING"})).await["type"], "PONG");
    // The slow one is closed once its time is up: the server reads its end.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the half-sent request was still held after 10 s");
    assert!(started.elapsed() >= timeout, "closed before its time was up");
    assert!(!String::from_utf8_lossy(&rest).contains(" 101 "), "no upgrade for a half-sent request");
    assert_eq!(honest.request(json!({"type": "PING"})).await["type"], "PONG");
}

/// Reads what the server sends until it closes the connection (a reset counts as closed);
/// fails the test if it has not closed within 5 s.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "the server neither answered nor closed within 5 s; got {bytes:?}");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn connections_beyond_the_pending_handshake_limit_are_answered_503_at_once() {
    let (app, _) = TestApp::new();
    let (events_sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let limits = Limits::default().max_pending_handshakes(3).on_exceeded(move |event| {
        let _ = events_sender.send((event.kind, event.observed, event.limit, event.client_id));
    });
    let timeout = Duration::from_secs(1);
    let server = Server::new(app).path("/ws").limits(limits).handshake_timeout(timeout);
    let server = TestServer::start(server).await;
    let mut slow = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n").await.unwrap();
        slow.push(stream);
    }
    // The fourth is answered before it sends anything, long before the slow ones time out.
    let started = Instant::now();
    let mut refused = TcpStream::connect(server.addr).await.unwrap();
    let answer = read_until_closed(&mut refused).await;
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{answer:?}");
    assert!(waited < timeout, "answered only after {waited:?}, when the slow clients were cut off");
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap();
    assert_eq!(event, Some((LimitKind::PendingHandshakes, 4, 3, None)));

    // The slow ones are cut off at the handshake timeout, and their places given back.
    for stream in &mut slow {
        let rest = read_until_closed(stream).await;
        assert!(!rest.contains(" 101 "), "no upgrade for a half-sent request: {rest:?}");
    }
    assert!(started.elapsed() >= timeout, "the slow clients were closed before their time was up");
    // A completed upgrade gives its place back too: more clients than the limit connect.
    let mut honest = Vec::new();
    for _ in 0..4 {
        let mut client = RawClient::connect(&server.url("/ws")).await;
        assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
        honest.push(client);
    }
    assert!(events.try_recv().is_err(), "no limit was reached by the honest clients");
}

#[tokio::test]
async fn malformed_keys_get_400_and_no_token_is_selected_as_subprotocol() {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    for key in ["not base64 at all!!!!!==", "dGhlIHNhbXBsZSBub25jZR=="] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 400", "key {key}");
    }
    // Two keys: the helper's and another.
    let (_, head) = raw::upgrade(server.addr, "/ws", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n").await;
    assert_eq!(status(&head), 400);
    let (_, head) = raw::upgrade(server.addr, "/ws", "Sec-WebSocket-Protocol: a b\r\n").await;
    assert_eq!(status(&head), 101);
    assert!(!head.to_ascii_lowercase().contains("sec-websocket-protocol"), "{head}");
}

#[tokio::test]
async fn frames_that_break_the_protocol_get_a_close_frame_with_its_code() {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("an unmasked frame", vec![0x81, 0x02, b'{', b'}'], 1002),
        ("RSV1 without an extension", client_frame(0xC1, b"{}"), 1002),
        ("reserved opcode 3", client_frame(0x83, b"x"), 1002),
        ("a text frame that is not UTF-8", client_frame(0x81, &[0xff, 0xfe]), 1007),
        (
            "a control frame over 125 bytes",
            [&[0x89u8, 0xFE, 0, 126][..], &[1, 2, 3, 4], &[0; 126]].concat(),
            1002,
        ),
    ];
    for (case, frame, code) in cases {
        let (mut stream, head) = raw::upgrade(server.addr, "/ws", "").await;
        assert_eq!(status(&head), 101);
        stream.write_all(&frame).await.unwrap();
        assert_eq!(close_code(&mut stream).await, code, "{case}");
    }
    // The server goes on serving.
    let mut honest = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(honest.request(json!({"type": "PING"})).await["type"], "PONG");
}
