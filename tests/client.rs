//! `wskit::client` against a real wskit server over real sockets: typed requests,
//! progress, errors, timeouts and cancellation, reconnecting with the offline queue, tokens,
//! states (PROTOCOL.md sections 4 and 7), and surviving servers that stop reading and
//! callbacks that panic or hold handles.

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use wskit::client::{Backoff, Client, ClientError, ClientOptions, QueuePolicy, State, TokenTransport};
use wskit::{message, router, Close, Code, Ctx, Error, Rejection, Retry, Server};
use wskit_examples::{TestServer, RECV_TIMEOUT};

#[message("GET_USER", response = User)]
struct GetUser {
    id: String,
}

#[message("USER")]
#[derive(Debug)]
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
#[derive(Debug)]
struct Waited;

#[message("HOW_LONG", response = Remaining)]
struct HowLong;

#[message("REMAINING")]
struct Remaining {
    millis: u64,
}

#[message("WHO_AM_I", response = Me)]
struct WhoAmI;

#[message("ME")]
struct Me {
    token: String,
}

#[message("NOTE")]
struct Note {
    #[validate(range(max = 1000))]
    n: u32,
}

#[message("NOTED")]
struct Noted {
    n: u32,
}

/// A big frame, to fill the socket buffers of a server that does not read.
#[message("BLOB")]
struct Blob {
    data: String,
}

/// What the handlers tell the test.
struct Signals {
    started: Notify,
    cancelled: Notify,
    /// Every `NOTE` received, with whether it carried `meta.timestamp`.
    notes: mpsc::UnboundedSender<(u32, bool)>,
    closes: mpsc::UnboundedSender<u16>,
}

/// The test's ends of the signals.
struct Observed {
    signals: Arc<Signals>,
    notes: mpsc::UnboundedReceiver<(u32, bool)>,
    closes: mpsc::UnboundedReceiver<u16>,
}

impl Observed {
    fn new() -> Self {
        let (notes, notes_rx) = mpsc::unbounded_channel();
        let (closes, closes_rx) = mpsc::unbounded_channel();
        let signals = Arc::new(Signals { started: Notify::new(), cancelled: Notify::new(), notes, closes });
        Observed { signals, notes: notes_rx, closes: closes_rx }
    }

    /// The numbers of the next `count` notes the server received.
    async fn notes(&mut self, count: usize) -> Vec<u32> {
        let mut notes = Vec::new();
        while notes.len() < count {
            let (n, stamped) = within(self.notes.recv()).await.expect("the server is running");
            assert!(stamped, "note {n} came without meta.timestamp");
            notes.push(n);
        }
        notes
    }
}

#[derive(Default)]
struct Session {
    token: Option<String>,
}

struct App(Arc<Signals>);

#[router(data = Session)]
impl App {
    #[rpc]
    async fn get_user(&self, ctx: &mut Ctx<Session>, req: GetUser) -> Result<User, Error> {
        match req.id.as_str() {
            "1" => Ok(User { name: "alice".into() }),
            "busy" => Err(Error::custom("BUSY", "try again soon")
                .with_detail("queue", 3)
                .with_retry(Retry::After(250))),
            _ => {
                ctx.progress(&json!({"stage": "searching"}));
                Err(Error::not_found("no such user").with_detail("id", req.id))
            }
        }
    }

    #[rpc]
    async fn count(&self, ctx: &mut Ctx<Session>, req: Count) -> Result<Counted, Error> {
        let mut sent = 0;
        for n in 1..=req.to {
            sent += u32::from(ctx.progress(&n));
            tokio::task::yield_now().await;
        }
        Ok(Counted { sent })
    }

    #[rpc]
    async fn wait(&self, ctx: &mut Ctx<Session>, req: Wait) -> Result<Waited, Error> {
        let token = ctx.cancellation();
        let signals = self.0.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            signals.cancelled.notify_one();
        });
        self.0.started.notify_one();
        tokio::time::sleep(Duration::from_millis(req.millis)).await;
        Ok(Waited)
    }

    #[rpc]
    async fn how_long(&self, ctx: &mut Ctx<Session>, _: HowLong) -> Result<Remaining, Error> {
        let remaining = ctx.time_remaining().expect("an RPC has a deadline");
        Ok(Remaining { millis: remaining.as_millis() as u64 })
    }

    #[rpc]
    async fn who_am_i(&self, ctx: &mut Ctx<Session>, _: WhoAmI) -> Result<Me, Error> {
        Ok(Me { token: ctx.data().token.clone().unwrap_or_default() })
    }

    #[on]
    async fn note(&self, ctx: &mut Ctx<Session>, note: Note) -> Result<(), Error> {
        let _ = self.0.notes.send((note.n, ctx.meta().timestamp.is_some()));
        ctx.send(&Noted { n: note.n })
    }

    #[on_close]
    async fn closed(&self, _ctx: &mut Ctx<Session>, close: Close) {
        let _ = self.0.closes.send(close.code);
    }
}

