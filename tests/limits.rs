//! The limits hook over real sockets: every limit a client reaches is reported with its
//! kind, the observed value, the limit and the client's id.

use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use wskit::{
    message, router, Ctx, Error, Hub, LimitExceeded, LimitKind, Limits, Server, SlowConsumer, TopicRules,
};
use wskit_examples::{RawClient, Received, TestServer};

#[message("PING")]
struct Ping;

#[message("PONG")]
struct Pong;

#[message("SLOW")]
struct Slow;

#[message("SUB")]
struct Sub {
    topic: String,
}

#[message("FLOOD")]
struct Flood {
    frames: u32,
}

/// Signals that a `SLOW` handler started; it then waits forever.
struct App(Arc<Notify>);

#[router]
impl App {
    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[on]
    async fn slow(&self, _ctx: &mut Ctx<()>, _: Slow) -> Result<(), Error> {
        self.0.notify_one();
        std::future::pending().await
    }

    #[on]
    async fn sub(&self, ctx: &mut Ctx<()>, sub: Sub) -> Result<(), Error> {
        ctx.subscribe(&sub.topic).await?;
        ctx.reply(&Pong)
    }

    #[on]
    async fn flood(&self, ctx: &mut Ctx<()>, flood: Flood) -> Result<(), Error> {
        for _ in 0..flood.frames {
            ctx.send(&Pong)?;
        }
        Ok(())
    }
}

type Events = Arc<Mutex<Vec<LimitExceeded>>>;

/// A server with `limits`, recording what the hook reports, and a client of it.
async fn start(limits: Limits) -> (TestServer, RawClient, Events, Arc<Notify>) {
    let events = Events::default();
    let recorded = events.clone();
    let limits = limits.on_exceeded(move |event| recorded.lock().unwrap().push(event.clone()));
    let started = Arc::new(Notify::new());
    let hub = Hub::memory_with(TopicRules::default().max_per_connection(1));
    let server = Server::new(App(started.clone())).path("/ws").limits(limits).hub(hub);
    let server = TestServer::start(server).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    (server, client, events, started)
}

/// The one event reported, with the client's id checked against the upgrade response.
fn only_event(events: &Events, client: &RawClient) -> (LimitKind, usize, usize) {
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let id = client.response.headers()["x-client-id"].to_str().unwrap();
    assert_eq!(events[0].client_id.map(|id| id.to_string()).as_deref(), Some(id));
    (events[0].kind, events[0].observed, events[0].limit)
}

