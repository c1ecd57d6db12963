//! The Redis bus recovers when Redis drops its subscriber connection (`CLIENT KILL`), and
//! reports the outage instead of losing publishes silently.
//!
//! Alone in its test binary: it kills every pub/sub connection of the Redis it uses.

mod rooms;

use rooms::{subscribe, News, Rooms};
use std::time::Duration;
use wskit::{BusStatus, Code, Delivery, Hub, RedisOptions, Server, TopicRules};
use wskit_examples::{redis_url, unique_prefix, RawClient, TestServer};

#[tokio::test]
async fn the_bus_reconnects_after_its_subscriber_connection_is_killed() {
    let Some(url) = redis_url().await else { return };
    // A slow first retry leaves the outage observable: publishes must fail meanwhile.
    let options = RedisOptions::default()
        .prefix(unique_prefix("recovery"))
        .reconnect_delay(Duration::from_millis(500), Duration::from_secs(2));
    let hub = Hub::redis(&url, options, TopicRules::default()).await.unwrap();
    let server = TestServer::start(Server::new(Rooms).path("/ws").hub(hub.clone())).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut client, "t").await;
    assert_eq!(hub.bus_status(), BusStatus::Connected);

    let redis = redis::Client::open(url.as_str()).unwrap();
    let mut admin = redis.get_multiplexed_async_connection().await.unwrap();
    let killed: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.unwrap();
    assert!(killed >= 1);

    hub.wait_for_bus(BusStatus::Reconnecting).await;
    let error = hub.publish("t", &News { text: "lost?".into() }).await.unwrap_err();
    assert_eq!(error.code(), &Code::Unavailable);

    hub.wait_for_bus(BusStatus::Connected).await;
    assert_eq!(hub.publish("t", &News { text: "back".into() }).await.unwrap(), Delivery::Relayed);
    assert_eq!(client.recv().await["payload"]["text"], "back");
}
