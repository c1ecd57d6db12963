//! The auth example (`examples/auth`) end to end, over real sockets: JWT admission at the
//! upgrade, roles checked by middleware, the per-user rate limit, and the admission knobs.

#[path = "../examples/auth/app.rs"]
mod app;

use app::{Claims, Config, Role, ANNOUNCE_COST, LEEWAY_SECONDS};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wskit_examples::{RawClient, TestServer, RECV_TIMEOUT};

const SECRET: &[u8] = b"the test secret";

/// Buckets of two announcements' worth minus three tokens, regaining a token every 100 s:
/// nothing refills while a test runs.
fn config() -> Config {
    Config { burst: ANNOUNCE_COST + 2, refill_per_second: 0.01, ..Config::demo(SECRET.to_vec()) }
}

async fn start() -> TestServer {
    TestServer::start(app::server(config())).await
}

/// A token for `name`, valid for an hour.
fn token(name: &str, role: Role) -> String {
    Claims::new(name, role, Duration::from_secs(3600)).sign(SECRET)
}

/// Connects as `name` with a token in the query, and checks the WELCOME.
async fn connect(server: &TestServer, name: &str, role: Role) -> RawClient {
    let url = server.url(&format!("/ws?access_token={}", token(name, role)));
    let mut client = RawClient::connect(&url).await;
    welcomed(&mut client, name, role).await;
    client
}

/// Reads the WELCOME that opens every connection: it names the token's user and role.
async fn welcomed(client: &mut RawClient, name: &str, role: Role) {
    let welcome = client.recv().await;
    assert_eq!(welcome["type"], "WELCOME", "{welcome}");
    assert_eq!(welcome["payload"], json!({"user": name, "role": role}));
}

fn say(text: &str) -> Value {
    json!({"type": "SAY", "payload": {"text": text}})
}

fn announce(text: &str) -> Value {
    json!({"type": "ANNOUNCE", "payload": {"text": text}})
}

/// The next frame, which must be of type `ty`; returns its payload.
async fn expect(client: &mut RawClient, ty: &str) -> Value {
    let frame = client.recv().await;
    assert_eq!(frame["type"], ty, "{frame}");
    frame["payload"].clone()
}

/// The next frame, which must be an ERROR with `code`; returns its payload.
async fn error(client: &mut RawClient, code: &str) -> Value {
    let payload = expect(client, "ERROR").await;
    assert_eq!(payload["code"], code, "{payload}");
    payload
}

/// Sends an upgrade request by hand, with extra header lines, and returns the status and
/// body of the answer.
async fn upgrade(server: &TestServer, path: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(RECV_TIMEOUT, stream.read(&mut byte)).await.unwrap().unwrap();
        assert_eq!(read, 1, "connection closed before the end of the response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("an ASCII head");
    let status = head.split(' ').nth(1).and_then(|status| status.parse().ok()).expect("a status");
    let length = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase().strip_prefix("content-length:").map(|n| n.trim().to_owned())
        })
        .map_or(0, |length| length.parse().expect("a content length"));
    let mut body = vec![0; length];
    tokio::time::timeout(RECV_TIMEOUT, stream.read_exact(&mut body)).await.unwrap().unwrap();
    (status, String::from_utf8(body).expect("a text body"))
}

#[tokio::test]
async fn upgrades_without_a_valid_token_get_401_saying_why() {
    let server = start().await;

    let (status, body) = upgrade(&server, "/ws", "").await;
    assert_eq!((status, body.contains("missing access token")), (401, true), "{body}");

    let forged = Claims::new("mallory", Role::Admin, Duration::from_secs(3600)).sign(b"another secret");
    let (status, body) = upgrade(&server, &format!("/ws?access_token={forged}"), "").await;
    assert_eq!((status, body.contains("signature is not valid")), (401, true), "{body}");

    let expired = Claims { exp: app::unix_now() - 3600, ..Claims::new("bob", Role::Member, Duration::ZERO) };
    let (status, body) = upgrade(&server, &format!("/ws?access_token={}", expired.sign(SECRET)), "").await;
    assert_eq!((status, body.contains("expired")), (401, true), "{body}");

    let (status, body) = upgrade(&server, "/ws", "Authorization: Bearer not.a.jwt\r\n").await;
    assert_eq!((status, body.contains("not valid")), (401, true), "{body}");

    // The same valid token passes in a header.
    let header = format!("Authorization: Bearer {}\r\n", token("bob", Role::Member));
    assert_eq!(upgrade(&server, "/ws", &header).await.0, 101);
}

