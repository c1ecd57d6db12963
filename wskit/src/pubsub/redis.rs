//! The Redis bus: publishes go to Redis with `PUBLISH <prefix><topic>`, and every
//! instance (the publisher included) receives them through `PSUBSCRIBE <prefix>*` and
//! delivers them to its local subscribers. The JSON on the channel is ws-kit's:
//! `{"topic","type","payload"?,"meta"?}`, so wskit and ws-kit instances share one bus.
//!
//! The subscriber connection reconnects with backoff when Redis drops it; while it is
//! down, publishes fail with UNAVAILABLE instead of silently reaching nobody.

use super::registry::Registry;
use super::BusStatus;
use crate::error::Error;
use crate::outbox::Frame;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Options of the Redis bus.
///
/// ```
/// use std::time::Duration;
/// use wskit::RedisOptions;
///
/// let options = RedisOptions::default().prefix("chat:").reconnect_delay(Duration::from_millis(50), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    prefix: String,
    min_delay: Duration,
    max_delay: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: String::new(),
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RedisOptions {
    /// The channel prefix (default empty, as ws-kit's): channels are `<prefix><topic>`.
    /// Use one per application sharing a Redis.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The first and the longest delay between reconnection attempts (default 100 ms and
    /// 5 s; the delay doubles after each failed attempt).
    pub fn reconnect_delay(mut self, min: Duration, max: Duration) -> Self {
        self.min_delay = min;
        self.max_delay = max.max(min);
        self
    }
}

/// The message on a Redis channel: ws-kit's `PublishEnvelope`.
#[derive(Serialize, Deserialize)]
struct BusMessage<'a> {
    #[serde(borrow)]
    topic: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    payload: Option<&'a RawValue>,
    /// The frame's meta, plus [`EXCLUDE_KEY`] when the publisher asked not to receive its
    /// own message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meta: Option<Map<String, Value>>,
}

/// The meta key that carries the id of a connection to skip, as ws-kit's plugin writes it.
/// It travels on the bus only: it is removed before the frame reaches any client.
const EXCLUDE_KEY: &str = "excludeClientId";

/// A connected Redis bus.
pub(crate) struct RedisBus {
    prefix: String,
    publisher: ConnectionManager,
    status: watch::Receiver<BusStatus>,
    subscriber: tokio::task::JoinHandle<()>,
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

impl RedisBus {
    /// Connects to `url` and subscribes; returns once the subscription is in place.
    pub(crate) async fn connect(
        url: &str,
        options: RedisOptions,
        registry: Arc<Registry>,
    ) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|error| unavailable("invalid Redis URL", &error))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_min_delay(options.min_delay)
            .set_max_delay(options.max_delay);
        let publisher = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|error| unavailable("cannot connect to Redis", &error))?;
        let first = subscribe(&client, &options.prefix)
            .await
            .map_err(|error| unavailable("cannot subscribe on Redis", &error))?;
        let (status_sender, status) = watch::channel(BusStatus::Connected);
        let subscriber = tokio::spawn(listen(client, options.clone(), registry, first, status_sender));
        Ok(RedisBus { prefix: options.prefix, publisher, status, subscriber })
    }

    /// Publishes one message; its frame reaches local subscribers through the
    /// subscription like everyone else's.
    pub(crate) async fn publish(
        &self,
        topic: &str,
        ty: &str,
        payload: Option<&RawValue>,
        meta: &Map<String, Value>,
        exclude_client_id: Option<Uuid>,
    ) -> Result<(), Error> {
        if *self.status.borrow() != BusStatus::Connected {
            return Err(Error::unavailable("the Redis bus is reconnecting; the message was not published"));
        }
        let mut meta = meta.clone();
        // A key of this name set by the application would skip a client: only the bus sets it.
        meta.remove(EXCLUDE_KEY);
        if let Some(id) = exclude_client_id {
            meta.insert(EXCLUDE_KEY.to_owned(), Value::String(id.to_string()));
        }
        let meta = (!meta.is_empty()).then_some(meta);
        let message = BusMessage { topic: topic.into(), ty: ty.into(), payload, meta };
        let json = serde_json::to_string(&message).map_err(|_| Error::internal())?;
        let channel = format!("{}{topic}", self.prefix);
        let mut connection = self.publisher.clone();
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(json)
            .query_async::<i64>(&mut connection)
            .await
            .map_err(|error| unavailable("publishing to Redis failed", &error))?;
        Ok(())
    }

    pub(crate) fn status(&self) -> watch::Receiver<BusStatus> {
        self.status.clone()
    }
}

