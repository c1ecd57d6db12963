//! permessage-deflate (RFC 7692) over real sockets: the negotiation, compressed messages
//! both ways with a client that compresses by hand (flate2 on raw frames), the threshold,
//! fragments, deflate bombs, RSV1 misuse, and compressed fan-out. A client that does not
//! offer the extension sees the same bytes as from a server without it.

mod rooms;

use flate2::{Compress, Compression, FlushCompress};
use rooms::Rooms;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use wskit::{Deflate, Limits, Oversize, Server};
use wskit_examples::raw::{
    self, client_frame, close_code, read_any_frame, status, DeflateClient, COMPRESSED_TEXT,
};
use wskit_examples::{RawClient, TestServer};

fn server(deflate: Deflate) -> Server<Rooms> {
    Server::new(Rooms).path("/ws").deflate(deflate)
}

/// The `Sec-WebSocket-Extensions` answer in a response head, if any.
fn extensions(head: &str) -> Option<&str> {
    head.lines()
        .find_map(|line| line.strip_prefix("sec-websocket-extensions: "))
        .or_else(|| head.lines().find_map(|line| line.strip_prefix("Sec-WebSocket-Extensions: ")))
}

async fn answer(addr: SocketAddr, offer: &str) -> Option<String> {
    let header = format!("Sec-WebSocket-Extensions: {offer}\r\n");
    let (_, head) = raw::upgrade(addr, "/ws", &header).await;
    assert_eq!(status(&head), 101, "{head}");
    extensions(&head).map(str::to_owned)
}

fn say(text: &str) -> Value {
    json!({"type": "SAY", "payload": {"topic": "t", "text": text, "excludeSelf": false}})
}

fn subscribe() -> Value {
    json!({"type": "SUBSCRIBE", "payload": {"topic": "t"}})
}

#[tokio::test]
async fn accepts_an_offer_with_the_parameters_it_honours() {
    let server = TestServer::start(server(Deflate::enabled())).await;
    let answered = |offer| answer(server.addr, offer);
    assert_eq!(
        answered("permessage-deflate; client_max_window_bits").await.as_deref(),
        Some("permessage-deflate; server_no_context_takeover"),
        "what Chromium offers"
    );
    assert_eq!(
        answered("permessage-deflate; client_no_context_takeover; server_max_window_bits=\"10\"").await.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10")
    );
    assert_eq!(
        answered("x-unknown, permessage-deflate; bogus, permessage-deflate; server_no_context_takeover")
            .await
            .as_deref(),
        Some("permessage-deflate; server_no_context_takeover"),
        "the first acceptable of several offers"
    );
    for invalid in [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; unknown=1",
    ] {
        assert_eq!(answered(invalid).await, None, "{invalid}");
    }
}

#[tokio::test]
async fn a_disabled_server_declines_and_a_context_keeping_one_says_so() {
    let server_off = TestServer::start(server(Deflate::default())).await;
    assert_eq!(answer(server_off.addr, "permessage-deflate").await, None);
    let keeping = TestServer::start(server(Deflate::enabled().server_context_takeover(true))).await;
    assert_eq!(answer(keeping.addr, "permessage-deflate").await.as_deref(), Some("permessage-deflate"));
}

/// The bytes a client that offers nothing reads for a session, from `addr`.
async fn plain_session(addr: SocketAddr) -> Vec<u8> {
    let (mut stream, head) = raw::upgrade(addr, "/ws", "").await;
    assert_eq!(extensions(&head), None);
    let mut bytes = Vec::new();
    for message in [subscribe(), say(&"long text ".repeat(300)), say("short")] {
        stream.write_all(&client_frame(0x81, message.to_string().as_bytes())).await.unwrap();
        let replies = if message["type"] == "SAY" { 2 } else { 1 };
        for _ in 0..replies {
            let (first, payload) = read_any_frame(&mut stream).await;
            bytes.push(first);
            bytes.extend_from_slice(&payload);
        }
    }
    bytes
}

