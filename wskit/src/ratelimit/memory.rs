//! [`MemoryStore`]: buckets in this process, in a map bounded by a number of keys.

use super::bucket::Bucket;
use super::limit::Limit;
use super::store::{Outcome, Store, Taking};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The buckets of one process, the default store of a
/// [`RateLimiter`](super::RateLimiter).
///
/// The map holds at most [`max_keys`](Self::max_keys) buckets (default
/// [`DEFAULT_MAX_KEYS`](Self::DEFAULT_MAX_KEYS)), so clients that make up new keys (new
/// connections, new user names, new message types) cannot grow it without bound. A new key
/// beyond the cap evicts the least recently used bucket. An evicted bucket that had
/// refilled completely is lost without consequence; one that had not starts over full
/// when its key comes back, so choose a cap well above the number of keys active within
/// one [full refill](Limit::full_refill). Each bucket costs about 100 bytes plus its key
/// twice.
///
/// ```
/// use wskit::ratelimit::{Limit, MemoryStore, RateLimiter};
///
/// let limiter: RateLimiter<()> = RateLimiter::new(Limit::new(10, 2.0))
///     .store(MemoryStore::default().max_keys(50_000));
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    max_keys: usize,
    /// The clock of the buckets: microseconds since this instant.
    origin: Instant,
    buckets: Mutex<Lru>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore { max_keys: Self::DEFAULT_MAX_KEYS, origin: Instant::now(), buckets: Mutex::default() }
    }
}

impl MemoryStore {
    /// The default cap on the number of buckets: 100 000.
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    /// The most buckets the store keeps (at least 1).
    pub fn max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }

    /// How many buckets the store holds now.
    pub fn len(&self) -> usize {
        self.lock().buckets.len()
    }

    /// Whether the store holds no bucket.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        // The map is consistent after every statement that can panic: a panic elsewhere
        // while it was locked does not spoil it.
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_now(&self, key: &str, cost: u32, limit: &Limit) -> Outcome {
        let now_us = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.lock().touch(key, self.max_keys, || Bucket::full(limit, now_us)).take(limit, cost, now_us)
    }
}

impl Store for MemoryStore {
    fn take<'a>(&'a self, key: &'a str, cost: u32, limit: &'a Limit) -> Taking<'a> {
        let outcome = self.take_now(key, cost, limit);
        Box::pin(std::future::ready(Ok(outcome)))
    }
}

/// Buckets by key, with their order of use.
#[derive(Debug, Default)]
struct Lru {
    /// Each key's bucket and the tick of its last use.
    buckets: HashMap<Arc<str>, (Bucket, u64)>,
    /// The keys by the tick of their last use, least recent first.
    by_use: BTreeMap<u64, Arc<str>>,
    tick: u64,
}

impl Lru {
    /// The bucket of `key`, marked as just used; a new one from `new` if there was none,
    /// evicting the least recently used bucket if the map holds `max_keys` already.
    fn touch(&mut self, key: &str, max_keys: usize, new: impl FnOnce() -> Bucket) -> &mut Bucket {
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, used)) = self.buckets.get_mut(key) {
            let key = self.by_use.remove(used).expect("every bucket has its place in the order of use");
            *used = tick;
            self.by_use.insert(tick, key);
        } else {
            while self.buckets.len() >= max_keys {
                let Some((_, oldest)) = self.by_use.pop_first() else { break };
                self.buckets.remove(&oldest);
            }
            let key: Arc<str> = key.into();
            self.by_use.insert(tick, Arc::clone(&key));
            self.buckets.insert(key, (new(), tick));
        }
        &mut self.buckets.get_mut(key).expect("the bucket was just found or inserted").0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(store: &MemoryStore, key: &str, limit: &Limit) -> bool {
        store.take_now(key, 1, limit) == Outcome::Granted
    }

    #[test]
    fn the_map_stays_within_its_cap_evicting_the_least_recently_used() {
        let store = MemoryStore::default().max_keys(3);
        let limit = Limit::new(1, 0.001);
        for key in (0..1000).map(|n| format!("client-{n}")) {
            assert!(granted(&store, &key, &limit));
            assert!(store.len() <= 3);
        }

        let store = MemoryStore::default().max_keys(3);
        for key in ["a", "b", "c"] {
            assert!(granted(&store, key, &limit));
        }
        // "a" is used again (and refused: its bucket is empty), so "b" is now the oldest.
        assert!(!granted(&store, "a", &limit));
        assert!(granted(&store, "d", &limit));
        assert_eq!(store.len(), 3);
        // "b" was evicted and starts over full; "a" and "c" kept their empty buckets.
        assert!(granted(&store, "b", &limit));
        assert!(!granted(&store, "a", &limit));
        assert!(!granted(&store, "d", &limit));
    }
}