#[tokio::test]
async fn browsers_from_other_origins_get_403_and_the_connection_limit_503() {
    let server = TestServer::start(app::server(Config { max_connections: 1, ..config() })).await;
    let query = format!("/ws?access_token={}", token("bob", Role::Member));
    let (status, _) = upgrade(&server, &query, "Origin: https://evil.example\r\n").await;
    assert_eq!(status, 403);

    let allowed = &app::allowed_origins(app::PORT)[0];
    let origin = format!("Origin: {allowed}\r\n");
    let mut first = RawClient::connect_with({
        let mut request = server.url(&query).into_client_request().unwrap();
        request.headers_mut().insert("origin", allowed.parse().unwrap());
        request
    })
    .await;
    welcomed(&mut first, "bob", Role::Member).await;
    let (status, body) = upgrade(&server, &query, &origin).await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn the_token_may_come_as_a_bearer_subprotocol_which_the_server_selects() {
    let server = start().await;
    let protocol = format!("bearer.{}", token("bob", Role::Member));
    let mut request = server.url("/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", protocol.parse().unwrap());
    let mut client = RawClient::connect_with(request).await;
    assert_eq!(client.response.headers()["sec-websocket-protocol"], protocol.as_str());
    welcomed(&mut client, "bob", Role::Member).await;
}

#[tokio::test]
async fn members_talk_but_only_admins_announce() {
    let server = start().await;
    let mut alice = connect(&server, "alice", Role::Admin).await;
    let mut bob = connect(&server, "bob", Role::Member).await;

    bob.send(say("hi all")).await;
    for client in [&mut bob, &mut alice] {
        assert_eq!(expect(client, "SAID").await, json!({"user": "bob", "text": "hi all"}));
    }

    bob.send(announce("free cake")).await;
    let refused = error(&mut bob, "PERMISSION_DENIED").await;
    assert_eq!(refused["message"], "ANNOUNCE is for admins, and bob is a member");

    alice.send(announce("maintenance at noon")).await;
    for client in [&mut alice, &mut bob] {
        let announcement = expect(client, "ANNOUNCEMENT").await;
        assert_eq!(announcement, json!({"from": "alice", "text": "maintenance at noon"}));
    }
}

#[tokio::test]
async fn an_announcement_costs_more_than_a_word() {
    let server = start().await;
    let mut alice = connect(&server, "alice", Role::Admin).await;

    alice.send(announce("one")).await;
    expect(&mut alice, "ANNOUNCEMENT").await;
    // ANNOUNCE_COST + 2 - ANNOUNCE_COST tokens left: not enough for a second announcement...
    alice.send(announce("two")).await;
    let refused = error(&mut alice, "RESOURCE_EXHAUSTED").await;
    assert_eq!(refused["details"]["cost"], ANNOUNCE_COST);
    // ...but enough for two words.
    for text in ["three", "four"] {
        alice.send(say(text)).await;
        assert_eq!(expect(&mut alice, "SAID").await["text"], text);
    }
    alice.send(say("five")).await;
    error(&mut alice, "RESOURCE_EXHAUSTED").await;
}

#[tokio::test]
async fn the_connections_of_one_user_share_a_bucket() {
    let server = start().await;
    let mut first = connect(&server, "carol", Role::Member).await;
    let mut second = connect(&server, "carol", Role::Member).await;

    // The burst, spent half on each connection; each SAID reaches both.
    for n in 0..config().burst {
        let sender = if n % 2 == 0 { &mut first } else { &mut second };
        sender.send(say(&format!("word {n}"))).await;
        for client in [&mut first, &mut second] {
            assert_eq!(expect(client, "SAID").await["text"], format!("word {n}"));
        }
    }
    for client in [&mut first, &mut second] {
        client.send(say("one too many")).await;
        let refused = error(client, "RESOURCE_EXHAUSTED").await;
        let retry =
            refused["retryAfterMs"].as_u64().unwrap_or_else(|| panic!("no retryAfterMs in {refused}"));
        assert!(retry > 0, "{refused}");
    }

    // Another user has a bucket of their own.
    let mut dave = connect(&server, "dave", Role::Member).await;
    dave.send(say("my turn")).await;
    assert_eq!(expect(&mut dave, "SAID").await, json!({"user": "dave", "text": "my turn"}));
}

#[tokio::test]
async fn a_session_ends_when_its_token_expires() {
    let server = start().await;
    // Admitted within the leeway, and expired for good a second later.
    let exp = app::unix_now() + 1 - LEEWAY_SECONDS;
    let claims = Claims { sub: "ada".into(), role: Role::Member, exp };
    let url = server.url(&format!("/ws?access_token={}", claims.sign(SECRET)));
    let mut client = RawClient::connect(&url).await;
    welcomed(&mut client, "ada", Role::Member).await;
    // The wall clock decides: let it pass the expiry.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    client.send(say("still here?")).await;
    error(&mut client, "UNAUTHENTICATED").await;
    assert_eq!(client.closed().await.0, 4001);
}
