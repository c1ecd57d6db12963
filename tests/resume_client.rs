//! Session resume in `wskit::client` (PROTOCOL.md section 8) over real sockets, with a TCP
//! proxy between client and server that cuts connections the way a lost network does (no
//! close frame): what the client asks for on every connect, what the application is told
//! after it, and that a resumed session delivers what was missed exactly once, in order.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use wskit::client::{Backoff, Client, ClientError, ClientOptions, Refusal, SessionStart};
use wskit::{message, router, Close, Ctx, Error, Hub, Limits, Resume, Server};
use wskit_examples::faults::FaultProxy;
use wskit_examples::{TestServer, RECV_TIMEOUT};

#[message("JOIN")]
struct Join {
    topic: String,
}

#[message("JOINED")]
struct Joined {
    topic: String,
}

#[message("NEWS")]
struct News {
    n: u32,
}

#[message("HELLO")]
struct Hello;

/// Asks for a binary frame that is not UTF-8, then `NEWS` `n`.
#[message("BINARY_THEN")]
struct BinaryThen {
    n: u32,
}

/// An RPC answered once the test releases it.
#[message("SLOW", response = Slowed)]
struct Slow;

#[message("SLOWED")]
#[derive(Debug)]
struct Slowed;

/// What the server's handlers tell the test.
#[derive(Default)]
struct Signals {
    /// `SLOW` is being handled.
    started: Notify,
    /// Lets `SLOW` answer.
    release: Notify,
    /// `SLOW` answered.
    answered: Notify,
}

/// The app of every test: joins topics on request, answers `BINARY_THEN` and `SLOW`,
/// greets every connection when `greet` is set, and reports every connection that ends.
struct App {
    greet: bool,
    signals: Arc<Signals>,
    closed: mpsc::UnboundedSender<()>,
}

#[router]
impl App {
    #[on_open]
    async fn open(&self, ctx: &mut Ctx<()>) -> Result<(), Error> {
        if self.greet {
            ctx.send(&Hello)?;
        }
        Ok(())
    }

    #[on]
    async fn join(&self, ctx: &mut Ctx<()>, join: Join) -> Result<(), Error> {
        ctx.subscribe(&join.topic).await?;
        ctx.send(&Joined { topic: join.topic })
    }

    #[on]
    async fn binary_then(&self, ctx: &mut Ctx<()>, then: BinaryThen) -> Result<(), Error> {
        ctx.send_binary(vec![0xff, 0xfe])?;
        ctx.send(&News { n: then.n })
    }

    #[rpc]
    async fn slow(&self, _ctx: &mut Ctx<()>, _: Slow) -> Result<Slowed, Error> {
        self.signals.started.notify_one();
        self.signals.release.notified().await;
        self.signals.answered.notify_one();
        Ok(Slowed)
    }

    #[on_close]
    async fn closed(&self, _ctx: &mut Ctx<()>, _close: Close) {
        let _ = self.closed.send(());
    }
}

/// What the client's application saw, in the order it saw it.
#[derive(Debug, PartialEq)]
enum Seen {
    Session(SessionStart),
    Hello,
    Joined(String),
    News(u32),
    /// A frame no callback took, by type.
    Unhandled(String),
}

/// A client with `options` that resumes sessions, behind the application every test runs:
/// on every session start that is not a resume it joins `news` (again), and it reports all
/// it sees.
fn resuming_client(options: ClientOptions) -> (Client, mpsc::UnboundedReceiver<Seen>) {
    let options = options
        .resume(true)
        .backoff(Backoff::default().initial(Duration::from_millis(20)).max(Duration::from_millis(100)));
    let client = Client::new(options).expect("a valid URL, inside a runtime");
    let (seen, events) = mpsc::unbounded_channel();
    client.on_session({
        let seen = seen.clone();
        move |start, client| {
            if !start.is_resumed() {
                client.send(&Join { topic: "news".into() }).expect("room in the queue");
            }
            let _ = seen.send(Seen::Session(start));
        }
    });
    client.on({
        let seen = seen.clone();
        move |_: Hello, _| {
            let _ = seen.send(Seen::Hello);
        }
    });
    client.on({
        let seen = seen.clone();
        move |joined: Joined, _| {
            let _ = seen.send(Seen::Joined(joined.topic));
        }
    });
    client.on({
        let seen = seen.clone();
        move |news: News, _| {
            let _ = seen.send(Seen::News(news.n));
        }
    });
    client.on_unhandled(move |frame, _| {
        let _ = seen.send(Seen::Unhandled(frame["type"].as_str().unwrap_or_default().to_owned()));
    });
    (client, events)
}