#[tokio::test]
async fn a_client_that_does_not_offer_it_reads_the_same_bytes() {
    let plain = TestServer::start(server(Deflate::default())).await;
    let deflating = TestServer::start(server(Deflate::enabled().threshold(0))).await;
    let expected = plain_session(plain.addr).await;
    assert_eq!(plain_session(deflating.addr).await, expected);
    assert!(expected.starts_with(&[0x81]));
    // A WebSocket library that does not offer it (tokio-tungstenite) is served as ever.
    let mut client = RawClient::connect(&deflating.url("/ws")).await;
    assert_eq!(client.response.headers().get("sec-websocket-extensions"), None);
    assert_eq!(rooms::subscribe(&mut client, "t").await["payload"]["topics"], json!(["t"]));
}

#[tokio::test]
async fn compressed_messages_go_both_ways_above_the_threshold() {
    let server = TestServer::start(server(Deflate::enabled().threshold(200))).await;
    let (mut client, _) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
    client.send_compressed(subscribe()).await;
    assert_eq!(
        client.recv().await,
        (json!({"type": "TOPICS", "meta": {}, "payload": {"topics": ["t"]}}), false)
    );
    let long = "the same words again and again ".repeat(40);
    // The client keeps its context: the second message refers to the first.
    for _ in 0..2 {
        client.send_compressed(say(&long)).await;
        let (news, compressed) = client.recv().await;
        assert_eq!(news["payload"]["text"], long.as_str());
        assert!(compressed, "above the threshold: compressed");
        let (delivered, compressed) = client.recv().await;
        assert_eq!(delivered["payload"]["count"], 1);
        assert!(!compressed, "below the threshold: plain");
    }
    client.send_plain(say("plain")).await;
    assert_eq!(client.recv().await.0["payload"]["text"], "plain");
}

#[tokio::test]
async fn a_compressed_message_may_come_in_fragments() {
    let server = TestServer::start(server(Deflate::enabled())).await;
    let (mut client, _) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
    client.send_plain(subscribe()).await;
    client.recv().await;
    let text = "fragmented ".repeat(50);
    let payload = client.compress(&say(&text).to_string());
    let thirds = payload.len() / 3;
    let mut frames = client_frame(0x41, &payload[..thirds]); // RSV1, text, not final
    frames.extend(client_frame(0x89, b"ping"));
    frames.extend(client_frame(0x00, &payload[thirds..2 * thirds]));
    frames.extend(client_frame(0x80, &payload[2 * thirds..]));
    client.write(&frames).await;
    let (first, pong) = client.read_frame().await;
    assert_eq!((first, pong.as_slice()), (0x8A, &b"ping"[..]));
    assert_eq!(client.recv().await.0["payload"]["text"], text.as_str());
}

