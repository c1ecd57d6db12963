//! PROTOCOL.md section 6 with the in-memory hub, over real sockets: subscriptions,
//! publishing from handlers and from outside, exclude_self, limits, cleanup.

mod rooms;

use rooms::{subscribe, News, Rooms};
use serde_json::json;
use wskit::{Error, Hub, Limits, Server, TopicAction, TopicRules};
use wskit_examples::{RawClient, Received, TestServer};

#[tokio::test]
async fn publishes_reach_every_subscriber_once_with_shared_frame_shape() {
    let server = TestServer::start(Server::new(Rooms).path("/ws")).await;
    let mut alice = RawClient::connect(&server.url("/ws")).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    let mut carol = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(subscribe(&mut alice, "room:a").await["payload"]["topics"], json!(["room:a"]));
    // Subscribing twice is a no-op.
    assert_eq!(subscribe(&mut alice, "room:a").await["payload"]["topics"], json!(["room:a"]));
    subscribe(&mut bob, "room:a").await;
    subscribe(&mut carol, "room:b").await;

    carol
        .send(json!({"type": "SAY", "payload": {"topic": "room:a", "text": "hi", "excludeSelf": false}}))
        .await;
    assert_eq!(carol.recv().await, json!({"type": "DELIVERED", "meta": {}, "payload": {"count": 2}}));
    let expected = json!({"type": "NEWS", "payload": {"text": "hi"}});
    assert_eq!(alice.recv().await, expected);
    assert_eq!(bob.recv().await, expected);
}

#[tokio::test]
async fn exclude_self_skips_only_the_publisher() {
    let server = TestServer::start(Server::new(Rooms).path("/ws")).await;
    let mut alice = RawClient::connect(&server.url("/ws")).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut alice, "t").await;
    subscribe(&mut bob, "t").await;
    alice.send(json!({"type": "SAY", "payload": {"topic": "t", "text": "1", "excludeSelf": true}})).await;
    assert_eq!(alice.recv().await["payload"]["count"], 1);
    assert_eq!(bob.recv().await["payload"]["text"], "1");
    // Without exclude_self the publisher receives its own message (before the reply:
    // delivery is queued while the handler runs).
    alice.send(json!({"type": "SAY", "payload": {"topic": "t", "text": "2", "excludeSelf": false}})).await;
    assert_eq!(alice.recv().await["payload"]["text"], "2");
    assert_eq!(alice.recv().await["payload"]["count"], 2);
    assert_eq!(bob.recv().await["payload"]["text"], "2");
}

#[tokio::test]
async fn unsubscribing_stops_delivery_and_is_idempotent() {
    let server = TestServer::start(Server::new(Rooms).path("/ws")).await;
    let mut alice = RawClient::connect(&server.url("/ws")).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut alice, "t").await;
    subscribe(&mut alice, "u").await;
    let reply = alice.request(json!({"type": "UNSUBSCRIBE", "payload": {"topic": "t"}})).await;
    assert_eq!(reply["payload"]["topics"], json!(["u"]));
    let reply = alice.request(json!({"type": "UNSUBSCRIBE", "payload": {"topic": "never"}})).await;
    assert_eq!(reply["payload"]["topics"], json!(["u"]));
    let reply = bob
        .request(json!({"type": "SAY", "payload": {"topic": "t", "text": "x", "excludeSelf": false}}))
        .await;
    assert_eq!(reply["payload"]["count"], 0);
}

