//! The chat of `examples/chat` on Cloudflare: the same router, run by wskit's Durable
//! Object host.
//!
//! The Worker takes `GET /ws/:room` upgrades and sends each to the Durable Object of the
//! room's shard: rooms are spread over [`SHARDS`] objects by a stable hash of their name,
//! so every member of a room reaches the one object that holds the room, while the rooms
//! share out the load. The object answers the upgrade itself (101 with `x-client-id`),
//! adds `x-wskit-shard` with its shard's name, and from then on the runtime hands it the
//! socket's messages, also after it hibernated.

#[path = "../../chat/router.rs"]
mod router;

use router::{Chat, MAX_FRAME_BYTES};
use worker::*;
use wskit::cloudflare::Host;
use wskit::Limits;

/// How many Durable Objects the rooms are spread over.
const SHARDS: u32 = 2;

/// 32-bit FNV-1a of `text`: stable across builds and platforms (unlike std's hasher), and
/// a few lines in any language, so that a client can tell which shard a room lands on.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

/// The name of the Durable Object that holds room `room`.
fn shard_of(room: &str) -> String {
    format!("shard-{}", fnv1a(room) % SHARDS)
}

/// Whether `room` can name a room: the rule of the router's `JOIN_ROOM`. Checked here so
/// that a connection that could never join its room is not opened at all.
fn is_room_id(room: &str) -> bool {
    (1..=32).contains(&room.len())
        && room.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// The Worker: routes `GET /ws/:room` upgrades to the room's shard; 404 for anything else,
/// 426 for a request to a room that is not a WebSocket upgrade.
#[event(fetch)]
async fn fetch(request: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = request.path();
    let room = path.strip_prefix("/ws/").filter(|room| is_room_id(room));
    let Some(room) = room.filter(|_| request.method() == Method::Get) else {
        return Response::error("not found: connect to /ws/<room>\n", 404);
    };
    let upgrade = request.headers().get("upgrade")?;
    if !upgrade.is_some_and(|value| value.eq_ignore_ascii_case("websocket")) {
        return Response::error("a WebSocket upgrade is expected here\n", 426);
    }
    let shard = shard_of(room);
    let stub = env.durable_object("CHAT")?.id_from_name(&shard)?.get_stub()?;
    stub.fetch_with_request(request).await
}

/// One shard: the rooms whose names hash to it, and their members' sockets.
#[durable_object(websocket)]
pub struct ChatShard {
    host: Host<Chat>,
}

impl DurableObject for ChatShard {
    fn new(state: State, _env: Env) -> Self {
        let host = Host::new(state, Chat::default())
            .path("/ws/:room")
            .limits(Limits::default().max_message_bytes(MAX_FRAME_BYTES));
        ChatShard { host }
    }

    async fn fetch(&self, request: Request) -> Result<Response> {
        let mut response = self.host.upgrade(request).await?;
        // The object was reached by `id_from_name`, so its id knows the shard's name.
        if let (101, Some(shard)) = (response.status_code(), self.host.state().id().name()) {
            response.headers_mut().set("x-wskit-shard", &shard)?;
        }
        Ok(response)
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        self.host.on_message(ws, message).await
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        self.host.on_close(ws, code, reason).await
    }

    async fn websocket_error(&self, ws: WebSocket, error: Error) -> Result<()> {
        self.host.on_error(ws, error).await
    }
}