async fn subscribe(client: &redis::Client, prefix: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.psubscribe(format!("{}*", escape_glob(prefix))).await?;
    Ok(pubsub)
}

/// Receives from the subscription, and re-subscribes with backoff whenever it drops.
async fn listen(
    client: redis::Client,
    options: RedisOptions,
    registry: Arc<Registry>,
    first: redis::aio::PubSub,
    status: watch::Sender<BusStatus>,
) {
    let mut pubsub = Some(first);
    let mut delay = options.min_delay;
    loop {
        if let Some(connected) = pubsub.take() {
            status.send_replace(BusStatus::Connected);
            delay = options.min_delay;
            let mut messages = connected.into_on_message();
            while let Some(message) = messages.next().await {
                deliver(&registry, &options.prefix, message.get_payload_bytes());
            }
            status.send_replace(BusStatus::Reconnecting);
            tracing::warn!("the Redis subscriber connection dropped; publishes fail until it is back");
        }
        tokio::time::sleep(delay).await;
        match subscribe(&client, &options.prefix).await {
            Ok(connected) => {
                tracing::info!("the Redis subscriber connection is back");
                pubsub = Some(connected);
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?delay, "cannot reconnect to Redis");
                delay = (delay * 2).min(options.max_delay);
            }
        }
    }
}

/// Delivers one message from the bus to this instance's subscribers.
fn deliver(registry: &Registry, prefix: &str, bytes: &[u8]) {
    let mut message: BusMessage<'_> = match std::str::from_utf8(bytes).map(serde_json::from_str) {
        Ok(Ok(message)) => message,
        _ => {
            tracing::warn!(prefix, "ignored a message on the Redis bus that is not a wskit/ws-kit publish");
            return;
        }
    };
    let exclude = message
        .meta
        .as_mut()
        .and_then(|meta| meta.remove(EXCLUDE_KEY))
        .and_then(|id| id.as_str().and_then(|id| id.parse().ok()));
    let frame = match encode_frame(&message) {
        Ok(frame) => frame,
        Err(error) => return tracing::warn!(%error, "ignored an unencodable message on the Redis bus"),
    };
    registry.deliver(&message.topic, &Frame::Shared(frame.into()), exclude);
}

/// The subscriber frame `{"type","meta"?,"payload"?}` of a bus message.
fn encode_frame(message: &BusMessage<'_>) -> serde_json::Result<String> {
    #[derive(Serialize)]
    struct SubscriberFrame<'a> {
        #[serde(rename = "type")]
        ty: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        meta: Option<&'a Map<String, Value>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<&'a RawValue>,
    }
    let meta = message.meta.as_ref().filter(|meta| !meta.is_empty());
    serde_json::to_string(&SubscriberFrame { ty: &message.ty, meta, payload: message.payload })
}

/// Escapes the glob characters of a prefix so `PSUBSCRIBE` matches it literally.
fn escape_glob(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len());
    for ch in prefix.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

fn unavailable(what: &str, error: &redis::RedisError) -> Error {
    tracing::warn!(%error, "{what}");
    Error::unavailable(format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_messages_become_subscriber_frames() {
        let message: BusMessage<'_> =
            serde_json::from_str(r#"{"topic":"t","type":"NEWS","payload":{"a":1},"meta":{}}"#).unwrap();
        assert_eq!(encode_frame(&message).unwrap(), r#"{"type":"NEWS","payload":{"a":1}}"#);
        let message: BusMessage<'_> =
            serde_json::from_str(r#"{"topic":"t","type":"PING","meta":{"k":"v"},"extra":true}"#).unwrap();
        assert_eq!(encode_frame(&message).unwrap(), r#"{"type":"PING","meta":{"k":"v"}}"#);
        let message: BusMessage<'_> =
            serde_json::from_str(r#"{"topic":"t","type":"PING","payload":null}"#).unwrap();
        assert_eq!(encode_frame(&message).unwrap(), r#"{"type":"PING"}"#);
    }

    #[test]
    fn prefixes_are_matched_literally() {
        assert_eq!(escape_glob("app:*[x]"), r"app:\*\[x\]");
    }
}
