//! PROTOCOL.md sections 1-3 over real sockets: envelopes, heartbeats, errors.

mod common;

use common::TestApp;
use serde_json::json;
use wskit::{Limits, Server};
use wskit_examples::{RawClient, TestServer};

async fn start() -> (TestServer, RawClient) {
    let (app, _) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    (server, client)
}

fn error_of(frame: &serde_json::Value) -> (&str, &str) {
    (frame["type"].as_str().unwrap(), frame["payload"]["code"].as_str().unwrap())
}

#[tokio::test]
async fn routes_a_message_to_its_handler_and_replies() {
    let (_server, mut client) = start().await;
    let reply = client
        .request(json!({"type": "ECHO", "meta": {"timestamp": 1730450000000u64, "correlationId": "c-1"}, "payload": {"text": "hi"}}))
        .await;
    assert_eq!(reply, json!({"type": "ECHOED", "meta": {"correlationId": "c-1"}, "payload": {"text": "hi"}}));
    let reply = client.request(json!({"type": "ECHO", "payload": {"text": "again"}})).await;
    assert_eq!(reply, json!({"type": "ECHOED", "meta": {}, "payload": {"text": "again"}}));
}

#[tokio::test]
async fn meta_may_be_missing_or_null_and_binary_json_is_accepted() {
    let (_server, mut client) = start().await;
    assert_eq!(client.request(json!({"type": "PING", "meta": null})).await["type"], "PONG");
    assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
    client.send_binary(br#"{"type":"PING"}"#.to_vec()).await;
    assert_eq!(client.recv().await, json!({"type": "PONG", "meta": {}}));
}

#[tokio::test]
async fn answers_heartbeats_ignoring_meta_and_payload() {
    let (_server, mut client) = start().await;
    let before =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let ack =
        client.request(json!({"type": "__heartbeat", "meta": {"anything": 1}, "payload": [1, 2]})).await;
    assert_eq!(ack["type"], "__heartbeat_ack");
    assert_eq!(ack.as_object().unwrap().len(), 2, "only type and meta: {ack}");
    assert_eq!(ack["meta"].as_object().unwrap().len(), 1);
    assert!(ack["meta"]["ts"].as_u64().unwrap() >= before);
}

#[tokio::test]
async fn malformed_frames_get_invalid_argument_and_the_connection_stays_open() {
    let (_server, mut client) = start().await;
    for bad in ["not json", "[1]", "\"str\"", "{}", r#"{"type":5}"#, r#"{"type":"PING","extra":true}"#] {
        client.send_text(bad).await;
        let frame = client.recv().await;
        assert_eq!(error_of(&frame), ("ERROR", "INVALID_ARGUMENT"), "for {bad}: {frame}");
        assert_eq!(frame["meta"], json!({}));
        assert!(!frame["payload"]["message"].as_str().unwrap().is_empty());
        assert_eq!(frame["payload"]["retryable"], false);
        // Still open: a valid message is still served.
        assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
    }
    client.send_binary(vec![0xff, 0xfe]).await;
    assert_eq!(error_of(&client.recv().await), ("ERROR", "INVALID_ARGUMENT"));
}

#[tokio::test]
async fn unknown_and_reserved_types_are_unimplemented() {
    let (_server, mut client) = start().await;
    for ty in ["NOPE", "$ws:something", "__internal", "echo"] {
        let frame = client.request(json!({"type": ty, "payload": {}})).await;
        assert_eq!(error_of(&frame), ("ERROR", "UNIMPLEMENTED"), "{ty}");
        assert_eq!(frame["payload"]["details"]["type"], ty);
    }
    let frame = client.request(json!({"type": "NOPE", "meta": {"correlationId": "r-9"}})).await;
    assert_eq!(error_of(&frame), ("RPC_ERROR", "UNIMPLEMENTED"));
    assert_eq!(frame["meta"], json!({"correlationId": "r-9"}));
}

#[tokio::test]
async fn payload_presence_follows_the_message_type() {
    let (_server, mut client) = start().await;
    let frame = client.request(json!({"type": "PING", "payload": {}})).await;
    assert_eq!(error_of(&frame), ("ERROR", "INVALID_ARGUMENT"));
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "payload");
    let frame = client.request(json!({"type": "ECHO"})).await;
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "payload");
    let frame = client.request(json!({"type": "ECHO", "payload": null})).await;
    assert_eq!(frame["payload"]["code"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn unknown_payload_and_meta_keys_are_rejected_with_their_path() {
    let (_server, mut client) = start().await;
    let frame = client.request(json!({"type": "ECHO", "payload": {"text": "a", "extra": 1}})).await;
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "payload.extra");
    let frame = client.request(json!({"type": "ECHO", "meta": {"bogus": 1}, "payload": {"text": "a"}})).await;
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "meta.bogus");
    let frame = client.request(json!({"type": "ECHO", "payload": {"text": 5}})).await;
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "payload.text");
    let frame = client.request(json!({"type": "ECHO", "payload": {}})).await;
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "payload.text");
    let frame = client
        .request(json!({"type": "SIGN_UP", "payload": {"userName": "abc", "email": "a@b.co", "age": 20, "tags": ["x"], "address": {"city": "x", "zip": 1}, "lucky": 2}}))
        .await;
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "payload.address.zip", "{frame}");
}

