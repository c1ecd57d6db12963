//! Authentication, roles and rate limits: a lobby that only holders of a JSON Web Token may
//! enter, where everyone may `SAY` something and only admins may `ANNOUNCE`.
//!
//! Run it with `cargo run --example auth`: it listens on ws://127.0.0.1:3001/ws (on
//! another port with `PORT=4001 cargo run --example auth`) and prints two tokens, an
//! admin's and a member's, valid for an hour, with URLs ready for `websocat` or a
//! browser's console. Then send, for example:
//!
//! ```text
//! {"type":"SAY","payload":{"text":"hello"}}
//! {"type":"ANNOUNCE","payload":{"text":"maintenance at noon"}}
//! ```
//!
//! The member's `ANNOUNCE` is refused with PERMISSION_DENIED; sending too fast is refused
//! with RESOURCE_EXHAUSTED and `retryAfterMs`, per user across all of its connections.
//! Tokens are signed with `JWT_SECRET` if set, otherwise with a fixed demo secret.
//! `app.rs` holds the authenticator, the messages and the router.

mod app;

use app::{Claims, Config, Role};
use std::time::Duration;

/// The secret used when `JWT_SECRET` is not set: fine for a demo, never for production.
const DEMO_SECRET: &str = "wskit-auth-example-demo-secret";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let addr = wskit_examples::listen_addr(app::PORT)?;
    let secret = std::env::var("JWT_SECRET").unwrap_or_else(|_| {
        println!("JWT_SECRET is not set: signing with the demo secret");
        DEMO_SECRET.to_owned()
    });
    let secret = secret.into_bytes();
    let hour = Duration::from_secs(3600);
    for (name, role) in [("alice", Role::Admin), ("bob", Role::Member)] {
        let token = Claims::new(name, role, hour).sign(&secret);
        println!("\n{name} ({role:?}), valid for an hour:");
        println!("  websocat 'ws://{addr}/ws?access_token={token}'");
        println!("  websocat --protocol 'bearer.{token}' ws://{addr}/ws");
        println!("  or open http://{addr}/ and run in its console:");
        println!("  ws = new WebSocket('ws://{addr}/ws', ['bearer.{token}']); ws.onmessage = (e) => console.log(e.data)");
    }
    println!("\nauth: serving ws://{addr}/ws; Ctrl-C to stop");
    app::server(Config { port: addr.port(), ..Config::demo(secret) }).serve(addr).await
}
