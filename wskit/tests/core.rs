//! The protocol core without sockets: what a connection does while a handler runs
//! (`$ws:abort`, deadlines on a clock the test moves, the in-flight limit, heartbeats),
//! its close codes and its path parameters, driven through `TestConnection`.

use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wskit::testing::TestConnection;
use wskit::{message, router, Close, Ctx, Error, Hub, LimitKind, Limits, Oversize};

#[message("WAIT", response = Done)]
struct Wait {
    id: u32,
}

#[message("DONE")]
struct Done {
    id: u32,
}

#[message("ECHO")]
struct Echo {
    text: String,
}

#[message("WHERE")]
struct Where;

#[message("HERE")]
struct Here {
    room: Option<String>,
}

#[message("KICK")]
struct Kick;

/// Counts what its handlers do, so that tests can tell a handler that ran from one that
/// was skipped or stopped.
#[derive(Default)]
struct App {
    /// `WAIT` handlers whose future was dropped before they returned.
    stopped: Arc<AtomicUsize>,
    /// The codes `#[on_close]` saw.
    closes: Arc<Mutex<Vec<u16>>>,
}

/// Counts a handler whose future is dropped before it returns.
struct Stopped(Arc<AtomicUsize>);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[router]
impl App {
    /// Waits until cancelled: only an abort, a deadline or the connection's end stops it.
    #[rpc]
    async fn wait(&self, ctx: &mut Ctx<()>, wait: Wait) -> Result<Done, Error> {
        let guard = Stopped(Arc::clone(&self.stopped));
        ctx.cancellation().cancelled().await;
        std::mem::forget(guard);
        Ok(Done { id: wait.id })
    }

    #[on]
    async fn echo(&self, ctx: &mut Ctx<()>, echo: Echo) -> Result<(), Error> {
        ctx.reply(&echo)
    }

    #[on]
    async fn where_am_i(&self, ctx: &mut Ctx<()>, _: Where) -> Result<(), Error> {
        let room = ctx.param("room").map(str::to_owned);
        ctx.reply(&Here { room })
    }

    #[on]
    async fn kick(&self, ctx: &mut Ctx<()>, _: Kick) -> Result<(), Error> {
        ctx.close(4001, "kicked");
        Ok(())
    }

    #[on_close]
    async fn closed(&self, _ctx: &mut Ctx<()>, close: Close) {
        self.closes.lock().unwrap().push(close.code);
    }
}

fn json(frame: &str) -> Value {
    serde_json::from_str(frame).expect("the connection writes JSON")
}

