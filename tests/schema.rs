//! The schemas exported from the chat example's `#[message]` declarations
//! (`examples/chat/generated`, written by `cargo run --example chat_schema`): they are
//! current, and they describe the real traffic: every frame the page's client sends and the
//! server answers validates against them, and frames the server rejects are rejected by the
//! schema too.

#[path = "../examples/chat/app.rs"]
mod app;

use jsonschema::Validator;
use serde_json::{json, Value};
use wskit::schema::Schemas;
use wskit_examples::{RawClient, Received, TestServer};

const GENERATED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/chat/generated");

#[test]
fn the_committed_files_are_current() {
    let fresh = std::env::temp_dir().join(format!("wskit-schema-{}", std::process::id()));
    std::fs::create_dir_all(&fresh).unwrap();
    Schemas::of::<app::Chat>("Chat").write(&fresh, "chat").unwrap();
    for file in ["chat.schema.json", "chat.ts"] {
        let committed = std::fs::read_to_string(format!("{GENERATED}/{file}")).unwrap();
        let generated = std::fs::read_to_string(fresh.join(file)).unwrap();
        assert!(
            committed == generated,
            "examples/chat/generated/{file} is out of date: run `cargo run --example chat_schema`"
        );
    }
    std::fs::remove_dir_all(fresh).unwrap();
}

/// A validator of the union `name` (`ClientMessage` or `ServerMessage`) of the document.
fn validator(name: &str) -> Validator {
    let document = Schemas::of::<app::Chat>("Chat").json_schema();
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/$defs/{name}"),
        "$defs": document["$defs"],
    });
    jsonschema::validator_for(&schema).expect("the exported schema is a valid JSON Schema")
}

/// Checks frames against the unions as they go by.
struct Checked {
    client: RawClient,
    sent: Validator,
    received: Validator,
}

impl Checked {
    async fn send(&mut self, frame: Value) {
        let errors: Vec<String> = self.sent.iter_errors(&frame).map(|error| error.to_string()).collect();
        assert!(errors.is_empty(), "{frame} does not follow ClientMessage: {errors:?}");
        self.client.send(frame).await;
    }

    async fn recv(&mut self) -> Value {
        let Received::Json(frame) = self.client.next().await else { panic!("expected a frame") };
        let errors: Vec<String> = self.received.iter_errors(&frame).map(|error| error.to_string()).collect();
        assert!(errors.is_empty(), "{frame} does not follow ServerMessage: {errors:?}");
        frame
    }

    async fn request(&mut self, frame: Value) -> Value {
        self.send(frame).await;
        self.recv().await
    }

    /// Sends a frame the schema rejects, and expects the server to reject it too.
    async fn refused(&mut self, frame: Value, code: &str) {
        assert!(!self.sent.is_valid(&frame), "the schema accepts {frame}");
        self.client.send(frame.clone()).await;
        let answer = self.recv().await;
        assert_eq!(answer["type"], "ERROR", "{frame} got {answer}");
        assert_eq!(answer["payload"]["code"], code, "{frame} got {answer}");
    }
}

#[tokio::test]
async fn the_chat_traffic_follows_the_schema_both_ways() {
    let server = TestServer::start(app::server()).await;
    let connect = || async {
        Checked {
            client: RawClient::connect(&server.url("/ws")).await,
            sent: validator("ClientMessage"),
            received: validator("ServerMessage"),
        }
    };
    let (mut ada, mut bob) = (connect().await, connect().await);
    let meta = json!({"timestamp": 1_730_450_000_000_u64});
    for (client, name) in [(&mut ada, "Ada"), (&mut bob, "Bob")] {
        let welcome =
            client.request(json!({"type": "SET_NAME", "meta": meta, "payload": {"name": name}})).await;
        assert_eq!(welcome["type"], "WELCOME");
        let state =
            client.request(json!({"type": "JOIN_ROOM", "meta": meta, "payload": {"roomId": "lobby"}})).await;
        assert_eq!(state["type"], "ROOM_STATE");
    }
    assert_eq!(ada.recv().await["type"], "MEMBER_JOINED");
    ada.send(json!({"type": "SEND_MESSAGE", "payload": {"roomId": "lobby", "text": "hello"}})).await;
    for client in [&mut ada, &mut bob] {
        assert_eq!(client.recv().await["type"], "NEW_MESSAGE");
    }
    let history = ada
        .request(json!({"type": "GET_HISTORY", "meta": {"correlationId": "h-1"}, "payload": {"roomId": "lobby", "limit": 10}}))
        .await;
    assert_eq!(history["type"], "HISTORY", "{history}");
    assert_eq!(history["payload"]["messages"][0]["text"], "hello");
    let ack = ada.request(json!({"type": "__heartbeat"})).await;
    assert_eq!(ack["type"], "__heartbeat_ack");

    // What the server refuses, the schema refuses: a rule, a missing field, an unknown
    // key, an unknown type, a payload on the wrong type.
    ada.refused(json!({"type": "JOIN_ROOM", "payload": {"roomId": ""}}), "INVALID_ARGUMENT").await;
    ada.refused(json!({"type": "JOIN_ROOM", "payload": {"roomId": "a b"}}), "INVALID_ARGUMENT").await;
    ada.refused(json!({"type": "SEND_MESSAGE", "payload": {"roomId": "lobby"}}), "INVALID_ARGUMENT").await;
    let long = "x".repeat(501);
    ada.refused(
        json!({"type": "SEND_MESSAGE", "payload": {"roomId": "lobby", "text": long}}),
        "INVALID_ARGUMENT",
    )
    .await;
    ada.refused(json!({"type": "SET_NAME", "payload": {"name": "Ada", "admin": true}}), "INVALID_ARGUMENT")
        .await;
    ada.refused(
        json!({"type": "SET_NAME", "meta": {"sessionId": "1"}, "payload": {"name": "A"}}),
        "INVALID_ARGUMENT",
    )
    .await;
    ada.refused(json!({"type": "KICK", "payload": {}}), "UNIMPLEMENTED").await;
    // An RPC_ERROR follows the schema too: an unknown type with a correlation id.
    let unknown = json!({"type": "NOPE", "meta": {"correlationId": "c-1"}});
    assert!(!ada.sent.is_valid(&unknown));
    ada.client.send(unknown).await;
    assert_eq!(ada.recv().await["type"], "RPC_ERROR");
}
