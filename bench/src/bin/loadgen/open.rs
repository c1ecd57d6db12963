//! Opening many connections at once, a bounded number of handshakes at a time.

use std::future::Future;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};

use crate::{Result, SETUP_TIMEOUT};

/// How long opening all the connections may take.
const PHASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Opens `count` connections with `setup(i)` (each within [`SETUP_TIMEOUT`]), at most
/// `concurrency` at a time, and returns them (a [`Socket`](crate::wire::Socket), or what `setup` pairs with it)
/// in the order they were ready.
pub(crate) async fn open_many<T, F, Fut>(count: usize, concurrency: usize, setup: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let deadline = Instant::now() + PHASE_TIMEOUT;
    let mut sockets = Vec::with_capacity(count);
    let mut tasks = JoinSet::new();
    for i in 0..count {
        if tasks.len() >= concurrency {
            let joined = within_phase(deadline, count, tasks.join_next()).await?.expect("tasks are running");
            sockets.push(joined.map_err(|error| error.to_string())??);
        }
        let setup = setup(i);
        tasks.spawn(async move {
            timeout(SETUP_TIMEOUT, setup)
                .await
                .unwrap_or_else(|_| Err("setup timed out".into()))
                .map_err(|error| format!("connection {i}: {error}"))
        });
    }
    while let Some(joined) = within_phase(deadline, count, tasks.join_next()).await? {
        sockets.push(joined.map_err(|error| error.to_string())??);
    }
    Ok(sockets)
}

/// `future`'s output, unless `deadline` passes first.
async fn within_phase<F: Future>(deadline: Instant, count: usize, future: F) -> Result<F::Output> {
    timeout_at(deadline, future)
        .await
        .map_err(|_| format!("opening {count} connections took over {} s", PHASE_TIMEOUT.as_secs()))
}
