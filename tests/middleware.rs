//! Middleware over real sockets: server layers, router-wide and per-handler `#[middleware]`,
//! their order, stopping with an error or silently, and what they can read and change.

use serde_json::json;
use std::sync::{Arc, Mutex};
use wskit::middleware::{Decision, Incoming, Middleware, Next};
use wskit::{message, router, Ctx, Error, Server};
use wskit_examples::{RawClient, TestServer};

#[message("LOGIN")]
struct Login {
    name: String,
    admin: bool,
}

#[message("SAY")]
struct Say {
    text: String,
}

#[message("DELETE_ROOM")]
struct DeleteRoom;

#[message("SPAM")]
struct Spam;

#[message("WHO", response = Done)]
struct Who;

#[message("DONE")]
struct Done {
    seen: u32,
}

#[derive(Default)]
struct Session {
    user: Option<String>,
    admin: bool,
    seen: u32,
}

/// The order in which layers, middleware and handlers ran.
type Trail = Arc<Mutex<Vec<String>>>;

struct Chat {
    trail: Trail,
}

#[router(data = Session, middleware = [count, require_login])]
impl Chat {
    #[middleware]
    async fn count(&self, ctx: &mut Ctx<Session>, incoming: &Incoming<'_>) -> Result<Next, Error> {
        ctx.data_mut().seen += 1;
        self.trail.lock().unwrap().push(format!("count {}", incoming.message_type()));
        Ok(Next::Continue)
    }

    #[middleware]
    async fn require_login(&self, ctx: &mut Ctx<Session>, incoming: &Incoming<'_>) -> Result<Next, Error> {
        self.trail.lock().unwrap().push("require_login".into());
        match (ctx.data().user.is_some(), incoming.payload::<Login>().is_some()) {
            (false, false) => Err(Error::unauthenticated("log in first")),
            _ => Ok(Next::Continue),
        }
    }

    #[middleware]
    async fn admin_only(&self, ctx: &mut Ctx<Session>, _incoming: &Incoming<'_>) -> Result<Next, Error> {
        self.trail.lock().unwrap().push("admin_only".into());
        match ctx.data().admin {
            true => Ok(Next::Continue),
            false => Err(Error::permission_denied("admins only")),
        }
    }

    #[middleware]
    async fn no_shouting(&self, _ctx: &mut Ctx<Session>, incoming: &Incoming<'_>) -> Result<Next, Error> {
        let say = incoming.payload::<Say>().expect("runs on SAY only");
        match say.text.chars().any(char::is_lowercase) {
            true => Ok(Next::Continue),
            false => Ok(Next::Stop),
        }
    }

    #[on]
    async fn login(&self, ctx: &mut Ctx<Session>, login: Login) -> Result<(), Error> {
        ctx.data_mut().user = Some(login.name);
        ctx.data_mut().admin = login.admin;
        let seen = ctx.data().seen;
        ctx.reply(&Done { seen })
    }

    #[on(middleware = [no_shouting])]
    async fn say(&self, ctx: &mut Ctx<Session>, _say: Say) -> Result<(), Error> {
        self.trail.lock().unwrap().push("say".into());
        let seen = ctx.data().seen;
        ctx.reply(&Done { seen })
    }

    #[on(middleware = [admin_only])]
    async fn delete_room(&self, ctx: &mut Ctx<Session>, _: DeleteRoom) -> Result<(), Error> {
        self.trail.lock().unwrap().push("delete_room".into());
        let seen = ctx.data().seen;
        ctx.reply(&Done { seen })
    }

    #[middleware]
    async fn closed_for_now(&self, _ctx: &mut Ctx<Session>, _incoming: &Incoming<'_>) -> Result<Next, Error> {
        Ok(Next::Stop)
    }

    #[rpc(middleware = [closed_for_now])]
    async fn who(&self, ctx: &mut Ctx<Session>, _: Who) -> Result<Done, Error> {
        Ok(Done { seen: ctx.data().seen })
    }

    #[on]
    async fn spam(&self, _ctx: &mut Ctx<Session>, _: Spam) -> Result<(), Error> {
        Ok(())
    }
}

/// A server layer: records that it ran, and drops `SPAM` before it is decoded.
struct Gate {
    trail: Trail,
}

