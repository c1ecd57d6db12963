//! [`Limit`]: the policy of a token bucket, its capacity, refill rate and message costs.

use std::collections::HashMap;

/// The policy of a token bucket: it holds up to `capacity` tokens, gains
/// `refill_per_second` tokens a second, and each message takes its cost in tokens (the
/// default cost, or the cost of its type).
///
/// A burst of `capacity` cost-1 messages passes at once; after that, messages pass at the
/// refill rate.
///
/// ```
/// use wskit::ratelimit::Limit;
///
/// // Bursts of 20, then 5 a second; SEND_MESSAGE costs 2 tokens, everything else 1.
/// let limit = Limit::new(20, 5.0).cost("SEND_MESSAGE", 2);
/// assert_eq!(limit.cost_of("SEND_MESSAGE"), 2);
/// assert_eq!(limit.cost_of("PING"), 1);
/// assert_eq!(limit.capacity(), 20);
/// ```
#[derive(Debug, Clone)]
pub struct Limit {
    capacity: u32,
    refill_per_second: f64,
    default_cost: u32,
    costs: HashMap<Box<str>, u32>,
}

impl Limit {
    /// A bucket of `capacity` tokens refilled with `refill_per_second` tokens a second,
    /// every message costing 1 token.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 or `refill_per_second` is not a positive finite number: such a
    /// bucket would refuse every message forever, or never refill. Both are programming
    /// errors, found at start-up.
    pub fn new(capacity: u32, refill_per_second: f64) -> Self {
        assert!(capacity > 0, "a rate limit's capacity must be at least 1 token, not 0");
        assert!(
            refill_per_second.is_finite() && refill_per_second > 0.0,
            "a rate limit must refill a positive finite number of tokens a second, not {refill_per_second}"
        );
        Limit { capacity, refill_per_second, default_cost: 1, costs: HashMap::new() }
    }

    /// The cost of messages whose type has no [`cost`](Self::cost) of its own (default 1).
    /// A cost of 0 exempts them.
    pub fn default_cost(mut self, cost: u32) -> Self {
        self.default_cost = cost;
        self
    }

    /// The cost of messages of `message_type`. A cost of 0 exempts them; a cost above the
    /// capacity refuses them always, with FAILED_PRECONDITION.
    pub fn cost(mut self, message_type: impl Into<Box<str>>, cost: u32) -> Self {
        self.costs.insert(message_type.into(), cost);
        self
    }

    /// How many tokens a message of `message_type` takes.
    pub fn cost_of(&self, message_type: &str) -> u32 {
        self.costs.get(message_type).copied().unwrap_or(self.default_cost)
    }

    /// The most tokens the bucket holds: the largest burst.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// How many tokens the bucket gains a second.
    pub fn refill_per_second(&self) -> f64 {
        self.refill_per_second
    }

    /// How long an untouched bucket takes to refill from empty to full: after that, it is
    /// as good as new, so a store may forget it.
    pub fn full_refill(&self) -> std::time::Duration {
        // A huge capacity over a tiny rate overflows a Duration: call it forever.
        std::time::Duration::try_from_secs_f64(f64::from(self.capacity) / self.refill_per_second)
            .unwrap_or(std::time::Duration::MAX)
    }

    /// How many whole milliseconds it takes to gain `missing` tokens, at least 1.
    pub(crate) fn wait_ms(&self, missing: f64) -> u64 {
        // The float-to-int cast saturates; a wait is never longer than a full refill.
        ((missing * 1000.0 / self.refill_per_second).ceil() as u64).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_round_up_to_whole_milliseconds() {
        let limit = Limit::new(10, 3.0);
        assert_eq!(limit.wait_ms(1.0), 334);
        assert_eq!(limit.wait_ms(1e-9), 1);
        assert_eq!(limit.full_refill().as_millis(), 3333);
    }

    #[test]
    #[should_panic(expected = "positive finite")]
    fn a_limit_that_never_refills_is_refused() {
        let _ = Limit::new(1, 0.0);
    }
}
