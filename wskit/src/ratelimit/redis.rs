//! [`RedisStore`]: buckets in Redis, shared by every instance of a service.

use super::limit::Limit;
use super::store::{Outcome, Store, Taking};
use crate::error::Error;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The script that refills and takes from a bucket, atomically, on the Redis server.
const TAKE: &str = include_str!("take.lua");

/// How long the store waits after a failed connection attempt before trying again; in
/// between, messages meet the [`OnFailure`] policy at once.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// What a [`RedisStore`] does with a message when Redis cannot be reached or fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// Let the message through unlimited (the default): an outage of Redis does not
    /// become an outage of the service. Each failure is logged as a `tracing` warning.
    #[default]
    Open,
    /// Refuse the message with UNAVAILABLE, which clients may retry: nothing passes
    /// unlimited.
    Closed,
}

/// Buckets in Redis, so that every instance of a service sharing the Redis shares each
/// client's budget.
///
/// Each take runs one Lua script atomically on the Redis server (by `EVALSHA`, falling
/// back to `EVAL` if the server lost the script), timed by the server's `TIME`, so
/// instances whose clocks disagree still agree on every bucket. A bucket is a hash at
/// `<prefix><key>` that expires once it would have refilled completely (or after the
/// [`ttl`](Self::ttl) you set), so idle buckets cost nothing.
///
/// The store connects on first use and reconnects after failures; while Redis cannot be
/// reached, messages meet the [`OnFailure`] policy (by default they pass, with a warning).
///
/// ```no_run
/// use wskit::ratelimit::{Limit, OnFailure, RateLimiter, RedisStore};
///
/// # fn main() -> Result<(), wskit::Error> {
/// let store = RedisStore::open("redis://127.0.0.1:6379")?.prefix("chat:ratelimit:").on_failure(OnFailure::Closed);
/// let limiter: RateLimiter<()> = RateLimiter::new(Limit::new(20, 5.0)).store(store);
/// # Ok(()) }
/// ```
pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    ttl: Option<Duration>,
    timeout: Duration,
    on_failure: OnFailure,
    link: Mutex<Link>,
}

/// The store's connection to Redis, with the SHA1 of the loaded script.
enum Link {
    Up {
        connection: MultiplexedConnection,
        script: Arc<str>,
    },
    /// Not connected; no attempt before `retry_at`, if set.
    Down {
        retry_at: Option<Instant>,
    },
}

impl RedisStore {
    /// A store in the Redis at `url` (e.g. `redis://127.0.0.1:6379`), with the prefix
    /// `wskit:ratelimit:`. Fails only if `url` is not a Redis URL; connecting waits for the
    /// first message.
    pub fn open(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|error| {
            Error::failed_precondition(format!(
                "the rate limiter's Redis URL {url:?} is invalid ({error}); write it as redis://host:port"
            ))
        })?;
        Ok(RedisStore {
            client,
            prefix: "wskit:ratelimit:".to_owned(),
            ttl: None,
            timeout: Duration::from_secs(1),
            on_failure: OnFailure::default(),
            link: Mutex::new(Link::Down { retry_at: None }),
        })
    }

    /// The prefix of the buckets' keys (default `wskit:ratelimit:`). Give each rate
    /// limiter its own: limiters with one prefix share their buckets.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long an untouched bucket lives (default: until it would have refilled
    /// completely, when forgetting it changes nothing). A shorter time forgives clients
    /// early; a longer one only keeps keys around.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// How long connecting, and each take, may last before it counts as a failure
    /// (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What happens to messages while Redis fails (default [`OnFailure::Open`]).
    pub fn on_failure(mut self, on_failure: OnFailure) -> Self {
        self.on_failure = on_failure;
        self
    }

    /// Takes from the bucket in Redis; `None` (after logging why) if Redis failed.
    async fn try_take(&self, key: &str, cost: u32, limit: &Limit) -> Option<Outcome> {
        let (mut connection, script) = self.connection().await?;
        let bucket = format!("{}{key}", self.prefix);
        let ttl_ms = self.ttl.unwrap_or_else(|| limit.full_refill()).as_millis().max(1).to_string();
        let invoke = |command: &str, script: &str| {
            let mut cmd = redis::cmd(command);
            cmd.arg(script).arg(1).arg(&bucket);
            cmd.arg(limit.capacity()).arg(limit.refill_per_second()).arg(cost).arg(&ttl_ms);
            cmd
        };
        let waited = match invoke("EVALSHA", &script).query_async::<u64>(&mut connection).await {
            // The server lost its scripts (SCRIPT FLUSH): EVAL runs the script and loads
            // it again.
            Err(error) if error.code() == Some("NOSCRIPT") => {
                invoke("EVAL", TAKE).query_async::<u64>(&mut connection).await
            }
            waited => waited,
        };
        match waited {
            Ok(0) => Some(Outcome::Granted),
            Ok(retry_after_ms) => Some(Outcome::Denied { retry_after_ms }),
            Err(error) => {
                tracing::warn!(%error, on_failure = ?self.on_failure, "the rate limiter's Redis failed a take");
                if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() {
                    *self.link.lock().await = Link::Down { retry_at: None };
                }
                None
            }
        }
    }

    /// The connection and the SHA1 of the script loaded on it, connecting first if the
    /// link is down and not waiting out [`RECONNECT_DELAY`]; `None` (after logging why)
    /// if there is none. Concurrent takes wait for one connection attempt.
    async fn connection(&self) -> Option<(MultiplexedConnection, Arc<str>)> {
        let mut link = self.link.lock().await;
        if let Link::Down { retry_at } = *link {
            if retry_at.is_some_and(|at| Instant::now() < at) {
                return None;
            }
            *link = match self.connect().await {
                Ok((connection, script)) => Link::Up { connection, script: script.into() },
                Err(error) => {
                    tracing::warn!(%error, on_failure = ?self.on_failure, retry_in = ?RECONNECT_DELAY, "the rate limiter cannot connect to Redis");
                    Link::Down { retry_at: Some(Instant::now() + RECONNECT_DELAY) }
                }
            };
        }
        match &*link {
            Link::Up { connection, script } => Some((connection.clone(), Arc::clone(script))),
            Link::Down { .. } => None,
        }
    }

    /// Connects and loads the script, within the timeout; returns the script's SHA1.
    async fn connect(&self) -> Result<(MultiplexedConnection, String), RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let mut connection = self.client.get_multiplexed_async_connection_with_config(&config).await?;
        let script = redis::cmd("SCRIPT").arg("LOAD").arg(TAKE).query_async(&mut connection).await?;
        Ok((connection, script))
    }
}

impl Store for RedisStore {
    fn take<'a>(&'a self, key: &'a str, cost: u32, limit: &'a Limit) -> Taking<'a> {
        Box::pin(async move {
            match (self.try_take(key, cost, limit).await, self.on_failure) {
                (Some(outcome), _) => Ok(outcome),
                (None, OnFailure::Open) => Ok(Outcome::Granted),
                (None, OnFailure::Closed) => Err(Error::unavailable(
                    "the rate limiter cannot reach its Redis, so messages are refused for now; retry shortly",
                )),
            }
        })
    }
}
