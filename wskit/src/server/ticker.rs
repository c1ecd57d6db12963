//! [`Ticker`]: the one timer behind the ping schedules of a server's connections.
//!
//! Each connection asks for its next wake-up in its queue ([`crate::wakeup`]); once per
//! period the ticker looks at every open connection of the hub and wakes those that are
//! due, as uWebSockets sweeps its sockets. A waiting connection so holds no timer of its
//! own (a tokio timer takes more than a hundred bytes of every connection's task), and a
//! ping goes out, or a stale connection is closed, up to one period late.

use crate::connection::{lock, Liveness};
use crate::pubsub::Hub;
use crate::wakeup::Millis;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How finely the ticker divides the shorter of the ping interval and its timeout.
const TICKS_PER_ROUND: u32 = 8;

/// The longest period: a ping goes out at most this late.
const MAX_PERIOD: Duration = Duration::from_secs(1);

/// The shortest period, for intervals of a few milliseconds (in tests).
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// Wakes the connections of a server whose ping schedule is due, from one task.
pub(crate) struct Ticker {
    period: Duration,
    /// The ticker's task, once a connection started it.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Ticker {
    /// The ticker of connections pinged as `liveness` says: its period is an eighth of
    /// the shorter of the interval and the timeout, and at most a second.
    pub(crate) fn new(liveness: &Liveness) -> Self {
        let period =
            (liveness.interval.min(liveness.timeout) / TICKS_PER_ROUND).clamp(MIN_PERIOD, MAX_PERIOD);
        Ticker { period, task: Mutex::new(None) }
    }

    /// Makes sure the ticker runs for the connections of `hub`, starting it on the
    /// current tokio runtime if it does not: at the first connection, and again once the
    /// runtime it ran on has shut down.
    pub(crate) fn run(&self, hub: &Hub) {
        let mut task = lock(&self.task);
        if task.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        let registry = hub.registry_arc().clone();
        let period = self.period;
        *task = Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            // A late tick (a busy runtime) is not made up for with a burst of sweeps.
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                registry.wake_due(Millis::now());
            }
        }));
    }
}

impl Drop for Ticker {
    /// Stops the task with the server it ticks for.
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::StalePolicy;

    fn ticker(interval_ms: u64, timeout_ms: u64) -> Ticker {
        let liveness = Liveness {
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(timeout_ms),
            stale: StalePolicy::default(),
        };
        Ticker::new(&liveness)
    }

    #[test]
    fn ticks_an_eighth_of_the_shorter_duration_within_bounds() {
        assert_eq!(ticker(30_000, 10_000).period, MAX_PERIOD);
        assert_eq!(ticker(4_000, 2_000).period, Duration::from_millis(250));
        assert_eq!(ticker(20, 40).period, Duration::from_micros(2_500));
        assert_eq!(ticker(4, 4).period, MIN_PERIOD);
    }
}
