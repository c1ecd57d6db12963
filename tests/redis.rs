//! The Redis bus against a real Redis (REDIS_URL, default redis://127.0.0.1:6379): two
//! server instances in one process share it; publishes from either reach both, and the
//! channel format is ws-kit's.

mod rooms;

use futures_util::StreamExt;
use rooms::{subscribe, News, Rooms};
use serde_json::json;
use wskit::{Delivery, Hub, RedisOptions, Server, TopicRules};
use wskit_examples::{redis_url, unique_prefix, RawClient, TestServer, RECV_TIMEOUT};

async fn instance(url: &str, prefix: &str) -> (TestServer, Hub) {
    let hub = Hub::redis(url, RedisOptions::default().prefix(prefix), TopicRules::default()).await.unwrap();
    let server = TestServer::start(Server::new(Rooms).path("/ws").hub(hub.clone())).await;
    (server, hub)
}

#[tokio::test]
async fn publishes_from_either_instance_reach_subscribers_on_both() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("both");
    let (one, _) = instance(&url, &prefix).await;
    let (two, hub_two) = instance(&url, &prefix).await;
    let mut alice = RawClient::connect(&one.url("/ws")).await;
    let mut bob = RawClient::connect(&two.url("/ws")).await;
    subscribe(&mut alice, "room:a").await;
    subscribe(&mut bob, "room:a").await;

    let reply = bob
        .request(
            json!({"type": "SAY", "payload": {"topic": "room:a", "text": "from two", "excludeSelf": true}}),
        )
        .await;
    // Across a broker the delivery count is unknown.
    assert_eq!(reply["payload"]["count"], serde_json::Value::Null);
    assert_eq!(alice.recv().await, json!({"type": "NEWS", "payload": {"text": "from two"}}));

    let delivery = hub_two.publish("room:a", &News { text: "from a task".into() }).await.unwrap();
    assert_eq!(delivery, Delivery::Relayed);
    assert_eq!(alice.recv().await["payload"]["text"], "from a task");
    assert_eq!(bob.recv().await["payload"]["text"], "from a task");
}

#[tokio::test]
async fn exclude_self_holds_across_instances_and_its_key_stays_on_the_bus() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("exclude");
    let (one, _) = instance(&url, &prefix).await;
    let (two, _) = instance(&url, &prefix).await;
    let mut alice = RawClient::connect(&one.url("/ws")).await;
    let mut alice_too = RawClient::connect(&one.url("/ws")).await;
    let mut bob = RawClient::connect(&two.url("/ws")).await;
    for client in [&mut alice, &mut alice_too, &mut bob] {
        subscribe(client, "t").await;
    }
    let mut watcher = watch_channel(&url, &format!("{prefix}t")).await;
    alice.request(json!({"type": "SAY", "payload": {"topic": "t", "text": "x", "excludeSelf": true}})).await;
    alice.send(json!({"type": "SAY", "payload": {"topic": "t", "text": "y", "excludeSelf": false}})).await;

    // On the channel, ws-kit's key names the connection to skip.
    let alice_id = alice.response.headers()["x-client-id"].to_str().unwrap();
    let on_wire = next_on_channel(&mut watcher).await;
    assert_eq!(on_wire["meta"], json!({"excludeClientId": alice_id}));
    assert_eq!(next_on_channel(&mut watcher).await.get("meta"), None);
    // Redis delivers one publisher's messages in order: had "x" reached alice, it would
    // come before "y" (and the reply to "y" may come before or after it). No client sees
    // the key.
    let frames = [alice.recv().await, alice.recv().await];
    assert!(frames.contains(&json!({"type": "NEWS", "payload": {"text": "y"}})), "{frames:?}");
    assert!(frames.iter().any(|frame| frame["type"] == "DELIVERED"), "{frames:?}");
    for client in [&mut alice_too, &mut bob] {
        assert_eq!(client.recv().await, json!({"type": "NEWS", "payload": {"text": "x"}}));
        assert_eq!(client.recv().await, json!({"type": "NEWS", "payload": {"text": "y"}}));
    }
}

#[tokio::test]
async fn an_application_set_exclude_client_id_never_reaches_clients() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("reserved");
    let (server, hub) = instance(&url, &prefix).await;
    let mut alice = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut alice, "news").await;
    let alice_id = alice.response.headers()["x-client-id"].to_str().unwrap().to_owned();

    // Ignored as on the in-memory bus: it neither skips alice nor shows in her frame.
    let options = wskit::Publish::new().meta("excludeClientId", alice_id).meta("origin", "test");
    hub.publish_with("news", &News { text: "hi".into() }, &options).await.unwrap();
    assert_eq!(
        alice.recv().await,
        json!({"type": "NEWS", "meta": {"origin": "test"}, "payload": {"text": "hi"}})
    );
}