/// The next `count` things the application sees.
async fn next(events: &mut mpsc::UnboundedReceiver<Seen>, count: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let event = tokio::time::timeout(RECV_TIMEOUT, events.recv()).await;
        seen.push(event.expect("the application sees something in time").expect("the client is alive"));
    }
    seen
}

/// A server of [`App`] behind a proxy, with what the test watches of it.
struct Running {
    /// Runs until the test ends.
    _server: TestServer,
    hub: Hub,
    proxy: FaultProxy,
    signals: Arc<Signals>,
    /// The query of every upgrade request.
    queries: mpsc::UnboundedReceiver<String>,
    /// One item per connection that ended.
    closed: mpsc::UnboundedReceiver<()>,
}

impl Running {
    /// Starts the app (greeting each connection when `greet` is set) on a server set up
    /// by `configure`, behind an authenticator that reports the query of every upgrade,
    /// and a proxy in front of it.
    async fn start(greet: bool, configure: impl FnOnce(Server<App>) -> Server<App>) -> Self {
        let (queries, reported) = mpsc::unbounded_channel();
        let (closed, closes) = mpsc::unbounded_channel();
        let signals = Arc::new(Signals::default());
        let app = App { greet, signals: signals.clone(), closed };
        let server = Server::with_authenticator(app, move |parts| {
            let _ = queries.send(parts.uri.query().unwrap_or_default().to_owned());
            async { Ok(()) }
        })
        .path("/ws");
        let server = configure(server);
        let hub = server.hub_handle();
        let server = TestServer::start(server).await;
        let proxy = FaultProxy::start(server.addr.to_string()).await;
        Running { _server: server, hub, proxy, signals, queries: reported, closed: closes }
    }

    /// The URL of `/ws` with `query`, through the proxy.
    fn url(&self, query: &str) -> String {
        format!("ws://{}/ws{query}", self.proxy.addr())
    }

    /// The query of the next upgrade request.
    async fn query(&mut self) -> String {
        let query = tokio::time::timeout(RECV_TIMEOUT, self.queries.recv()).await;
        query.expect("an upgrade in time").expect("the server is running")
    }

    /// Cuts the client's connection without a close frame, and holds its reconnect in
    /// the proxy (until [`FaultProxy::set_silent`] with `false`); returns once the server
    /// saw the connection end.
    async fn lose_connection(&mut self) {
        self.proxy.set_silent(true);
        self.proxy.sever();
        let closed = tokio::time::timeout(RECV_TIMEOUT, self.closed.recv()).await;
        closed.expect("the server sees the connection end in time").expect("the server is running");
    }

    async fn publish(&self, n: u32) {
        self.hub.publish("news", &News { n }).await.expect("a valid topic");
    }
}

/// The count of a `wskit-resume=<token>:<count>` query, checking the token's form.
fn resume_count(query: &str) -> u64 {
    let value = query.strip_prefix("wskit-resume=").unwrap_or_else(|| panic!("no resume in `{query}`"));
    let (token, count) = value.split_once(':').unwrap_or_else(|| panic!("no `<token>:<count>` in `{query}`"));
    let lower_hex = token.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
    assert!(token.len() == 32 && lower_hex, "token `{token}`");
    count.parse().unwrap_or_else(|_| panic!("count `{count}`"))
}

/// Connects a resuming client through `running`'s proxy and waits until it joined `news`.
async fn joined_client(running: &mut Running) -> (Client, mpsc::UnboundedReceiver<Seen>) {
    let (client, mut events) = resuming_client(ClientOptions::new(running.url("")));
    assert_eq!(running.query().await, "wskit-resume=new");
    assert_eq!(next(&mut events, 2).await, [Seen::Session(SessionStart::New), Seen::Joined("news".into())]);
    (client, events)
}

#[tokio::test]
async fn a_lost_connection_resumes_and_the_missed_frames_arrive_once_in_order() {
    let mut running = Running::start(false, |server| server.resume(Resume::enabled())).await;
    let (client, mut events) = joined_client(&mut running).await;
    running.publish(1).await;
    client.send(&BinaryThen { n: 2 }).unwrap();
    assert_eq!(next(&mut events, 2).await, [Seen::News(1), Seen::News(2)]);

    running.lose_connection().await;
    for n in 3..=5 {
        running.publish(n).await;
    }
    running.proxy.set_silent(false);

    // JOINED, NEWS 1, the binary frame the client cannot read and NEWS 2.
    assert_eq!(resume_count(&running.query().await), 4);
    let resumed =
        [Seen::Session(SessionStart::Resumed { replayed: 3 }), Seen::News(3), Seen::News(4), Seen::News(5)];
    assert_eq!(next(&mut events, 4).await, resumed, "no JOIN again: the subscription was kept");
    running.publish(6).await;
    assert_eq!(next(&mut events, 1).await, [Seen::News(6)]);
    // Frames arrive in order on one socket: a duplicate would have come before NEWS 6.
    assert!(events.try_recv().is_err(), "nothing arrived twice");
    client.close().await;
}

