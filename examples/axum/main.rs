//! wskit inside an axum app: REST routes and the WebSocket route in one router, under one
//! tower layer.
//!
//! Run it with `cargo run --example axum`; it listens on 127.0.0.1:3004 (or the port in
//! `PORT`) and prints the address. Then:
//!
//! ```sh
//! curl http://127.0.0.1:3004/health
//! websocat ws://127.0.0.1:3004/ws      # send {"type":"SUBSCRIBE","payload":{"topic":"news"}}
//! curl -X POST http://127.0.0.1:3004/api/notify \
//!      -H 'content-type: application/json' -d '{"topic":"news","text":"hello"}'
//! ```
//!
//! The WebSocket client gets `{"type":"NOTIFICATION","payload":{"topic":"news","text":"hello"}}`.
//! `app.rs` holds the routes, the messages and the router.

mod app;

use std::io;
use tower_http::trace::TraceLayer;

/// The port without `PORT`.
const DEFAULT_PORT: u16 = 3004;

#[tokio::main]
async fn main() -> io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info,tower_http=debug").init();
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("PORT={port} is not a port")))?,
        Err(_) => DEFAULT_PORT,
    };
    let (routes, ws) = app::app();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("axum example: serving http://{}", listener.local_addr()?);
    axum::serve(listener, routes.layer(TraceLayer::new_for_http()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // axum's server is done with HTTP; the WebSocket connections are closed with 1001.
    ws.shutdown().await;
    Ok(())
}