/// A pub/sub connection that watches `channel` the way any Redis client would.
async fn watch_channel(url: &str, channel: &str) -> redis::aio::PubSub {
    let mut watcher = redis::Client::open(url).unwrap().get_async_pubsub().await.unwrap();
    watcher.subscribe(channel).await.unwrap();
    watcher
}

/// The next message on a watched channel, as JSON.
async fn next_on_channel(watcher: &mut redis::aio::PubSub) -> serde_json::Value {
    let message = tokio::time::timeout(RECV_TIMEOUT, watcher.on_message().next())
        .await
        .expect("a message on the channel in time")
        .expect("the watcher's connection is open");
    serde_json::from_slice(message.get_payload_bytes()).unwrap()
}

#[tokio::test]
async fn the_channel_carries_ws_kit_json_both_ways() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("interop");
    let (server, hub) = instance(&url, &prefix).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut client, "room:1").await;

    // What wskit writes on the channel.
    let mut watcher = watch_channel(&url, &format!("{prefix}room:1")).await;
    hub.publish_with("room:1", &News { text: "hi".into() }, &wskit::Publish::new().meta("origin", "test"))
        .await
        .unwrap();
    let on_wire = next_on_channel(&mut watcher).await;
    assert_eq!(
        on_wire,
        json!({"topic": "room:1", "type": "NEWS", "payload": {"text": "hi"}, "meta": {"origin": "test"}})
    );
    assert_eq!(
        client.recv().await,
        json!({"type": "NEWS", "meta": {"origin": "test"}, "payload": {"text": "hi"}})
    );

    // A publish written by hand, as redis-cli or a ws-kit instance would.
    let redis = redis::Client::open(url.as_str()).unwrap();
    let mut connection = redis.get_multiplexed_async_connection().await.unwrap();
    let by_hand = r#"{"topic":"room:1","type":"NEWS","payload":{"text":"from redis-cli"}}"#;
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}room:1"))
        .arg(by_hand)
        .query_async::<i64>(&mut connection)
        .await
        .unwrap();
    assert_eq!(client.recv().await, json!({"type": "NEWS", "payload": {"text": "from redis-cli"}}));
    // ws-kit's client ids are not UUIDs: such an exclude matches no wskit connection, so
    // the message is delivered, without the key.
    let from_ws_kit = r#"{"topic":"room:1","type":"NEWS","payload":{"text":"from ws-kit"},"meta":{"excludeClientId":"client-7f3a"}}"#;
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}room:1"))
        .arg(from_ws_kit)
        .query_async::<i64>(&mut connection)
        .await
        .unwrap();
    assert_eq!(client.recv().await, json!({"type": "NEWS", "payload": {"text": "from ws-kit"}}));
    // Garbage on the channel is ignored, and the bus carries on.
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}room:1"))
        .arg("not json")
        .query_async::<i64>(&mut connection)
        .await
        .unwrap();
    hub.publish("room:1", &News { text: "after".into() }).await.unwrap();
    assert_eq!(client.recv().await["payload"]["text"], "after");
}

/// A router with nothing to handle: its connections only receive.
struct Listener;

#[wskit::router(data = String)]
impl Listener {}

#[tokio::test]
async fn sends_to_a_user_reach_their_connections_on_every_instance() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("users");
    let mut instances = Vec::new();
    for _ in 0..2 {
        let hub =
            Hub::redis(&url, RedisOptions::default().prefix(&prefix), TopicRules::default()).await.unwrap();
        let server = Server::with_data(Listener, |parts| parts.uri.query().unwrap_or_default().to_owned())
            .user(|user: &String| Some(user.clone()))
            .path("/ws")
            .hub(hub.clone());
        instances.push((TestServer::start(server).await, hub));
    }
    let [(one, hub_one), (two, hub_two)] = &instances[..] else { unreachable!() };
    let mut phone = RawClient::connect(&one.url("/ws?alice")).await;
    let mut laptop = RawClient::connect(&two.url("/ws?alice")).await;
    let mut bob = RawClient::connect(&two.url("/ws?bob")).await;
    // Registered once open, which the answer to a heartbeat proves.
    for client in [&mut phone, &mut laptop, &mut bob] {
        assert_eq!(client.request(json!({"type": "__heartbeat"})).await["type"], "__heartbeat_ack");
    }
    assert!(hub_one.is_online("alice") && hub_two.is_online("bob"));
    assert_eq!(hub_two.user_connection_count("alice"), 1, "counts are per instance");

    let delivery = hub_one.send_to_user("alice", &News { text: "to every device".into() }).await.unwrap();
    assert_eq!(delivery, Delivery::Relayed);
    let expected = json!({"type": "NEWS", "payload": {"text": "to every device"}});
    assert_eq!(phone.recv().await, expected);
    assert_eq!(laptop.recv().await, expected);
    // Bob got nothing: the next frame he gets is the one sent to him.
    hub_one.send_to_user("bob", &News { text: "to bob".into() }).await.unwrap();
    assert_eq!(bob.recv().await["payload"]["text"], "to bob");
}
