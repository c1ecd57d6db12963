//! [`Ticker`]: the one timer behind the ping schedules of a hub's connections.
//!
//! Each connection asks for its next wake-up in its queue ([`crate::wakeup`]); once per
//! period the ticker looks at every open connection of the hub and wakes those that are
//! due, as uWebSockets sweeps its sockets. A waiting connection so holds no timer of its
//! own (a tokio timer takes more than a hundred bytes of every connection's task), and a
//! ping goes out, or a stale connection is closed, up to one period late. One ticker per
//! hub, not per server: the routes of a server share their hub, and one look at each
//! connection per period is enough for all of them.

use crate::connection::{lock, Liveness};
use crate::pubsub::Registry;
use crate::wakeup::Millis;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How finely the ticker divides the shorter of the ping interval and its timeout.
const TICKS_PER_ROUND: u32 = 8;

/// The longest period: a ping goes out at most this late.
const MAX_PERIOD: Duration = Duration::from_secs(1);

/// The shortest period, for intervals of a few milliseconds (in tests).
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// The period of the ticker for connections pinged as `liveness` says: an eighth of the
/// shorter of the interval and the timeout, and at most a second.
pub(crate) fn period(liveness: &Liveness) -> Duration {
    (liveness.interval.min(liveness.timeout) / TICKS_PER_ROUND).clamp(MIN_PERIOD, MAX_PERIOD)
}

/// Wakes the connections of a hub whose ping schedule is due, from one task.
#[derive(Default)]
pub(crate) struct Ticker {
    /// The ticker's task, once a connection started it.
    running: Mutex<Option<Running>>,
}

struct Running {
    period: Duration,
    task: JoinHandle<()>,
}

impl Ticker {
    /// Makes sure the ticker of `registry` runs at least every `period`, starting it on
    /// the current tokio runtime if it does not: at the first connection, again once
    /// the runtime it ran on has shut down, and with the shorter period when a server
    /// with shorter pings joins the hub.
    pub(crate) fn run(&self, registry: &Arc<Registry>, period: Duration) {
        let mut running = lock(&self.running);
        let period = match running.take() {
            Some(current) if current.period <= period && !current.task.is_finished() => {
                *running = Some(current);
                return;
            }
            Some(current) => {
                current.task.abort();
                current.period.min(period)
            }
            None => period,
        };
        let task = tokio::spawn(tick(Arc::downgrade(registry), period));
        *running = Some(Running { period, task });
    }
}

/// Wakes the due connections of `registry` every `period`, until the registry is gone.
async fn tick(registry: Weak<Registry>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    // A late tick (a busy runtime) is not made up for with a burst of sweeps.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(registry) = registry.upgrade() else { return };
        registry.wake_due(Millis::now());
    }
}

impl Drop for Ticker {
    /// Stops the task with the hub it ticks for.
    fn drop(&mut self) {
        if let Some(running) = lock(&self.running).take() {
            running.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::StalePolicy;

    fn liveness(interval_ms: u64, timeout_ms: u64) -> Liveness {
        Liveness {
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(timeout_ms),
            stale: StalePolicy::default(),
        }
    }

    #[test]
    fn ticks_an_eighth_of_the_shorter_duration_within_bounds() {
        assert_eq!(period(&liveness(30_000, 10_000)), MAX_PERIOD);
        assert_eq!(period(&liveness(4_000, 2_000)), Duration::from_millis(250));
        assert_eq!(period(&liveness(20, 40)), Duration::from_micros(2_500));
        assert_eq!(period(&liveness(4, 4)), MIN_PERIOD);
    }

    #[tokio::test]
    async fn ticks_as_often_as_the_server_with_the_shortest_pings_asks() {
        let registry = Arc::new(Registry::default());
        let ticker = Ticker::default();
        let period = |ticker: &Ticker| lock(&ticker.running).as_ref().map(|running| running.period);
        ticker.run(&registry, Duration::from_secs(1));
        ticker.run(&registry, Duration::from_millis(10));
        assert_eq!(period(&ticker), Some(Duration::from_millis(10)));
        ticker.run(&registry, Duration::from_millis(500));
        assert_eq!(period(&ticker), Some(Duration::from_millis(10)), "kept: it serves both");
    }
}
