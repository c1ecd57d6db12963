//! Session resume over real sockets: a client that asks for it gets `$ws:session` first,
//! and after losing its connection reconnects with its token and count, and gets what it
//! missed (replies, sends and publishes, in order, once each) with its subscriptions
//! restored; or a refusal saying why, and a new session.

use serde_json::{json, Value};
use std::time::Duration;
use wskit::{message, router, Ctx, Error, Hub, Limits, Resume, Server};
use wskit_examples::{redis_url, unique_prefix, RawClient, TestServer};

#[message("SUBSCRIBE")]
struct Subscribe {
    topic: String,
}

#[message("SAY")]
struct Say {
    topic: String,
    text: String,
}

#[message("NEWS")]
struct News {
    text: String,
}

#[message("ECHO")]
struct Echo {
    text: String,
}

#[message("WELCOME")]
struct Welcome {
    resumed: bool,
    topics: Vec<String>,
}

#[derive(Default)]
struct Session {
    user: Option<String>,
}

struct App;

#[router(data = Session)]
impl App {
    #[on_open]
    async fn open(&self, ctx: &mut Ctx<Session>) -> Result<(), Error> {
        let topics = ctx.topics().map(str::to_owned).collect();
        ctx.send(&Welcome { resumed: ctx.is_resumed(), topics })
    }

    #[on]
    async fn subscribe(&self, ctx: &mut Ctx<Session>, msg: Subscribe) -> Result<(), Error> {
        ctx.subscribe(&msg.topic).await?;
        ctx.reply(&Echo { text: format!("subscribed {}", msg.topic) })
    }

    #[on]
    async fn say(&self, ctx: &mut Ctx<Session>, msg: Say) -> Result<(), Error> {
        ctx.publish(&msg.topic, &News { text: msg.text }).await?;
        Ok(())
    }

    #[on]
    async fn echo(&self, ctx: &mut Ctx<Session>, msg: Echo) -> Result<(), Error> {
        ctx.reply(&Echo { text: msg.text })
    }
}

/// A running server and its hub.
struct Running {
    server: TestServer,
    hub: Hub,
}

impl Running {
    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    fn hub(&self) -> &Hub {
        &self.hub
    }
}

/// A server offering resume with `resume`; connections are of the user named by the
/// `user` query parameter, if any.
async fn server(resume: Resume, limits: Limits) -> Running {
    server_on(Hub::memory(), resume, limits).await
}

/// [`server`] with the hub `hub`.
async fn server_on(hub: Hub, resume: Resume, limits: Limits) -> Running {
    let server = Server::with_data(App, |parts| Session {
        user: parts.uri.query().and_then(|query| {
            query.split('&').find_map(|pair| pair.strip_prefix("user=").map(str::to_owned))
        }),
    })
    .user(|session: &Session| session.user.clone())
    .path("/ws")
    .limits(limits)
    .hub(hub.clone())
    .resume(resume);
    Running { server: TestServer::start(server).await, hub }
}

async fn default_server() -> Running {
    server(Resume::enabled(), Limits::default()).await
}

/// A resumable connection: its client, its session token and how many numbered frames it
/// received.
struct Resumable {
    client: RawClient,
    token: String,
    received: u64,
}

impl Resumable {
    /// Connects to `url` with `wskit-resume=<ask>`; returns the `$ws:session` payload too.
    async fn connect(url: &str, ask: &str) -> (Self, Value) {
        let separator = if url.contains('?') { '&' } else { '?' };
        let mut client = RawClient::connect(&format!("{url}{separator}wskit-resume={ask}")).await;
        let greeting = client.recv().await;
        assert_eq!(greeting["type"], "$ws:session", "the first frame: {greeting}");
        assert_eq!(greeting["meta"], json!({}));
        let token = greeting["payload"]["token"].as_str().expect("a token").to_owned();
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase()));
        (Resumable { client, token, received: 0 }, greeting["payload"].clone())
    }

    /// Connects to `url` with `wskit-resume=<ask>`, then leaves (close 1000, which keeps no
    /// session); returns the `$ws:session` payload.
    async fn ask_and_leave(url: &str, ask: &str) -> Value {
        let (resumable, greeting) = Self::connect(url, ask).await;
        resumable.client.close().await;
        greeting
    }

    /// Resumes this session at `url` after its connection was lost.
    async fn resume(self, url: &str) -> (Self, Value) {
        let ask = format!("{}:{}", self.token, self.received);
        let (mut resumed, greeting) = Self::connect(url, &ask).await;
        resumed.received = self.received;
        if greeting["resumed"] == false {
            resumed.received = 0;
        }
        (resumed, greeting)
    }

    /// The next frame, counted.
    async fn recv(&mut self) -> Value {
        let value = self.client.recv().await;
        self.received += 1;
        value
    }

    async fn send(&mut self, value: Value) {
        self.client.send(value).await;
    }

    /// Sends `value` and returns the next frame, counted.
    async fn request(&mut self, value: Value) -> Value {
        self.send(value).await;
        self.recv().await
    }

    /// Subscribes to `topic`, after the welcome.
    async fn subscribe(&mut self, topic: &str) {
        let answer = self.request(json!({"type": "SUBSCRIBE", "payload": {"topic": topic}})).await;
        assert_eq!(answer["payload"]["text"], format!("subscribed {topic}"));
    }
}

