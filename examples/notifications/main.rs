//! Notifications pushed from HTTP to WebSocket clients, by user or by topic, and the hub's
//! numbers as JSON. See `app.rs` for the routes and `conformance.json` beside it for the
//! contract, played by `tests/notifications.rs`.
//!
//! Run it with `cargo run --example notifications` (http://127.0.0.1:3008, or the port in
//! `PORT`), then:
//!
//! ```sh
//! websocat 'ws://127.0.0.1:3008/ws?user=ada'
//! curl -X POST http://127.0.0.1:3008/notify -H 'content-type: application/json' \
//!      -d '{"user":"ada","title":"Build finished"}'
//! curl http://127.0.0.1:3008/stats
//! ```

mod app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let addr = wskit_examples::listen_addr(3008)?;
    let (routes, ws) = app::app();
    let listener = wskit_examples::bind(addr).await?;
    println!("notifications: serving http://{addr} (POST /notify, GET /stats, WebSocket at /ws?user=NAME)");
    axum::serve(listener, routes)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    ws.shutdown().await;
    Ok(())
}