fn wait(id: u32, meta: &str) -> String {
    format!(r#"{{"type":"WAIT","meta":{{"correlationId":"c{id}"{meta}}},"payload":{{"id":{id}}}}}"#)
}

fn abort(id: u32) -> String {
    format!(r#"{{"type":"$ws:abort","meta":{{"correlationId":"c{id}"}}}}"#)
}

/// Asserts `frame` is the `RPC_ERROR` of request `id` with `code`.
fn assert_rpc_error(frame: &str, id: u32, code: &str) -> Value {
    let frame = json(frame);
    assert_eq!(frame["type"], "RPC_ERROR", "{frame}");
    assert_eq!(frame["meta"]["correlationId"], format!("c{id}"), "{frame}");
    assert_eq!(frame["payload"]["code"], code, "{frame}");
    frame
}

#[tokio::test]
async fn an_abort_stops_the_running_request_and_answers_cancelled() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let router = App { stopped: Arc::clone(&stopped), ..App::default() };
    let mut connection = TestConnection::new(router);
    assert!(connection.start(&wait(1, "")).await.is_empty(), "the handler waits");
    assert_eq!(stopped.load(Ordering::SeqCst), 0);
    let frames = connection.send(&abort(1)).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_rpc_error(&frames[0], 1, "CANCELLED");
    assert_eq!(stopped.load(Ordering::SeqCst), 1, "the handler's future was dropped");
    // The connection goes on.
    let frames = connection.send(r#"{"type":"ECHO","payload":{"text":"still here"}}"#).await;
    assert_eq!(json(&frames[0])["payload"]["text"], "still here");
    // An abort of nothing in flight is no error.
    assert!(connection.send(&abort(7)).await.is_empty());
    assert!(connection.closed().is_none());
}

#[tokio::test]
async fn an_abort_takes_a_waiting_request_out_of_the_queue() {
    let mut connection = TestConnection::new(App::default());
    connection.start(&wait(1, "")).await;
    assert!(connection.start(&wait(2, "")).await.is_empty(), "queued behind the first");
    let frames = connection.start(&abort(2)).await;
    assert_rpc_error(&frames[0], 2, "CANCELLED");
    let frames = connection.send(&abort(1)).await;
    assert_eq!(frames.len(), 1, "the second request never runs: {frames:?}");
    assert_rpc_error(&frames[0], 1, "CANCELLED");
}

#[tokio::test]
async fn a_request_is_cancelled_at_its_deadline_on_the_connections_clock() {
    let mut connection = TestConnection::new(App::default());
    assert!(connection.start(&wait(1, r#","timeoutMs":500"#)).await.is_empty());
    assert!(connection.advance(Duration::from_millis(499)).await.is_empty());
    let frames = connection.advance(Duration::from_millis(1)).await;
    let frame = assert_rpc_error(&frames[0], 1, "DEADLINE_EXCEEDED");
    assert_eq!(frame["payload"]["retryable"], true);
    assert_eq!(frames.len(), 1, "one terminal frame: {frames:?}");
}

#[tokio::test]
async fn the_servers_rpc_timeout_caps_what_the_client_asks_for() {
    let limits = Limits::default().rpc_timeout(Duration::from_millis(100));
    let mut connection = TestConnection::with_hub(App::default(), (), Hub::memory(), limits);
    connection.start(&wait(1, r#","timeoutMs":60000"#)).await;
    assert!(connection.advance(Duration::from_millis(99)).await.is_empty());
    let frames = connection.advance(Duration::from_millis(1)).await;
    assert_rpc_error(&frames[0], 1, "DEADLINE_EXCEEDED");
}

#[tokio::test]
async fn a_request_past_its_deadline_while_queued_is_answered_without_running() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let router = App { stopped: Arc::clone(&stopped), ..App::default() };
    let mut connection = TestConnection::new(router);
    connection.start(&wait(1, r#","timeoutMs":1000"#)).await;
    // The second one's deadline counts from its arrival, also while it waits its turn.
    connection.start(&wait(2, r#","timeoutMs":200"#)).await;
    connection.advance(Duration::from_millis(300)).await;
    let frames = connection.advance(Duration::from_millis(700)).await;
    assert_rpc_error(&frames[0], 1, "DEADLINE_EXCEEDED");
    assert_rpc_error(&frames[1], 2, "DEADLINE_EXCEEDED");
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(stopped.load(Ordering::SeqCst), 1, "only the first handler ran and was stopped");
}

#[tokio::test]
async fn a_message_beyond_the_in_flight_limit_is_refused_at_once() {
    let reached = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&reached);
    let limits = Limits::default()
        .max_in_flight(2)
        .on_exceeded(move |exceeded| seen.lock().unwrap().push((exceeded.kind, exceeded.limit)));
    let mut connection = TestConnection::with_hub(App::default(), (), Hub::memory(), limits);
    connection.start(&wait(1, "")).await;
    assert!(connection.start(&wait(2, "")).await.is_empty(), "two in flight: the limit");
    let frames = connection.start(&wait(3, "")).await;
    let frame = assert_rpc_error(&frames[0], 3, "RESOURCE_EXHAUSTED");
    assert_eq!(frame["payload"]["details"]["limit"], 2);
    assert_eq!(*reached.lock().unwrap(), [(LimitKind::InFlight, 2)]);
    // Heartbeats are no messages: answered at once, whatever is in flight.
    let frames = connection.start(r#"{"type":"__heartbeat"}"#).await;
    assert_eq!(json(&frames[0])["type"], "__heartbeat_ack");
    let frames = connection.start(&abort(1)).await;
    assert_rpc_error(&frames[0], 1, "CANCELLED");
}

#[tokio::test]
async fn messages_that_arrive_while_a_handler_waits_run_in_order_after_it() {
    let mut connection = TestConnection::new(App::default());
    connection.start(&wait(1, "")).await;
    for text in ["a", "b"] {
        let frame = format!(r#"{{"type":"ECHO","payload":{{"text":"{text}"}}}}"#);
        assert!(connection.start(&frame).await.is_empty(), "waits for its turn");
    }
    let frames = connection.send(&abort(1)).await;
    let types: Vec<Value> = frames.iter().map(|frame| json(frame)["payload"]["text"].clone()).collect();
    assert_rpc_error(&frames[0], 1, "CANCELLED");
    assert_eq!(types[1..], ["a", "b"]);
}

#[tokio::test]
async fn close_codes() {
    // A handler's close.
    let mut connection = TestConnection::new(App::default());
    connection.send(r#"{"type":"KICK"}"#).await;
    assert_eq!(connection.closed().map(|close| close.code), Some(4001));
    assert!(connection.send(r#"{"type":"ECHO","payload":{"text":"x"}}"#).await.is_empty());

    // Too many protocol errors in a row: 1008, after each was answered.
    let limits = Limits::default().max_consecutive_errors(3);
    let mut connection = TestConnection::with_hub(App::default(), (), Hub::memory(), limits);
    for _ in 0..2 {
        assert_eq!(json(&connection.send("not json").await[0])["payload"]["code"], "INVALID_ARGUMENT");
        assert!(connection.closed().is_none());
    }
    connection.send("not json").await;
    assert_eq!(connection.closed().map(|close| close.code), Some(Close::POLICY));

    // A frame above the size limit, when so configured: 1009.
    let limits = Limits::default().max_message_bytes(64).on_oversize(Oversize::Close);
    let mut connection = TestConnection::with_hub(App::default(), (), Hub::memory(), limits);
    connection.send(&format!(r#"{{"type":"ECHO","payload":{{"text":"{}"}}}}"#, "x".repeat(100))).await;
    assert_eq!(connection.closed().map(|close| close.code), Some(Close::TOO_BIG));

    // The client's close ends a waiting handler and reaches `#[on_close]`.
    let (stopped, closes) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
    let router = App { stopped: Arc::clone(&stopped), closes: Arc::clone(&closes) };
    let mut connection = TestConnection::new(router);
    connection.start(&wait(1, "")).await;
    connection.close_from_client(4100, "bye").await;
    assert_eq!(connection.closed().map(|close| close.code), Some(4100));
    assert_eq!(stopped.load(Ordering::SeqCst), 1);
    assert_eq!(*closes.lock().unwrap(), [4100]);
}

#[tokio::test]
async fn binary_frames_holding_utf8_are_messages_and_others_are_refused() {
    let mut connection = TestConnection::new(App::default());
    let frames = connection.send_binary(br#"{"type":"ECHO","payload":{"text":"bin"}}"#).await;
    assert_eq!(json(&frames[0])["payload"]["text"], "bin");
    let frames = connection.send_binary(&[0xff, 0xfe]).await;
    let frame = json(&frames[0]);
    assert_eq!(
        (frame["type"].as_str(), frame["payload"]["code"].as_str()),
        (Some("ERROR"), Some("INVALID_ARGUMENT"))
    );
    assert!(connection.closed().is_none());
}

#[tokio::test]
async fn path_parameters_reach_handlers() {
    let mut connection = TestConnection::new(App::default()).param("room", "lobby");
    let frames = connection.send(r#"{"type":"WHERE"}"#).await;
    assert_eq!(json(&frames[0])["payload"]["room"], "lobby");
    let mut connection = TestConnection::new(App::default());
    let frames = connection.send(r#"{"type":"WHERE"}"#).await;
    assert!(json(&frames[0])["payload"].get("room").is_none());
}

#[tokio::test]
async fn a_json_array_is_no_frame() {
    let mut connection = TestConnection::new(App::default());
    let frames = connection.send(r#"["ECHO",null,{"text":"x"}]"#).await;
    let frame = json(&frames[0]);
    assert_eq!(
        (frame["type"].as_str(), frame["payload"]["code"].as_str()),
        (Some("ERROR"), Some("INVALID_ARGUMENT"))
    );
    assert_eq!(frame["payload"]["message"], "the frame is not a JSON object");
}

#[tokio::test]
async fn an_rpc_request_without_a_correlation_id_fails_with_rpc_error() {
    let mut connection = TestConnection::new(App::default());
    connection.start(r#"{"type":"WAIT","meta":{"timeoutMs":10},"payload":{"id":1}}"#).await;
    let frames = connection.advance(Duration::from_millis(10)).await;
    let frame = json(&frames[0]);
    assert_eq!(frame["type"], "RPC_ERROR", "{frame}");
    assert_eq!(frame["meta"], serde_json::json!({}));
    assert_eq!(frame["payload"]["code"], "DEADLINE_EXCEEDED");
}
