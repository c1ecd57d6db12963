//! PROTOCOL.md section 4 over real sockets: `#[rpc]` replies, progress, cancellation,
//! deadlines, the in-flight limit, and what a connection does while a handler runs.

use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use wskit::{message, router, Ctx, Error, Limits, Server};
use wskit_examples::{RawClient, TestServer};

#[message("GET_USER", response = User)]
struct GetUser {
    id: String,
}

#[message("USER")]
struct User {
    name: String,
}

#[message("COUNT", response = Counted)]
struct Count {
    to: u32,
}

#[message("COUNTED")]
struct Counted {
    sent: u32,
}

#[message("WAIT", response = Waited)]
struct Wait {
    millis: u64,
}

#[message("WAITED")]
struct Waited;

#[message("HOW_LONG", response = Remaining)]
struct HowLong;

#[message("REMAINING")]
struct Remaining {
    millis: u64,
}

#[message("TWICE", response = User)]
struct Twice;

#[message("NOTE")]
struct Note {
    n: u32,
}

#[message("NOTED")]
struct Noted {
    n: u32,
    /// How long the note waited between its arrival and its handler.
    waited_ms: u64,
}

/// What the handlers signal to the test.
#[derive(Default)]
struct Signals {
    started: Notify,
    cancelled: Notify,
    /// How many `WAIT` handlers started.
    waits: std::sync::atomic::AtomicUsize,
    /// What `ctx.progress` answered after an early reply.
    progress_after_reply: std::sync::Mutex<Option<bool>>,
}

struct Rpcs(Arc<Signals>);

#[router]
impl Rpcs {
    #[rpc]
    async fn get_user(&self, ctx: &mut Ctx<()>, req: GetUser) -> Result<User, Error> {
        if req.id != "1" {
            return Err(Error::not_found("no such user").with_detail("id", req.id));
        }
        ctx.progress(&json!({"stage": "loading"}));
        Ok(User { name: "alice".into() })
    }

    #[rpc]
    async fn count(&self, ctx: &mut Ctx<()>, req: Count) -> Result<Counted, Error> {
        let mut sent = 0;
        for n in 1..=req.to {
            sent += u32::from(ctx.progress(&n));
        }
        Ok(Counted { sent })
    }

    #[rpc]
    async fn wait(&self, ctx: &mut Ctx<()>, req: Wait) -> Result<Waited, Error> {
        let token = ctx.cancellation();
        let signals = self.0.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            signals.cancelled.notify_one();
        });
        self.0.waits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.started.notify_one();
        tokio::time::sleep(Duration::from_millis(req.millis)).await;
        Ok(Waited)
    }

    /// Replies early, then returns a response too: only the first is sent.
    #[rpc]
    async fn twice(&self, ctx: &mut Ctx<()>, _: Twice) -> Result<User, Error> {
        ctx.reply(&User { name: "first".into() })?;
        *self.0.progress_after_reply.lock().unwrap() = Some(ctx.progress(&"late"));
        Ok(User { name: "second".into() })
    }

    #[rpc]
    async fn how_long(&self, ctx: &mut Ctx<()>, _: HowLong) -> Result<Remaining, Error> {
        let remaining = ctx.time_remaining().expect("an RPC has a deadline");
        Ok(Remaining { millis: remaining.as_millis() as u64 })
    }

    #[on]
    async fn note(&self, ctx: &mut Ctx<()>, note: Note) -> Result<(), Error> {
        assert!(ctx.deadline().is_none(), "only RPC requests have a deadline");
        let waited = ctx.received_at().elapsed().unwrap_or_default();
        ctx.reply(&Noted { n: note.n, waited_ms: waited.as_millis() as u64 })
    }
}

async fn start(limits: Limits) -> (TestServer, RawClient, Arc<Signals>) {
    let signals = Arc::new(Signals::default());
    let server = TestServer::start(Server::new(Rpcs(signals.clone())).path("/ws").limits(limits)).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    (server, client, signals)
}

/// Sends a long `WAIT` with `id` and returns once its handler runs.
async fn start_waiting(client: &mut RawClient, signals: &Signals, id: &str) {
    let started = signals.started.notified();
    client.send(json!({"type": "WAIT", "meta": {"correlationId": id}, "payload": {"millis": 600_000}})).await;
    started.await;
}

fn abort(id: &str) -> serde_json::Value {
    json!({"type": "$ws:abort", "meta": {"correlationId": id}})
}

