//! The server the TypeScript client's tests (`clients/typescript/test/`) run against: one
//! router with a message of every kind a client meets — one-way messages and their
//! answers, RPCs that succeed, fail, report progress or run until cancelled — and a way for
//! a test to see what the server saw (the token of the connection, the requests it
//! cancelled), and topics to subscribe and publish to. Sessions are resumable (for a client
//! that asks), so that the client's resume can be tested.
//!
//! ```sh
//! cargo run --example ts_client_peer                   # a free port, printed on stdout
//! PORT=4000 cargo run --example ts_client_peer         # port 4000
//! PEER_RESUME=off cargo run --example ts_client_peer   # without session resume
//! ```
//!
//! It prints `listening on ws://127.0.0.1:<port>/ws` once it accepts connections. Every
//! connection is accepted; the token it offered (`access_token` query parameter or
//! `bearer.` subprotocol) is remembered for `WHO_AM_I`.

use std::sync::Mutex;
use std::time::Duration;
use wskit::{message, router, token, Ctx, Error, Resume, Retry, Server};

/// Echoed back as [`Echoed`]. At most 64 characters, so that a test can trip validation.
#[message("ECHO")]
struct Echo {
    #[validate(length(max = 64))]
    text: String,
}

/// The answer to [`Echo`].
#[message("ECHOED")]
struct Echoed {
    text: String,
}

/// Adds two numbers; answered with [`Sum`].
#[message("ADD", response = Sum)]
struct Add {
    a: i64,
    b: i64,
}

/// The answer to [`Add`].
#[message("SUM")]
struct Sum {
    sum: i64,
}

/// Fails the way `kind` names: `not_found` (with details), `unavailable` (retryable after
/// 250 ms), `not_now` (retryable, `retryAfterMs: null`) or anything else (a custom code).
#[message("FAIL", response = Sum)]
struct Fail {
    kind: String,
}

/// Reports `steps` progress values `{step}`, `step_ms` apart, then answers [`Done`]. When
/// cancelled before that (`$ws:abort`, the deadline, a disconnect), `tag` is recorded for
/// [`Cancelled`].
#[message("SLOW", response = Done)]
struct Slow {
    tag: String,
    #[validate(range(max = 100))]
    steps: u32,
    #[validate(range(max = 10_000))]
    step_ms: u64,
}

/// The answer to [`Slow`].
#[message("DONE")]
struct Done {
    tag: String,
}

/// Asks for the tags of the [`Slow`] requests cancelled so far; answered with [`CancelledTags`].
#[message("CANCELLED", response = CancelledTags)]
struct Cancelled;

/// The tags of the cancelled [`Slow`] requests, oldest first.
#[message("CANCELLED_TAGS")]
struct CancelledTags {
    tags: Vec<String>,
}

/// Asks how this connection authenticated; answered with [`Identity`].
#[message("WHO_AM_I", response = Identity)]
struct WhoAmI;

/// The token this connection offered and where: `query`, `protocol` or `none`.
#[message("IDENTITY")]
struct Identity {
    token: Option<String>,
    transport: String,
}

/// Closes this connection with 4000, as a server that drops a client would.
#[message("KICK")]
struct Kick;

/// Subscribes this connection to `topic`; answered with [`Subscribed`].
#[message("SUBSCRIBE", response = Subscribed)]
struct Subscribe {
    topic: String,
}

/// The answer to [`Subscribe`].
#[message("SUBSCRIBED")]
struct Subscribed {
    topic: String,
}

/// Publishes a [`Note`] with `text` to `topic`; answered with [`Published`] once published.
#[message("PUBLISH", response = Published)]
struct PublishNote {
    topic: String,
    text: String,
}

/// The answer to [`PublishNote`].
#[message("PUBLISHED")]
struct Published;

/// What [`PublishNote`] publishes.
#[message("NOTE")]
struct Note {
    text: String,
}

/// How a connection authenticated.
#[derive(Default)]
struct Peer {
    token: Option<String>,
    transport: &'static str,
}

/// The application: the tags of cancelled requests.
#[derive(Default)]
struct App {
    cancelled: Mutex<Vec<String>>,
}

