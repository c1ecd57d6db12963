//! Control from outside handlers, over real sockets: closing a connection from another
//! connection's handler, a timer task or a stored handle (kick); the hub's index of users
//! (multi-device sends, closes, counts, presence); what `Ctx` tells about the connection
//! and the message; and the server's hooks (`on_upgrade`, `on_stale`, `on_broadcast`,
//! rate-limit refusals reported to `Limits::on_exceeded`).

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;
use wskit::ratelimit::{Limit, RateLimiter};
use wskit::{
    message, router, ClientHandle, Close, Code, Ctx, Delivery, Error, Hub, LimitKind, Limits, Rejection,
    Server,
};
use wskit_examples::{RawClient, TestServer, RECV_TIMEOUT};

#[message("LOGIN")]
struct Login {
    user: String,
}

#[message("KICK")]
struct Kick {
    client_id: String,
}

#[message("KICK_USER")]
struct KickUser {
    user: String,
}

#[message("NOTIFY")]
struct Notify {
    user: String,
    text: String,
}

#[message("NOTE")]
struct Note {
    text: String,
}

#[message("DONE")]
struct Done {
    count: usize,
}

#[message("WHOAMI")]
struct WhoAmI;

#[message("YOU")]
struct You {
    peer: Option<String>,
    protocol: Option<String>,
    message_type: Option<String>,
    user: Option<String>,
}

#[message("WAIT")]
struct Wait;

#[message("FAIL")]
struct Fail;

#[message("SUBSCRIBE")]
struct Subscribe {
    topic: String,
}

/// What the app's hooks saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// `message_type` is what `#[on_close]` saw: no message is being handled then.
    Closed {
        client_id: Uuid,
        code: u16,
        message_type: Option<String>,
    },
    Failed {
        message_type: Option<String>,
    },
    Cancelled,
    Waiting,
}

#[derive(Default)]
struct Session {
    user: Option<String>,
}

struct App {
    events: UnboundedSender<Event>,
    /// Every connection's handle, by client id, as an app keeps them to reach them later.
    handles: Mutex<HashMap<Uuid, ClientHandle>>,
}

#[router(data = Session)]
impl App {
    #[on_open]
    async fn open(&self, ctx: &mut Ctx<Session>) -> Result<(), Error> {
        self.handles.lock().unwrap().insert(ctx.client_id(), ctx.handle());
        Ok(())
    }

    #[on]
    async fn login(&self, ctx: &mut Ctx<Session>, msg: Login) -> Result<(), Error> {
        ctx.set_user(msg.user.clone());
        ctx.data_mut().user = Some(msg.user);
        ctx.reply(&Done { count: 1 })
    }

    #[on]
    async fn kick(&self, ctx: &mut Ctx<Session>, msg: Kick) -> Result<(), Error> {
        let id = msg.client_id.parse().map_err(|_| Error::invalid_argument("not a client id"))?;
        ctx.hub().close(id, 4001, "kicked by an admin")?;
        ctx.reply(&Done { count: 1 })
    }

    #[on]
    async fn kick_user(&self, ctx: &mut Ctx<Session>, msg: KickUser) -> Result<(), Error> {
        let count = ctx.hub().close_user(&msg.user, 4003, "signed out everywhere");
        ctx.reply(&Done { count })
    }

    #[on]
    async fn notify(&self, ctx: &mut Ctx<Session>, msg: Notify) -> Result<(), Error> {
        let delivery = ctx.hub().send_to_user(&msg.user, &Note { text: msg.text }).await?;
        let Delivery::Exact(count) = delivery else { return Err(Error::internal()) };
        ctx.reply(&Done { count })
    }

    #[on]
    async fn whoami(&self, ctx: &mut Ctx<Session>, _: WhoAmI) -> Result<(), Error> {
        let you = You {
            peer: ctx.peer_addr().map(|addr| addr.to_string()),
            protocol: ctx.protocol().map(str::to_owned),
            message_type: ctx.message_type().map(str::to_owned),
            user: ctx.user().map(str::to_owned),
        };
        ctx.reply(&you)
    }

