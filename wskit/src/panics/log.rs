//! [`PanicLog`]: decides which panics are logged, so that a flood of them costs one log
//! line per key and interval instead of one per panic.

use super::Site;
use crate::time::Instant;
use std::collections::HashMap;
use std::time::Duration;

/// How long a key stays quiet after its panic was logged.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// Keys tracked at once. Keys are made of static strings (a [`Site`] and a message type
/// from a router's table), so a program has a fixed number of them; the cap guards the
/// map anyway. Past it, a new key is counted under its site's key with no message type.
pub(crate) const CAPACITY: usize = 1024;

/// The message type of a panic not tied to one: in a hook or the authenticator.
pub(crate) const NO_TYPE: &str = "";

/// The message type of a panic while handling a message whose type the router does not
/// handle: a server middleware layer panicked before dispatch. Such types come from the
/// client, so they share one key.
pub(crate) const UNROUTED: &str = "(unrouted)";

/// What a panic is counted under: where it happened and for which message type.
pub(crate) type Key = (Site, &'static str);

/// The panics of one key since its last log line.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When the key's last panic was logged.
    logged_at: Instant,
    /// Panics not logged since then.
    suppressed: u64,
}

/// Per key, when its last panic was logged and how many were suppressed since. The
/// caller passes the time, so the decisions can be tested without a clock.
#[derive(Debug)]
pub(crate) struct PanicLog {
    entries: HashMap<Key, Entry>,
    interval: Duration,
    capacity: usize,
}

impl PanicLog {
    /// A log that logs each key at most once per `interval`, tracking at most `capacity`
    /// keys (plus one per site for those past the cap).
    pub(crate) fn new(interval: Duration, capacity: usize) -> Self {
        PanicLog { entries: HashMap::new(), interval, capacity }
    }

    /// Records a panic of `key` at `now`. `Some(suppressed)` says to log it, with the
    /// number of the key's panics that were not logged since its previous line; `None`
    /// says it was only counted.
    pub(crate) fn record(&mut self, key: Key, now: Instant) -> Option<u64> {
        let full = self.entries.len() >= self.capacity;
        let key = if full && !self.entries.contains_key(&key) { (key.0, NO_TYPE) } else { key };
        let Some(entry) = self.entries.get_mut(&key) else {
            self.entries.insert(key, Entry { logged_at: now, suppressed: 0 });
            return Some(0);
        };
        if now.saturating_duration_since(entry.logged_at) < self.interval {
            entry.suppressed = entry.suppressed.saturating_add(1);
            return None;
        }
        let suppressed = entry.suppressed;
        *entry = Entry { logged_at: now, suppressed: 0 };
        Some(suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn log() -> PanicLog {
        PanicLog::new(10 * SECOND, 3)
    }

    #[test]
    fn the_first_panic_of_a_key_is_logged_and_the_rest_of_its_interval_counted() {
        let mut log = log();
        let start = Instant::now();
        let key = (Site::Message, "ECHO");
        assert_eq!(log.record(key, start), Some(0));
        for _ in 0..1999 {
            assert_eq!(log.record(key, start + 9 * SECOND), None);
        }
        assert_eq!(log.record(key, start + 10 * SECOND), Some(1999));
        assert_eq!(log.record(key, start + 11 * SECOND), None);
        assert_eq!(log.record(key, start + 20 * SECOND), Some(1));
        assert_eq!(log.record(key, start + 60 * SECOND), Some(0));
    }

    #[test]
    fn keys_are_rate_limited_apart() {
        let mut log = log();
        let now = Instant::now();
        assert_eq!(log.record((Site::Message, "ECHO"), now), Some(0));
        assert_eq!(log.record((Site::Message, "JOIN"), now), Some(0));
        assert_eq!(log.record((Site::OnError, NO_TYPE), now), Some(0));
        assert_eq!(log.record((Site::Message, "ECHO"), now), None);
        assert_eq!(log.record((Site::OnError, NO_TYPE), now), None);
    }

    #[test]
    fn keys_past_the_capacity_share_their_sites_key() {
        let mut log = log();
        let now = Instant::now();
        for ty in ["A", "B", "C"] {
            assert_eq!(log.record((Site::Message, ty), now), Some(0));
        }
        // Full: new message types of a site are counted together, under one more key.
        assert_eq!(log.record((Site::Message, "D"), now), Some(0));
        assert_eq!(log.record((Site::Message, "E"), now), None);
        assert_eq!(log.record((Site::Message, NO_TYPE), now), None);
        assert_eq!(log.record((Site::OnClose, "F"), now), Some(0));
        assert_eq!(log.entries.len(), 5);
        // Keys tracked before the map filled up keep their own count.
        assert_eq!(log.record((Site::Message, "A"), now), None);
        assert_eq!(log.record((Site::Message, "A"), now + 10 * SECOND), Some(1));
        assert_eq!(log.record((Site::Message, "E"), now + 10 * SECOND), Some(2));
    }

    #[test]
    fn a_clock_that_goes_back_keeps_the_key_quiet() {
        let mut log = log();
        let now = Instant::now() + 60 * SECOND;
        assert_eq!(log.record((Site::OnOpen, NO_TYPE), now), Some(0));
        assert_eq!(log.record((Site::OnOpen, NO_TYPE), now - 30 * SECOND), None);
    }
}
