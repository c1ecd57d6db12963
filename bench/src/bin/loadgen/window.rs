//! The measuring window of the throughput modes: a counter sampled after the warm-up and at
//! the end, with the CPU use of the load generator and of the server over the same span.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{sleep_until, Instant};

use crate::procfs::{cpu_ticks, cpu_times, CLOCK_TICKS};

/// What happened between the end of the warm-up and the end of the window.
pub(crate) struct Window {
    /// Increase of the counter.
    pub(crate) count: u64,
    /// Length of the window, in seconds.
    pub(crate) elapsed: f64,
    /// CPU use of this process, in percent of one core.
    pub(crate) loadgen_cpu: String,
    /// CPU use of the server (`?` without its pid), in percent of one core.
    pub(crate) server_cpu: String,
    /// The part of it in the kernel (system time), in percent of one core.
    pub(crate) server_sys_cpu: String,
}

impl Window {
    /// Counted events per second.
    pub(crate) fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed
    }
}

/// Waits `warmup` from `begin`, then measures `counter` over `secs`.
pub(crate) async fn measure(
    counter: &AtomicU64,
    begin: Instant,
    warmup: Duration,
    secs: Duration,
    server_pid: Option<u32>,
) -> Window {
    let server = server_pid.map(|pid| pid.to_string());
    let cpu = || (cpu_ticks("self"), server.as_deref().and_then(cpu_times));
    sleep_until(begin + warmup).await;
    let (from, first, cpu_from) = (Instant::now(), counter.load(Ordering::Relaxed), cpu());
    sleep_until(begin + warmup + secs).await;
    let (to, last, cpu_to) = (Instant::now(), counter.load(Ordering::Relaxed), cpu());
    let elapsed = (to - from).as_secs_f64();
    let percent = |from: Option<u64>, to: Option<u64>| match (from, to) {
        (Some(from), Some(to)) => format!("{:.0}", (to - from) as f64 / CLOCK_TICKS / elapsed * 100.0),
        _ => "?".to_owned(),
    };
    let server_total = |times: Option<(u64, u64)>| times.map(|(user, system)| user + system);
    let server_system = |times: Option<(u64, u64)>| times.map(|(_, system)| system);
    Window {
        count: last - first,
        elapsed,
        loadgen_cpu: percent(cpu_from.0, cpu_to.0),
        server_cpu: percent(server_total(cpu_from.1), server_total(cpu_to.1)),
        server_sys_cpu: percent(server_system(cpu_from.1), server_system(cpu_to.1)),
    }
}