impl Middleware<Session> for Gate {
    fn handle<'a>(&'a self, _ctx: &'a mut Ctx<Session>, incoming: &'a Incoming<'a>) -> Decision<'a> {
        Box::pin(async move {
            self.trail.lock().unwrap().push(format!("gate {}", incoming.raw_payload().unwrap_or("-")));
            match incoming.message_type() {
                "SPAM" => Err(Error::resource_exhausted("no spam")),
                _ => Ok(Next::Continue),
            }
        })
    }
}

async fn start() -> (TestServer, RawClient, Trail) {
    let trail = Trail::default();
    let server =
        Server::new(Chat { trail: trail.clone() }).path("/ws").middleware(Gate { trail: trail.clone() });
    let server = TestServer::start(server).await;
    let client = RawClient::connect(&server.url("/ws")).await;
    (server, client, trail)
}

fn take(trail: &Trail) -> Vec<String> {
    std::mem::take(&mut *trail.lock().unwrap())
}

#[tokio::test]
async fn layers_then_router_middleware_then_handler_middleware_then_the_handler() {
    let (_server, mut client, trail) = start().await;
    client.request(json!({"type": "LOGIN", "payload": {"name": "ada", "admin": true}})).await;
    take(&trail);
    let reply = client.request(json!({"type": "DELETE_ROOM"})).await;
    assert_eq!(reply["type"], "DONE");
    assert_eq!(take(&trail), ["gate -", "count DELETE_ROOM", "require_login", "admin_only", "delete_room"]);
}

#[tokio::test]
async fn a_middleware_error_stops_the_message_with_its_error_frame() {
    let (_server, mut client, trail) = start().await;
    let frame = client.request(json!({"type": "SAY", "payload": {"text": "hi"}})).await;
    assert_eq!(
        (frame["type"].as_str(), frame["payload"]["code"].as_str()),
        (Some("ERROR"), Some("UNAUTHENTICATED"))
    );
    client.request(json!({"type": "LOGIN", "payload": {"name": "bob", "admin": false}})).await;
    let frame = client.request(json!({"type": "DELETE_ROOM", "meta": {"correlationId": "d"}})).await;
    assert_eq!(frame["type"], "RPC_ERROR");
    assert_eq!(frame["payload"]["code"], "PERMISSION_DENIED");
    assert!(!take(&trail).contains(&"delete_room".to_owned()), "the handler never ran");
}

#[tokio::test]
async fn a_middleware_can_drop_a_message_silently_after_reading_it_decoded() {
    let (_server, mut client, trail) = start().await;
    client.request(json!({"type": "LOGIN", "payload": {"name": "ada", "admin": false}})).await;
    client.send(json!({"type": "SAY", "payload": {"text": "HELLO!"}})).await;
    // Dropped without an answer: the next frame answers the next message.
    let reply = client.request(json!({"type": "SAY", "payload": {"text": "hello"}})).await;
    assert_eq!(reply["type"], "DONE");
    assert_eq!(take(&trail).iter().filter(|step| *step == "say").count(), 1);
}

#[tokio::test]
async fn middleware_changes_the_connection_data_handlers_see() {
    let (_server, mut client, _trail) = start().await;
    let reply = client.request(json!({"type": "LOGIN", "payload": {"name": "ada", "admin": false}})).await;
    assert_eq!(reply["payload"]["seen"], 1);
    let reply = client.request(json!({"type": "SAY", "payload": {"text": "hi"}})).await;
    assert_eq!(reply["payload"]["seen"], 2);
}

#[tokio::test]
async fn a_server_layer_sees_the_raw_payload_and_rejects_before_decoding() {
    let (_server, mut client, trail) = start().await;
    client.request(json!({"type": "LOGIN", "payload": {"name": "ada", "admin": false}})).await;
    take(&trail);
    // SPAM carries no payload: decoding would refuse this one; the layer answers first.
    let frame = client.request(json!({"type": "SPAM", "payload": {"x": 1}})).await;
    assert_eq!(frame["payload"]["code"], "RESOURCE_EXHAUSTED");
    assert_eq!(take(&trail), [r#"gate {"x":1}"#]);
}

#[tokio::test]
async fn an_rpc_request_a_middleware_drops_still_gets_its_one_rpc_error() {
    let (_server, mut client, _trail) = start().await;
    client.request(json!({"type": "LOGIN", "payload": {"name": "ada", "admin": false}})).await;
    let frame = client.request(json!({"type": "WHO", "meta": {"correlationId": "w"}})).await;
    assert_eq!(frame["type"], "RPC_ERROR");
    assert_eq!(frame["meta"], json!({"correlationId": "w"}));
    assert_eq!(frame["payload"]["code"], "CANCELLED");
}
