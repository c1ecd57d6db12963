//! Session resume in `wskit::client` (PROTOCOL.md section 8) over real sockets, with a TCP
//! proxy between client and server that cuts connections the way a lost network does (no
//! close frame): what the client asks for on every connect, what the application is told
//! after it, and that a resumed session delivers what was missed exactly once, in order.

use std::time::Duration;
use tokio::sync::mpsc;
use wskit::client::{Backoff, Client, ClientOptions, SessionStart, State};
use wskit::{message, router, Ctx, Error, Server};
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

/// The app of every test: joins topics on request, and greets every connection when
/// `greet` is set.
struct App {
    greet: bool,
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
}

/// What the client's application saw, in the order it saw it.
#[derive(Debug, PartialEq)]
enum Seen {
    Session(SessionStart),
    Hello,
    Joined(String),
    News(u32),
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
    client.on(move |news: News, _| {
        let _ = seen.send(Seen::News(news.n));
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

async fn reach(client: &Client, state: State) {
    let mut states = client.states();
    let reached = tokio::time::timeout(RECV_TIMEOUT, states.wait_for(|current| *current == state));
    reached.await.expect("in time").expect("the client is alive");
}

/// A proxy in front of `server`, and the URL of its `/ws` through the proxy.
async fn proxied(server: &TestServer, query: &str) -> (FaultProxy, String) {
    let proxy = FaultProxy::start(server.addr.to_string()).await;
    let url = format!("ws://{}/ws{query}", proxy.addr());
    (proxy, url)
}

/// Starts `server` behind an authenticator that reports the query of every upgrade.
async fn reporting_queries(
    greet: bool,
    configure: impl FnOnce(Server<App>) -> Server<App>,
) -> (TestServer, mpsc::UnboundedReceiver<String>) {
    let (queries, reported) = mpsc::unbounded_channel();
    let server = Server::with_authenticator(App { greet }, move |parts| {
        let _ = queries.send(parts.uri.query().unwrap_or_default().to_owned());
        async { Ok(()) }
    })
    .path("/ws");
    (TestServer::start(configure(server)).await, reported)
}

async fn query(queries: &mut mpsc::UnboundedReceiver<String>) -> String {
    let query = tokio::time::timeout(RECV_TIMEOUT, queries.recv()).await;
    query.expect("an upgrade in time").expect("the server is running")
}

#[tokio::test]
async fn against_a_server_without_resume_every_connect_asks_anew_and_the_app_resyncs() {
    let (server, mut queries) = reporting_queries(true, |server| server).await;
    let (proxy, url) = proxied(&server, "?room=a").await;
    let (client, mut events) = resuming_client(ClientOptions::new(url).token(|| async { Some("t1".into()) }));

    // The first frame is the app's, not `$ws:session`: the hook hears so before the app
    // gets that frame.
    let asked_anew = "room=a&wskit-resume=new&access_token=t1";
    assert_eq!(query(&mut queries).await, asked_anew);
    let expected = [Seen::Session(SessionStart::NotResumable), Seen::Hello, Seen::Joined("news".into())];
    assert_eq!(next(&mut events, 3).await, expected);

    proxy.sever();
    assert_eq!(query(&mut queries).await, asked_anew, "there is no session to resume");
    assert_eq!(next(&mut events, 3).await, expected);
    client.close().await;
}

#[tokio::test]
async fn a_client_without_resume_does_not_ask_for_it() {
    let (server, mut queries) = reporting_queries(false, |server| server).await;
    let client =
        Client::connect(ClientOptions::new(format!("ws://{}/ws?room=a", server.addr))).await.unwrap();
    assert_eq!(query(&mut queries).await, "room=a");
    client.close().await;
}
