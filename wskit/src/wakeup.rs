//! [`WakeUp`]: when a connection wants its host to wake it for its ping schedule, kept in
//! one word of the connection's shared queue.
//!
//! A host that runs many connections wakes them all from one ticker of its own
//! ([`Registry::wake_due`](crate::pubsub::Registry::wake_due)), as uWebSockets does,
//! instead of keeping a timer in every connection: a tokio timer takes more than a hundred
//! bytes in each connection's task, the word four.
//!
//! The word holds milliseconds since the process's first wake-up, wrapping, so it never
//! runs out; compared with wrapping arithmetic it tells whether an instant up to
//! [`HORIZON`] ahead has passed. A wake-up farther ahead is kept at [`HORIZON`]: it comes
//! early, the connection finds nothing due and asks again.

use crate::time::Instant;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// When a connection wants to be woken, if at all; shared by the connection (which sets
/// it) and its host's ticker (which rings it).
#[derive(Default)]
pub(crate) struct WakeUp(AtomicU32);

/// No wake-up wanted.
const UNSET: u32 = 0;
/// Rung: the instant passed and the host woke the connection, which has not looked yet.
const RUNG: u32 = 1;
/// The farthest ahead a wake-up is kept: a quarter of the word's range, well inside the
/// half that wrapping comparisons need.
const HORIZON: Duration = Duration::from_millis(1 << 30);

/// An instant in the word's unit: milliseconds since the process's first wake-up,
/// wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Millis(u32);

impl Millis {
    /// The current instant.
    #[cfg(feature = "server")]
    pub(crate) fn now() -> Self {
        Self::of(Instant::now())
    }

    /// `at`, rounded up: an instant that has passed in milliseconds has passed.
    fn of(at: Instant) -> Self {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        let epoch = *EPOCH.get_or_init(Instant::now);
        let since = at.saturating_duration_since(epoch);
        // Truncated to the word: the wrapping is the point. (Not `as_millis`: its 128-bit
        // division would cost more than the rest of a connection's wake.)
        let millis = (since.as_secs().wrapping_mul(1000) as u32)
            .wrapping_add(since.subsec_nanos().div_ceil(1_000_000));
        // Two values of the word mean something else: their instants go a millisecond or
        // two later, once every 49 days.
        Millis(millis.max(RUNG + 1))
    }

    /// Whether `self` is `at` or later.
    #[cfg(feature = "server")]
    fn has_reached(self, at: u32) -> bool {
        self.0.wrapping_sub(at) as i32 >= 0
    }
}

impl WakeUp {
    /// Asks to be woken at `at`, or not at all. A wake-up that has rung and was not
    /// [taken](Self::take_rung) yet stays rung: the connection looks at its schedule when
    /// it takes it, and asks again then.
    pub(crate) fn set(&self, at: Option<Instant>) {
        let current = self.0.load(Ordering::Relaxed);
        let word = at.map_or(UNSET, |at| Millis::of(at).0);
        if current == RUNG || current == word {
            return;
        }
        // Read the clock only when the word changes (twice per ping round), to bound it.
        let word = at.map_or(UNSET, |at| Millis::of(at.min(Instant::now() + HORIZON)).0);
        // Not a plain store: the ticker may have rung the word since it was read.
        let _ = self.0.compare_exchange(current, word, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// Whether the wake-up rang since the last call; it is unset then.
    pub(crate) fn take_rung(&self) -> bool {
        // Only this side moves the word from `RUNG`: no other write can come between.
        self.0.load(Ordering::Acquire) == RUNG && {
            self.0.store(UNSET, Ordering::Relaxed);
            true
        }
    }

    /// Rings the wake-up if its instant has passed at `now`; `true` if it did, and the
    /// caller wakes the connection.
    #[cfg(feature = "server")]
    pub(crate) fn ring_if_due(&self, now: Millis) -> bool {
        let at = self.0.load(Ordering::Relaxed);
        at > RUNG
            && now.has_reached(at)
            && self.0.compare_exchange(at, RUNG, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn rings_once_when_due_and_stays_rung_until_taken() {
        let wake_up = WakeUp::default();
        let start = Instant::now();
        let at = start + Duration::from_millis(40);
        assert!(!wake_up.ring_if_due(Millis::of(at + Duration::from_secs(1))), "nothing was asked for");
        wake_up.set(Some(at));
        assert!(!wake_up.ring_if_due(Millis::of(start)));
        assert!(!wake_up.ring_if_due(Millis::of(at - Duration::from_millis(2))));
        assert!(wake_up.ring_if_due(Millis::of(at)));
        assert!(!wake_up.ring_if_due(Millis::of(at)), "rings once");
        wake_up.set(Some(at + Duration::from_secs(1)));
        assert!(wake_up.take_rung(), "a ring is not lost to a new wake-up");
        assert!(!wake_up.take_rung());
        wake_up.set(Some(at + Duration::from_secs(1)));
        assert!(!wake_up.ring_if_due(Millis::of(at + Duration::from_millis(999))));
        wake_up.set(None);
        assert!(!wake_up.ring_if_due(Millis::of(at + Duration::from_secs(5))), "unset");
    }

    #[test]
    fn compares_across_the_wrap_of_the_word() {
        let before_wrap = u32::MAX - 5;
        assert!(Millis(before_wrap).has_reached(before_wrap));
        assert!(Millis(10).has_reached(before_wrap), "16 ms later, past the wrap");
        assert!(!Millis(before_wrap).has_reached(10), "16 ms earlier");
    }

    #[test]
    fn keeps_far_wake_ups_within_the_horizon() {
        let wake_up = WakeUp::default();
        let now = Instant::now();
        wake_up.set(Some(now + Duration::from_secs(60 * 24 * 3600)));
        assert!(!wake_up.ring_if_due(Millis::of(now + HORIZON - Duration::from_secs(1))));
        assert!(wake_up.ring_if_due(Millis::of(now + HORIZON + Duration::from_secs(1))), "early, not lost");
    }
}
