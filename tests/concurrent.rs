//! Concurrent handlers (`#[rpc(concurrent)]`): a slow request no longer holds back the
//! connection's later messages, while in-order messages keep their order; the bound, aborts
//! and deadlines of concurrent requests.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use wskit::testing::TestConnection;
use wskit::{message, router, Ctx, Error, Limits, Server};
use wskit_examples::{RawClient, TestServer, RECV_TIMEOUT};

#[message("SLOW", response = Done)]
struct Slow {
    id: u32,
}

#[message("FAST", response = Done)]
struct Fast {
    id: u32,
}

#[message("STEP")]
struct Step {
    n: u32,
}

#[message("SUBSCRIBE_LATER", response = Done)]
struct SubscribeLater;

#[message("FAIL", response = Done)]
struct Fail {
    panic: bool,
}

#[message("DONE")]
struct Done {
    id: u32,
}

#[message("STEPPED")]
struct Stepped {
    n: u32,
    steps: u32,
}

/// The connection's data: copied into each concurrent handler.
#[derive(Default, Clone)]
struct Session {
    steps: u32,
}

#[derive(Default, Clone)]
struct App {
    /// What `SLOW` waits for.
    release: Arc<Notify>,
    /// Cancellation tokens of `SLOW` handlers that fired.
    cancelled: Arc<AtomicUsize>,
    /// Told whenever a `SLOW` handler ends or is dropped.
    ended: Arc<Notify>,
}

#[router(data = Session)]
impl App {
    #[rpc(concurrent)]
    async fn slow(&self, ctx: &mut Ctx<Session>, slow: Slow) -> Result<Done, Error> {
        let token = ctx.cancellation();
        let (cancelled, ended) = (Arc::clone(&self.cancelled), Arc::clone(&self.ended));
        let _count = scopeguard(move || {
            if token.is_cancelled() {
                cancelled.fetch_add(1, Ordering::SeqCst);
            }
            ended.notify_one();
        });
        self.release.notified().await;
        Ok(Done { id: slow.id })
    }

    #[rpc]
    async fn fast(&self, _ctx: &mut Ctx<Session>, fast: Fast) -> Result<Done, Error> {
        Ok(Done { id: fast.id })
    }

    #[on]
    async fn step(&self, ctx: &mut Ctx<Session>, step: Step) -> Result<(), Error> {
        ctx.data_mut().steps += 1;
        let steps = ctx.data().steps;
        ctx.reply(&Stepped { n: step.n, steps })
    }

    #[rpc(concurrent)]
    async fn fail(&self, _ctx: &mut Ctx<Session>, fail: Fail) -> Result<Done, Error> {
        if fail.panic {
            panic!("a concurrent handler panics");
        }
        Err(Error::not_found("nothing here"))
    }

    #[rpc(concurrent)]
    async fn subscribe_later(&self, ctx: &mut Ctx<Session>, _: SubscribeLater) -> Result<Done, Error> {
        ctx.subscribe("room").await?;
        Ok(Done { id: 0 })
    }
}

/// Runs `f` when dropped: after the handler returned, or when its future was dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

fn parse(frames: &[String]) -> Vec<Value> {
    frames.iter().map(|frame| serde_json::from_str(frame).unwrap()).collect()
}

fn slow(id: u32, correlation_id: &str) -> String {
    json!({"type": "SLOW", "meta": {"correlationId": correlation_id}, "payload": {"id": id}}).to_string()
}

#[tokio::test]
async fn a_fast_request_sent_after_a_slow_concurrent_one_is_answered_first() {
    let app = App::default();
    let server = TestServer::start(Server::new(app.clone()).path("/ws")).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    client.send(json!({"type": "SLOW", "meta": {"correlationId": "s"}, "payload": {"id": 1}})).await;
    let fast =
        client.request(json!({"type": "FAST", "meta": {"correlationId": "f"}, "payload": {"id": 2}})).await;
    assert_eq!((&fast["type"], &fast["meta"]["correlationId"]), (&json!("DONE"), &json!("f")));
    app.release.notify_one();
    let slow = client.recv().await;
    assert_eq!(slow, json!({"type": "DONE", "meta": {"correlationId": "s"}, "payload": {"id": 1}}));
}