#[tokio::test]
async fn reports_a_message_above_the_size_limit() {
    let (_server, mut client, events, _) = start(Limits::default().max_message_bytes(100)).await;
    let text = format!(r#"{{"type":"PING","meta":{{"pad":"{}"}}}}"#, "x".repeat(150));
    client.send_text(text.clone()).await;
    assert_eq!(client.recv().await["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(only_event(&events, &client), (LimitKind::MessageSize, text.len(), 100));
}

#[tokio::test]
async fn reports_too_many_protocol_errors_in_a_row() {
    let (_server, mut client, events, _) = start(Limits::default().max_consecutive_errors(2)).await;
    for _ in 0..2 {
        client.send_text("garbage").await;
        client.recv().await;
    }
    assert_eq!(client.closed().await.0, 1008);
    assert_eq!(only_event(&events, &client), (LimitKind::ConsecutiveErrors, 2, 2));
}

#[tokio::test]
async fn reports_a_message_beyond_the_in_flight_limit() {
    let (_server, mut client, events, started) = start(Limits::default().max_in_flight(2)).await;
    let running = started.notified();
    client.send(json!({"type": "SLOW"})).await;
    running.await;
    client.send(json!({"type": "PING"})).await;
    client.send(json!({"type": "PING"})).await;
    assert_eq!(client.recv().await["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(only_event(&events, &client), (LimitKind::InFlight, 3, 2));
}

#[tokio::test]
async fn reports_a_subscription_beyond_the_topic_limit() {
    let (_server, mut client, events, _) = start(Limits::default()).await;
    assert_eq!(client.request(json!({"type": "SUB", "payload": {"topic": "a"}})).await["type"], "PONG");
    let frame = client.request(json!({"type": "SUB", "payload": {"topic": "b"}})).await;
    assert_eq!(frame["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(only_event(&events, &client), (LimitKind::Topics, 2, 1));
}

#[tokio::test]
async fn reports_an_overflowing_outbound_queue() {
    let (_server, mut client, events, _) = start(Limits::default().max_queued_frames(4)).await;
    // The client reads, so the queue holds eight times the limit before it overflows.
    client.send(json!({"type": "FLOOD", "payload": {"frames": 40}})).await;
    loop {
        match client.next().await {
            Received::Json(_) => {}
            Received::Close(code, _) => break assert_eq!(code, 1013),
            Received::Ended => panic!("closed without a close frame"),
        }
    }
    assert_eq!(only_event(&events, &client), (LimitKind::OutboundQueue, 33, 32));
}

#[tokio::test]
async fn reports_an_upgrade_refused_because_the_server_is_full() {
    let (server, client, events, _) = start(Limits::default().max_connections(1)).await;
    let refused =
        tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(server.url("/ws")))
            .await
            .expect("an answer");
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {other:?}"),
    }
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].observed, events[0].limit, events[0].client_id),
        (LimitKind::Connections, 2, 1, None)
    );
    drop(client);
}

#[tokio::test]
async fn a_slow_consumer_may_lose_frames_instead_of_its_connection_and_is_told_how_many() {
    let limits = Limits::default().max_queued_frames(4).on_slow_consumer(SlowConsumer::Drop);
    let (_server, mut client, events, _) = start(limits).await;
    // The handler queues forty frames without waiting: 32 fit (the client reads, so eight
    // times the limit); the 33rd send fails, which ends the handler, and its error frame
    // is dropped too. Once the queue has room, a notice counts both.
    client.send(json!({"type": "FLOOD", "payload": {"frames": 40}})).await;
    for _ in 0..32 {
        assert_eq!(client.recv().await["type"], "PONG");
    }
    let notice = client.recv().await;
    assert_eq!(notice["type"], "ERROR", "{notice}");
    assert_eq!(notice["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(notice["payload"]["details"], json!({"dropped": 2, "policy": "drop-newest"}));
    assert_eq!(client.request(json!({"type": "PING"})).await, json!({"type": "PONG", "meta": {}}));
    // Reported once, with the notice: at the first frame dropped.
    assert_eq!(only_event(&events, &client), (LimitKind::OutboundQueue, 33, 32));
}

#[tokio::test]
async fn drop_oldest_delivers_the_newest_frames_and_counts_the_others() {
    let limits = Limits::default().max_queued_frames(4).on_slow_consumer(SlowConsumer::DropOldest);
    let (_server, mut client, events, _) = start(limits).await;
    // Every send succeeds; of forty frames queued at once the 32 newest remain.
    client.send(json!({"type": "FLOOD", "payload": {"frames": 40}})).await;
    for _ in 0..32 {
        assert_eq!(client.recv().await["type"], "PONG");
    }
    let notice = client.recv().await;
    assert_eq!(notice["payload"]["details"], json!({"dropped": 8, "policy": "drop-oldest"}), "{notice}");
    assert_eq!(client.request(json!({"type": "PING"})).await, json!({"type": "PONG", "meta": {}}));
    assert_eq!(only_event(&events, &client), (LimitKind::OutboundQueue, 33, 32), "reported once");
}

#[tokio::test]
async fn a_panicking_hook_does_not_take_the_connection_down() {
    let limits = Limits::default().max_message_bytes(100).on_exceeded(|_| panic!("the hook fails"));
    let server =
        TestServer::start(Server::new(App(Arc::new(Notify::new()))).path("/ws").limits(limits)).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    client.send_text(format!(r#"{{"type":"PING","meta":{{"pad":"{}"}}}}"#, "x".repeat(150))).await;
    assert_eq!(client.recv().await["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");
}
