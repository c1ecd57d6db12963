//! The wskit echo server of the benchmark: answers `ECHO {text}` with `ECHOED {text}`
//! through `ctx.reply`, and the RPC request `ECHO_RPC {text}` with `ECHOED {text}` through
//! an `#[rpc]` handler.
//!
//! `wskit_echo [ADDR]` (default `127.0.0.1:9001`) serves `ws://ADDR/ws`; `WORKERS` sets the
//! runtime's worker threads (default 1), `LIFETIME_SECS` how long it runs at most, and
//! `DEFLATE_THRESHOLD=N` and `RESUME=1` offer permessage-deflate and session resume.

use tokio::net::TcpListener;
use wskit::Server;
use wskit_bench::echo::EchoRouter;

fn main() -> std::io::Result<()> {
    let addr = wskit_bench::listen_addr();
    let runtime = wskit_bench::runtime()?;
    wskit_bench::run(&runtime, async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("wskit_echo listening on ws://{}/ws", listener.local_addr()?);
        wskit_bench::configure(Server::new(EchoRouter).path("/ws"))?
            .serve_with_shutdown(listener, wskit_bench::stop_signal())
            .await
    })
}
