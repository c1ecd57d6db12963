//! The chat example (`examples/chat`) end to end, over real sockets: what its browser page
//! does, done by raw clients.

#[path = "../examples/chat/app.rs"]
mod app;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use wskit::Deflate;
use wskit_examples::{http_get, RawClient, TestServer};

/// A frame as the page sends it.
fn frame(ty: &str, payload: Value) -> Value {
    json!({"type": ty, "meta": {"timestamp": 1_730_450_000_000_u64}, "payload": payload})
}

/// A connection that chose `name`.
async fn named(server: &TestServer, name: &str) -> RawClient {
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let welcome = client.request(frame("SET_NAME", json!({"name": name}))).await;
    assert_eq!(welcome["type"], "WELCOME", "{welcome}");
    assert_eq!(welcome["payload"]["name"], name);
    client
}

/// Joins `room` and returns the ROOM_STATE payload.
async fn join(client: &mut RawClient, room: &str) -> Value {
    let state = client.request(frame("JOIN_ROOM", json!({"roomId": room}))).await;
    assert_eq!(state["type"], "ROOM_STATE", "{state}");
    state["payload"].clone()
}

/// The names in a list of members.
fn names(members: &Value) -> BTreeSet<&str> {
    members.as_array().expect("members").iter().map(|member| member["name"].as_str().expect("name")).collect()
}

/// The payload of the next frame, which must be an `ERROR` with `code`.
async fn error(client: &mut RawClient, code: &str) -> Value {
    let error = client.recv().await;
    assert_eq!(error["type"], "ERROR", "{error}");
    assert_eq!(error["payload"]["code"], code, "{error}");
    error["payload"].clone()
}

#[tokio::test]
async fn members_see_each_other_and_each_others_messages() {
    let server = TestServer::start(app::server()).await;
    let mut alice = named(&server, "alice").await;
    let mut bob = named(&server, "bob").await;

    let state = join(&mut alice, "general").await;
    assert_eq!(state["roomId"], "general");
    assert_eq!(names(&state["members"]), BTreeSet::from(["alice"]));
    assert_eq!(state["history"], json!([]));

    let state = join(&mut bob, "general").await;
    assert_eq!(names(&state["members"]), BTreeSet::from(["alice", "bob"]));
    let joined = alice.recv().await;
    assert_eq!(joined["type"], "MEMBER_JOINED");
    assert_eq!(joined["payload"]["member"]["name"], "bob");
    let bob_id = joined["payload"]["member"]["id"].clone();

    // The author gets its own message back, like everyone else in the room.
    alice.send(frame("SEND_MESSAGE", json!({"roomId": "general", "text": "  hello bob "}))).await;
    for client in [&mut alice, &mut bob] {
        let message = client.recv().await;
        assert_eq!(message["type"], "NEW_MESSAGE");
        let payload = &message["payload"];
        assert_eq!(payload["roomId"], "general");
        assert_eq!(payload["from"]["name"], "alice");
        assert_eq!(payload["text"], "hello bob");
        assert!(payload["sentAt"].as_u64().is_some(), "{message}");
    }

    // A newcomer gets the history and the members.
    let mut carol = named(&server, "carol").await;
    let state = join(&mut carol, "general").await;
    assert_eq!(names(&state["members"]), BTreeSet::from(["alice", "bob", "carol"]));
    assert_eq!(state["history"].as_array().expect("history").len(), 1);
    assert_eq!(state["history"][0]["text"], "hello bob");
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.recv().await["payload"]["member"]["name"], "carol");
    }

    // Leaving tells those who stay.
    bob.send(frame("LEAVE_ROOM", json!({"roomId": "general"}))).await;
    for client in [&mut alice, &mut carol] {
        let left = client.recv().await;
        assert_eq!(left["type"], "MEMBER_LEFT");
        assert_eq!(left["payload"], json!({"roomId": "general", "member": {"id": bob_id, "name": "bob"}}));
    }

    // So does closing the tab.
    carol.close().await;
    let left = alice.recv().await;
    assert_eq!(left["type"], "MEMBER_LEFT");
    assert_eq!(left["payload"]["member"]["name"], "carol");

    // Bob left: he no longer receives the room's messages, nor may he send to it.
    alice.send(frame("SEND_MESSAGE", json!({"roomId": "general", "text": "anyone?"}))).await;
    assert_eq!(alice.recv().await["payload"]["text"], "anyone?");
    bob.send(frame("SEND_MESSAGE", json!({"roomId": "general", "text": "me!"}))).await;
    error(&mut bob, "FAILED_PRECONDITION").await;
}

