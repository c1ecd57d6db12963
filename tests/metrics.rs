//! The `metrics` feature: `Server::metrics` serves Prometheus text, and the counters move
//! as traffic is sent: connections, messages by type and outcome, handler times, error
//! frames, refused upgrades, limits, publishes and deliveries.
//!
//! The recorder is one per process, so each check compares two scrapes, and the tests
//! take turns.

use serde_json::json;
use std::collections::HashMap;
use wskit::{message, router, Ctx, Error, Limits, Server};
use wskit_examples::{http_get, RawClient, TestServer};

#[message("PING")]
struct Ping;

#[message("PONG")]
struct Pong;

#[message("FAIL")]
struct Fail;

#[message("JOIN")]
struct Join {
    topic: String,
}

#[message("SHOUT")]
struct Shout {
    topic: String,
}

struct App;

#[router]
impl App {
    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)
    }

    #[on]
    async fn fail(&self, _: &mut Ctx<()>, _: Fail) -> Result<(), Error> {
        Err(Error::not_found("nothing here"))
    }

    #[on]
    async fn join(&self, ctx: &mut Ctx<()>, msg: Join) -> Result<(), Error> {
        ctx.subscribe(&msg.topic).await?;
        ctx.reply(&Pong)
    }

    #[on]
    async fn shout(&self, ctx: &mut Ctx<()>, msg: Shout) -> Result<(), Error> {
        ctx.publish(&msg.topic, &Pong).await?;
        Ok(())
    }
}

/// The samples of a scrape: `name{labels}` (labels as the exporter writes them) to value.
async fn scrape(server: &TestServer) -> HashMap<String, f64> {
    let response = http_get(server.addr, "/metrics").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = &response[response.find("\r\n\r\n").expect("a body") + 4..];
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.rsplit_once(' '))
        .filter_map(|(sample, value)| Some((sample.to_owned(), value.parse().ok()?)))
        .collect()
}

/// Held by each test: the counters are the process's, and another test's traffic would
/// move them.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How much `sample` grew between two scrapes.
fn grew(before: &HashMap<String, f64>, after: &HashMap<String, f64>, sample: &str) -> f64 {
    after.get(sample).copied().unwrap_or(0.0) - before.get(sample).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn counters_move_with_the_traffic() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let limits = Limits::default().max_message_bytes(64);
    let server = TestServer::start(Server::new(App).path("/ws").limits(limits).metrics("/metrics")).await;
    let before = scrape(&server).await;

    let mut alice = RawClient::connect(&server.url("/ws")).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    for _ in 0..3 {
        assert_eq!(alice.request(json!({"type": "PING"})).await["type"], "PONG");
    }
    assert_eq!(alice.request(json!({"type": "FAIL"})).await["payload"]["code"], "NOT_FOUND");
    assert_eq!(alice.request(json!({"type": "NOPE"})).await["payload"]["code"], "UNIMPLEMENTED");
    let big = "x".repeat(100);
    assert_eq!(alice.request(json!({"type": big})).await["payload"]["code"], "RESOURCE_EXHAUSTED");
    for client in [&mut alice, &mut bob] {
        client.request(json!({"type": "JOIN", "payload": {"topic": "news"}})).await;
    }
    alice.send(json!({"type": "SHOUT", "payload": {"topic": "news"}})).await;
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.recv().await["type"], "PONG");
    }
    let refused = http_get(server.addr, "/ws").await;
    assert!(refused.starts_with("HTTP/1.1 426"), "{refused}");
    let during = scrape(&server).await;

    assert_eq!(grew(&before, &during, "wskit_connections_total"), 2.0);
    assert_eq!(grew(&before, &during, "wskit_connections_open"), 2.0);
    assert_eq!(grew(&before, &during, r#"wskit_messages_total{type="PING",outcome="ok"}"#), 3.0);
    assert_eq!(grew(&before, &during, r#"wskit_messages_total{type="FAIL",outcome="error"}"#), 1.0);
    assert_eq!(grew(&before, &during, r#"wskit_messages_total{type="unrouted",outcome="error"}"#), 1.0);
    assert_eq!(grew(&before, &during, r#"wskit_handler_seconds_count{type="PING"}"#), 3.0);
    assert_eq!(grew(&before, &during, r#"wskit_error_frames_total{code="NOT_FOUND"}"#), 1.0);
    assert_eq!(grew(&before, &during, r#"wskit_error_frames_total{code="UNIMPLEMENTED"}"#), 1.0);
    assert_eq!(grew(&before, &during, r#"wskit_limits_exceeded_total{kind="message_size"}"#), 1.0);
    assert_eq!(grew(&before, &during, "wskit_publishes_total"), 1.0);
    assert_eq!(grew(&before, &during, "wskit_deliveries_total"), 2.0);
    assert_eq!(grew(&before, &during, r#"wskit_upgrades_refused_total{reason="handshake"}"#), 1.0);
    assert!(grew(&before, &during, "wskit_outbound_queue_frames_count") >= 6.0);

    alice.close().await;
    bob.close().await;
    server.stop().await;
}

#[tokio::test]
async fn resumed_sessions_are_counted_by_outcome() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let server = Server::new(App).path("/ws").metrics("/metrics").resume(wskit::Resume::enabled());
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let before = scrape(&server).await;

    let mut client = RawClient::connect(&server.url("/ws?wskit-resume=new")).await;
    let token = client.recv().await["payload"]["token"].as_str().unwrap().to_owned();
    drop(client);
    let kept = async {
        while hub.kept_sessions() != 1 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(wskit_examples::RECV_TIMEOUT, kept).await.expect("the session is kept");
    assert_eq!(scrape(&server).await["wskit_resume_sessions_kept"], 1.0);
    let mut client = RawClient::connect(&server.url(&format!("/ws?wskit-resume={token}:0"))).await;
    assert_eq!(client.recv().await["payload"]["resumed"], true);
    let mut refused = RawClient::connect(&server.url("/ws?wskit-resume=bad")).await;
    assert_eq!(refused.recv().await["payload"]["reason"], "invalid");
    refused.close().await;

    let after = scrape(&server).await;
    for (outcome, count) in [("new", 1.0), ("resumed", 1.0), ("invalid", 1.0)] {
        let sample = format!("wskit_resume_sessions_total{{outcome=\"{outcome}\"}}");
        assert_eq!(grew(&before, &after, &sample), count, "{sample}");
    }
    assert_eq!(after["wskit_resume_sessions_kept"], 0.0, "the kept session was resumed");
    client.close().await;
}
