//! The Redis bus against a real Redis (REDIS_URL, default redis://127.0.0.1:6379): two
//! server instances in one process share it; publishes from either reach both, and the
//! channel format is ws-kit's.

mod rooms;

use futures_util::StreamExt;
use rooms::{subscribe, News, Rooms};
use serde_json::json;
use wskit::{Delivery, Hub, RedisOptions, Server, TopicRules};
use wskit_examples::{redis_url, unique_prefix, RawClient, TestServer};

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
async fn exclude_self_holds_across_instances() {
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
    alice.request(json!({"type": "SAY", "payload": {"topic": "t", "text": "x", "excludeSelf": true}})).await;
    alice.request(json!({"type": "SAY", "payload": {"topic": "t", "text": "y", "excludeSelf": false}})).await;
    // Redis delivers one publisher's messages in order: had "x" reached alice, it would
    // come before "y".
    assert_eq!(alice.recv().await["payload"]["text"], "y");
    for client in [&mut alice_too, &mut bob] {
        assert_eq!(client.recv().await["payload"]["text"], "x");
        assert_eq!(client.recv().await["payload"]["text"], "y");
    }
}

#[tokio::test]
async fn the_channel_carries_ws_kit_json_both_ways() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("interop");
    let (server, hub) = instance(&url, &prefix).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut client, "room:1").await;

    // What wskit writes on the channel.
    let redis = redis::Client::open(url.as_str()).unwrap();
    let mut watcher = redis.get_async_pubsub().await.unwrap();
    watcher.subscribe(format!("{prefix}room:1")).await.unwrap();
    hub.publish_with("room:1", &News { text: "hi".into() }, &wskit::Publish::new().meta("origin", "test"))
        .await
        .unwrap();
    let message = watcher.on_message().next().await.unwrap();
    let on_wire: serde_json::Value = serde_json::from_slice(message.get_payload_bytes()).unwrap();
    assert_eq!(
        on_wire,
        json!({"topic": "room:1", "type": "NEWS", "payload": {"text": "hi"}, "meta": {"origin": "test"}})
    );
    assert_eq!(
        client.recv().await,
        json!({"type": "NEWS", "meta": {"origin": "test"}, "payload": {"text": "hi"}})
    );

    // A publish written by hand, as redis-cli or a ws-kit instance would.
    let mut connection = redis.get_multiplexed_async_connection().await.unwrap();
    let by_hand = r#"{"topic":"room:1","type":"NEWS","payload":{"text":"from redis-cli"}}"#;
    redis::cmd("PUBLISH")
        .arg(format!("{prefix}room:1"))
        .arg(by_hand)
        .query_async::<i64>(&mut connection)
        .await
        .unwrap();
    assert_eq!(client.recv().await, json!({"type": "NEWS", "payload": {"text": "from redis-cli"}}));
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
