//! Rate limiting: a token-bucket [`RateLimiter`], used as a server layer.
//!
//! Each message takes its cost in tokens from a bucket (by default one bucket per
//! connection); a bucket holds up to its capacity and refills at a steady rate. A message
//! that finds too few tokens is refused, before its payload is decoded, with
//! RESOURCE_EXHAUSTED and `retryAfterMs`: the milliseconds until the bucket holds enough.
//! A message that costs more than the capacity can never pass and is refused with
//! FAILED_PRECONDITION and `retryAfterMs: null`.
//!
//! ```
//! use wskit::ratelimit::{Limit, RateLimiter};
//! use wskit::{message, router, Ctx, Error, Server};
//!
//! #[message("SEND_MESSAGE")]
//! pub struct SendMessage { pub text: String }
//!
//! #[derive(Default)]
//! pub struct Session { pub user: String }
//!
//! pub struct Chat;
//!
//! #[router(data = Session)]
//! impl Chat {
//!     #[on]
//!     async fn say(&self, _ctx: &mut Ctx<Session>, _msg: SendMessage) -> Result<(), Error> {
//!         Ok(())
//!     }
//! }
//!
//! // Each user: bursts of 20 tokens, 5 tokens a second; SEND_MESSAGE costs 2.
//! let limit = Limit::new(20, 5.0).cost("SEND_MESSAGE", 2);
//! let server = Server::new(Chat)
//!     .middleware(RateLimiter::new(limit).per_user(|session: &Session, _| session.user.clone()));
//! ```
//!
//! The buckets live in a [`Store`]: a bounded [`MemoryStore`] by default, or, with the
//! `redis` feature, a `RedisStore` that every instance of the service shares.

mod bucket;
mod key;
mod limit;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod store;

pub use limit::Limit;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::{OnFailure, RedisStore};
pub use store::{Outcome, Store, Taking};

use crate::ctx::Ctx;
use crate::error::{Error, Retry};
use crate::limits::{clip, LimitKind};
use crate::middleware::{Decision, Incoming, Middleware, Next};
use key::Key;
use uuid::Uuid;

/// A token-bucket rate limiter: a server layer
/// ([`Server::middleware`](crate::Server::middleware)) that refuses the messages of a
/// client that exhausted its bucket. See the [module docs](self).
///
/// Messages are limited per connection unless told otherwise: per user
/// ([`per_user`](Self::per_user)), per user and message type
/// ([`per_user_and_type`](Self::per_user_and_type)), or by any key
/// ([`key_by`](Self::key_by)).
pub struct RateLimiter<D> {
    limit: Limit,
    key: Key<D>,
    store: Box<dyn Store>,
}

impl<D> RateLimiter<D> {
    /// A limiter of every connection to `limit`, its buckets in a [`MemoryStore`].
    pub fn new(limit: Limit) -> Self {
        RateLimiter { limit, key: Key::Connection, store: Box::new(MemoryStore::default()) }
    }

    /// Keeps the buckets in `store` instead of the default [`MemoryStore`].
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Box::new(store);
        self
    }

    /// One bucket per user, shared by all of the user's connections: `user` names the user
    /// of a connection from its data and client id.
    ///
    /// ```
    /// use wskit::ratelimit::{Limit, RateLimiter};
    ///
    /// pub struct Session { pub user_id: Option<String> }
    ///
    /// // Anonymous connections are limited each on its own.
    /// let limiter = RateLimiter::new(Limit::new(10, 1.0)).per_user(|session: &Session, client_id| {
    ///     session.user_id.clone().unwrap_or_else(|| client_id.to_string())
    /// });
    /// ```
    pub fn per_user(mut self, user: impl Fn(&D, Uuid) -> String + Send + Sync + 'static) -> Self {
        self.key = Key::User(Box::new(user));
        self
    }

    /// One bucket per user and message type: each type the router handles has its own
    /// budget; all other types of a user share one.
    ///
    /// ```
    /// use wskit::ratelimit::{Limit, RateLimiter};
    ///
    /// pub struct Session { pub user_id: String }
    ///
    /// let limiter =
    ///     RateLimiter::new(Limit::new(5, 1.0)).per_user_and_type(|session: &Session, _| session.user_id.clone());
    /// ```
    pub fn per_user_and_type(mut self, user: impl Fn(&D, Uuid) -> String + Send + Sync + 'static) -> Self {
        self.key = Key::UserAndType(Box::new(user));
        self
    }

    /// Any bucket: `key` names the bucket of a message from the connection and the
    /// message's type and meta, or returns `None` to let it through unlimited.
    ///
    /// ```
    /// use wskit::ratelimit::{Limit, RateLimiter};
    ///
    /// // Only uploads are limited, in one bucket shared by every client.
    /// let limiter: RateLimiter<()> = RateLimiter::new(Limit::new(100, 10.0))
    ///     .key_by(|_ctx, incoming| (incoming.message_type() == "UPLOAD").then(|| "uploads".to_owned()));
    /// ```
    pub fn key_by(
        mut self,
        key: impl Fn(&Ctx<D>, &Incoming<'_>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.key = Key::Custom(Box::new(key));
        self
    }

    /// The error of a message whose cost exceeds the capacity: it can never pass.
    fn never_fits(&self, message_type: &str, cost: u32) -> Error {
        let capacity = self.limit.capacity();
        let message_type = clip(message_type);
        Error::failed_precondition(format!(
            "{message_type} costs {cost} tokens but the rate limit holds at most {capacity}: \
             it can never pass; raise the limit's capacity or lower the cost"
        ))
        .with_detail("type", message_type.as_ref())
        .with_detail("cost", cost)
        .with_detail("capacity", capacity)
        .with_retry(Retry::NotNow)
    }

    /// The error of a message refused for want of tokens.
    fn exhausted(&self, message_type: &str, cost: u32, retry_after_ms: u64) -> Error {
        // Layers run before routing: the type may be one a client made up, of any length.
        let message_type = clip(message_type);
        Error::resource_exhausted(format!(
            "rate limit exceeded: {message_type} costs {cost} tokens and too few are left; \
             retry in {retry_after_ms} ms"
        ))
        .with_detail("type", message_type.as_ref())
        .with_detail("cost", cost)
        .with_detail("capacity", self.limit.capacity())
        .with_detail("refillPerSecond", self.limit.refill_per_second())
        .with_retry(Retry::After(retry_after_ms))
    }
}

impl<D: Send + 'static> Middleware<D> for RateLimiter<D> {
    fn handle<'a>(&'a self, ctx: &'a mut Ctx<D>, incoming: &'a Incoming<'a>) -> Decision<'a> {
        let message_type = incoming.message_type();
        let cost = self.limit.cost_of(message_type);
        let key = match cost {
            0 => None,
            _ => self.key.of(ctx, incoming),
        };
        Box::pin(async move {
            let Some(key) = key else { return Ok(Next::Continue) };
            if cost > self.limit.capacity() {
                return Err(self.never_fits(message_type, cost));
            }
            match self.store.take(&key, cost, &self.limit).await? {
                Outcome::Granted => Ok(Next::Continue),
                Outcome::Denied { retry_after_ms } => {
                    let capacity = self.limit.capacity() as usize;
                    ctx.limits().exceeded(
                        LimitKind::MessageRate,
                        cost as usize,
                        capacity,
                        Some(ctx.client_id()),
                    );
                    Err(self.exhausted(message_type, cost, retry_after_ms))
                }
            }
        })
    }
}