#[tokio::test]
async fn nothing_but_choosing_a_name_works_without_one() {
    let server = TestServer::start(app::server()).await;
    let mut anonymous = RawClient::connect(&server.url("/ws")).await;
    anonymous.send(frame("SEND_MESSAGE", json!({"roomId": "general", "text": "hi"}))).await;
    let payload = error(&mut anonymous, "UNAUTHENTICATED").await;
    assert_eq!(payload["message"], "choose a name first");
    anonymous.send(frame("JOIN_ROOM", json!({"roomId": "general"}))).await;
    error(&mut anonymous, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn invalid_input_is_answered_with_issues_per_field() {
    let server = TestServer::start(app::server()).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;

    client.send(frame("SET_NAME", json!({"name": "x".repeat(25)}))).await;
    let payload = error(&mut client, "INVALID_ARGUMENT").await;
    assert_eq!(payload["details"]["issues"][0]["path"], "payload.name");
    client.send(frame("SET_NAME", json!({"name": "   "}))).await;
    let payload = error(&mut client, "INVALID_ARGUMENT").await;
    assert_eq!(
        payload["details"]["issues"],
        json!([{"path": "payload.name", "message": "must not be blank"}])
    );

    let welcome = client.request(frame("SET_NAME", json!({"name": " dana "}))).await;
    assert_eq!(welcome["payload"]["name"], "dana");
    client.send(frame("JOIN_ROOM", json!({"roomId": "no spaces!"}))).await;
    let payload = error(&mut client, "INVALID_ARGUMENT").await;
    assert_eq!(payload["details"]["issues"][0]["path"], "payload.roomId");

    join(&mut client, "general").await;
    client.send(frame("SEND_MESSAGE", json!({"roomId": "general", "text": ""}))).await;
    let payload = error(&mut client, "INVALID_ARGUMENT").await;
    assert_eq!(payload["details"]["issues"][0]["path"], "payload.text");
    client.send(frame("SEND_MESSAGE", json!({"roomId": "general", "text": "y".repeat(501)}))).await;
    error(&mut client, "INVALID_ARGUMENT").await;

    // The name is fixed while in a room.
    client.send(frame("SET_NAME", json!({"name": "eve"}))).await;
    error(&mut client, "FAILED_PRECONDITION").await;
}

#[tokio::test]
async fn history_keeps_the_latest_messages() {
    let server = TestServer::start(app::server()).await;
    let mut alice = named(&server, "alice").await;
    join(&mut alice, "busy").await;
    let sent = app::HISTORY_PER_ROOM + 5;
    for n in 0..sent {
        alice.send(frame("SEND_MESSAGE", json!({"roomId": "busy", "text": format!("message {n}")}))).await;
        assert_eq!(alice.recv().await["type"], "NEW_MESSAGE");
    }
    let mut bob = named(&server, "bob").await;
    let history = join(&mut bob, "busy").await["history"].clone();
    let texts: Vec<&str> =
        history.as_array().expect("history").iter().map(|m| m["text"].as_str().unwrap()).collect();
    let expected: Vec<String> = (5..sent).map(|n| format!("message {n}")).collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn get_history_answers_the_latest_messages_of_a_joined_room() {
    let server = TestServer::start(app::server()).await;
    let mut alice = named(&server, "alice").await;
    let ask = |room: &str, limit: u32| {
        let mut request = frame("GET_HISTORY", json!({"roomId": room, "limit": limit}));
        request["meta"]["correlationId"] = json!(format!("history-{room}-{limit}"));
        request
    };
    let refused = alice.request(ask("quiet", 10)).await;
    assert_eq!(
        (refused["type"].as_str(), refused["payload"]["code"].as_str()),
        (Some("RPC_ERROR"), Some("FAILED_PRECONDITION"))
    );
    join(&mut alice, "quiet").await;
    for n in 0..3 {
        alice.send(frame("SEND_MESSAGE", json!({"roomId": "quiet", "text": format!("message {n}")}))).await;
        assert_eq!(alice.recv().await["type"], "NEW_MESSAGE");
    }
    let history = alice.request(ask("quiet", 2)).await;
    assert_eq!(history["type"], "HISTORY", "{history}");
    assert_eq!(history["meta"]["correlationId"], "history-quiet-2");
    assert_eq!(history["payload"]["roomId"], "quiet");
    let texts: Vec<&str> = history["payload"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["message 1", "message 2"]);
    let too_many = alice.request(ask("quiet", 51)).await;
    assert_eq!(too_many["payload"]["details"]["issues"][0]["path"], "payload.limit", "{too_many}");
}

#[tokio::test]
async fn rooms_per_connection_and_per_server_are_bounded() {
    let server = TestServer::start(app::server()).await;

    // Fill the server with rooms, each connection in as many as it may join.
    let mut clients = Vec::new();
    for c in 0..app::MAX_ROOMS / app::ROOMS_PER_CONNECTION {
        let mut client = named(&server, &format!("user{c}")).await;
        for r in 0..app::ROOMS_PER_CONNECTION {
            join(&mut client, &format!("room-{c}-{r}")).await;
        }
        clients.push(client);
    }
    // Rejoining a room is allowed at the limit: it just sends the state again.
    join(&mut clients[0], "room-0-0").await;
    clients[0].send(frame("JOIN_ROOM", json!({"roomId": "one-too-many"}))).await;
    let payload = error(&mut clients[0], "RESOURCE_EXHAUSTED").await;
    assert_eq!(payload["details"]["limit"], app::ROOMS_PER_CONNECTION);

    let mut late = named(&server, "late").await;
    late.send(frame("JOIN_ROOM", json!({"roomId": "new-room"}))).await;
    let payload = error(&mut late, "RESOURCE_EXHAUSTED").await;
    assert_eq!(payload["details"]["limit"], app::MAX_ROOMS);
    assert!(payload["retryable"].as_bool().unwrap(), "{payload}");

    // Once a room is empty, it makes place for a new one.
    clients[0].send(frame("LEAVE_ROOM", json!({"roomId": "room-0-0"}))).await;
    let state = join(&mut late, "new-room").await;
    assert_eq!(names(&state["members"]), BTreeSet::from(["late"]));
}

#[tokio::test]
async fn the_page_is_served_at_the_root() {
    let server = TestServer::start(app::server()).await;
    let page = http_get(server.addr, "/").await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.to_ascii_lowercase().contains("content-type: text/html; charset=utf-8"), "{page}");
    assert!(page.contains("<title>wskit chat</title>"));
    assert!(page.contains(r#""@wskit/client": "/client/index.js""#), "the page maps the client's import");

    let script = http_get(server.addr, "/chat.js").await;
    assert!(script.to_ascii_lowercase().contains("content-type: text/javascript; charset=utf-8"), "{script}");
    assert!(script.contains(r#"createClient({ url: "/ws""#), "the script connects to the WebSocket path");
    let client = http_get(server.addr, "/client/index.js").await;
    assert!(client.starts_with("HTTP/1.1 200 OK\r\n") && client.contains("WsKitClient"), "{client}");

    let missing = http_get(server.addr, "/nope").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

/// Lines people say in the scripted session.
const LINES: [&str; 8] = [
    "morning! did anyone look at the deploy logs from last night?",
    "yes, the migration took 12 minutes, longer than planned",
    "ok, let's move the next one to the weekend then",
    "sounds good. I'll update the runbook and ping the on-call",
    "can someone review my pull request on the billing page?",
    "on it after lunch",
    "thanks! no rush, it's behind a feature flag",
    "lunch? the place on the corner has soup today",
];

/// A scripted chat session: alice and bob name themselves and join a room, say 20 lines
/// each, then carol joins and receives the room's history. Returns the bytes of the
/// WebSocket frames both ways (after the handshakes), each client offering `offer`.
async fn chat_session(server: &TestServer, offer: &str) -> (usize, usize) {
    use wskit_examples::raw::DeflateClient;
    let connect = || DeflateClient::connect(server.addr, "/ws", offer);
    let (mut alice, _) = connect().await;
    let (mut bob, _) = connect().await;
    for (client, name) in [(&mut alice, "alice"), (&mut bob, "bob")] {
        client.send(frame("SET_NAME", json!({"name": name}))).await;
        assert_eq!(client.recv().await.0["type"], "WELCOME");
        client.send(frame("JOIN_ROOM", json!({"roomId": "general"}))).await;
        assert_eq!(client.recv().await.0["type"], "ROOM_STATE");
    }
    assert_eq!(alice.recv().await.0["type"], "MEMBER_JOINED");
    for round in 0..20 {
        for speaker in 0..2 {
            let text = LINES[(round * 2 + speaker) % LINES.len()];
            let client = if speaker == 0 { &mut alice } else { &mut bob };
            client.send(frame("SEND_MESSAGE", json!({"roomId": "general", "text": text}))).await;
            for client in [&mut alice, &mut bob] {
                assert_eq!(client.recv().await.0["payload"]["text"], text);
            }
        }
    }
    let (mut carol, _) = connect().await;
    carol.send(frame("SET_NAME", json!({"name": "carol"}))).await;
    carol.recv().await;
    carol.send(frame("JOIN_ROOM", json!({"roomId": "general"}))).await;
    let (state, _) = carol.recv().await;
    assert_eq!(state["payload"]["history"].as_array().unwrap().len(), 40);
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.recv().await.0["type"], "MEMBER_JOINED");
    }
    let clients = [&alice, &bob, &carol];
    (clients.iter().map(|client| client.sent).sum(), clients.iter().map(|client| client.received).sum())
}

#[tokio::test]
async fn chat_traffic_shrinks_with_permessage_deflate() {
    let chromium_offer = "permessage-deflate; client_max_window_bits";
    let plain = TestServer::start(app::server()).await;
    let (plain_up, plain_down) = chat_session(&plain, "").await;
    let deflating = TestServer::start(app::server().deflate(Deflate::enabled())).await;
    let (up, down) = chat_session(&deflating, chromium_offer).await;
    let everything = TestServer::start(app::server().deflate(Deflate::enabled().threshold(0))).await;
    let (_, down_all) = chat_session(&everything, chromium_offer).await;
    let keeping = Deflate::enabled().threshold(0).server_context_takeover(true);
    let keeping = TestServer::start(app::server().deflate(keeping)).await;
    let (_, down_kept) = chat_session(&keeping, chromium_offer).await;
    println!(
        "chat session bytes, client to server / server to client: plain {plain_up} / {plain_down}; \
         deflate (browser compressing with context, server threshold 1 KiB) {up} / {down}; \
         server threshold 0: {down_all}; server threshold 0 with context takeover: {down_kept}"
    );
    assert!(up < plain_up && down < plain_down && down_all < down && down_kept < down_all);
}