#[tokio::test]
async fn reserved_meta_keys_are_stripped_and_declared_meta_is_decoded() {
    let (_server, mut client) = start().await;
    let reply = client
        .request(json!({"type": "ECHO", "meta": {"clientId": "spoofed", "receivedAt": 1}, "payload": {"text": "ok"}}))
        .await;
    assert_eq!(reply["type"], "ECHOED");
    let reply =
        client.request(json!({"type": "TRACED", "meta": {"traceId": "t-1"}, "payload": {"n": 3}})).await;
    assert_eq!(reply["payload"]["text"], "3:t-1");
    let frame = client.request(json!({"type": "TRACED", "payload": {"n": 3}})).await;
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "meta.traceId", "{frame}");
    let frame = client
        .request(json!({"type": "TRACED", "meta": {"traceId": "far-too-long"}, "payload": {"n": 3}}))
        .await;
    assert_eq!(frame["payload"]["details"]["issues"][0]["path"], "meta.traceId", "{frame}");
}

#[tokio::test]
async fn handler_errors_become_error_frames() {
    let (_server, mut client) = start().await;
    let frame = client.request(json!({"type": "FAIL", "payload": {"code": "NOT_FOUND"}})).await;
    assert_eq!(
        frame,
        json!({"type": "ERROR", "meta": {}, "payload": {"code": "NOT_FOUND", "message": "no such thing", "details": {"id": 7}, "retryable": false}})
    );
    let frame = client
        .request(json!({"type": "FAIL", "meta": {"correlationId": "x"}, "payload": {"code": "ROOM_FULL"}}))
        .await;
    assert_eq!(error_of(&frame), ("RPC_ERROR", "ROOM_FULL"));
    assert_eq!(frame["meta"]["correlationId"], "x");
    // A custom code states no retry hint: the client applies its own policy.
    assert!(frame["payload"].get("retryable").is_none() && frame["payload"].get("retryAfterMs").is_none());
}

#[tokio::test]
async fn a_payload_written_as_an_array_is_rejected() {
    let (_server, mut client) = start().await;
    let frame = client.request(json!({"type": "ECHO", "payload": ["hi"]})).await;
    assert_eq!(error_of(&frame), ("ERROR", "INVALID_ARGUMENT"));
    assert_eq!(
        frame["payload"]["details"]["issues"],
        json!([{"path": "payload", "message": "must be an object"}])
    );
}

#[tokio::test]
async fn malformed_meta_is_reported_at_its_key() {
    let (_server, mut client) = start().await;
    let cases = [
        (json!(5), "meta"),
        (json!({"correlationId": 5}), "meta.correlationId"),
        (json!({"timestamp": "noon"}), "meta.timestamp"),
        (json!({"timeoutMs": -1}), "meta.timeoutMs"),
    ];
    for (meta, path) in cases {
        let frame = client.request(json!({"type": "PING", "meta": meta})).await;
        assert_eq!(error_of(&frame), ("ERROR", "INVALID_ARGUMENT"), "{frame}");
        assert_eq!(frame["payload"]["details"]["issues"][0]["path"], path, "{frame}");
    }
}