    #[on]
    async fn wait(&self, ctx: &mut Ctx<Session>, _: Wait) -> Result<(), Error> {
        let cancelled = ctx.cancellation();
        let events = self.events.clone();
        // Reports the cancellation of this handler, which a kick drops.
        tokio::spawn(async move {
            cancelled.cancelled().await;
            let _ = events.send(Event::Cancelled);
        });
        let _ = self.events.send(Event::Waiting);
        std::future::pending::<Result<(), Error>>().await
    }

    #[on]
    async fn fail(&self, _: &mut Ctx<Session>, _: Fail) -> Result<(), Error> {
        Err(Error::failed_precondition("this always fails"))
    }

    #[on]
    async fn subscribe(&self, ctx: &mut Ctx<Session>, msg: Subscribe) -> Result<(), Error> {
        ctx.subscribe(&msg.topic).await?;
        ctx.reply(&Done { count: 1 })
    }

    #[on_error]
    async fn failed(&self, ctx: &mut Ctx<Session>, _: &Error) {
        let _ = self.events.send(Event::Failed { message_type: ctx.message_type().map(str::to_owned) });
    }

    #[on_close]
    async fn closed(&self, ctx: &mut Ctx<Session>, close: Close) {
        self.handles.lock().unwrap().remove(&ctx.client_id());
        let message_type = ctx.message_type().map(str::to_owned);
        let _ =
            self.events.send(Event::Closed { client_id: ctx.client_id(), code: close.code, message_type });
    }
}

/// The app, and what its hooks report.
fn app() -> (App, Events) {
    let (events, receiver) = unbounded_channel();
    (App { events, handles: Mutex::default() }, Events(receiver))
}

/// A server whose connections belong to the user named by the `user` query parameter.
fn server(app: App) -> Server<App> {
    Server::with_data(app, |parts| Session {
        user: parts.uri.query().and_then(|query| query.strip_prefix("user=")).map(str::to_owned),
    })
    .user(|session| session.user.clone())
    .path("/ws")
}

struct Events(UnboundedReceiver<Event>);

impl Events {
    async fn next(&mut self) -> Event {
        tokio::time::timeout(RECV_TIMEOUT, self.0.recv())
            .await
            .expect("an event in time")
            .expect("the app lives")
    }

    /// The next close event (skipping others).
    async fn closed(&mut self) -> (Uuid, u16) {
        loop {
            if let Event::Closed { client_id, code, .. } = self.next().await {
                return (client_id, code);
            }
        }
    }
}

fn client_id(client: &RawClient) -> Uuid {
    client.response.headers()["x-client-id"].to_str().unwrap().parse().unwrap()
}

async fn connect_as(server: &TestServer, user: &str) -> RawClient {
    RawClient::connect(&server.url(&format!("/ws?user={user}"))).await
}

#[tokio::test]
async fn an_admin_handler_kicks_a_connection_whose_on_close_runs() {
    let (app, mut events) = app();
    let server = TestServer::start(server(app)).await;
    let mut admin = RawClient::connect(&server.url("/ws")).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    let bob_id = client_id(&bob);

    let reply = admin.request(json!({"type": "KICK", "payload": {"clientId": bob_id.to_string()}})).await;
    assert_eq!(reply["type"], "DONE");
    assert_eq!(bob.closed().await, (4001, "kicked by an admin".to_owned()));
    bob.close().await;
    assert_eq!(events.closed().await, (bob_id, 4001));

    // The admin's connection goes on, and kicking a closed connection is NOT_FOUND.
    let reply = admin.request(json!({"type": "KICK", "payload": {"clientId": bob_id.to_string()}})).await;
    assert_eq!(reply["payload"]["code"], "NOT_FOUND", "{reply}");
}

