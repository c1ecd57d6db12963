//! [`Budget`]: the bytes all connections of a server may hold for messages that have not
//! fully arrived ([`Limits::max_unfinished_bytes`](crate::Limits::max_unfinished_bytes)).
//!
//! One connection is bounded by the message size limit, but hundreds of clients that each
//! send most of a large message and then stall would add up to gigabytes. Each connection
//! holds its share through a [`Held`], which grows only if the budget allows it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A server-wide count of bytes held, and its limit.
#[derive(Debug, Clone)]
pub(crate) struct Budget(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    used: AtomicUsize,
    limit: usize,
}

/// The budget would be passed: `observed` bytes would be held, above `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverBudget {
    pub(crate) observed: usize,
    pub(crate) limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Budget(Arc::new(Shared { used: AtomicUsize::new(0), limit }))
    }

    /// A connection's share, holding nothing yet.
    pub(crate) fn share(&self) -> Held {
        Held { budget: self.clone(), bytes: 0 }
    }

    /// The bytes held by all connections.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.0.used.load(Ordering::Acquire)
    }
}

/// One connection's share of a [`Budget`], given back on drop.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Budget,
    bytes: usize,
}

impl Held {
    /// Makes the share `bytes`: always possible when shrinking, and when growing only
    /// while the budget allows it; otherwise the share stays as it was.
    pub(crate) fn resize(&mut self, bytes: usize) -> Result<(), OverBudget> {
        let shared = &self.budget.0;
        if bytes == self.bytes {
            // The common case, every read of a connection that holds nothing: no shared write.
            return Ok(());
        }
        if bytes < self.bytes {
            shared.used.fetch_sub(self.bytes - bytes, Ordering::AcqRel);
            self.bytes = bytes;
            return Ok(());
        }
        let growth = bytes - self.bytes;
        shared
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(growth).filter(|&total| total <= shared.limit)
            })
            .map_err(|used| OverBudget { observed: used.saturating_add(growth), limit: shared.limit })?;
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.0.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_grow_within_the_budget_and_give_back_on_drop() {
        let budget = Budget::new(100);
        let mut a = budget.share();
        let mut b = budget.share();
        a.resize(60).unwrap();
        assert_eq!(b.resize(50), Err(OverBudget { observed: 110, limit: 100 }));
        b.resize(40).unwrap();
        assert_eq!(budget.used(), 100);
        a.resize(10).unwrap();
        assert_eq!(budget.used(), 50);
        drop(b);
        assert_eq!(budget.used(), 10);
        drop(a);
        assert_eq!(budget.used(), 0);
    }
}
