//! Delta sync: collaborative state with revisions, catch-up by deltas or by snapshot,
//! optimistic updates acknowledged or rejected. See `app.rs` for the pattern and
//! `conformance.json` beside it for the contract, played by `tests/delta_sync.rs`.
//!
//! Run it with `cargo run --example delta_sync` (ws://127.0.0.1:3005/ws, or the port in
//! `PORT`), then with `websocat ws://127.0.0.1:3005/ws` send
//! `{"type":"JOIN","payload":{"participantId":"u1","name":"Ada"}}` and
//! `{"type":"UPDATE","payload":{"patch":{"status":"away"},"clientReqId":"r1"}}`.

mod app;

/// Operations the ring buffer keeps; a client further behind gets a snapshot.
const HISTORY: usize = 1024;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let addr = wskit_examples::listen_addr(3005)?;
    println!("delta_sync: serving ws://{addr}/ws (the last {HISTORY} operations kept)");
    app::server(HISTORY).serve(addr).await
}