#[tokio::test]
async fn a_timer_task_closes_a_connection_after_what_was_queued_before() {
    let (app, mut events) = app();
    let server = server(app);
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    let bob_id = client_id(&bob);

    let task = tokio::spawn({
        let hub = hub.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            hub.send_to(bob_id, &Note { text: "you are being signed out".into() }).unwrap();
            hub.close(bob_id, 4002, "session expired").unwrap();
            // The first close wins; a second is refused.
            hub.close(bob_id, 4009, "again").unwrap_err()
        }
    });
    let again = task.await.unwrap();
    assert_eq!(*again.code(), Code::FailedPrecondition);
    assert_eq!(bob.recv().await["payload"]["text"], "you are being signed out");
    assert_eq!(bob.closed().await, (4002, "session expired".to_owned()));
    bob.close().await;
    assert_eq!(events.closed().await, (bob_id, 4002));
    assert_eq!(hub.client_count(), 0);
}

#[tokio::test]
async fn a_stored_handle_closes_its_connection_and_stops_the_running_handler() {
    let (app, mut events) = app();
    let app = Arc::new(app);
    let server = TestServer::start(server_for_shared(Arc::clone(&app))).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    let bob_id = client_id(&bob);
    bob.send(json!({"type": "WAIT"})).await;
    assert_eq!(events.next().await, Event::Waiting);

    let handle = app.handles.lock().unwrap()[&bob_id].clone();
    assert!(handle.close(1000, "bye"));
    assert!(!handle.close(1000, "twice"), "the first close wins");
    assert_eq!(bob.closed().await, (1000, "bye".to_owned()));
    bob.close().await;
    let mut seen = vec![events.next().await, events.next().await];
    seen.sort_by_key(|event| matches!(event, Event::Closed { .. }));
    assert_eq!(seen, [Event::Cancelled, Event::Closed { client_id: bob_id, code: 1000, message_type: None }]);
    assert!(handle.is_closed());
    assert!(handle.send(&Note { text: "too late".into() }).is_err());
    // A code an application may not send becomes 1008.
    let mut carol = RawClient::connect(&server.url("/ws")).await;
    let carol_id = client_id(&carol);
    app.handles.lock().unwrap()[&carol_id].close(1005, "reserved code");
    assert_eq!(carol.closed().await.0, 1008);
}

/// [`server`] around an app shared with the test.
fn server_for_shared(app: Arc<App>) -> Server<Shared> {
    Server::new(Shared(app)).path("/ws")
}

/// The app behind an `Arc`, so the test keeps a hold on its handles.
struct Shared(Arc<App>);

#[router(data = Session)]
impl Shared {
    #[on_open]
    async fn open(&self, ctx: &mut Ctx<Session>) -> Result<(), Error> {
        self.0.open(ctx).await
    }

    #[on]
    async fn wait(&self, ctx: &mut Ctx<Session>, msg: Wait) -> Result<(), Error> {
        self.0.wait(ctx, msg).await
    }

    #[on_close]
    async fn closed(&self, ctx: &mut Ctx<Session>, close: Close) {
        self.0.closed(ctx, close).await
    }
}

#[tokio::test]
async fn the_hub_reaches_counts_and_closes_every_connection_of_a_user() {
    let (app, mut events) = app();
    let server = server(app);
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let mut phone = connect_as(&server, "alice").await;
    let mut laptop = connect_as(&server, "alice").await;
    let mut bob = connect_as(&server, "bob").await;
    // Tagged at the upgrade; counted once the connection is open (its first answer).
    for client in [&mut phone, &mut laptop, &mut bob] {
        assert_eq!(client.request(json!({"type": "WHOAMI"})).await["type"], "YOU");
    }
    assert_eq!(hub.user_connection_count("alice"), 2);
    assert!(hub.is_online("bob"));
    assert!(!hub.is_online("carol"));
    let mut users = hub.users();
    users.sort();
    assert_eq!(users, ["alice", "bob"]);

    let reply = bob.request(json!({"type": "NOTIFY", "payload": {"user": "alice", "text": "hi"}})).await;
    assert_eq!(reply["payload"]["count"], 2);
    for device in [&mut phone, &mut laptop] {
        assert_eq!(device.recv().await, json!({"type": "NOTE", "payload": {"text": "hi"}}));
    }
    let reply = bob.request(json!({"type": "NOTIFY", "payload": {"user": "carol", "text": "hi"}})).await;
    assert_eq!(reply["payload"]["count"], 0, "an offline user gets nothing");

    let reply = bob.request(json!({"type": "KICK_USER", "payload": {"user": "alice"}})).await;
    assert_eq!(reply["payload"]["count"], 2);
    for mut device in [phone, laptop] {
        assert_eq!(device.closed().await.0, 4003);
        device.close().await;
    }
    events.closed().await;
    events.closed().await;
    assert!(!hub.is_online("alice"));
    assert_eq!(hub.users(), ["bob"], "the index holds only live connections");
    bob.close().await;
    events.closed().await;
    assert_eq!(hub.user_count(), 0);
}

