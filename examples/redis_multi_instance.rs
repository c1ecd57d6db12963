//! Two server instances sharing one Redis bus: a message published on one reaches the
//! subscribers of both.
//!
//! Run it with a Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`):
//!
//! ```sh
//! cargo run --example redis_multi_instance
//! ```
//!
//! It starts instances on ws://127.0.0.1:3001/ws and ws://127.0.0.1:3002/ws (with `PORT`
//! set, on that port and the next), shows one client on each exchanging a message through
//! Redis, and keeps serving until Ctrl-C.
//! Send `{"type":"JOIN","payload":{"room":"lobby"}}` and then
//! `{"type":"SAY","payload":{"room":"lobby","text":"hi"}}` from any WebSocket client.

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wskit::{message, router, Ctx, Error, Hub, Publish, RedisOptions, Server, TopicRules};

/// Joins a room.
#[message("JOIN")]
struct Join {
    #[validate(length(min = 1, max = 64))]
    room: String,
}

/// Says something in a room.
#[message("SAY")]
struct Say {
    #[validate(length(min = 1, max = 64))]
    room: String,
    #[validate(length(min = 1, max = 500))]
    text: String,
}

/// What the members of a room hear.
#[message("SAID")]
struct Said {
    room: String,
    text: String,
    instance: u16,
}

/// Confirms a join.
#[message("JOINED")]
struct Joined {
    room: String,
}

/// One instance of the application.
struct Rooms {
    port: u16,
}

#[router]
impl Rooms {
    #[on]
    async fn join(&self, ctx: &mut Ctx<()>, msg: Join) -> Result<(), Error> {
        ctx.subscribe(&format!("room:{}", msg.room)).await?;
        ctx.reply(&Joined { room: msg.room })
    }

    #[on]
    async fn say(&self, ctx: &mut Ctx<()>, msg: Say) -> Result<(), Error> {
        let said = Said { room: msg.room.clone(), text: msg.text, instance: self.port };
        ctx.publish_with(&format!("room:{}", msg.room), &said, &Publish::new().exclude_self()).await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let options = RedisOptions::default().prefix("wskit-example:");
    let first = wskit_examples::listen_addr(3001)?;
    let next = first.port().checked_add(1).ok_or("PORT must leave room for a second port")?;
    let addrs = [first, SocketAddr::new(first.ip(), next)];
    let mut instances = Vec::new();
    for addr in addrs {
        let hub = Hub::redis(&url, options.clone(), TopicRules::default()).await?;
        let server = Server::new(Rooms { port: addr.port() }).path("/ws").hub(hub);
        // Bound before the demo connects; served until Ctrl-C.
        let listener = wskit_examples::bind(addr).await?;
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        instances.push(tokio::spawn(server.serve_with_shutdown(listener, ctrl_c)));
    }

    println!("redis_multi_instance: serving ws://{}/ws and ws://{}/ws", addrs[0], addrs[1]);
    demo(addrs).await?;
    println!("Ctrl-C to stop");
    for instance in instances {
        instance.await??;
    }
    Ok(())
}

/// One client per instance: the second hears what the first says, through Redis.
async fn demo([first, second]: [SocketAddr; 2]) -> Result<(), Box<dyn std::error::Error>> {
    let connect = |addr: SocketAddr| async move {
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.map(|(ws, _)| ws)
    };
    let mut alice = connect(first).await?;
    let mut bob = connect(second).await?;
    for ws in [&mut alice, &mut bob] {
        ws.send(WsMessage::text(r#"{"type":"JOIN","payload":{"room":"lobby"}}"#)).await?;
        ws.next().await.ok_or("closed")??;
    }
    let say =
        format!(r#"{{"type":"SAY","payload":{{"room":"lobby","text":"hello from {}"}}}}"#, first.port());
    alice.send(WsMessage::text(say)).await?;
    let heard = bob.next().await.ok_or("closed")??;
    println!("the client on {} received: {heard}", second.port());
    Ok(())
}
