//! A server that runs out of file descriptors answers new clients at once instead of
//! leaving them waiting, and serves again once descriptors are free.
//!
//! A test binary of its own: the descriptor limit it lowers is the whole process's.
#![cfg(unix)]

mod common;

use common::TestApp;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use wskit::{LimitKind, Limits, Server};
use wskit_examples::{RawClient, TestServer};

/// The descriptor limit during the test: room for the runtime and a few dozen sockets.
const DESCRIPTORS: u64 = 128;

/// How long a client may wait for its answer before the test calls it a stall.
const PROMPT: Duration = Duration::from_secs(5);

/// Reads what the server sends until it closes the connection (a reset counts as closed).
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(PROMPT, stream.read_to_end(&mut bytes)).await;
    assert!(read.is_ok(), "no answer and no close within {PROMPT:?}; got {bytes:?}");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn new_clients_are_answered_503_when_descriptors_run_out() {
    let (app, _) = TestApp::new();
    let (events_sender, mut events) = tokio::sync::mpsc::unbounded_channel();
    let limits = Limits::default().on_exceeded(move |event| {
        let _ = events_sender.send(event.kind);
    });
    // Nothing is cut off by the server during the test: only the test frees descriptors.
    let server = Server::new(app).path("/ws").limits(limits).handshake_timeout(Duration::from_secs(600));
    let server = TestServer::start(server).await;
    // Its socket exists before descriptors run out, so connecting it later takes none.
    let probe = TcpSocket::new_v4().unwrap();

    let original = getrlimit(Resource::Nofile);
    let lowered = Rlimit { current: Some(DESCRIPTORS), maximum: original.maximum };
    setrlimit(Resource::Nofile, lowered).expect("lower the descriptor limit");
    // Clients that send half a request until the process has no descriptor left: each
    // holds one on the client's side and one on the server's.
    let mut held = Vec::new();
    loop {
        match TcpStream::connect(server.addr).await {
            Ok(mut stream) => {
                // One the server had no descriptor for is refused and may be reset already.
                let _ = stream.write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\n").await;
                held.push(stream);
            }
            Err(error) if error.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) => break,
            Err(error) => panic!("connecting failed otherwise than for want of descriptors: {error}"),
        }
        assert!(held.len() < DESCRIPTORS as usize, "the descriptor limit did not take effect");
    }

    let started = Instant::now();
    let mut probe = tokio::time::timeout(PROMPT, probe.connect(server.addr)).await.unwrap().unwrap();
    let answer = read_until_closed(&mut probe).await;
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{answer:?}");
    let event = tokio::time::timeout(PROMPT, events.recv()).await.unwrap();
    assert_eq!(event, Some(LimitKind::FileDescriptors));
    println!("refused in {waited:?} with {} clients holding descriptors", held.len());
    drop(probe);

    // Each client ends its request; the server closes its side, which frees its descriptor.
    for mut stream in held {
        let _ = stream.shutdown().await;
        read_until_closed(&mut stream).await;
    }
    // Still under the lowered limit, an honest client is served.
    let mut honest = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(honest.request(json!({"type": "PING"})).await["type"], "PONG");
    setrlimit(Resource::Nofile, original).expect("restore the descriptor limit");
}