#[tokio::test]
async fn a_handler_tags_and_retags_its_connection() {
    let (app, _events) = app();
    let server = server(app);
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(client.request(json!({"type": "WHOAMI"})).await["payload"]["user"], Value::Null);
    assert_eq!(hub.user_count(), 0);

    client.request(json!({"type": "LOGIN", "payload": {"user": "x"}})).await;
    assert_eq!(hub.users(), ["x"]);
    client.request(json!({"type": "LOGIN", "payload": {"user": "y"}})).await;
    assert_eq!(hub.users(), ["y"]);
    assert_eq!(client.request(json!({"type": "WHOAMI"})).await["payload"]["user"], "y");
}

#[tokio::test]
async fn ctx_tells_the_peer_the_subprotocol_and_the_message_type() {
    let (app, mut events) = app();
    let server = TestServer::start(server(app).protocols(["chat.v2", "chat.v1"])).await;
    let mut request = server.url("/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "chat.v1".parse().unwrap());
    let mut client = RawClient::connect_with(request).await;
    let you = client.request(json!({"type": "WHOAMI"})).await;
    let peer: std::net::SocketAddr = you["payload"]["peer"].as_str().unwrap().parse().unwrap();
    assert!(peer.ip().is_loopback() && peer.port() != server.addr.port(), "{peer}");
    assert_eq!(you["payload"]["protocol"], "chat.v1");
    assert_eq!(you["payload"]["messageType"], "WHOAMI");

    // `#[on_error]` knows which message failed: routed, unknown, and unreadable.
    client.send(json!({"type": "FAIL"})).await;
    assert_eq!(client.recv().await["payload"]["code"], "FAILED_PRECONDITION");
    assert_eq!(events.next().await, Event::Failed { message_type: Some("FAIL".into()) });
    client.send(json!({"type": "NOPE"})).await;
    assert_eq!(client.recv().await["payload"]["code"], "UNIMPLEMENTED");
    assert_eq!(events.next().await, Event::Failed { message_type: Some("NOPE".into()) });
    client.send_text("not json").await;
    assert_eq!(client.recv().await["payload"]["code"], "INVALID_ARGUMENT");
    assert_eq!(events.next().await, Event::Failed { message_type: None });

    // `#[on_close]` handles no message: the last one handled is gone by then.
    assert_eq!(client.request(json!({"type": "WHOAMI"})).await["payload"]["messageType"], "WHOAMI");
    let id = client_id(&client);
    client.close().await;
    assert_eq!(events.next().await, Event::Closed { client_id: id, code: 1000, message_type: None });
}

#[tokio::test]
async fn on_upgrade_refuses_before_the_authenticator_runs() {
    let authenticated = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (app, _events) = app();
    let counter = Arc::clone(&authenticated);
    let server = Server::with_authenticator(app, move |_| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::ready(Ok(Session::default()))
    })
    .path("/ws")
    .on_upgrade(|request| match request.headers.contains_key("x-banned") {
        true => Err(Rejection::forbidden("banned")),
        false => Ok(()),
    });
    let server = TestServer::start(server).await;

    let mut request = server.url("/ws").into_client_request().unwrap();
    request.headers_mut().insert("x-banned", "1".parse().unwrap());
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = error else { panic!("{error}") };
    assert_eq!(response.status(), 403);
    assert_eq!(authenticated.load(std::sync::atomic::Ordering::SeqCst), 0);

    RawClient::connect(&server.url("/ws")).await;
    assert_eq!(authenticated.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stale_connection_is_reported_and_closed_with_the_configured_code() {
    let (app, mut events) = app();
    let (stale_sender, mut stale) = unbounded_channel();
    let server = server(app)
        .heartbeat(Duration::from_millis(50), Duration::from_millis(50))
        .stale_close_code(1008)
        .on_stale(move |stale| {
            let _ = stale_sender.send((stale.client_id, stale.silent_for));
        });
    let server = TestServer::start(server).await;
    // A client that never reads never answers the server's pings.
    let mut silent = RawClient::connect(&server.url("/ws")).await;
    let (client_id, silent_for) =
        tokio::time::timeout(RECV_TIMEOUT, stale.recv()).await.expect("found stale").unwrap();
    assert_eq!(client_id, self::client_id(&silent));
    assert!(silent_for >= Duration::from_millis(50), "{silent_for:?}");
    assert_eq!(silent.closed().await.0, 1008);
    silent.close().await;
    assert_eq!(events.closed().await, (client_id, 1008));
}

#[tokio::test]
async fn on_broadcast_sees_every_publish_with_its_delivery_count() {
    let (app, _events) = app();
    let (sender, mut broadcasts) = unbounded_channel();
    let server = server(app).on_broadcast(move |broadcast| {
        let _ =
            sender.send((broadcast.topic.to_owned(), broadcast.message_type.to_owned(), broadcast.delivered));
    });
    let hub = server.hub_handle();
    let server = TestServer::start(server).await;
    let mut alice = RawClient::connect(&server.url("/ws")).await;
    let mut bob = RawClient::connect(&server.url("/ws")).await;
    for client in [&mut alice, &mut bob] {
        client.request(json!({"type": "SUBSCRIBE", "payload": {"topic": "news"}})).await;
    }
    assert_eq!(hub.publish("news", &Note { text: "extra".into() }).await.unwrap(), Delivery::Exact(2));
    assert_eq!(broadcasts.recv().await.unwrap(), ("news".to_owned(), "NOTE".to_owned(), 2));
    hub.publish("empty", &Note { text: "nobody".into() }).await.unwrap();
    assert_eq!(broadcasts.recv().await.unwrap(), ("empty".to_owned(), "NOTE".to_owned(), 0));
}

#[tokio::test]
async fn rate_limit_refusals_reach_the_limits_hook() {
    let (app, _events) = app();
    let (sender, mut exceeded) = unbounded_channel();
    let limits = Limits::default().on_exceeded(move |event| {
        let _ = sender.send((event.kind, event.observed, event.limit, event.client_id));
    });
    let server = server(app).limits(limits).middleware(RateLimiter::new(Limit::new(1, 0.001)));
    let server = TestServer::start(server).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    assert_eq!(client.request(json!({"type": "WHOAMI"})).await["type"], "YOU");
    let refused = client.request(json!({"type": "WHOAMI"})).await;
    assert_eq!(refused["payload"]["code"], "RESOURCE_EXHAUSTED");
    let event = exceeded.recv().await.unwrap();
    assert_eq!(event, (LimitKind::MessageRate, 1, 1, Some(client_id(&client))));
}

#[tokio::test]
async fn topics_starting_with_a_dollar_are_the_server_s_own() {
    let (app, _events) = app();
    let server = TestServer::start(server(app)).await;
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let reply = client.request(json!({"type": "SUBSCRIBE", "payload": {"topic": "$user:alice"}})).await;
    assert_eq!(reply["payload"]["code"], "INVALID_ARGUMENT", "{reply}");
    assert_eq!(*Hub::memory().rules().check("$anything").unwrap_err().code(), Code::InvalidArgument);
}