fn say(topic: &str, text: &str) -> Value {
    json!({"type": "SAY", "payload": {"topic": topic, "text": text}})
}

fn news_texts(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .filter(|frame| frame["type"] == "NEWS")
        .map(|frame| frame["payload"]["text"].as_str().unwrap())
        .collect()
}

/// A plain connection that publishes.
async fn publisher(url: &str) -> RawClient {
    let mut client = RawClient::connect(url).await;
    assert_eq!(client.recv().await["type"], "WELCOME");
    client
}

#[tokio::test]
async fn a_client_that_does_not_ask_sees_no_session_frame() {
    let server = default_server().await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(client.recv().await["type"], "WELCOME", "the plain protocol: no $ws:session");
    assert_eq!(server.hub().kept_sessions(), 0);
}

#[tokio::test]
async fn a_server_without_resume_ignores_the_request() {
    let server = TestServer::start(Server::new(App).path("/ws")).await;
    let mut client = RawClient::connect(&server.url("/ws?wskit-resume=new")).await;
    assert_eq!(client.recv().await["type"], "WELCOME");
}

#[tokio::test]
async fn a_lost_connection_resumes_with_what_it_missed_and_its_subscriptions() {
    let server = default_server().await;
    let url = server.url("/ws");
    let (mut first, greeting) = Resumable::connect(&url, "new").await;
    assert_eq!(greeting, json!({"token": first.token, "resumed": false}));
    assert_eq!(first.recv().await["payload"], json!({"resumed": false, "topics": []}));
    first.subscribe("room").await;
    first.subscribe("other").await;
    let mut others = publisher(&url).await;
    others.send(say("room", "one")).await;
    assert_eq!(news_texts(&[first.recv().await]), ["one"]);

    // The socket drops without a close frame; the server finds out when it reads the end.
    drop(first.client);
    let first = Resumable { client: publisher(&url).await, ..first };
    wait_until_kept(&server, 1).await;
    for (topic, text) in [("room", "two"), ("other", "three"), ("room", "four")] {
        others.send(say(topic, text)).await;
    }
    others.send(json!({"type": "ECHO", "payload": {"text": "sync"}})).await;
    assert_eq!(others.recv().await["payload"]["text"], "sync", "the publishes were made");

    let (mut second, greeting) = first.resume(&url).await;
    assert_eq!(greeting, json!({"token": second.token, "resumed": true, "replayed": 3}));
    let missed = [second.recv().await, second.recv().await, second.recv().await];
    assert_eq!(news_texts(&missed), ["two", "three", "four"], "in order, each once");
    let welcome = second.recv().await;
    assert_eq!(welcome["type"], "WELCOME");
    assert_eq!(welcome["payload"]["resumed"], true);
    let mut topics: Vec<_> = welcome["payload"]["topics"].as_array().unwrap().iter().collect();
    topics.sort_by_key(|topic| topic.as_str());
    assert_eq!(topics, [&json!("other"), &json!("room")], "subscriptions restored before #[on_open]");
    assert_eq!(server.hub().kept_sessions(), 0);
    assert_eq!(server.hub().subscriber_count("room"), 1, "the kept session's place was taken, not doubled");

    others.send(say("room", "five")).await;
    assert_eq!(news_texts(&[second.recv().await]), ["five"], "live frames follow");
    assert_eq!(second.request(json!({"type": "ECHO", "payload": {"text": "x"}})).await["type"], "ECHO");
}

