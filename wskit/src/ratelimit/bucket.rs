//! [`Bucket`]: the state of one token bucket and the arithmetic of taking from it, for
//! stores that keep buckets in this process. (The Redis store runs the same arithmetic in
//! Lua, in `take.lua`; the two must agree.)

use super::limit::Limit;
use super::store::Outcome;

/// The tokens of one bucket at a moment, in microseconds on the store's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    at_us: u64,
}

impl Bucket {
    /// A full bucket at `now_us`.
    pub(crate) fn full(limit: &Limit, now_us: u64) -> Self {
        Bucket { tokens: f64::from(limit.capacity()), at_us: now_us }
    }

    /// Refills the bucket up to `now_us`, then takes `cost` tokens if it holds that many.
    pub(crate) fn take(&mut self, limit: &Limit, cost: u32, now_us: u64) -> Outcome {
        let elapsed_s = now_us.saturating_sub(self.at_us) as f64 / 1e6;
        self.tokens = (self.tokens + elapsed_s * limit.refill_per_second()).min(f64::from(limit.capacity()));
        self.at_us = self.at_us.max(now_us);
        let cost = f64::from(cost);
        if self.tokens >= cost {
            self.tokens -= cost;
            Outcome::Granted
        } else {
            Outcome::Denied { retry_after_ms: limit.wait_ms(cost - self.tokens) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_grants_its_capacity_then_refills_at_the_rate() {
        let limit = Limit::new(3, 10.0);
        let mut bucket = Bucket::full(&limit, 0);
        for _ in 0..3 {
            assert_eq!(bucket.take(&limit, 1, 0), Outcome::Granted);
        }
        assert_eq!(bucket.take(&limit, 1, 0), Outcome::Denied { retry_after_ms: 100 });
        assert_eq!(bucket.take(&limit, 1, 60_000), Outcome::Denied { retry_after_ms: 40 });
        assert_eq!(bucket.take(&limit, 1, 100_000), Outcome::Granted);
        // Long idleness refills up to the capacity, not beyond.
        assert_eq!(bucket.take(&limit, 3, 10_000_000), Outcome::Granted);
        assert!(matches!(bucket.take(&limit, 1, 10_000_000), Outcome::Denied { .. }));
    }

    #[test]
    fn a_clock_going_backwards_adds_no_tokens() {
        let limit = Limit::new(1, 1.0);
        let mut bucket = Bucket::full(&limit, 5_000_000);
        assert_eq!(bucket.take(&limit, 1, 5_000_000), Outcome::Granted);
        assert_eq!(bucket.take(&limit, 1, 1_000_000), Outcome::Denied { retry_after_ms: 1000 });
    }
}
