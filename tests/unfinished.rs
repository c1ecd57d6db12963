//! Messages that begin and never end: what the server holds for them is bounded per
//! connection, across connections (`Limits::max_unfinished_bytes`) and in time
//! (`Limits::message_timeout`), and honest clients are served meanwhile.
//!
//! Its own test binary: the memory test reads the process's peak resident memory.

mod common;

use common::TestApp;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use wskit::{LimitExceeded, LimitKind, Limits, Server};
use wskit_examples::raw::{self, client_frame, client_header, close_code, status};
use wskit_examples::{RawClient, TestServer};

const MIB: usize = 1024 * 1024;

/// The limits hook's events, and a signal for each.
#[derive(Clone, Default)]
struct Events {
    seen: Arc<Mutex<Vec<LimitExceeded>>>,
    arrived: Arc<Notify>,
}

impl Events {
    fn limits(&self) -> Limits {
        let events = self.clone();
        Limits::default().on_exceeded(move |event| {
            events.seen.lock().unwrap().push(event.clone());
            events.arrived.notify_waiters();
        })
    }

    fn count(&self, kind: LimitKind) -> usize {
        self.seen.lock().unwrap().iter().filter(|event| event.kind == kind).count()
    }
}

/// A kibibyte figure of `/proc/self/status`, e.g. `VmHWM` (peak resident memory).
fn proc_status_kib(key: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_stalled_large_frames_stay_within_the_server_wide_budget() {
    const CLIENTS: usize = 300;
    const SENT: usize = MIB / 2;
    const BUDGET: usize = 32 * MIB;
    let events = Events::default();
    let limits = events
        .limits()
        .max_message_bytes(MIB)
        .max_unfinished_bytes(BUDGET)
        .message_timeout(Duration::from_secs(2));
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws").limits(limits).without_heartbeat()).await;
    let baseline = proc_status_kib("VmHWM:") * 1024;

    // Each client announces a frame of 4 MiB minus one byte (the hard limit is 4 MiB)
    // and sends half a mebibyte of it: 150 MiB in all, were it all held.
    let sent = Arc::new([client_header(0x81, 4 * MIB - 1), vec![b' '; SENT]].concat());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let sent = Arc::clone(&sent);
            let addr = server.addr;
            tokio::spawn(async move {
                let (mut stream, head) = raw::upgrade(addr, "/ws", "").await;
                assert_eq!(status(&head), 101);
                // A refused client may find its connection closed before it wrote all.
                let _ = stream.write_all(&sent).await;
                stream
            })
        })
        .collect();
    let mut streams = Vec::new();
    for client in clients {
        streams.push(client.await.unwrap());
    }

    // While they stall, an honest client is served.
    let mut honest = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(honest.request(json!({"type": "PING"})).await["type"], "PONG");

    // Every stalled client is closed: 1013 when its bytes would pass the budget, 1008
    // when its message did not arrive within the message timeout.
    let mut codes = Vec::new();
    for stream in &mut streams {
        codes.push(tokio::time::timeout(Duration::from_secs(10), close_code(stream)).await.unwrap());
    }
    let over_budget = codes.iter().filter(|&&code| code == 1013).count();
    let late = codes.iter().filter(|&&code| code == 1008).count();
    assert_eq!(over_budget + late, CLIENTS, "close codes: {codes:?}");
    assert!(over_budget >= CLIENTS - BUDGET / SENT, "only {over_budget} refused for the budget");
    assert!(late > 0, "no stalled client was held within the budget");
    assert_eq!(events.count(LimitKind::UnfinishedBytes), over_budget);
    assert_eq!(events.count(LimitKind::MessageTime), late);
    let over =
        events.seen.lock().unwrap().iter().find(|event| event.kind == LimitKind::UnfinishedBytes).cloned();
    assert!(over.is_some_and(|event| event.limit == BUDGET && event.observed > BUDGET));

    // The peak stayed within the budget and some room for 300 connections, far below
    // the 150 MiB the clients sent.
    let peak = proc_status_kib("VmHWM:") * 1024;
    let growth = peak.saturating_sub(baseline);
    assert!(growth < BUDGET + 24 * MIB, "peak memory grew by {} MiB", growth / MIB);

    // Every share was given back: a large message fits again.
    let text = "x".repeat(MIB - 100);
    let answer = honest.request(json!({"type": "ECHO", "payload": {"text": text}})).await;
    assert_eq!(answer["payload"]["text"].as_str().map(str::len), Some(text.len()));
}

#[tokio::test]
async fn a_message_whose_last_fragment_never_comes_is_closed_after_the_message_timeout() {
    let events = Events::default();
    let limits = events.limits().message_timeout(Duration::from_millis(300));
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws").limits(limits).without_heartbeat()).await;
    let cases = [
        ("the first of several fragments", client_frame(0x01, br#"{"type":"#)),
        ("part of a frame", client_header(0x81, 1000)[..6].to_vec()),
        ("a frame's header and part of its payload", [client_header(0x81, 1000), vec![b' '; 10]].concat()),
    ];
    for (case, sent) in cases {
        let (mut stream, _) = raw::upgrade(server.addr, "/ws", "").await;
        let started = Instant::now();
        stream.write_all(&sent).await.unwrap();
        assert_eq!(close_code(&mut stream).await, 1008, "{case}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{case}: closed early");
    }
    assert_eq!(events.count(LimitKind::MessageTime), 3);
    let event = events.seen.lock().unwrap()[0].clone();
    assert_eq!((event.observed, event.limit), (300, 300));
}

#[tokio::test]
async fn fragments_and_pings_between_them_make_one_message() {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let (mut stream, _) = raw::upgrade(server.addr, "/ws", "").await;
    let frames = [
        client_frame(0x01, br#"{"type":"ECHO","#),
        client_frame(0x89, b"ping"),
        client_frame(0x00, br#""payload":{"text":"#),
        client_frame(0x80, br#""in three parts"}}"#),
    ];
    for frame in frames {
        stream.write_all(&frame).await.unwrap();
    }
    let (opcode, pong) = raw::read_frame(&mut stream).await;
    assert_eq!((opcode, &pong[..]), (0xA, &b"ping"[..]));
    let echoed: serde_json::Value = serde_json::from_str(&raw::read_text(&mut stream).await).unwrap();
    assert_eq!(echoed["payload"]["text"], "in three parts");
}