#[tokio::test]
async fn in_order_messages_keep_their_order_while_a_concurrent_request_runs() {
    let mut connection = TestConnection::new(App::default());
    assert!(connection.start(&slow(1, "s")).await.is_empty(), "the slow request waits");
    let mut frames = Vec::new();
    for n in 1..=3 {
        frames.extend(connection.start(&json!({"type": "STEP", "payload": {"n": n}}).to_string()).await);
    }
    let frames = parse(&frames);
    let steps: Vec<_> =
        frames.iter().map(|frame| (&frame["payload"]["n"], &frame["payload"]["steps"])).collect();
    assert_eq!(steps, [(&json!(1), &json!(1)), (&json!(2), &json!(2)), (&json!(3), &json!(3))]);
}

#[tokio::test]
async fn the_concurrent_request_beyond_the_bound_is_refused_and_the_others_go_on() {
    let limits = Limits::default().max_concurrent_handlers(2);
    let app = App::default();
    let mut connection = TestConnection::with_hub(app, Session::default(), wskit::Hub::memory(), limits);
    assert!(connection.start(&slow(1, "a")).await.is_empty());
    assert!(connection.start(&slow(2, "b")).await.is_empty());
    let refused = parse(&connection.start(&slow(3, "c")).await);
    assert_eq!(refused.len(), 1);
    assert_eq!(
        (&refused[0]["type"], &refused[0]["meta"]["correlationId"]),
        (&json!("RPC_ERROR"), &json!("c"))
    );
    assert_eq!(refused[0]["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(refused[0]["payload"]["details"]["limit"], 2);
    let fast = parse(
        &connection
            .start(&json!({"type": "FAST", "meta": {"correlationId": "f"}, "payload": {"id": 4}}).to_string())
            .await,
    );
    assert_eq!(fast[0]["meta"]["correlationId"], "f", "in-order requests are not held back");
}

#[tokio::test]
async fn an_abort_cancels_a_concurrent_request_and_fires_its_token() {
    let app = App::default();
    let mut connection = TestConnection::new(app.clone());
    assert!(connection.start(&slow(1, "a")).await.is_empty());
    assert!(connection.start(&slow(2, "b")).await.is_empty());
    let abort = json!({"type": "$ws:abort", "meta": {"correlationId": "a"}}).to_string();
    let frames = parse(&connection.start(&abort).await);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!((&frames[0]["type"], &frames[0]["meta"]["correlationId"]), (&json!("RPC_ERROR"), &json!("a")));
    assert_eq!(frames[0]["payload"]["code"], "CANCELLED");
    assert_eq!(app.cancelled.load(Ordering::SeqCst), 1, "the aborted handler saw its token fire");
    app.release.notify_one();
    let frames = parse(&connection.start(&json!({"type": "STEP", "payload": {"n": 1}}).to_string()).await);
    assert_eq!(frames[0]["payload"]["n"], 1);
    assert_eq!(frames[1], json!({"type": "DONE", "meta": {"correlationId": "b"}, "payload": {"id": 2}}));
}

#[tokio::test]
async fn a_concurrent_request_past_its_deadline_is_cancelled() {
    let app = App::default();
    let mut connection = TestConnection::new(app.clone());
    let request =
        json!({"type": "SLOW", "meta": {"correlationId": "d", "timeoutMs": 100}, "payload": {"id": 1}});
    assert!(connection.start(&request.to_string()).await.is_empty());
    assert!(connection.advance(Duration::from_millis(99)).await.is_empty());
    let frames = parse(&connection.advance(Duration::from_millis(1)).await);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!((&frames[0]["type"], &frames[0]["meta"]["correlationId"]), (&json!("RPC_ERROR"), &json!("d")));
    assert_eq!(frames[0]["payload"]["code"], "DEADLINE_EXCEEDED");
    assert_eq!(app.cancelled.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_concurrent_handler_cannot_change_the_subscriptions() {
    let mut connection = TestConnection::new(App::default());
    let frames = parse(&connection.send(r#"{"type":"SUBSCRIBE_LATER","meta":{"correlationId":"x"}}"#).await);
    assert_eq!(
        (&frames[0]["type"], &frames[0]["payload"]["code"]),
        (&json!("RPC_ERROR"), &json!("FAILED_PRECONDITION"))
    );
}

#[tokio::test]
async fn a_failing_or_panicking_concurrent_handler_gets_its_one_rpc_error() {
    let mut connection = TestConnection::new(App::default());
    for (panic, code) in [(false, "NOT_FOUND"), (true, "INTERNAL")] {
        let request = json!({"type": "FAIL", "meta": {"correlationId": "x"}, "payload": {"panic": panic}});
        let frames = parse(&connection.send(&request.to_string()).await);
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(
            (&frames[0]["type"], &frames[0]["meta"]["correlationId"]),
            (&json!("RPC_ERROR"), &json!("x"))
        );
        assert_eq!(frames[0]["payload"]["code"], code);
    }
    let frames = parse(&connection.send(r#"{"type":"FAST","payload":{"id":1}}"#).await);
    assert_eq!(frames[0]["payload"]["id"], 1, "the connection goes on");
}

#[tokio::test]
async fn a_disconnect_cancels_the_running_concurrent_handlers() {
    let app = App::default();
    let server = TestServer::start(Server::new(app.clone()).path("/ws")).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    client.send(json!({"type": "SLOW", "meta": {"correlationId": "s"}, "payload": {"id": 1}})).await;
    // Answered after the slow request's turn: its handler has started.
    assert_eq!(client.request(json!({"type": "FAST", "payload": {"id": 2}})).await["payload"]["id"], 2);
    client.close().await;
    app.ended.notified().await;
    assert_eq!(app.cancelled.load(Ordering::SeqCst), 1, "the handler saw its token fire");
}

/// Starts `app` with `grace`, connects, and starts a concurrent `SLOW` request on it.
async fn slow_request_running(app: &App, grace: Duration) -> (TestServer, RawClient) {
    let server = Server::new(app.clone()).path("/ws").shutdown_grace(grace);
    let server = TestServer::start(server).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    client.send(json!({"type": "SLOW", "meta": {"correlationId": "s"}, "payload": {"id": 1}})).await;
    // Answered after the slow request's turn: its handler has started.
    assert_eq!(client.request(json!({"type": "FAST", "payload": {"id": 2}})).await["payload"]["id"], 2);
    (server, client)
}

/// Waits until the server, stopping, refuses new connections.
async fn until_refused(url: &str) {
    let connect = || tokio::time::timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(url));
    while connect().await.expect("the server answers or refuses").is_ok() {}
}

#[tokio::test]
async fn graceful_shutdown_lets_a_running_concurrent_handler_finish() {
    let app = App::default();
    let (server, mut client) = slow_request_running(&app, Duration::from_secs(10)).await;
    let url = server.url("/ws");
    let stopping = tokio::spawn(server.stop());
    until_refused(&url).await;
    app.release.notify_one();
    let slow = client.recv().await;
    assert_eq!(slow, json!({"type": "DONE", "meta": {"correlationId": "s"}, "payload": {"id": 1}}));
    assert_eq!(client.closed().await.0, 1001);
    stopping.await.unwrap();
    assert_eq!(app.cancelled.load(Ordering::SeqCst), 0, "the handler finished, not cancelled");
}

#[tokio::test]
async fn graceful_shutdown_cancels_a_concurrent_handler_still_running_after_the_grace_period() {
    let app = App::default();
    let (server, mut client) = slow_request_running(&app, Duration::from_millis(200)).await;
    let ended = app.ended.notified();
    let stopping = tokio::spawn(server.stop());
    assert_eq!(client.closed().await.0, 1001);
    ended.await;
    assert_eq!(app.cancelled.load(Ordering::SeqCst), 1, "the handler saw its token fire");
    tokio::time::timeout(RECV_TIMEOUT, stopping).await.expect("shutdown ends").unwrap();
}