#[tokio::test]
async fn a_request_out_when_the_connection_dropped_fails_and_its_replayed_reply_is_ignored() {
    let mut running = Running::start(false, |server| server.resume(Resume::enabled())).await;
    let (client, mut events) = joined_client(&mut running).await;
    let request = tokio::spawn({
        let client = client.clone();
        async move { client.request(&Slow).await }
    });
    tokio::time::timeout(RECV_TIMEOUT, running.signals.started.notified()).await.expect("SLOW arrives");

    // The reply is written into a connection that no longer carries it to the client.
    running.proxy.set_silent(true);
    running.signals.release.notify_one();
    tokio::time::timeout(RECV_TIMEOUT, running.signals.answered.notified()).await.expect("SLOW answers");
    running.lose_connection().await;
    let outcome = tokio::time::timeout(RECV_TIMEOUT, request).await.expect("in time").unwrap();
    assert!(matches!(outcome, Err(ClientError::ConnectionClosed)), "{outcome:?}");
    running.proxy.set_silent(false);

    assert_eq!(resume_count(&running.query().await), 1);
    assert_eq!(next(&mut events, 1).await, [Seen::Session(SessionStart::Resumed { replayed: 1 })]);
    running.publish(1).await;
    // The replayed SLOWED came before NEWS 1, and reached no callback.
    assert_eq!(next(&mut events, 1).await, [Seen::News(1)]);
    client.close().await;
}

#[tokio::test]
async fn a_session_whose_window_passed_is_refused_and_the_app_resyncs() {
    let window = Duration::from_millis(20);
    let mut running = Running::start(false, |server| server.resume(Resume::enabled().window(window))).await;
    let (client, mut events) = joined_client(&mut running).await;

    running.lose_connection().await;
    // The kept session stays subscribed until its window passes; its end shows nowhere
    // else.
    let expired = async {
        while running.hub.subscriber_count("news") > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(RECV_TIMEOUT, expired).await.expect("the window passes");
    running.proxy.set_silent(false);

    assert_eq!(resume_count(&running.query().await), 1);
    let refused = [Seen::Session(SessionStart::Refused(Refusal::Expired)), Seen::Joined("news".into())];
    assert_eq!(next(&mut events, 2).await, refused, "the hook joined again");
    running.publish(1).await;
    assert_eq!(next(&mut events, 1).await, [Seen::News(1)]);
    client.close().await;
}

#[tokio::test]
async fn a_session_that_missed_more_than_the_server_keeps_is_refused_and_the_app_resyncs() {
    let limits = Limits::default().max_queued_frames(2);
    let mut running = Running::start(false, |server| server.resume(Resume::enabled()).limits(limits)).await;
    let (client, mut events) = joined_client(&mut running).await;

    running.lose_connection().await;
    for n in 1..=3 {
        running.publish(n).await;
    }
    running.proxy.set_silent(false);

    assert_eq!(resume_count(&running.query().await), 1);
    let refused = [Seen::Session(SessionStart::Refused(Refusal::Overflowed)), Seen::Joined("news".into())];
    assert_eq!(next(&mut events, 2).await, refused);
    running.publish(4).await;
    assert_eq!(next(&mut events, 1).await, [Seen::News(4)]);
    client.close().await;
}

#[tokio::test]
async fn against_a_server_without_resume_every_connect_asks_anew_and_the_app_resyncs() {
    let mut running = Running::start(true, |server| server).await;
    let options = ClientOptions::new(running.url("?room=a")).token(|| async { Some("t1".into()) });
    let (client, mut events) = resuming_client(options);

    // The first frame is the app's, not `$ws:session`: the hook hears so before the app
    // gets that frame.
    let asked_anew = "room=a&wskit-resume=new&access_token=t1";
    assert_eq!(running.query().await, asked_anew);
    let expected = [Seen::Session(SessionStart::NotResumable), Seen::Hello, Seen::Joined("news".into())];
    assert_eq!(next(&mut events, 3).await, expected);

    running.proxy.sever();
    assert_eq!(running.query().await, asked_anew, "there is no session to resume");
    assert_eq!(next(&mut events, 3).await, expected);
    client.close().await;
}

#[tokio::test]
async fn a_client_without_resume_does_not_ask_for_it() {
    let mut running = Running::start(false, |server| server.resume(Resume::enabled())).await;
    let client = Client::connect(ClientOptions::new(running.url("?room=a"))).await.unwrap();
    assert_eq!(running.query().await, "room=a");
    client.close().await;
}