/// A message of `bytes` zeros compressed, as a client may send it: a few kilobytes.
fn bomb(bytes: usize) -> Vec<u8> {
    let mut compressor = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(bytes / 500 + 64);
    compressor.compress_vec(&vec![b' '; bytes], &mut out, FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
    out
}

#[tokio::test]
async fn a_deflate_bomb_is_refused_at_the_message_limit() {
    let limits = Limits::default().max_message_bytes(64 * 1024).on_oversize(Oversize::Close);
    let server = TestServer::start(server(Deflate::enabled()).limits(limits)).await;
    let (mut client, _) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
    let bomb = bomb(32 << 20);
    assert!(bomb.len() < 64 * 1024, "the frame itself is under the limit: {}", bomb.len());
    client.write(&client_frame(COMPRESSED_TEXT, &bomb)).await;
    assert_eq!(close_code(&mut client.stream).await, 1009);
}

#[tokio::test]
async fn a_message_inflating_above_the_limit_is_answered_like_a_large_one() {
    let limits = Limits::default().max_message_bytes(1024);
    let server = TestServer::start(server(Deflate::enabled()).limits(limits)).await;
    let (mut client, _) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
    client.send_compressed(say(&"x".repeat(2000))).await;
    let (error, _) = client.recv().await;
    assert_eq!(error["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert!(error["payload"]["details"]["observed"].as_u64().unwrap() > 2000);
    client.send_compressed(subscribe()).await;
    assert_eq!(client.recv().await.0["type"], "TOPICS", "the connection stays open");
}

#[tokio::test]
async fn the_unfinished_bytes_budget_counts_what_fragments_inflated_to() {
    let limits = Limits::default().max_unfinished_bytes(16 * 1024);
    let server = TestServer::start(server(Deflate::enabled()).limits(limits)).await;
    let (mut client, _) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
    // The first fragment of a message: 200 bytes on the wire, 32 KiB once inflated.
    let message = say(&"a".repeat(32 * 1024)).to_string();
    let first = client.compress(&message[..message.len() - 10]);
    assert!(first.len() < 200, "{}", first.len());
    client.write(&client_frame(0x41, &first)).await;
    assert_eq!(close_code(&mut client.stream).await, 1013, "the budget holds 16 KiB");
}

#[tokio::test]
async fn rsv1_misuse_fails_the_connection_with_1002() {
    let plain = TestServer::start(server(Deflate::default())).await;
    let (mut stream, _) =
        raw::upgrade(plain.addr, "/ws", "Sec-WebSocket-Extensions: permessage-deflate\r\n").await;
    stream.write_all(&client_frame(COMPRESSED_TEXT, &bomb(10))).await.unwrap();
    assert_eq!(close_code(&mut stream).await, 1002, "RSV1 without the extension");

    let server = TestServer::start(server(Deflate::enabled())).await;
    let mut on_continuation = client_frame(0x01, b"{");
    on_continuation.extend(client_frame(0xC0, &bomb(10)));
    for frames in [client_frame(0xC9, b""), on_continuation] {
        let (mut client, _) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
        client.write(&frames).await;
        assert_eq!(close_code(&mut client.stream).await, 1002, "{frames:02x?}");
    }
}

#[tokio::test]
async fn a_publish_is_compressed_once_and_shared_by_its_deflate_subscribers() {
    let server = TestServer::start(server(Deflate::enabled().threshold(100))).await;
    let (mut alice, _) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
    let (mut bob, _) =
        DeflateClient::connect(server.addr, "/ws", "permessage-deflate; client_max_window_bits").await;
    let (mut carol, _) = raw::upgrade(server.addr, "/ws", "").await;
    alice.send_plain(subscribe()).await;
    alice.recv().await;
    bob.send_plain(subscribe()).await;
    bob.recv().await;
    carol.write_all(&client_frame(0x81, subscribe().to_string().as_bytes())).await.unwrap();
    raw::read_text(&mut carol).await;

    let text = "news for everyone ".repeat(20);
    alice
        .send_plain(json!({"type": "SAY", "payload": {"topic": "t", "text": text, "excludeSelf": true}}))
        .await;
    assert_eq!(alice.recv().await.0["type"], "DELIVERED");
    let (first_b, payload_b) = bob.read_frame().await;
    let news: Value = serde_json::from_str(&raw::read_text(&mut carol).await).unwrap();
    assert_eq!(news["payload"]["text"], text.as_str(), "plain to the client that did not offer it");
    let (mut dave, _) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
    dave.send_plain(subscribe()).await;
    dave.recv().await;
    // Identical bytes for both deflate subscribers of one publish.
    bob.send_plain(json!({"type": "SAY", "payload": {"topic": "t", "text": text, "excludeSelf": true}}))
        .await;
    assert_eq!(bob.recv().await.0["type"], "DELIVERED");
    let (first_a, payload_a) = alice.read_frame().await;
    let (first_d, payload_d) = dave.read_frame().await;
    assert_eq!((first_a, first_d, first_b), (COMPRESSED_TEXT, COMPRESSED_TEXT, COMPRESSED_TEXT));
    assert_eq!(payload_a, payload_d);
    assert_eq!(payload_a, payload_b, "each publish compresses the same text alike");
    assert_eq!(
        serde_json::from_slice::<Value>(&alice.inflate(&payload_a)).unwrap()["payload"]["text"],
        text.as_str()
    );
}

#[tokio::test]
async fn with_context_takeover_a_repeated_message_shrinks_to_a_reference() {
    let server =
        TestServer::start(server(Deflate::enabled().threshold(0).server_context_takeover(true))).await;
    let (mut client, head) = DeflateClient::connect(server.addr, "/ws", "permessage-deflate").await;
    assert_eq!(extensions(&head), Some("permessage-deflate"));
    client.send_plain(subscribe()).await;
    client.recv().await;
    // Letters that repeat nothing within the message: alone, it hardly compresses.
    let mut seed = 7u32;
    let text: String = (0..400)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b'a' + (seed >> 16) as u8 % 26)
        })
        .collect();
    let mut sizes = Vec::new();
    for _ in 0..2 {
        client.send_plain(say(&text)).await;
        let (first, payload) = client.read_frame().await;
        assert_eq!(first, COMPRESSED_TEXT);
        sizes.push(payload.len());
        let news: Value = serde_json::from_slice(&client.inflate(&payload)).unwrap();
        assert_eq!(news["payload"]["text"], text.as_str());
        client.recv().await;
    }
    assert!(sizes[1] * 4 < sizes[0], "the second refers to the first: {sizes:?}");
}

