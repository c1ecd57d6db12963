//! State channels: per-channel sequence numbers, duplicate updates refused, gaps closed
//! with a catch-up request. See `app.rs` for the pattern and `conformance.json` beside it
//! for the contract, played by `tests/state_channels.rs`.
//!
//! Run it with `cargo run --example state_channels` (ws://127.0.0.1:3006/ws, or the port
//! in `PORT`), then with `websocat ws://127.0.0.1:3006/ws` send
//! `{"type":"SUBSCRIBE","payload":{"channel":"doc-1","writerId":"w1"}}` and
//! `{"type":"STATE_UPDATE","payload":{"channel":"doc-1","seq":1,"value":{"title":"hi"}}}`.

mod app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let addr = wskit_examples::listen_addr(3006)?;
    println!("state_channels: serving ws://{addr}/ws ({} changes kept per channel)", app::HISTORY);
    app::server().serve(addr).await
}