/// Records `tag` in `App::cancelled` when dropped before [`disarm`](Self::disarm): a
/// cancelled handler's future is dropped at the `.await` it waits on.
struct RecordIfCancelled<'a> {
    app: &'a App,
    tag: Option<String>,
}

impl RecordIfCancelled<'_> {
    fn disarm(mut self) -> String {
        self.tag.take().unwrap_or_default()
    }
}

impl Drop for RecordIfCancelled<'_> {
    fn drop(&mut self) {
        if let Some(tag) = self.tag.take() {
            self.app.cancelled.lock().unwrap_or_else(|poison| poison.into_inner()).push(tag);
        }
    }
}

#[router(data = Peer)]
impl App {
    #[on]
    async fn echo(&self, ctx: &mut Ctx<Peer>, msg: Echo) -> Result<(), Error> {
        ctx.reply(&Echoed { text: msg.text })
    }

    #[rpc]
    async fn add(&self, _ctx: &mut Ctx<Peer>, req: Add) -> Result<Sum, Error> {
        Ok(Sum { sum: req.a.saturating_add(req.b) })
    }

    #[rpc]
    async fn fail(&self, _ctx: &mut Ctx<Peer>, req: Fail) -> Result<Sum, Error> {
        Err(match req.kind.as_str() {
            "not_found" => Error::not_found("no such thing").with_detail("id", "42"),
            "unavailable" => Error::unavailable("try again soon").with_retry(Retry::After(250)),
            "not_now" => Error::unavailable("not under this policy").with_retry(Retry::NotNow),
            _ => Error::custom("TEAPOT", "a custom code"),
        })
    }

    #[rpc]
    async fn slow(&self, ctx: &mut Ctx<Peer>, req: Slow) -> Result<Done, Error> {
        let guard = RecordIfCancelled { app: self, tag: Some(req.tag) };
        for step in 1..=req.steps {
            tokio::time::sleep(Duration::from_millis(req.step_ms)).await;
            ctx.progress(&serde_json::json!({ "step": step }));
        }
        Ok(Done { tag: guard.disarm() })
    }

    #[rpc]
    async fn cancelled(&self, _ctx: &mut Ctx<Peer>, _req: Cancelled) -> Result<CancelledTags, Error> {
        let tags = self.cancelled.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
        Ok(CancelledTags { tags })
    }

    #[rpc]
    async fn who_am_i(&self, ctx: &mut Ctx<Peer>, _req: WhoAmI) -> Result<Identity, Error> {
        let peer = ctx.data();
        Ok(Identity { token: peer.token.clone(), transport: peer.transport.to_owned() })
    }

    #[rpc]
    async fn subscribe(&self, ctx: &mut Ctx<Peer>, req: Subscribe) -> Result<Subscribed, Error> {
        ctx.subscribe(&req.topic).await?;
        Ok(Subscribed { topic: req.topic })
    }

    #[rpc]
    async fn publish(&self, ctx: &mut Ctx<Peer>, req: PublishNote) -> Result<Published, Error> {
        ctx.publish(&req.topic, &Note { text: req.text }).await?;
        Ok(Published)
    }

    #[on]
    async fn kick(&self, ctx: &mut Ctx<Peer>, _msg: Kick) -> Result<(), Error> {
        ctx.close(4000, "kicked");
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Port 0 (any free port) unless `PORT` names one: a test restarts it on the same port.
    let listener = wskit_examples::bind(wskit_examples::listen_addr(0)?).await?;
    let server = Server::with_data(App::default(), |parts| {
        match (token::query(parts, "access_token"), token::bearer_protocol(parts)) {
            (Some(token), _) => Peer { token: Some(token), transport: "query" },
            (None, Some(token)) => Peer { token: Some(token), transport: "protocol" },
            (None, None) => Peer::default(),
        }
    })
    .path("/ws");
    // A client's tests need a server that does not offer resume too.
    let server = if std::env::var("PEER_RESUME").as_deref() == Ok("off") {
        server
    } else {
        server.resume(Resume::enabled())
    };
    println!("listening on ws://{}/ws", listener.local_addr()?);
    server.serve_with_shutdown(listener, std::future::pending()).await
}