/// A real browser: Chromium, driven headless (Unix: its processes are ended as a group).
#[cfg(unix)]
mod browser {
    use super::*;

    /// The Chromium binary to drive, if this machine has one.
    fn chromium() -> Option<&'static str> {
        let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
            std::process::Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|output| output.status.success())
        });
        if found.is_none() {
            let why = "Chromium is not installed (apt-get install chromium)";
            assert!(
                std::env::var("WSKIT_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
                "WSKIT_REQUIRE_CHROMIUM=1, but {why}"
            );
            eprintln!("skipped: {why}");
        }
        found
    }

    /// Chromium in a process group of its own, with a profile directory of its own: dropping
    /// it (also when the test fails) ends every process of the group and removes the profile.
    struct Browser {
        child: std::process::Child,
        profile: std::path::PathBuf,
    }

    impl Browser {
        fn start(chromium: &str, url: &str) -> Self {
            use std::os::unix::process::CommandExt;
            let profile =
                std::env::temp_dir().join(format!("wskit-chromium-{}", uuid::Uuid::now_v7().simple()));
            let child = std::process::Command::new(chromium)
                .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg(url)
                .process_group(0)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start Chromium");
            Browser { child, profile }
        }
    }

    impl Drop for Browser {
        fn drop(&mut self) {
            use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};
            let group = Pid::from_raw(self.child.id() as i32).expect("a child's id is positive");
            let _ = kill_process_group(group, Signal::KILL);
            let _ = self.child.wait();
            // Its renderer and helper processes write to the profile until they are gone.
            for _ in 0..500 {
                if test_kill_process_group(group).is_err() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = std::fs::remove_dir_all(&self.profile);
        }
    }

    /// The page Chromium runs: it subscribes, says something long (above the threshold) and
    /// something short, and posts what it saw to `/result`.
    fn page(ws_url: &str, long: &str) -> String {
        format!(
            r#"<!doctype html><meta charset="utf-8"><script>
    const long = "{long}";
    const seen = {{ news: [], delivered: 0 }};
    const ws = new WebSocket("{ws_url}");
    const say = (text) => ws.send(JSON.stringify({{ type: "SAY", payload: {{ topic: "t", text, excludeSelf: false }} }}));
    ws.onopen = () => {{
      seen.extensions = ws.extensions;
      ws.send(JSON.stringify({{ type: "SUBSCRIBE", payload: {{ topic: "t" }} }}));
    }};
    ws.onmessage = (event) => {{
      const message = JSON.parse(event.data);
      if (message.type === "TOPICS") say(long);
      if (message.type === "NEWS") seen.news.push(message.payload.text);
      if (message.type === "DELIVERED" && ++seen.delivered === 1) say("short");
      if (seen.delivered === 2 && seen.news.length === 2) {{
        fetch("/result", {{ method: "POST", body: JSON.stringify(seen) }});
      }}
    }};
    ws.onerror = () => fetch("/result", {{ method: "POST", body: JSON.stringify({{ error: true }}) }});
    </script>"#
        )
    }

    /// Forwards one connection from `listener` to `upstream`, keeping every byte each way:
    /// (client to server, server to client).
    async fn recording_proxy(listener: tokio::net::TcpListener, upstream: SocketAddr) -> (Vec<u8>, Vec<u8>) {
        use tokio::io::AsyncReadExt;
        let (client, _) = listener.accept().await.unwrap();
        let server = TcpStream::connect(upstream).await.unwrap();
        let ((client_read, client_write), (server_read, server_write)) =
            (client.into_split(), server.into_split());
        let copy = |mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf| async move {
            let (mut seen, mut buf) = (Vec::new(), vec![0; 64 * 1024]);
            while let Ok(read @ 1..) = from.read(&mut buf).await {
                seen.extend_from_slice(&buf[..read]);
                if to.write_all(&buf[..read]).await.is_err() {
                    break;
                }
            }
            let _ = to.shutdown().await;
            seen
        };
        let up = tokio::spawn(copy(client_read, server_write));
        let down = tokio::spawn(copy(server_read, client_write));
        (up.await.unwrap(), down.await.unwrap())
    }

    /// The HTTP head and the first byte of every frame after it in one direction of a
    /// WebSocket connection.
    fn frames(bytes: &[u8]) -> (String, Vec<u8>) {
        let end = bytes.windows(4).position(|window| window == b"\r\n\r\n").expect("an HTTP head") + 4;
        let (head, mut rest) = (String::from_utf8_lossy(&bytes[..end]).into_owned(), &bytes[end..]);
        let mut firsts = Vec::new();
        while rest.len() >= 2 {
            let (len, mut at) = match rest[1] & 0x7f {
                126 => (usize::from(u16::from_be_bytes([rest[2], rest[3]])), 4),
                127 => (usize::try_from(u64::from_be_bytes(rest[2..10].try_into().unwrap())).unwrap(), 10),
                len => (usize::from(len), 2),
            };
            if rest[1] & 0x80 != 0 {
                at += 4;
            }
            firsts.push(rest[0]);
            rest = &rest[(at + len).min(rest.len())..];
        }
        (head, firsts)
    }

    #[tokio::test]
    async fn chromium_negotiates_it_and_compresses_both_ways() {
        let Some(chromium) = chromium() else { return };
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws_url = format!("ws://{}/ws", proxy.local_addr().unwrap());
        let long = "words the browser and the server both compress ".repeat(20);
        let html = page(&ws_url, &long);
        let (result_tx, mut result_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
        let app = server(Deflate::enabled().threshold(200)).fallback(move |request| {
            let (html, result_tx) = (html.clone(), result_tx.clone());
            async move {
                use http_body_util::BodyExt;
                if request.uri().path() == "/result" {
                    let body = request.into_body().collect().await.map(|body| body.to_bytes().to_vec());
                    let _ = result_tx.send(body.unwrap_or_default()).await;
                }
                let mut response = http::Response::new(wskit::Body::from(html));
                response.headers_mut().insert("content-type", http::HeaderValue::from_static("text/html"));
                response
            }
        });
        let server = TestServer::start(app).await;
        let recording = tokio::spawn(recording_proxy(proxy, server.addr));
        let browser = Browser::start(chromium, &format!("http://{}/", server.addr));
        let result = tokio::time::timeout(std::time::Duration::from_secs(60), result_rx.recv()).await;
        drop(browser);
        let seen: Value =
            serde_json::from_slice(&result.expect("Chromium reports within 60 s").unwrap()).unwrap();
        assert_eq!(seen["news"], json!([long, "short"]), "{seen}");
        assert_eq!(seen["extensions"], "permessage-deflate; server_no_context_takeover");

        let (from_browser, to_browser) = tokio::time::timeout(std::time::Duration::from_secs(10), recording)
            .await
            .expect("the connection ends with the browser")
            .unwrap();
        let (request, sent) = frames(&from_browser);
        let (response, received) = frames(&to_browser);
        assert!(
            request.to_ascii_lowercase().contains("sec-websocket-extensions: permessage-deflate"),
            "{request}"
        );
        assert!(response.contains("permessage-deflate; server_no_context_takeover"), "{response}");
        assert!(sent.contains(&COMPRESSED_TEXT), "the browser compressed: {sent:02x?}");
        // TOPICS, then NEWS (long, compressed) and DELIVERED, then NEWS and DELIVERED (short, plain).
        assert_eq!(&received[..5], &[0x81, COMPRESSED_TEXT, 0x81, 0x81, 0x81], "{received:02x?}");
    }
}
