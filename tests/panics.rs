//! A flood of panicking messages over real sockets: every message gets its INTERNAL
//! answer and other clients are still served, while the log holds one line per handler
//! and message type instead of one per panic.

use serde_json::{json, Value};
use std::io;
use std::sync::{Arc, Mutex};
use tracing_subscriber::util::SubscriberInitExt;
use wskit::middleware::{Decision, Incoming, Middleware, Next};
use wskit::{message, router, Ctx, Error, Server};
use wskit_examples::{RawClient, TestServer};

#[message("CRASH")]
struct Crash;

#[message("BREAK")]
struct Break;

#[message("PING")]
struct Ping;

#[message("PONG")]
struct Pong;

struct App;

#[router]
impl App {
    #[on]
    async fn crash(&self, _ctx: &mut Ctx<()>, _msg: Crash) -> Result<(), Error> {
        panic!("the CRASH handler failed")
    }

    #[on]
    async fn fail(&self, _ctx: &mut Ctx<()>, _msg: Break) -> Result<(), Error> {
        panic!("the BREAK handler failed")
    }

    #[on]
    async fn ping(&self, ctx: &mut Ctx<()>, _msg: Ping) -> Result<(), Error> {
        ctx.reply(&Pong)
    }
}

/// A server layer that panics on every message type the router does not handle.
struct PanicOnUnrouted;

impl Middleware<()> for PanicOnUnrouted {
    fn handle<'a>(&'a self, _ctx: &'a mut Ctx<()>, incoming: &'a Incoming<'a>) -> Decision<'a> {
        assert!(incoming.is_routed(), "the layer failed on {}", incoming.message_type());
        Box::pin(async { Ok(Next::Continue) })
    }
}

/// The formatted `tracing` output of the test's thread, which runs the server too.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Captures the events of this thread until the guard is dropped.
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let guard = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .set_default();
        (log, guard)
    }

    /// The lines that report a caught panic.
    fn panics(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines().filter(|line| line.contains("caught a panic")).map(str::to_owned).collect()
    }
}

/// Sends `count` frames of type `ty` in one batch and asserts that each is answered
/// INTERNAL.
async fn flood(client: &mut RawClient, count: usize, ty: impl Fn(usize) -> String) {
    client.send_batch((0..count).map(|i| json!({"type": ty(i)}))).await;
    for i in 0..count {
        let frame: Value = client.recv().await;
        assert_eq!(frame["type"], "ERROR", "answer {i}: {frame}");
        assert_eq!(frame["payload"]["code"], "INTERNAL", "answer {i}: {frame}");
    }
}

#[tokio::test]
async fn a_flood_of_panics_is_answered_in_full_and_logged_once_per_message_type() {
    let (log, _guard) = Log::capture();
    let server = TestServer::start(Server::new(App).path("/ws")).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(RawClient::connect(&server.url("/ws")).await);
    }
    for client in &mut clients {
        flood(client, 250, |_| "CRASH".to_owned()).await;
        flood(client, 10, |_| "BREAK".to_owned()).await;
    }
    let mut bystander = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(bystander.request(json!({"type": "PING"})).await["type"], "PONG");

    let lines = log.panics();
    assert_eq!(lines.len(), 2, "one line per message type: {lines:#?}");
    for (ty, line) in ["CRASH", "BREAK"].into_iter().zip(&lines) {
        assert!(line.contains(&format!(r#"message_type="{ty}""#)), "{line}");
        assert!(line.contains(&format!(r#"panic="the {ty} handler failed""#)), "{line}");
        assert!(line.contains("suppressed=0"), "the first panic of its type: {line}");
    }
}

#[tokio::test]
async fn panics_on_types_the_router_does_not_handle_share_one_log_line() {
    let (log, _guard) = Log::capture();
    let server = TestServer::start(Server::new(App).path("/ws").middleware(PanicOnUnrouted)).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    flood(&mut client, 500, |i| format!("MADE_UP_{i}")).await;
    assert_eq!(client.request(json!({"type": "PING"})).await["type"], "PONG");

    let lines = log.panics();
    assert_eq!(lines.len(), 1, "made-up types are logged as one: {lines:#?}");
    assert!(lines[0].contains(r#"message_type="(unrouted)""#), "{}", lines[0]);
    assert!(lines[0].contains(r#"panic="the layer failed on MADE_UP_0""#), "{}", lines[0]);
}
