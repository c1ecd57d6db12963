//! Flow control: bounded queues with drop-oldest, drop-newest and watched policies, the
//! client told what was dropped, retry hints. See `app.rs` for the pattern and
//! `conformance.json` beside it for the contract, played by `tests/flow_control.rs`.
//!
//! Run it with `cargo run --example flow_control` (ws://127.0.0.1:3007/ws/drop-oldest,
//! /ws/drop-newest and /ws/queue, or the port in `PORT`), then with
//! `websocat ws://127.0.0.1:3007/ws/drop-newest` send
//! `{"type":"SEND_DATA","meta":{"correlationId":"1"},"payload":{"id":"a"}}` eleven times,
//! or `{"type":"BURST","payload":{"count":100}}`.

mod app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let addr = wskit_examples::listen_addr(3007)?;
    println!("flow_control: serving ws://{addr}/ws/drop-oldest, ws://{addr}/ws/drop-newest and ws://{addr}/ws/queue");
    app::routes().serve(addr).await
}
