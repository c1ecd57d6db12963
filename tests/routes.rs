//! Several routes in one server (`Routes`): each path with its own router, connection data
//! and authenticator, 404 elsewhere, the plain-HTTP fallback, one hub and one shutdown.

use serde_json::json;
use wskit::{message, router, Close, Ctx, Error, Rejection, Routes, Server};
use wskit_examples::raw::{status, upgrade};
use wskit_examples::{http_get, RawClient, TestServer};

#[message("WHO")]
struct Who;

#[message("YOU_ARE")]
struct YouAre {
    route: String,
    name: String,
    room: Option<String>,
}

#[message("LISTEN")]
struct Listen;

#[message("ANNOUNCE")]
struct Announce {
    text: String,
}

/// The data of a chat connection: a guest number, no authentication.
#[derive(Default)]
struct Guest {
    number: u32,
}

struct Chat;

#[router(data = Guest)]
impl Chat {
    #[on]
    async fn who(&self, ctx: &mut Ctx<Guest>, _: Who) -> Result<(), Error> {
        let name = format!("guest {}", ctx.data().number);
        ctx.reply(&YouAre { route: "chat".into(), name, room: None })
    }

    #[on]
    async fn listen(&self, ctx: &mut Ctx<Guest>, _: Listen) -> Result<(), Error> {
        ctx.subscribe("news").await?;
        ctx.reply(&Listen)
    }
}

/// The data of a room connection: the member its token names.
struct Member {
    name: String,
}

struct Rooms;

#[router(data = Member)]
impl Rooms {
    #[on]
    async fn who(&self, ctx: &mut Ctx<Member>, _: Who) -> Result<(), Error> {
        let (name, room) = (ctx.data().name.clone(), ctx.param("room").map(str::to_owned));
        ctx.reply(&YouAre { route: "rooms".into(), name, room })
    }

    #[on]
    async fn announce(&self, ctx: &mut Ctx<Member>, announce: Announce) -> Result<(), Error> {
        ctx.publish("news", &announce).await?;
        Ok(())
    }
}

/// Rooms for members with the token `ada`; others are refused with 401.
fn rooms() -> Server<Rooms> {
    Server::with_authenticator(Rooms, |parts| {
        let token = wskit::token::any(parts);
        async move {
            match token.as_deref() {
                Some("ada") => Ok(Member { name: "ada".into() }),
                _ => Err(Rejection::unauthorized("an access_token is required")),
            }
        }
    })
}

fn routes() -> Routes {
    Routes::new()
        .route("/ws/chat", Server::with_data(Chat, |_| Guest { number: 7 }))
        .route("/ws/rooms/:room", rooms())
}

#[tokio::test]
async fn each_route_has_its_router_data_and_authenticator() {
    let server = TestServer::start_routes(routes()).await;
    let mut chat = RawClient::connect(&server.url("/ws/chat")).await;
    let reply = chat.request(json!({"type": "WHO"})).await;
    assert_eq!(reply["payload"], json!({"route": "chat", "name": "guest 7"}));

    let mut room = RawClient::connect(&server.url("/ws/rooms/lobby?access_token=ada")).await;
    let reply = room.request(json!({"type": "WHO"})).await;
    assert_eq!(reply["payload"], json!({"route": "rooms", "name": "ada", "room": "lobby"}));
    // A type of the other route's router is not this route's.
    let reply = room.request(json!({"type": "LISTEN"})).await;
    assert_eq!(reply["payload"]["code"], "UNIMPLEMENTED");

    let (_, refused) = upgrade(server.addr, "/ws/rooms/lobby?access_token=bob", "").await;
    assert_eq!(status(&refused), 401, "{refused}");
    let (_, unknown) = upgrade(server.addr, "/ws/elsewhere", "").await;
    assert_eq!(status(&unknown), 404, "{unknown}");
    // Not an upgrade, on a route's path and without a fallback: as on a lone server.
    assert!(http_get(server.addr, "/ws/chat").await.starts_with("HTTP/1.1 426"));
    assert!(http_get(server.addr, "/").await.starts_with("HTTP/1.1 404"));
}

#[tokio::test]
async fn the_fallback_serves_plain_http_and_upgrades_still_reach_their_routes() {
    let routes = routes().fallback(|request| async move {
        http::Response::new(wskit::Body::from(format!("page for {}", request.uri().path())))
    });
    let server = TestServer::start_routes(routes).await;
    let page = http_get(server.addr, "/").await;
    assert!(page.starts_with("HTTP/1.1 200") && page.ends_with("page for /"), "{page}");
    let page = http_get(server.addr, "/ws/chat").await;
    assert!(page.ends_with("page for /ws/chat"), "{page}");
    let mut chat = RawClient::connect(&server.url("/ws/chat")).await;
    assert_eq!(chat.request(json!({"type": "WHO"})).await["payload"]["route"], "chat");
}

#[tokio::test]
async fn routes_share_one_hub_and_one_shutdown() {
    let server = TestServer::start_routes(routes()).await;
    let mut chat = RawClient::connect(&server.url("/ws/chat")).await;
    assert_eq!(chat.request(json!({"type": "LISTEN"})).await["type"], "LISTEN");
    let mut room = RawClient::connect(&server.url("/ws/rooms/lobby?access_token=ada")).await;
    room.send(json!({"type": "ANNOUNCE", "payload": {"text": "hello"}})).await;
    let heard = chat.recv().await;
    assert_eq!(heard, json!({"type": "ANNOUNCE", "payload": {"text": "hello"}}));

    let ((), chat_closed, room_closed) = tokio::join!(server.stop(), chat.closed(), room.closed());
    assert_eq!((chat_closed.0, room_closed.0), (Close::GOING_AWAY, Close::GOING_AWAY));
}