fn server(signals: &Arc<Signals>) -> Server<App> {
    Server::new(App(signals.clone())).path("/ws").shutdown_grace(Duration::from_millis(100))
}

/// A server that takes the connection's token from the upgrade request.
fn authenticating_server(signals: &Arc<Signals>) -> Server<App> {
    Server::with_authenticator(App(signals.clone()), |parts| {
        let token = wskit::token::any(parts);
        async move {
            match token {
                Some(token) => Ok(Session { token: Some(token) }),
                None => Err(Rejection::unauthorized("a token is required")),
            }
        }
    })
    .path("/ws")
    .shutdown_grace(Duration::from_millis(100))
}

/// A server on `addr`, e.g. the port of a server stopped before.
struct Restarted {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Restarted {
    async fn start(server: Server<App>, addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind the same port again");
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.serve_with_shutdown(listener, async {
            let _ = stopped.await;
        }));
        Restarted { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("server task").expect("server result");
    }
}

/// Client options for `addr` with a quick backoff.
fn options(addr: SocketAddr) -> ClientOptions {
    ClientOptions::new(format!("ws://{addr}/ws"))
        .backoff(Backoff::default().initial(Duration::from_millis(20)).max(Duration::from_millis(100)))
}

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(RECV_TIMEOUT, future).await.expect("in time")
}

async fn reach(client: &Client, state: State) {
    within(client.states().wait_for(|current| *current == state)).await.expect("the client is alive");
}

/// A loopback address nothing listens on (yet).
async fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap()
}

#[tokio::test]
async fn a_message_above_the_client_s_limit_fails_the_connection_not_the_client() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    // `{"type":"USER","meta":{...},"payload":{"name":"alice"}}` is more than 32 bytes.
    let client = Client::connect(options(server.addr).max_message_bytes(32)).await.unwrap();
    let error = within(client.request(&GetUser { id: "1".into() })).await;
    assert!(matches!(error, Err(ClientError::ConnectionClosed)), "{error:?}");
    // It reconnects, as after any other failure.
    reach(&client, State::Open).await;
}

#[tokio::test]
async fn a_request_resolves_to_its_typed_response_and_carries_the_timeout() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr).request_timeout(Duration::from_secs(2))).await.unwrap();
    let user = client.request(&GetUser { id: "1".into() }).await.unwrap();
    assert_eq!(user.name, "alice");
    // meta.timeoutMs gives the server the client's deadline.
    let remaining = client.request(&HowLong).await.unwrap().millis;
    assert!((1000..=2000).contains(&remaining), "the server's deadline is {remaining} ms away");
}

#[tokio::test]
async fn a_call_yields_progress_values_then_the_response() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr)).await.unwrap();
    let mut call = client.call::<_, u32>(&Count { to: 3 }).unwrap();
    let mut progress = Vec::new();
    while let Some(value) = call.progress().await {
        progress.push(value.unwrap());
    }
    assert_eq!(progress, [1, 2, 3]);
    assert_eq!(call.response().await.unwrap().sent, 3);

    // Progress as JSON, before an error.
    let mut call = client.call::<_, Value>(&GetUser { id: "2".into() }).unwrap();
    assert_eq!(call.progress().await.unwrap().unwrap(), json!({"stage": "searching"}));
    assert!(call.progress().await.is_none());
    assert_eq!(call.response().await.unwrap_err().as_server().unwrap().code(), &Code::NotFound);
}

#[tokio::test]
async fn server_errors_are_typed_with_details_and_retry_hints() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr)).await.unwrap();

    let error = client.request(&GetUser { id: "2".into() }).await.unwrap_err();
    let server_error = error.as_server().unwrap_or_else(|| panic!("a server error, got {error}"));
    assert_eq!(server_error.code(), &Code::NotFound);
    assert_eq!(server_error.message(), "no such user");
    assert_eq!(server_error.details().unwrap()["id"], "2");
    assert_eq!(server_error.retryable(), Some(false));

    let error = client.request(&GetUser { id: "busy".into() }).await.unwrap_err();
    let server_error = error.as_server().unwrap();
    assert_eq!(server_error.code(), &Code::Custom("BUSY".into()));
    assert_eq!(server_error.details().unwrap()["queue"], 3);
    assert_eq!(server_error.retryable(), Some(true));
    assert_eq!(server_error.retry_after(), Some(Duration::from_millis(250)));
}