#[tokio::test]
async fn frames_written_but_not_received_are_written_again() {
    let server = default_server().await;
    let url = server.url("/ws");
    let (mut first, _) = Resumable::connect(&url, "new").await;
    first.recv().await; // WELCOME
    first.subscribe("room").await;
    let mut others = publisher(&url).await;
    for text in ["a", "b", "c"] {
        others.send(say("room", text)).await;
    }
    // The client reads one of the three; the other two were written, then the socket died.
    assert_eq!(news_texts(&[first.recv().await]), ["a"]);
    assert_eq!(news_texts(&[first.client.recv().await]), ["b"], "read but not counted: lost in the app");
    drop(first.client);
    let first = Resumable { client: publisher(&url).await, ..first };

    let (mut second, greeting) = first.resume(&url).await;
    assert_eq!(greeting["resumed"], true);
    assert_eq!(greeting["replayed"], 2);
    let missed = [second.recv().await, second.recv().await];
    assert_eq!(news_texts(&missed), ["b", "c"]);
}

#[tokio::test]
async fn a_resume_before_the_server_saw_the_old_connection_die_takes_it_over() {
    let server = default_server().await;
    let url = server.url("/ws");
    let (mut first, _) = Resumable::connect(&url, "new").await;
    first.recv().await; // WELCOME
    first.subscribe("room").await;
    // The old connection is still open: the resume closes it and takes its session.
    let mut old = std::mem::replace(&mut first.client, publisher(&url).await);
    let (mut second, greeting) = first.resume(&url).await;
    assert_eq!(greeting["resumed"], true);
    assert_eq!(greeting["replayed"], 0);
    assert_eq!(old.closed().await, (1008, "session resumed on another connection".to_owned()));
    assert_eq!(second.recv().await["payload"]["topics"], json!(["room"]));
    let mut others = publisher(&url).await;
    others.send(say("room", "after")).await;
    assert_eq!(news_texts(&[second.recv().await]), ["after"]);
    assert_eq!(server.hub().subscriber_count("room"), 1);
}

#[tokio::test]
async fn a_client_that_closes_normally_leaves_no_session() {
    let server = default_server().await;
    let url = server.url("/ws");
    let (mut first, _) = Resumable::connect(&url, "new").await;
    first.recv().await;
    first.subscribe("room").await;
    let token = first.token.clone();
    first.client.close().await;
    let (second, greeting) = Resumable::connect(&url, &format!("{token}:2")).await;
    assert_eq!(greeting["resumed"], false);
    assert_eq!(greeting["reason"], "expired");
    assert_ne!(second.token, token, "a new session");
    assert_eq!(server.hub().subscriber_count("room"), 0);
}

#[tokio::test]
async fn a_client_close_with_another_code_keeps_the_session() {
    let server = default_server().await;
    let url = server.url("/ws");
    let (mut first, _) = Resumable::connect(&url, "new").await;
    first.recv().await;
    let client = std::mem::replace(&mut first.client, publisher(&url).await);
    client.close_with(4000).await;
    wait_until_kept(&server, 1).await;
    let (_, greeting) = first.resume(&url).await;
    assert_eq!(greeting["resumed"], true);
}

#[tokio::test]
async fn refusals_say_why_and_start_a_new_session() {
    let server = server(Resume::enabled().replay_frames(2), Limits::default()).await;
    let url = server.url("/ws");

    for ask in ["nonsense", "0123456789abcdef0123456789abcdef:x", "0123456789ABCDEF0123456789ABCDEF:1"] {
        let greeting = Resumable::ask_and_leave(&url, ask).await;
        assert_eq!(greeting["reason"], "invalid", "{ask}");
    }
    let greeting = Resumable::ask_and_leave(&url, "0123456789abcdef0123456789abcdef:0").await;
    assert_eq!(greeting["reason"], "expired", "an unknown token");

    // It received 1 frame of 4 and only the last 2 are kept: too far behind.
    let (mut first, _) = Resumable::connect(&url, "new").await;
    for _ in 0..3 {
        first.request(json!({"type": "ECHO", "payload": {"text": "x"}})).await;
    }
    first.received = 1;
    drop(std::mem::replace(&mut first.client, publisher(&url).await));
    let (fresh, greeting) = first.resume(&url).await;
    assert_eq!(greeting["resumed"], false);
    assert_eq!(greeting["reason"], "overflowed");
    let token = fresh.token.clone();

    // A count ahead of what was written.
    drop(fresh.client);
    wait_until_kept(&server, 1).await;
    let greeting = Resumable::ask_and_leave(&url, &format!("{token}:99")).await;
    assert_eq!(greeting["reason"], "invalid");
    assert_eq!(server.hub().kept_sessions(), 0, "a refused session is ended");
}

