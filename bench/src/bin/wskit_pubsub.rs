//! The wskit pub/sub server of the benchmark: `SUBSCRIBE {topic}` subscribes the connection
//! and answers `SUBSCRIBED {topic}`; `PUBLISH {topic, text}` publishes `NEWS {text}` to the
//! topic's subscribers and answers nothing (a failed publish answers `ERROR`). It merges
//! the echo router of `wskit_echo` into its own, so that `loadgen soak` mixes echo, RPC and
//! pub/sub on one server.
//!
//! `wskit_pubsub [ADDR]` (default `127.0.0.1:9001`) serves `ws://ADDR/ws` with the in-memory
//! bus, or with the Redis bus at `REDIS_URL` when that is set (channel prefix
//! `REDIS_PREFIX`, default `wskit-bench:`), so that several instances share publishes.
//! `WORKERS` sets the runtime's worker threads (default 1), `LIFETIME_SECS` how long it runs
//! at most, and `DEFLATE_THRESHOLD=N` and `RESUME=1` offer permessage-deflate and session
//! resume.

use std::io;
use tokio::net::TcpListener;
use wskit::{message, router, Ctx, Error, Hub, RedisOptions, Router, Server, TopicRules};
use wskit_bench::echo::EchoRouter;

/// Subscribes the connection: `{"type":"SUBSCRIBE","payload":{"topic":"bench"}}`.
#[message("SUBSCRIBE")]
struct Subscribe {
    topic: String,
}

/// The answer once the subscription is in place.
#[message("SUBSCRIBED")]
struct Subscribed {
    topic: String,
}

/// Publishes `text`: `{"type":"PUBLISH","payload":{"topic":"bench","text":"hello world"}}`.
#[message("PUBLISH")]
struct Publish {
    topic: String,
    text: String,
}

/// What subscribers receive: `{"type":"NEWS","payload":{"text":"hello world"}}`.
#[message("NEWS")]
struct News {
    text: String,
}

/// The application: stateless.
struct App;

#[router]
impl App {
    #[on]
    async fn subscribe(&self, ctx: &mut Ctx<()>, m: Subscribe) -> Result<(), Error> {
        ctx.subscribe(&m.topic).await?;
        ctx.reply(&Subscribed { topic: m.topic })
    }

    #[on]
    async fn publish(&self, ctx: &mut Ctx<()>, m: Publish) -> Result<(), Error> {
        ctx.publish(&m.topic, &News { text: m.text }).await?;
        Ok(())
    }
}

/// The in-memory hub, or the Redis hub at `REDIS_URL`; and the name of its bus.
async fn hub() -> io::Result<(Hub, &'static str)> {
    let Ok(url) = std::env::var("REDIS_URL") else { return Ok((Hub::memory(), "memory")) };
    let prefix = std::env::var("REDIS_PREFIX").unwrap_or_else(|_| "wskit-bench:".to_owned());
    let hub = Hub::redis(&url, RedisOptions::default().prefix(prefix), TopicRules::default())
        .await
        .map_err(|error| io::Error::other(format!("cannot use the Redis at REDIS_URL={url}: {error}")))?;
    Ok((hub, "redis"))
}

fn main() -> io::Result<()> {
    let addr = wskit_bench::listen_addr();
    let runtime = wskit_bench::runtime()?;
    wskit_bench::run(&runtime, async move {
        let (hub, bus) = hub().await?;
        let listener = TcpListener::bind(&addr).await?;
        println!("wskit_pubsub ({bus} bus) listening on ws://{}/ws", listener.local_addr()?);
        let app = App.merge(EchoRouter);
        wskit_bench::configure(Server::new(app).path("/ws").hub(hub))?
            .serve_with_shutdown(listener, wskit_bench::stop_signal())
            .await
    })
}