#[tokio::test]
async fn an_invalid_message_is_refused_before_sending() {
    let mut observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr)).await.unwrap();
    match client.send(&Note { n: 5000 }) {
        Err(ClientError::Validation(issues)) => assert_eq!(issues[0].path, "payload.n"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    client.send(&Note { n: 1 }).unwrap();
    assert_eq!(observed.notes(1).await, [1], "only the valid note reached the server");
}

#[tokio::test]
async fn a_request_times_out_on_the_client_and_is_cancelled_on_the_server() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client =
        Client::connect(options(server.addr).request_timeout(Duration::from_millis(200))).await.unwrap();
    let cancelled = observed.signals.cancelled.notified();
    let error = client.request(&Wait { millis: 600_000 }).await.unwrap_err();
    assert!(
        matches!(error, ClientError::Timeout { after } if after == Duration::from_millis(200)),
        "{error}"
    );
    within(cancelled).await;
}

#[tokio::test]
async fn dropping_a_request_future_aborts_the_request() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr)).await.unwrap();
    let started = observed.signals.started.notified();
    let cancelled = observed.signals.cancelled.notified();
    tokio::select! {
        reply = client.request(&Wait { millis: 600_000 }) => panic!("no reply expected, got {reply:?}"),
        () = started => {}
    }
    // The request future is dropped: `$ws:abort` cancels the handler long before its
    // 30 s deadline.
    within(cancelled).await;
    assert_eq!(client.request(&GetUser { id: "1".into() }).await.unwrap().name, "alice");
}

#[tokio::test]
async fn a_pending_request_fails_when_the_connection_drops() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr)).await.unwrap();
    let started = observed.signals.started.notified();
    let request = client.request(&Wait { millis: 600_000 });
    tokio::pin!(request);
    tokio::select! {
        reply = &mut request => panic!("no reply expected, got {reply:?}"),
        () = started => {}
    }
    let (error, ()) = tokio::join!(request, server.stop());
    assert!(matches!(error, Err(ClientError::ConnectionClosed)), "{error:?}");
    assert_ne!(client.state(), State::Open);
}

#[tokio::test]
async fn reconnects_and_flushes_the_offline_queue_in_order_once() {
    let mut observed = Observed::new();
    let first = TestServer::start(server(&observed.signals)).await;
    let addr = first.addr;
    let client = Client::connect(options(addr)).await.unwrap();
    client.send(&Note { n: 0 }).unwrap();
    assert_eq!(observed.notes(1).await, [0]);

    first.stop().await;
    reach(&client, State::Reconnecting).await;
    for n in 1..=5 {
        client.send(&Note { n }).unwrap();
    }
    let restarted = Restarted::start(server(&observed.signals), addr).await;
    reach(&client, State::Open).await;
    client.send(&Note { n: 6 }).unwrap();
    // In order, and nothing twice: the next note after the queued ones is the new one.
    assert_eq!(observed.notes(6).await, [1, 2, 3, 4, 5, 6]);

    client.close().await;
    assert_eq!(client.state(), State::Closed);
    assert_eq!(within(observed.closes.recv()).await, Some(1001), "the first server went away");
    assert_eq!(within(observed.closes.recv()).await, Some(1000), "the client closed normally");
    assert!(matches!(client.send(&Note { n: 7 }), Err(ClientError::NotOpen { state: State::Closed })));
    restarted.stop().await;
}

#[tokio::test]
async fn the_token_is_fetched_anew_for_every_connect() {
    let observed = Observed::new();
    let server = TestServer::start(authenticating_server(&observed.signals)).await;
    let addr = server.addr;
    let fetched = Arc::new(AtomicUsize::new(0));
    let counter = fetched.clone();
    let options = options(addr).token_transport(TokenTransport::Subprotocol).token(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Some(format!("token-{n}")) }
    });
    let client = Client::connect(options).await.unwrap();
    assert_eq!(client.request(&WhoAmI).await.unwrap().token, "token-1");

    server.stop().await;
    reach(&client, State::Reconnecting).await;
    let restarted = Restarted::start(authenticating_server(&observed.signals), addr).await;
    reach(&client, State::Open).await;
    assert_eq!(
        client.request(&WhoAmI).await.unwrap().token,
        format!("token-{}", fetched.load(Ordering::SeqCst))
    );
    assert!(fetched.load(Ordering::SeqCst) >= 2, "fetched once per connect attempt");
    client.close().await;
    restarted.stop().await;
}

