//! [`Backoff`]: how long to wait before each reconnect attempt.

use std::time::Duration;

/// Exponential backoff with full jitter: before attempt `n` (counting from 0) the client
/// waits a random delay between zero and `min(max, initial * 2^n)`. The attempt count
/// resets whenever a socket opens.
///
/// Defaults: 300 ms initial, 10 s cap, unlimited attempts.
///
/// ```
/// use std::time::Duration;
/// use wskit::client::Backoff;
///
/// let backoff = Backoff::default().initial(Duration::from_millis(100)).max_attempts(5);
/// assert!(backoff.delay(3) <= Duration::from_millis(800));
/// assert!(backoff.allows(4) && !backoff.allows(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(300), max: Duration::from_secs(10), max_attempts: None }
    }
}

impl Backoff {
    /// The ceiling of the first delay.
    pub fn initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// The cap of every delay.
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// Gives up (the client becomes [`State::Closed`](super::State::Closed)) after this many
    /// failed attempts in a row. Unlimited by default.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Whether attempt `attempt` (counting from 0 since the last open socket) may be made.
    pub fn allows(&self, attempt: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempt < max)
    }

    /// The ceiling of the delay before attempt `attempt`: `min(max, initial * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// A random delay before attempt `attempt`, between zero and its [`ceiling`](Self::ceiling).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis().min(u128::from(u64::MAX)) as u64;
        Duration::from_millis(fastrand::u64(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let backoff = Backoff::default();
        let ceilings: Vec<u64> = (0..8).map(|n| backoff.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [300, 600, 1200, 2400, 4800, 9600, 10_000, 10_000]);
        assert_eq!(backoff.ceiling(200), Duration::from_secs(10));
    }

    #[test]
    fn delays_are_jittered_within_the_ceiling() {
        let backoff = Backoff::default();
        let delays: Vec<Duration> = (0..64).map(|_| backoff.delay(2)).collect();
        assert!(delays.iter().all(|delay| *delay <= Duration::from_millis(1200)));
        assert!(delays.iter().any(|delay| *delay != delays[0]), "full jitter varies the delay");
    }

    #[test]
    fn attempts_are_unlimited_unless_capped() {
        assert!(Backoff::default().allows(u32::MAX - 1));
        let capped = Backoff::default().max_attempts(2);
        assert!(capped.allows(1) && !capped.allows(2));
    }
}