#[tokio::test]
async fn a_session_is_resumed_by_its_user_only() {
    let server = default_server().await;
    let (mut first, _) = Resumable::connect(&server.url("/ws?user=ada"), "new").await;
    first.recv().await;
    let client = std::mem::replace(&mut first.client, publisher(&server.url("/ws")).await);
    drop(client);
    wait_until_kept(&server, 1).await;
    let token = first.token.clone();
    let greeting = Resumable::ask_and_leave(&server.url("/ws?user=eve"), &format!("{token}:1")).await;
    assert_eq!(greeting["reason"], "denied");
    let greeting = Resumable::ask_and_leave(&server.url("/ws"), &format!("{token}:1")).await;
    assert_eq!(greeting["reason"], "denied", "nor by a connection without a user");
    let (_, greeting) = first.resume(&server.url("/ws?user=ada")).await;
    assert_eq!(greeting["resumed"], true, "the session stayed for its user");
}

#[tokio::test]
async fn a_session_ends_when_its_window_passes() {
    let window = Duration::from_millis(200);
    let server = server(Resume::enabled().window(window), Limits::default()).await;
    let url = server.url("/ws");
    let (mut first, _) = Resumable::connect(&url, "new").await;
    first.recv().await;
    first.subscribe("room").await;
    drop(std::mem::replace(&mut first.client, publisher(&url).await));
    wait_until_kept(&server, 1).await;
    assert_eq!(server.hub().subscriber_count("room"), 1, "kept sessions stay subscribed");
    // The window is what is tested: wait it out.
    tokio::time::sleep(window * 2).await;
    assert_eq!(server.hub().kept_sessions(), 0);
    assert_eq!(server.hub().subscriber_count("room"), 0, "an ended session unsubscribes");
    let (_, greeting) = first.resume(&url).await;
    assert_eq!(greeting["reason"], "expired");
}

#[tokio::test]
async fn a_kept_session_whose_queue_overflows_cannot_be_resumed() {
    let server = server(Resume::enabled(), Limits::default().max_queued_frames(2)).await;
    let url = server.url("/ws");
    let (mut first, _) = Resumable::connect(&url, "new").await;
    first.recv().await;
    first.subscribe("room").await;
    drop(std::mem::replace(&mut first.client, publisher(&url).await));
    wait_until_kept(&server, 1).await;
    let mut others = publisher(&url).await;
    for text in ["1", "2", "3"] {
        others.send(say("room", text)).await;
    }
    others.send(json!({"type": "ECHO", "payload": {"text": "sync"}})).await;
    others.recv().await;
    let (_, greeting) = first.resume(&url).await;
    assert_eq!(greeting["reason"], "overflowed");
}

#[tokio::test]
async fn at_most_max_sessions_are_kept() {
    let server = server(Resume::enabled().max_sessions(1), Limits::default()).await;
    let url = server.url("/ws");
    let (mut first, _) = Resumable::connect(&url, "new").await;
    let (mut second, _) = Resumable::connect(&url, "new").await;
    first.recv().await;
    second.recv().await;
    drop(std::mem::replace(&mut first.client, publisher(&url).await));
    wait_until_kept(&server, 1).await;
    drop(std::mem::replace(&mut second.client, publisher(&url).await));
    let (_, greeting) = second.resume(&url).await;
    assert_eq!(greeting["reason"], "expired", "not kept: one session is the limit");
    let (_, greeting) = first.resume(&url).await;
    assert_eq!(greeting["resumed"], true);
}