#[tokio::test]
async fn serves_the_protocol_example_frame_for_frame() {
    let (_server, mut client, _) = start(Limits::default()).await;
    client
        .send_text(r#"{"type":"GET_USER","meta":{"timestamp":1795331894211,"correlationId":"ea8d"},"payload":{"id":"1"}}"#)
        .await;
    assert_eq!(
        client.recv().await,
        json!({"type":"$ws:rpc-progress","meta":{"correlationId":"ea8d"},"payload":{"stage":"loading"},"data":{"stage":"loading"}})
    );
    assert_eq!(
        client.recv().await,
        json!({"type":"USER","meta":{"correlationId":"ea8d"},"payload":{"name":"alice"}})
    );
}

#[tokio::test]
async fn a_request_gets_one_reply_or_one_rpc_error() {
    let (_server, mut client, _) = start(Limits::default()).await;
    // Without a correlation id it is still served; its frames carry an empty meta.
    client.send(json!({"type": "GET_USER", "payload": {"id": "1"}})).await;
    assert_eq!(client.recv().await["meta"], json!({}));
    assert_eq!(client.recv().await, json!({"type": "USER", "meta": {}, "payload": {"name": "alice"}}));
    let error = client
        .request(json!({"type": "GET_USER", "meta": {"correlationId": "x"}, "payload": {"id": "2"}}))
        .await;
    assert_eq!(error["type"], "RPC_ERROR");
    assert_eq!(error["meta"], json!({"correlationId": "x"}));
    assert_eq!(error["payload"]["code"], "NOT_FOUND");
    assert_eq!(error["payload"]["details"], json!({"id": "2"}));
}

#[tokio::test]
async fn progress_frames_come_in_order_before_the_terminal_reply() {
    let (_server, mut client, _) = start(Limits::default()).await;
    client.send(json!({"type": "COUNT", "meta": {"correlationId": "c"}, "payload": {"to": 3}})).await;
    for n in 1..=3 {
        let frame = client.recv().await;
        assert_eq!(frame["type"], "$ws:rpc-progress");
        assert_eq!(frame["meta"], json!({"correlationId": "c"}));
        assert_eq!((frame["payload"].clone(), frame["data"].clone()), (json!(n), json!(n)));
    }
    assert_eq!(
        client.recv().await,
        json!({"type": "COUNTED", "meta": {"correlationId": "c"}, "payload": {"sent": 3}})
    );
    // Nothing more for that request: the next frame answers the next message.
    assert_eq!(client.request(json!({"type": "NOTE", "payload": {"n": 1}})).await["type"], "NOTED");
}

#[tokio::test]
async fn progress_is_dropped_under_backpressure_but_the_reply_is_not() {
    let (_server, mut client, _) = start(Limits::default().max_queued_frames(4)).await;
    // The handler does not yield, so nothing is written while it runs: progress stops
    // once half the queue is taken, and the reply still fits.
    client.send(json!({"type": "COUNT", "meta": {"correlationId": "c"}, "payload": {"to": 10}})).await;
    for n in 1..=2 {
        assert_eq!(client.recv().await["payload"], json!(n));
    }
    assert_eq!(client.recv().await["payload"], json!({"sent": 2}));
}

#[tokio::test]
async fn abort_cancels_the_running_request_and_its_token() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    start_waiting(&mut client, &signals, "w").await;
    let cancelled = signals.cancelled.notified();
    client.send(abort("w")).await;
    let frame = client.recv().await;
    assert_eq!(
        (frame["type"].as_str(), frame["payload"]["code"].as_str()),
        (Some("RPC_ERROR"), Some("CANCELLED"))
    );
    assert_eq!(frame["meta"], json!({"correlationId": "w"}));
    cancelled.await;
    assert_eq!(client.request(json!({"type": "NOTE", "payload": {"n": 1}})).await["type"], "NOTED");
}

#[tokio::test]
async fn an_abort_finds_the_running_request_by_its_id_however_either_frame_spells_it() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    let started = signals.started.notified();
    // The request's id written with an escape, its keys in another order than usual.
    client
        .send_text(
            r#"{"payload":{"millis":600000},"meta":{"timestamp":1,"correlationId":"w\u0031"},"type":"WAIT"}"#,
        )
        .await;
    started.await;
    let cancelled = signals.cancelled.notified();
    client.send_text(r#"{"type":"$ws:abort","meta":{"correlationId":"w1"}}"#).await;
    let frame = client.recv().await;
    assert_eq!(
        (frame["type"].as_str(), frame["meta"].clone()),
        (Some("RPC_ERROR"), json!({"correlationId": "w1"}))
    );
    assert_eq!(frame["payload"]["code"], "CANCELLED");
    cancelled.await;
}

