//! The Redis bus recovers when Redis drops its connection (`CLIENT KILL`), and reports the
//! outage instead of losing publishes silently.
//!
//! Only the bus connections of these tests are killed: they are found by their name,
//! `wskit-bus:<prefix>`, with a prefix unique to each test.

mod rooms;

use rooms::{subscribe, News, Rooms};
use std::time::Duration;
use wskit::{BusStatus, Code, Delivery, Hub, RedisOptions, Server, TopicRules};
use wskit_examples::faults::{redis_host_port, FaultProxy};
use wskit_examples::{redis_url, unique_prefix, RawClient, TestServer};

/// A slow first retry leaves the outage observable: publishes must fail meanwhile.
fn slow_retry(prefix: &str) -> RedisOptions {
    RedisOptions::default().prefix(prefix).reconnect_delay(Duration::from_millis(500), Duration::from_secs(2))
}

/// An administrative connection to the Redis at `url`.
async fn admin(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

/// The ids (from `CLIENT LIST`) of the bus connections of `prefix`, oldest first.
async fn bus_connections(admin: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Vec<u64> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(admin).await.unwrap();
    let name = format!("name=wskit-bus:{prefix}");
    let mut ids: Vec<u64> = list
        .lines()
        .filter(|line| line.split(' ').any(|field| field == name))
        .map(|line| {
            line.strip_prefix("id=").and_then(|rest| rest.split(' ').next()).unwrap().parse().unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// Kills the connection `id`, and only it.
async fn kill(admin: &mut redis::aio::MultiplexedConnection, id: u64) {
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query_async(admin).await.unwrap();
    assert_eq!(killed, 1, "connection {id} was not there to kill");
}

#[tokio::test]
async fn the_bus_reconnects_after_its_connection_is_killed() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("recovery");
    let hub = Hub::redis(&url, slow_retry(&prefix), TopicRules::default()).await.unwrap();
    let server = TestServer::start(Server::new(Rooms).path("/ws").hub(hub.clone())).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut client, "t").await;
    assert_eq!(hub.bus_status(), BusStatus::Connected);

    let mut admin = admin(&url).await;
    let connections = bus_connections(&mut admin, &prefix).await;
    assert_eq!(connections.len(), 1, "one named connection per bus");
    kill(&mut admin, connections[0]).await;

    hub.wait_for_bus(BusStatus::Reconnecting).await;
    let error = hub.publish("t", &News { text: "lost?".into() }).await.unwrap_err();
    assert_eq!(error.code(), &Code::Unavailable);

    hub.wait_for_bus(BusStatus::Connected).await;
    let replaced = bus_connections(&mut admin, &prefix).await;
    assert!(
        replaced.len() == 1 && replaced[0] != connections[0],
        "the connection was not replaced: {replaced:?}"
    );
    assert_eq!(hub.publish("t", &News { text: "back".into() }).await.unwrap(), Delivery::Relayed);
    assert_eq!(client.recv().await["payload"]["text"], "back");
}

#[tokio::test]
async fn killing_the_publishing_instance_s_connection_leaves_the_other_instance_serving() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix("recovery-publisher");
    let mut admin = admin(&url).await;
    // Connection ids grow: the publisher's is the one there before the subscriber's hub.
    let publisher = Hub::redis(&url, slow_retry(&prefix), TopicRules::default()).await.unwrap();
    let [publisher_connection] = bus_connections(&mut admin, &prefix).await[..] else {
        panic!("one named connection per bus")
    };
    let subscriber_hub = Hub::redis(&url, slow_retry(&prefix), TopicRules::default()).await.unwrap();
    let server = TestServer::start(Server::new(Rooms).path("/ws").hub(subscriber_hub.clone())).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut client, "t").await;
    publisher.publish("t", &News { text: "before".into() }).await.unwrap();
    assert_eq!(client.recv().await["payload"]["text"], "before");

    kill(&mut admin, publisher_connection).await;
    publisher.wait_for_bus(BusStatus::Reconnecting).await;
    let error = publisher.publish("t", &News { text: "lost?".into() }).await.unwrap_err();
    assert_eq!(error.code(), &Code::Unavailable);
    // The other instance is untouched: its own publishes still reach its subscriber.
    assert_eq!(subscriber_hub.bus_status(), BusStatus::Connected);
    subscriber_hub.publish("t", &News { text: "meanwhile".into() }).await.unwrap();
    assert_eq!(client.recv().await["payload"]["text"], "meanwhile");

    publisher.wait_for_bus(BusStatus::Connected).await;
    publisher.publish("t", &News { text: "after".into() }).await.unwrap();
    assert_eq!(client.recv().await["payload"]["text"], "after");
}

#[tokio::test]
async fn a_silently_dead_connection_is_found_by_pings_and_replaced() {
    let Some(url) = redis_url().await else { return };
    let partition = FaultProxy::start(redis_host_port(&url)).await;
    let options = RedisOptions::default()
        .prefix(unique_prefix("partition"))
        .reconnect_delay(Duration::from_millis(50), Duration::from_millis(200))
        .ping_interval(Duration::from_millis(100))
        .timeout(Duration::from_millis(300));
    let hub = Hub::redis(&partition.redis_url(), options, TopicRules::default()).await.unwrap();
    let server = TestServer::start(Server::new(Rooms).path("/ws").hub(hub.clone())).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    subscribe(&mut client, "t").await;

    // No close reaches the bus: only an unanswered ping tells it the connection is dead,
    // and reconnecting times out while the partition lasts.
    partition.set_silent(true);
    tokio::time::timeout(Duration::from_secs(5), hub.wait_for_bus(BusStatus::Reconnecting))
        .await
        .expect("the pings did not notice the dead connection");
    let error = hub.publish("t", &News { text: "lost?".into() }).await.unwrap_err();
    assert_eq!(error.code(), &Code::Unavailable);

    partition.set_silent(false);
    hub.wait_for_bus(BusStatus::Connected).await;
    hub.publish("t", &News { text: "back".into() }).await.unwrap();
    assert_eq!(client.recv().await["payload"]["text"], "back");
}