#[tokio::test]
async fn drop_oldest_keeps_the_newest_frames() {
    let mut observed = Observed::new();
    let addr = free_addr().await;
    let client = Client::new(options(addr).queue(QueuePolicy::DropOldest, 2)).unwrap();
    for n in 1..=3 {
        client.send(&Note { n }).unwrap();
    }
    let server = Restarted::start(server(&observed.signals), addr).await;
    reach(&client, State::Open).await;
    client.send(&Note { n: 4 }).unwrap();
    assert_eq!(observed.notes(3).await, [2, 3, 4]);
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn drop_newest_refuses_frames_beyond_the_capacity() {
    let mut observed = Observed::new();
    let addr = free_addr().await;
    let client = Client::new(options(addr).queue(QueuePolicy::DropNewest, 2)).unwrap();
    client.send(&Note { n: 1 }).unwrap();
    client.send(&Note { n: 2 }).unwrap();
    assert!(matches!(client.send(&Note { n: 3 }), Err(ClientError::QueueFull { capacity: 2 })));
    // A request does not fit either, and fails at once.
    assert!(matches!(client.call::<_, Value>(&WhoAmI), Err(ClientError::QueueFull { .. })));
    let server = Restarted::start(server(&observed.signals), addr).await;
    reach(&client, State::Open).await;
    client.send(&Note { n: 4 }).unwrap();
    assert_eq!(observed.notes(3).await, [1, 2, 4]);
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn without_a_queue_sending_while_not_open_fails() {
    let addr = free_addr().await;
    let client = Client::new(options(addr).queue(QueuePolicy::Off, 10)).unwrap();
    let error = client.send(&Note { n: 1 }).unwrap_err();
    assert!(
        matches!(error, ClientError::NotOpen { state: State::Connecting | State::Reconnecting }),
        "{error}"
    );
}

#[tokio::test]
async fn states_go_from_connecting_to_open_to_reconnecting_to_closed() {
    let observed = Observed::new();
    let addr = free_addr().await;
    let client = Client::new(options(addr)).unwrap();
    assert!(matches!(client.state(), State::Connecting | State::Reconnecting));
    reach(&client, State::Reconnecting).await;
    let server = Restarted::start(server(&observed.signals), addr).await;
    reach(&client, State::Open).await;
    server.stop().await;
    reach(&client, State::Reconnecting).await;
    client.close().await;
    assert_eq!(client.state(), State::Closed);
}

#[tokio::test]
async fn subscriptions_receive_typed_messages_and_the_rest_goes_to_the_hook() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr)).await.unwrap();
    let (noted, mut noted_rx) = mpsc::unbounded_channel();
    let subscription = client.on(move |message: Noted, _: &Client| {
        let _ = noted.send(message.n);
    });
    let (unhandled, mut unhandled_rx) = mpsc::unbounded_channel();
    client.on_unhandled(move |frame, _: &Client| {
        let _ = unhandled.send(frame);
    });
    client.send(&Note { n: 7 }).unwrap();
    assert_eq!(within(noted_rx.recv()).await, Some(7));

    subscription.unsubscribe();
    client.send(&Note { n: 8 }).unwrap();
    let frame = within(unhandled_rx.recv()).await.unwrap();
    assert_eq!((frame["type"].clone(), frame["payload"].clone()), (json!("NOTED"), json!({"n": 8})));
}

#[tokio::test]
async fn connecting_gives_up_after_the_last_attempt() {
    let addr = free_addr().await;
    let options = options(addr).backoff(Backoff::default().initial(Duration::from_millis(1)).max_attempts(2));
    let error = within(Client::connect(options)).await.unwrap_err();
    assert!(matches!(error, ClientError::NotOpen { state: State::Closed }), "{error}");
}

#[tokio::test]
async fn a_silent_server_is_dropped_and_the_client_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client =
        Client::new(options(addr).liveness(Duration::from_millis(50), Duration::from_millis(200))).unwrap();
    // A server that upgrades and then never reads again: the client's pings go unanswered.
    let (tcp, _) = within(listener.accept()).await.unwrap();
    let _silent = tokio_tungstenite::accept_async(tcp).await.unwrap();
    reach(&client, State::Open).await;
    reach(&client, State::Reconnecting).await;
    within(listener.accept()).await.expect("the client connects again");
}

