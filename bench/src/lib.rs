//! Shared setup of the benchmark servers in `src/bin`: the runtime, the listen address and
//! the stop signal, so that the wskit server and the bare tokio-tungstenite baseline run
//! under exactly the same conditions.

pub mod echo;

/// Every benchmark binary allocates with mimalloc, the allocator Bun's runtime uses, so
/// that the servers compared differ in how they serve, not in their allocator. Build
/// with `--no-default-features` for the system allocator (bench/README.md gives both
/// figures).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::runtime::{Builder, Runtime};

/// The address a server listens on when argv gives none.
pub const DEFAULT_ADDR: &str = "127.0.0.1:9001";

/// How long a server runs before it stops by itself, unless `LIFETIME_SECS` says otherwise:
/// a server a script forgot to stop does not linger.
pub const DEFAULT_LIFETIME_SECS: u64 = 600;

/// The listen address: the first argument, or [`DEFAULT_ADDR`].
pub fn listen_addr() -> String {
    std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned())
}

/// `server` with the options of the environment: `DEFLATE_THRESHOLD=N` offers
/// permessage-deflate for frames of at least N bytes, `RESUME=1` session resume.
pub fn configure<R: wskit::Router>(server: wskit::Server<R>) -> io::Result<wskit::Server<R>> {
    let server = server.deflate(deflate()?);
    Ok(match resume() {
        Some(resume) => server.resume(resume),
        None => server,
    })
}

/// The permessage-deflate settings of the wskit servers: off, or with `DEFLATE_THRESHOLD=N`
/// on, compressing frames of at least N bytes.
fn deflate() -> io::Result<wskit::Deflate> {
    match std::env::var("DEFLATE_THRESHOLD") {
        Ok(value) => {
            value.parse().map(|threshold| wskit::Deflate::enabled().threshold(threshold)).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("DEFLATE_THRESHOLD={value:?}: not a number of bytes"),
                )
            })
        }
        Err(_) => Ok(wskit::Deflate::default()),
    }
}

/// Session resume, offered with `RESUME=1`: every connection that asks for it
/// (`loadgen --resume`) numbers and keeps what it writes.
fn resume() -> Option<wskit::Resume> {
    (std::env::var("RESUME").as_deref() == Ok("1")).then(wskit::Resume::enabled)
}

/// How many tasks a worker runs between two looks at the sockets and timers (tokio's
/// `event_interval`, 61 by default), unless `EVENT_INTERVAL` says otherwise. A publish to
/// 1000 subscribers makes 1000 tasks ready; looking at the sockets every 61 of them lets
/// the next publishes in one or two at a time, so each subscriber is written more often
/// with fewer frames per write. About once per sweep of them, each write carries the
/// publishes that arrived meanwhile, as an event loop that drains all its sockets before
/// it polls again (uWebSockets) does. bench/README.md, "2026-12-04: fan-out, the sockets
/// looked at once per sweep", has the measurements.
pub const EVENT_INTERVAL: u32 = 1024;

/// The runtime of a server: a multi-threaded runtime with `WORKERS` worker threads
/// (default 1), or a current-thread runtime for `WORKERS=0`; either looks at its sockets
/// every [`EVENT_INTERVAL`] tasks.
pub fn runtime() -> io::Result<Runtime> {
    let workers = env_number("WORKERS", 1)?;
    let event_interval = env_number("EVENT_INTERVAL", EVENT_INTERVAL)?;
    let mut builder = match workers {
        0 => Builder::new_current_thread(),
        _ => {
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(workers);
            builder
        }
    };
    builder.event_interval(event_interval).enable_all().build()
}

/// The number in the environment variable `name`, or `default` if it is not set.
fn env_number<T: std::str::FromStr>(name: &str, default: T) -> io::Result<T> {
    match std::env::var(name) {
        Ok(value) => value.parse().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{name}={value:?}: not a number"))
        }),
        Err(_) => Ok(default),
    }
}

/// Runs `server` on `runtime` as a spawned task, so that with one worker every connection
/// and the accept loop share that worker's thread.
pub fn run<F>(runtime: &Runtime, server: F) -> io::Result<()>
where
    F: Future<Output = io::Result<()>> + Send + 'static,
{
    runtime.block_on(async { tokio::spawn(server).await.map_err(io::Error::other)? })
}

/// Completes on Ctrl-C, SIGTERM, or after `LIFETIME_SECS` (default
/// [`DEFAULT_LIFETIME_SECS`]).
pub async fn stop_signal() {
    let lifetime = std::env::var("LIFETIME_SECS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_LIFETIME_SECS);
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            eprintln!("cannot listen for SIGTERM: {error}");
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
        () = tokio::time::sleep(Duration::from_secs(lifetime)) => eprintln!("lifetime of {lifetime} s is over"),
    }
}
