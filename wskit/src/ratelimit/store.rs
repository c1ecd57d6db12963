//! [`Store`]: where the buckets live, and the [`Outcome`] of taking tokens from one.

use super::limit::Limit;
use crate::error::Error;
use std::future::Future;
use std::pin::Pin;

/// What taking tokens from a bucket came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The bucket held enough tokens; they were taken.
    Granted,
    /// The bucket holds too few tokens; none were taken. It will hold enough after
    /// `retry_after_ms` milliseconds (at least 1) if nothing else takes from it.
    Denied {
        /// Milliseconds until the bucket holds enough tokens.
        retry_after_ms: u64,
    },
}

/// A boxed future of a [`Store::take`].
pub type Taking<'a> = Pin<Box<dyn Future<Output = Result<Outcome, Error>> + Send + 'a>>;

/// Where the buckets of a [`RateLimiter`](super::RateLimiter) live: in this process
/// ([`MemoryStore`](super::MemoryStore), the default) or shared by every instance
/// (`RedisStore`, feature `redis`).
///
/// A store creates a bucket full when it first sees its key, and may forget a bucket
/// that has refilled completely, since a full bucket and a new one are the same.
///
/// ```
/// use wskit::ratelimit::{Limit, MemoryStore, Outcome, Store};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::default();
/// let limit = Limit::new(1, 1.0);
/// assert_eq!(store.take("alice", 1, &limit).await.unwrap(), Outcome::Granted);
/// assert!(matches!(store.take("alice", 1, &limit).await.unwrap(), Outcome::Denied { .. }));
/// # });
/// ```
pub trait Store: Send + Sync + 'static {
    /// Atomically refills the bucket `key` under `limit` and takes `cost` tokens from it
    /// if it holds that many (`cost` is never above the capacity). An error (e.g.
    /// UNAVAILABLE when the store cannot be reached) refuses the message with it.
    fn take<'a>(&'a self, key: &'a str, cost: u32, limit: &'a Limit) -> Taking<'a>;
}