#[tokio::test]
async fn a_request_made_while_offline_goes_out_on_open() {
    let observed = Observed::new();
    let addr = free_addr().await;
    let client = Client::new(options(addr)).unwrap();
    let call = client.call::<_, Value>(&GetUser { id: "1".into() }).unwrap();
    let server = Restarted::start(server(&observed.signals), addr).await;
    assert_eq!(within(call.response()).await.unwrap().name, "alice");
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_request_dropped_while_queued_is_never_sent() {
    let mut observed = Observed::new();
    let addr = free_addr().await;
    let client = Client::new(options(addr)).unwrap();
    let call = client.call::<_, Value>(&Wait { millis: 600_000 }).unwrap();
    client.send(&Note { n: 1 }).unwrap();
    drop(call);
    let server = Restarted::start(server(&observed.signals), addr).await;
    reach(&client, State::Open).await;
    client.send(&Note { n: 2 }).unwrap();
    // Had WAIT gone out, the notes would wait behind its ten-minute handler.
    assert_eq!(observed.notes(2).await, [1, 2]);
    client.close().await;
    server.stop().await;
}

#[tokio::test]
async fn requests_beyond_the_pending_limit_fail_at_once() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr).max_pending(1)).await.unwrap();
    let waiting = client.call::<_, Value>(&Wait { millis: 600_000 }).unwrap();
    let error = client.request(&GetUser { id: "1".into() }).await.unwrap_err();
    assert!(matches!(error, ClientError::TooManyPending { limit: 1 }), "{error}");
    drop(waiting);
    assert_eq!(client.request(&GetUser { id: "1".into() }).await.unwrap().name, "alice");
}

#[tokio::test]
async fn a_server_that_stops_reading_is_dropped_and_close_still_returns() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Pings and the silence timeout are a minute away: only the write timeout can notice.
    let options = options(addr)
        .liveness(Duration::from_secs(60), Duration::from_secs(60))
        .write_timeout(Duration::from_millis(200));
    let client = Client::new(options).unwrap();
    let (tcp, _) = within(listener.accept()).await.unwrap();
    let _deaf = tokio_tungstenite::accept_async(tcp).await.unwrap();
    reach(&client, State::Open).await;
    // Far more than the socket buffers of both ends hold.
    let blob = Blob { data: "x".repeat(512 * 1024) };
    for _ in 0..64 {
        client.send(&blob).unwrap();
    }
    reach(&client, State::Reconnecting).await;
    within(listener.accept()).await.expect("the client connects again");
    within(client.close()).await;
    assert_eq!(client.state(), State::Closed);
}

#[tokio::test]
async fn a_panicking_callback_does_not_stop_the_client() {
    let observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr)).await.unwrap();
    let (noted, mut noted_rx) = mpsc::unbounded_channel();
    let _subscription = client.on(move |message: Noted, _: &Client| {
        assert_ne!(message.n, 1, "the callback panics on the first note");
        let _ = noted.send(message.n);
    });
    client.send(&Note { n: 1 }).unwrap();
    client.send(&Note { n: 2 }).unwrap();
    assert_eq!(within(noted_rx.recv()).await, Some(2), "the callback still runs after its panic");
    assert_eq!(client.state(), State::Open);
    assert_eq!(within(client.request(&GetUser { id: "1".into() })).await.unwrap().name, "alice");
    within(client.close()).await;
}

#[tokio::test]
async fn the_client_stops_when_the_last_user_handle_is_dropped_though_a_callback_holds_one() {
    let mut observed = Observed::new();
    let server = TestServer::start(server(&observed.signals)).await;
    let client = Client::connect(options(server.addr)).await.unwrap();
    let kept: Arc<Mutex<Option<Client>>> = Arc::default();
    let keep = kept.clone();
    let _subscription = client.on(move |message: Noted, client: &Client| {
        // Answers with the handle it gets, and keeps a clone of that handle.
        if message.n == 1 {
            client.send(&Note { n: 2 }).unwrap();
        }
        *keep.lock().unwrap() = Some(client.clone());
    });
    client.send(&Note { n: 1 }).unwrap();
    assert_eq!(observed.notes(2).await, [1, 2], "the callback answered");
    assert!(kept.lock().unwrap().is_some());

    drop(client);
    assert_eq!(within(observed.closes.recv()).await, Some(1000), "the client closed normally");
    let kept = kept.lock().unwrap().take().expect("the callback kept a handle");
    reach(&kept, State::Closed).await;
    assert!(matches!(kept.send(&Note { n: 3 }), Err(ClientError::NotOpen { state: State::Closed })));
}