/// Waits until the server keeps `count` sessions: it finds a lost connection when it
/// reads the socket's end, a moment after the client dropped it.
async fn wait_until_kept(server: &Running, count: usize) {
    tokio::time::timeout(wskit_examples::RECV_TIMEOUT, async {
        while server.hub().kept_sessions() != count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the server keeps the session of the lost connection");
}

/// Two instances on one Redis bus.
async fn instances(test: &str) -> Option<(Running, Running)> {
    let url = redis_url().await?;
    let prefix = unique_prefix(test);
    let hub = || async {
        let options = wskit::RedisOptions::default().prefix(&prefix);
        Hub::redis(&url, options, wskit::TopicRules::default()).await.expect("connect to Redis")
    };
    let one = server_on(hub().await, Resume::enabled(), Limits::default()).await;
    let two = server_on(hub().await, Resume::enabled(), Limits::default()).await;
    Some((one, two))
}

#[tokio::test]
async fn a_session_resumes_on_another_instance_with_what_it_missed() {
    let Some((one, two)) = instances("resume-move").await else { return };
    let (mut first, _) = Resumable::connect(&one.url("/ws"), "new").await;
    first.recv().await;
    first.subscribe("room").await;
    first.subscribe("other").await;
    let mut on_one = publisher(&one.url("/ws")).await;
    let mut on_two = publisher(&two.url("/ws")).await;
    on_two.send(say("room", "one")).await;
    assert_eq!(news_texts(&[first.recv().await]), ["one"]);

    drop(std::mem::replace(&mut first.client, publisher(&one.url("/ws")).await));
    wait_until_kept(&one, 1).await;
    on_one.send(say("room", "two")).await;
    on_two.send(say("other", "three")).await;
    on_one.send(say("other", "four")).await;
    // Each publisher's publishes are in Redis once its next request is answered.
    for publisher in [&mut on_one, &mut on_two] {
        publisher.request(json!({"type": "ECHO", "payload": {"text": "sync"}})).await;
    }

    let (mut second, greeting) = first.resume(&two.url("/ws")).await;
    assert_eq!(greeting["resumed"], true, "{greeting}");
    assert_eq!(greeting["replayed"], 3);
    let missed = [second.recv().await, second.recv().await, second.recv().await];
    let mut texts = news_texts(&missed);
    // "two" and "four" come from one publisher, in order; "three" from another.
    assert_eq!(texts.iter().filter(|text| **text != "three").collect::<Vec<_>>(), [&"two", &"four"]);
    texts.sort_unstable();
    assert_eq!(texts, ["four", "three", "two"]);
    let welcome = second.recv().await;
    assert_eq!(welcome["payload"]["resumed"], true);
    assert_eq!(one.hub().kept_sessions(), 0, "the session left the first instance");
    assert_eq!(one.hub().subscriber_count("room"), 0);
    assert_eq!(two.hub().subscriber_count("room"), 1);

    on_one.send(say("room", "five")).await;
    assert_eq!(news_texts(&[second.recv().await]), ["five"], "live, once");
    on_two.send(say("other", "six")).await;
    assert_eq!(news_texts(&[second.recv().await]), ["six"]);
}

#[tokio::test]
async fn publishes_during_a_move_between_instances_arrive_once_each_in_order() {
    let Some((one, two)) = instances("resume-stream").await else { return };
    feed_through_a_move(&one, &two).await;
}

#[tokio::test]
async fn publishes_during_a_takeover_arrive_once_each_in_order() {
    let server = default_server().await;
    feed_through_a_move(&server, &server).await;
}

/// Publishes a numbered feed from a connection on `two` to a resumable client on `one`,
/// which moves to `two` in the middle of it, before `one` noticed its old socket died;
/// the client gets every number once, in order.
async fn feed_through_a_move(one: &Running, two: &Running) {
    let (mut first, _) = Resumable::connect(&one.url("/ws"), "new").await;
    first.recv().await;
    first.subscribe("feed").await;
    let mut feeder = publisher(&two.url("/ws")).await;
    const COUNT: usize = 300;
    let feeding = tokio::spawn(async move {
        for n in 0..COUNT {
            feeder.send(say("feed", &n.to_string())).await;
            if n % 20 == 0 {
                tokio::task::yield_now().await;
            }
        }
        feeder
    });
    let mut seen = Vec::new();
    while seen.len() < 50 {
        seen.push(first.recv().await["payload"]["text"].as_str().unwrap().parse::<usize>().unwrap());
    }
    // Moves while the feed goes on, before the first instance noticed the old socket died.
    let old = std::mem::replace(&mut first.client, publisher(&one.url("/ws")).await);
    let (mut second, greeting) = first.resume(&two.url("/ws")).await;
    assert_eq!(greeting["resumed"], true, "{greeting}");
    drop(old);
    while seen.len() < COUNT {
        let frame = second.recv().await;
        if frame["type"] == "NEWS" {
            seen.push(frame["payload"]["text"].as_str().unwrap().parse().unwrap());
        }
    }
    feeding.await.unwrap();
    assert_eq!(seen, (0..COUNT).collect::<Vec<_>>(), "no gap, no duplicate, in order");
}

#[tokio::test]
async fn an_unknown_session_is_expired_on_a_redis_bus_too() {
    let Some((one, _two)) = instances("resume-unknown").await else { return };
    let greeting = Resumable::ask_and_leave(&one.url("/ws"), "0123456789abcdef0123456789abcdef:3").await;
    assert_eq!(greeting["resumed"], false);
    assert_eq!(greeting["reason"], "expired");
}