#[tokio::test]
async fn topic_rules_and_limits_are_enforced_with_protocol_errors() {
    let hub = Hub::memory_with(TopicRules::default().max_per_connection(2));
    let server = TestServer::start(Server::new(Rooms).path("/ws").hub(hub)).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let frame = subscribe(&mut client, "has space").await;
    assert_eq!(frame["payload"]["code"], "INVALID_ARGUMENT");
    assert_eq!(frame["payload"]["details"]["reason"], "pattern");
    let frame = subscribe(&mut client, &"x".repeat(129)).await;
    assert_eq!(frame["payload"]["details"]["reason"], "length");
    assert_eq!(frame["payload"]["details"]["max"], 128);
    let frame = subscribe(&mut client, "").await;
    assert_eq!(frame["payload"]["details"]["reason"], "pattern");
    subscribe(&mut client, "a").await;
    subscribe(&mut client, "b").await;
    let frame = subscribe(&mut client, "c").await;
    assert_eq!(frame["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(frame["payload"]["details"]["limit"], 2);
    // Re-subscribing to a held topic at the limit is still a no-op, not an error.
    assert_eq!(subscribe(&mut client, "a").await["type"], "TOPICS");
    let frame = client
        .request(json!({"type": "SAY", "payload": {"topic": "bad topic", "text": "x", "excludeSelf": false}}))
        .await;
    assert_eq!(frame["payload"]["details"]["reason"], "pattern");
}

#[tokio::test]
async fn the_hub_publishes_and_sends_from_outside_handlers_and_forgets_closed_connections() {
    let server = Server::new(Rooms).path("/ws");
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let mut alice = RawClient::connect(&server.url("/ws")).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut alice, "news").await;
    subscribe(&mut bob, "news").await;
    assert_eq!(hub.client_count(), 2);
    assert_eq!(hub.topics(), ["news"]);
    assert_eq!(hub.subscriber_count("news"), 2);

    let delivery = hub.publish("news", &News { text: "from a task".into() }).await.unwrap();
    assert_eq!(delivery, wskit::Delivery::Exact(2));
    assert_eq!(alice.recv().await["payload"]["text"], "from a task");
    assert_eq!(bob.recv().await["payload"]["text"], "from a task");

    let bob_id = bob.response.headers()["x-client-id"].to_str().unwrap().parse().unwrap();
    hub.send_to(bob_id, &News { text: "just you".into() }).unwrap();
    assert_eq!(bob.recv().await, json!({"type": "NEWS", "meta": {}, "payload": {"text": "just you"}}));
    let unknown = hub.send_to(uuid::Uuid::now_v7(), &News { text: "?".into() }).unwrap_err();
    assert_eq!(unknown.code(), &wskit::Code::NotFound);
    assert!(hub.publish("bad topic", &News { text: "x".into() }).await.is_err());

    // Closing cleans up: once alice is gone (the server answered her close), she is no
    // longer a subscriber or a client.
    alice.close().await;
    let deadline = std::time::Instant::now() + wskit_examples::RECV_TIMEOUT;
    while hub.client_count() != 1 {
        assert!(std::time::Instant::now() < deadline, "the closed connection stays registered");
        tokio::task::yield_now().await;
    }
    assert_eq!(hub.subscriber_count("news"), 1);
    assert_eq!(hub.publish("news", &News { text: "x".into() }).await.unwrap(), wskit::Delivery::Exact(1));
}

#[tokio::test]
async fn a_subscriber_that_cannot_keep_up_is_closed_with_1013_not_buffered() {
    let server = Server::new(Rooms).path("/ws").limits(Limits::default().max_queued_frames(4));
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let mut slow = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut slow, "firehose").await;
    // On this single-threaded test runtime the publishes below run without the
    // connection's task draining its queue in between. The client takes what it is sent,
    // so the server is behind, not the client: eight times the limit fit, then it overflows.
    let mut delivered = 0;
    for n in 0..40 {
        if let Ok(wskit::Delivery::Exact(count)) =
            hub.publish("firehose", &News { text: n.to_string() }).await
        {
            delivered += count;
        }
    }
    assert_eq!(delivered, 32);
    for n in 0..32 {
        assert_eq!(slow.recv().await["payload"]["text"], n.to_string());
    }
    match slow.next().await {
        Received::Close(code, _) => assert_eq!(code, 1013),
        other => panic!("expected close 1013, got {other:?}"),
    }
}

#[tokio::test]
async fn an_authorization_hook_guards_subscribe_and_publish() {
    let server = Server::new(Rooms).path("/ws").authorize_topics(|_: &(), _client, topic, action| {
        match (action, topic) {
            (TopicAction::Subscribe, topic) if topic.starts_with("secret:") => {
                Err(Error::permission_denied("secret topics are invisible"))
            }
            (TopicAction::Publish, "announcements") => Err(Error::permission_denied("read only")),
            _ => Ok(()),
        }
    });
    let server = TestServer::start(server).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let frame = subscribe(&mut client, "secret:plans").await;
    assert_eq!(frame["payload"]["code"], "PERMISSION_DENIED");
    assert_eq!(subscribe(&mut client, "announcements").await["payload"]["topics"], json!(["announcements"]));
    let frame = client
        .request(
            json!({"type": "SAY", "payload": {"topic": "announcements", "text": "x", "excludeSelf": false}}),
        )
        .await;
    assert_eq!(frame["payload"]["code"], "PERMISSION_DENIED");
    // The refused publish reached nobody: the next frame is the answer to this request.
    let reply = client.request(json!({"type": "UNSUBSCRIBE", "payload": {"topic": "announcements"}})).await;
    assert_eq!(reply["type"], "TOPICS");
}

#[tokio::test]
async fn an_application_set_exclude_client_id_never_reaches_clients() {
    let server = Server::new(Rooms).path("/ws");
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let mut alice = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut alice, "news").await;
    let alice_id = alice.response.headers()["x-client-id"].to_str().unwrap().to_owned();

    // The key the Redis bus reserves for exclude_self: ignored here as it is there, so it
    // neither skips alice nor shows in her frame.
    let options = wskit::Publish::new().meta("excludeClientId", alice_id).meta("origin", "test");
    let delivery = hub.publish_with("news", &News { text: "hi".into() }, &options).await.unwrap();
    assert_eq!(delivery, wskit::Delivery::Exact(1));
    assert_eq!(
        alice.recv().await,
        json!({"type": "NEWS", "meta": {"origin": "test"}, "payload": {"text": "hi"}})
    );
}
