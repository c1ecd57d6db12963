//! Every row of PROTOCOL.md section 3, sent over and over: each bad frame gets its answer,
//! the connection stays open, an honest client beside it is served, and the server's
//! memory returns to where it was.
//!
//! Its own test binary: it reads the process's resident memory.

mod common;

use common::TestApp;
use serde_json::{json, Value};
use wskit::{Limits, Server};
use wskit_examples::{RawClient, TestServer};

/// A bad frame and the answer it must get: frame type and error code.
struct Row {
    what: &'static str,
    frame: String,
    answer: (&'static str, &'static str),
}

fn rows() -> Vec<Row> {
    let row = |what, frame: String, answer| Row { what, frame, answer };
    vec![
        row("not JSON", "not json".into(), ("ERROR", "INVALID_ARGUMENT")),
        row("not an object", r#"["ECHO",null,{"text":"x"}]"#.into(), ("ERROR", "INVALID_ARGUMENT")),
        row("no string type", r#"{"type":5}"#.into(), ("ERROR", "INVALID_ARGUMENT")),
        row(
            "larger than the payload limit",
            json!({"type": "ECHO", "payload": {"text": "x".repeat(2000)}}).to_string(),
            ("ERROR", "RESOURCE_EXHAUSTED"),
        ),
        row("unknown type", r#"{"type":"NOPE"}"#.into(), ("ERROR", "UNIMPLEMENTED")),
        row("reserved type", r#"{"type":"$ws:nope"}"#.into(), ("ERROR", "UNIMPLEMENTED")),
        row(
            "unknown type with a correlation id",
            r#"{"type":"NOPE","meta":{"correlationId":"c-1"}}"#.into(),
            ("RPC_ERROR", "UNIMPLEMENTED"),
        ),
        row(
            "validation failure",
            r#"{"type":"ECHO","payload":{"text":"x","extra":1}}"#.into(),
            ("ERROR", "INVALID_ARGUMENT"),
        ),
        row(
            "handler error",
            r#"{"type":"FAIL","payload":{"code":"NOT_FOUND"}}"#.into(),
            ("ERROR", "NOT_FOUND"),
        ),
        row("handler panic", r#"{"type":"PANIC"}"#.into(), ("ERROR", "INTERNAL")),
    ]
}

/// Sends every row once on `hostile`, checking each answer and that the connection goes
/// on, then checks that `honest` is served.
async fn round(hostile: &mut RawClient, honest: &mut RawClient, rows: &[Row]) {
    for row in rows {
        hostile.send_text(row.frame.clone()).await;
        let answer: Value = hostile.recv().await;
        let got = (answer["type"].as_str().unwrap_or(""), answer["payload"]["code"].as_str().unwrap_or(""));
        assert_eq!(got, row.answer, "{}: {answer}", row.what);
        // Still open, and a valid message resets the count of errors in a row.
        assert_eq!(hostile.request(json!({"type": "PING"})).await["type"], "PONG", "{}", row.what);
    }
    assert_eq!(honest.request(json!({"type": "PING"})).await["type"], "PONG");
}

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_bad_input_is_answered_and_leaves_memory_where_it_was() {
    const ROUNDS: usize = 1500;
    let (app, observed) = TestApp::new();
    let limits = Limits::default().max_message_bytes(1024);
    let server = TestServer::start(Server::new(app).path("/ws").limits(limits)).await;
    let mut hostile = RawClient::connect(&server.url("/ws")).await;
    let mut honest = RawClient::connect(&server.url("/ws")).await;
    let rows = rows();
    // Warm up: the allocator's pools, the panic log's keys, the runtime's buffers.
    // The test router's `#[on_error]` hook records every error; it is emptied after each
    // round so that what it keeps is not counted as the server's.
    let mut each_round = async || {
        round(&mut hostile, &mut honest, &rows).await;
        observed.errors.lock().unwrap().clear();
    };
    for _ in 0..100 {
        each_round().await;
    }
    let before = rss_kib();
    for _ in 0..ROUNDS {
        each_round().await;
    }
    let growth = rss_kib().saturating_sub(before);
    // 15,000 bad frames, about 4 MB of them: ten bytes kept per frame would show.
    assert!(growth < 128, "resident memory grew by {growth} KiB over {ROUNDS} rounds");
}