#[tokio::test]
async fn an_abort_for_another_id_leaves_the_running_request_alone() {
    let (_server, mut client, _) = start(Limits::default()).await;
    client.send(json!({"type": "WAIT", "meta": {"correlationId": "w"}, "payload": {"millis": 200}})).await;
    client.send(abort("other")).await;
    assert_eq!(client.recv().await, json!({"type": "WAITED", "meta": {"correlationId": "w"}}));
}

#[tokio::test]
async fn the_deadline_of_meta_timeout_ms_cancels_the_request() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    let cancelled = signals.cancelled.notified();
    let frame = client
        .request(json!({"type": "WAIT", "meta": {"correlationId": "d", "timeoutMs": 100}, "payload": {"millis": 600_000}}))
        .await;
    assert_eq!(frame["type"], "RPC_ERROR");
    assert_eq!(frame["payload"]["code"], "DEADLINE_EXCEEDED");
    assert_eq!(frame["payload"]["retryAfterMs"], 50);
    assert_eq!(frame["meta"], json!({"correlationId": "d"}));
    cancelled.await;
}

#[tokio::test]
async fn the_server_default_deadline_applies_and_caps_the_clients() {
    let (_server, mut client, _) = start(Limits::default().rpc_timeout(Duration::from_millis(150))).await;
    let frame = client
        .request(json!({"type": "WAIT", "meta": {"correlationId": "d"}, "payload": {"millis": 600_000}}))
        .await;
    assert_eq!(frame["payload"]["code"], "DEADLINE_EXCEEDED");
    let frame = client.request(json!({"type": "HOW_LONG", "meta": {"timeoutMs": 60_000}})).await;
    assert!(frame["payload"]["millis"].as_u64().unwrap() <= 150, "{frame}");
}

#[tokio::test]
async fn handlers_see_the_time_remaining() {
    let (_server, mut client, _) = start(Limits::default()).await;
    let frame = client.request(json!({"type": "HOW_LONG", "meta": {"timeoutMs": 5000}})).await;
    let millis = frame["payload"]["millis"].as_u64().unwrap();
    assert!((4000..=5000).contains(&millis), "{frame}");
}

#[tokio::test]
async fn heartbeats_are_answered_while_a_handler_runs() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    start_waiting(&mut client, &signals, "w").await;
    assert_eq!(client.request(json!({"type": "__heartbeat"})).await["type"], "__heartbeat_ack");
    client.send(abort("w")).await;
    assert_eq!(client.recv().await["payload"]["code"], "CANCELLED");
}

#[tokio::test]
async fn messages_behind_a_running_handler_keep_their_arrival_order() {
    let (_server, mut client, _) = start(Limits::default()).await;
    client.send(json!({"type": "WAIT", "meta": {"correlationId": "w"}, "payload": {"millis": 200}})).await;
    for n in 1..=3 {
        client.send(json!({"type": "NOTE", "payload": {"n": n}})).await;
    }
    assert_eq!(client.recv().await["type"], "WAITED");
    for n in 1..=3 {
        let noted = client.recv().await;
        assert_eq!(noted["payload"]["n"], n);
        // `received_at` is the arrival, not the start of the handler: it waited behind WAIT.
        assert!(noted["payload"]["waitedMs"].as_u64().unwrap() >= 100, "{noted}");
    }
}