#[tokio::test]
async fn errors_answer_a_readable_correlation_id_with_rpc_error() {
    let (_server, mut client) = start().await;
    let requests = [
        // An envelope with an unknown root key, and one with a malformed timestamp.
        json!({"type": "PING", "meta": {"correlationId": "a"}, "extra": 1}),
        json!({"type": "PING", "meta": {"correlationId": "a", "timestamp": "noon"}}),
        // A validation failure, and a panicking handler.
        json!({"type": "ECHO", "meta": {"correlationId": "a"}, "payload": {"text": 5}}),
        json!({"type": "PANIC", "meta": {"correlationId": "a"}}),
    ];
    for request in requests {
        let frame = client.request(request.clone()).await;
        assert_eq!(frame["type"], "RPC_ERROR", "for {request}: {frame}");
        assert_eq!(frame["meta"], json!({"correlationId": "a"}));
    }
}

#[tokio::test]
async fn error_frames_carry_the_retry_hints_of_their_codes() {
    let (app, _) = TestApp::new();
    let server =
        TestServer::start(Server::new(app).path("/ws").limits(Limits::default().max_message_bytes(100)))
            .await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let frame = client.request(json!({"type": "ECHO", "payload": {"text": "x".repeat(200)}})).await;
    assert_eq!(frame["payload"]["retryable"], true);
    assert_eq!(frame["payload"]["retryAfterMs"], 100);
    // An oversized request is still answered by its correlation id.
    let frame = client
        .request(
            json!({"type": "ECHO", "meta": {"correlationId": "big"}, "payload": {"text": "x".repeat(200)}}),
        )
        .await;
    assert_eq!(frame["type"], "RPC_ERROR");
    assert_eq!(frame["meta"], json!({"correlationId": "big"}));
    let frame = client.request(json!({"type": "NOPE"})).await;
    assert_eq!(frame["payload"]["retryable"], false);
    assert!(frame["payload"].get("retryAfterMs").is_none());
}

#[tokio::test]
async fn a_panicking_handler_becomes_internal_and_the_server_carries_on() {
    let (app, observed) = TestApp::new();
    let server = TestServer::start(Server::new(app).path("/ws")).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let mut other = RawClient::connect(&server.url("/ws")).await;
    let frame = client.request(json!({"type": "PANIC"})).await;
    assert_eq!(error_of(&frame), ("ERROR", "INTERNAL"));
    assert!(!frame.to_string().contains("secret"), "panic message leaked: {frame}");
    assert_eq!(frame["payload"]["retryAfterMs"], 200);
    assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
    assert_eq!(other.request(json!({"type": "PING"})).await["type"], "PONG");
    assert!(observed.errors.lock().unwrap().contains(&"INTERNAL".to_owned()));
}

#[tokio::test]
async fn oversized_frames_get_resource_exhausted_with_observed_and_limit() {
    let (app, _) = TestApp::new();
    let server =
        TestServer::start(Server::new(app).path("/ws").limits(Limits::default().max_message_bytes(100)))
            .await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let text = "x".repeat(200);
    let frame = client.request(json!({"type": "ECHO", "payload": {"text": text}})).await;
    assert_eq!(error_of(&frame), ("ERROR", "RESOURCE_EXHAUSTED"));
    assert_eq!(frame["payload"]["details"]["limit"], 100);
    assert!(frame["payload"]["details"]["observed"].as_u64().unwrap() > 200);
    assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
    // Far beyond the limit the frame is not read at all: close 1009.
    client.send_text("y".repeat(1000)).await;
    assert_eq!(client.closed().await.0, 1009);
}

#[tokio::test]
async fn oversized_frames_close_with_1009_when_configured() {
    let (app, _) = TestApp::new();
    let limits = Limits::default().max_message_bytes(100).on_oversize(wskit::Oversize::Close);
    let server = TestServer::start(Server::new(app).path("/ws").limits(limits)).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    client.send(json!({"type": "ECHO", "payload": {"text": "x".repeat(200)}})).await;
    assert_eq!(client.closed().await.0, 1009);
}

#[tokio::test]
async fn a_flood_of_bad_frames_is_closed_with_1008_after_the_limit() {
    let (app, _) = TestApp::new();
    let limits = Limits::default().max_consecutive_errors(3);
    let server = TestServer::start(Server::new(app).path("/ws").limits(limits)).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    // A valid message in between resets the count.
    for _ in 0..2 {
        client.send_text("garbage").await;
        client.recv().await;
    }
    assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
    for _ in 0..3 {
        client.send_text("garbage").await;
    }
    for _ in 0..3 {
        assert_eq!(client.recv().await["payload"]["code"], "INVALID_ARGUMENT");
    }
    assert_eq!(client.closed().await.0, 1008);
}
