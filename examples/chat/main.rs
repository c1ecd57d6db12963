//! A chat server with a browser page: pick a name, join rooms, talk, and watch others come
//! and go in real time.
//!
//! Run it with `cargo run --example chat`, then open http://127.0.0.1:3000 in two or more
//! tabs (`PORT=4000 cargo run --example chat` serves it on port 4000 instead). The page
//! (`index.html` and `chat.js` beside this file, plain HTML and JavaScript) talks to the
//! WebSocket at ws://127.0.0.1:3000/ws through the typed TypeScript client, whose committed
//! JavaScript (`clients/typescript/dist`) is built into the binary: no build step.
//! `generated/chat.ts`, written from the router's messages by `cargo run --example
//! chat_schema`, types the client. `router.rs` holds the
//! messages and the router, which `examples/cloudflare` also runs in a Durable Object;
//! `app.rs` serves them and the page with the hyper host, with session resume on: a tab
//! that lost its connection (and the page's client, which asks for resume) gets the
//! messages sent meanwhile when it is back within two minutes; later, it fetches the
//! room's history instead.

mod app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let addr = wskit_examples::listen_addr(3000)?;
    println!("chat: serving ws://{addr}/ws; open http://{addr}/ in a browser");
    app::server().serve(addr).await
}