#[tokio::test]
async fn an_abort_cancels_a_waiting_request_before_it_runs() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    start_waiting(&mut client, &signals, "w").await;
    client
        .send(json!({"type": "GET_USER", "meta": {"correlationId": "queued"}, "payload": {"id": "1"}}))
        .await;
    client.send(abort("queued")).await;
    let frame = client.recv().await;
    assert_eq!(frame["meta"], json!({"correlationId": "queued"}));
    assert_eq!(frame["payload"]["code"], "CANCELLED");
    client.send(abort("w")).await;
    assert_eq!(client.recv().await["meta"], json!({"correlationId": "w"}));
    // The cancelled request never runs: the next frame answers the next message.
    assert_eq!(client.request(json!({"type": "NOTE", "payload": {"n": 7}})).await["payload"]["n"], 7);
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_are_refused_at_once() {
    let (_server, mut client, signals) = start(Limits::default().max_in_flight(3)).await;
    start_waiting(&mut client, &signals, "w").await;
    for id in ["a", "b", "c"] {
        client.send(json!({"type": "GET_USER", "meta": {"correlationId": id}, "payload": {"id": "1"}})).await;
    }
    // `w` runs and `a`, `b` wait: `c` would be the fourth in flight.
    let frame = client.recv().await;
    assert_eq!(frame["type"], "RPC_ERROR");
    assert_eq!(frame["meta"], json!({"correlationId": "c"}));
    assert_eq!(frame["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(frame["payload"]["details"]["limit"], 3);
    client.send(abort("w")).await;
    assert_eq!(client.recv().await["payload"]["code"], "CANCELLED");
    for id in ["a", "b"] {
        assert_eq!(client.recv().await["meta"], json!({"correlationId": id}), "progress of {id}");
        assert_eq!(
            client.recv().await,
            json!({"type": "USER", "meta": {"correlationId": id}, "payload": {"name": "alice"}})
        );
    }
}

#[tokio::test]
async fn a_disconnecting_client_cancels_its_running_request() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    start_waiting(&mut client, &signals, "w").await;
    let cancelled = signals.cancelled.notified();
    client.close().await;
    tokio::time::timeout(Duration::from_secs(5), cancelled).await.expect("the handler's token is cancelled");
}

#[tokio::test]
async fn a_malformed_frame_behind_a_running_handler_is_answered_in_its_turn() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    start_waiting(&mut client, &signals, "w").await;
    client.send_text("not json").await;
    client.send(abort("w")).await;
    assert_eq!(client.recv().await["payload"]["code"], "CANCELLED");
    assert_eq!(client.recv().await["payload"]["code"], "INVALID_ARGUMENT");
    assert_eq!(client.request(json!({"type": "NOTE", "payload": {"n": 1}})).await["type"], "NOTED");
}

#[tokio::test]
async fn an_rpc_request_gets_one_terminal_frame_even_if_its_handler_replies_early() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    let frame = client.request(json!({"type": "TWICE", "meta": {"correlationId": "t"}})).await;
    assert_eq!(frame, json!({"type": "USER", "meta": {"correlationId": "t"}, "payload": {"name": "first"}}));
    assert_eq!(*signals.progress_after_reply.lock().unwrap(), Some(false), "no progress after the reply");
    // Nothing more for `t`: the next frame answers the next message.
    assert_eq!(client.request(json!({"type": "NOTE", "payload": {"n": 1}})).await["type"], "NOTED");
}

#[tokio::test]
async fn aborting_waiting_requests_is_not_counted_as_abuse() {
    let (_server, mut client, signals) = start(Limits::default().max_consecutive_errors(3)).await;
    start_waiting(&mut client, &signals, "w").await;
    let ids: Vec<String> = (0..6).map(|n| format!("q{n}")).collect();
    for id in &ids {
        client.send(json!({"type": "GET_USER", "meta": {"correlationId": id}, "payload": {"id": "1"}})).await;
    }
    for id in &ids {
        client.send(abort(id)).await;
        assert_eq!(client.recv().await["meta"]["correlationId"], id.as_str());
    }
    client.send(abort("w")).await;
    assert_eq!(client.recv().await["payload"]["code"], "CANCELLED");
    assert_eq!(client.request(json!({"type": "NOTE", "payload": {"n": 1}})).await["type"], "NOTED");
}

#[tokio::test]
async fn a_request_that_waited_past_its_deadline_is_answered_without_running() {
    let (_server, mut client, signals) = start(Limits::default()).await;
    start_waiting(&mut client, &signals, "w").await;
    client
        .send(json!({"type": "WAIT", "meta": {"correlationId": "late", "timeoutMs": 50}, "payload": {"millis": 0}}))
        .await;
    // Let its deadline pass while it waits behind `w`.
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.send(abort("w")).await;
    assert_eq!(client.recv().await["meta"]["correlationId"], "w");
    let frame = client.recv().await;
    assert_eq!(frame["meta"]["correlationId"], "late");
    assert_eq!(frame["payload"]["code"], "DEADLINE_EXCEEDED");
    assert_eq!(signals.waits.load(std::sync::atomic::Ordering::SeqCst), 1, "the late request never ran");
}
