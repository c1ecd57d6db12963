//! The Redis bus: publishes go to Redis with `PUBLISH <prefix><topic>`, and every
//! instance (the publisher included) receives them through `PSUBSCRIBE <prefix>*` and
//! delivers them to its local subscribers. The JSON on the channel is ws-kit's:
//! `{"topic","type","payload"?,"meta"?}`, so wskit and ws-kit instances share one bus.
//!
//! A send to all connections of a user ([`Hub::send_to_user`](super::Hub::send_to_user))
//! travels the same way on the topic `$user:<user id>`, which each instance delivers to
//! its connections of that user. No client can subscribe to it: topic names starting
//! with `$` are the server's ([`TopicRules`](super::TopicRules)). A ws-kit instance on the
//! bus receives it as a publish to a topic none of its clients holds.
//!
//! Each bus holds one RESP3 connection (Redis 6 or later), named
//! `wskit-bus:<prefix>` with `CLIENT SETNAME`, that both publishes and receives: pushes
//! are delivered to local subscribers as they are read. The connection is pinged
//! periodically so that a silently dead one is noticed, and re-established with backoff
//! when it drops; while it is down, publishes fail with UNAVAILABLE instead of silently
//! reaching nobody.
//!
//! What an outage can still cost, since Redis pub/sub keeps nothing for a subscriber that
//! is away (`tests/redis_faults.rs` measures it):
//! - instances reconnect one by one: a publish from an instance that is back succeeds, but
//!   an instance still reconnecting does not receive it. Only that instance's
//!   [`BusStatus`] and log show the gap;
//! - a publish that timed out on a slow Redis may still be carried out by Redis later, so
//!   retrying it can deliver it twice.

use super::registry::Registry;
use super::{BusStatus, EXCLUDE_KEY};
use crate::error::Error;
use crate::outbox::Frame;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

/// Options of the Redis bus.
///
/// ```
/// use std::time::Duration;
/// use wskit::RedisOptions;
///
/// let options = RedisOptions::default()
///     .prefix("chat:")
///     .reconnect_delay(Duration::from_millis(50), Duration::from_secs(5))
///     .ping_interval(Duration::from_secs(10));
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    prefix: String,
    min_delay: Duration,
    max_delay: Duration,
    ping_interval: Duration,
    timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: String::new(),
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            ping_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
        }
    }
}

impl RedisOptions {
    /// The channel prefix (default empty, as ws-kit's): channels are `<prefix><topic>`.
    /// Use one per application sharing a Redis. The bus connection is named
    /// `wskit-bus:<prefix>` (characters Redis does not allow in a name become `_`).
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

    /// How often the idle bus connection is pinged (default 5 s): a connection that does
    /// not answer within the [`timeout`](Self::timeout) is replaced.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// How long connecting (with subscribing) and each command, publishes included, may
    /// take before it fails (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
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

/// A connected Redis bus.
pub(crate) struct RedisBus {
    commands: Commands,
    maintainer: tokio::task::JoinHandle<()>,
}

/// What sends on the bus: publishes, and other commands on its connection. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Commands {
    prefix: String,
    /// The bus connection while it is up; `None` while it is being re-established.
    link: watch::Receiver<Option<Link>>,
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.maintainer.abort();
    }
}

/// One established bus connection.
#[derive(Clone)]
struct Link {
    connection: MultiplexedConnection,
    /// Notified when the connection is found broken: closed, or subscribed no more.
    broken: Arc<Notify>,
}

impl RedisBus {
    /// Connects to `url` and subscribes; returns once the subscription is in place.
    pub(crate) async fn connect(
        url: &str,
        options: RedisOptions,
        registry: Arc<Registry>,
    ) -> Result<Self, Error> {
        let info = url.into_connection_info().map_err(|error| unavailable("invalid Redis URL", &error))?;
        let resp3 = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        let client = redis::Client::open(info.set_redis_settings(resp3))
            .map_err(|error| unavailable("invalid Redis URL", &error))?;
        let first = connect_link(&client, &options, &registry)
            .await
            .map_err(|error| unavailable("cannot connect and subscribe to Redis (6 or later)", &error))?;
        let (link_sender, link) = watch::channel(Some(first.clone()));
        crate::observe::bus_connected(true);
        let commands = Commands { prefix: options.prefix.clone(), link };
        registry.handovers.set_bus(commands.clone());
        let maintainer = tokio::spawn(maintain(client, options, registry, first, link_sender));
        Ok(RedisBus { commands, maintainer })
    }

    /// The bus's commands.
    pub(crate) fn commands(&self) -> &Commands {
        &self.commands
    }

    /// Whether the bus connection is up.
    pub(crate) fn status(&self) -> BusStatus {
        status_of(&self.commands.link.borrow())
    }

    /// Waits until the bus status is `status`.
    pub(crate) async fn wait_for(&self, status: BusStatus) {
        // The sender lives in the maintainer, which lives as long as this bus.
        let _ = self.commands.link.clone().wait_for(|link| status_of(link) == status).await;
    }
}

impl Commands {
    /// The bus connection, while it is up.
    pub(crate) fn connection(&self) -> Result<MultiplexedConnection, Error> {
        match &*self.link.borrow() {
            Some(link) => Ok(link.connection.clone()),
            None => Err(Error::unavailable("the Redis bus is reconnecting")),
        }
    }

    /// The Redis key `name` of this bus: under its prefix.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
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
        let Some(mut link) = self.link.borrow().clone() else {
            return Err(Error::unavailable("the Redis bus is reconnecting; the message was not published"));
        };
        let meta = bus_meta(meta, exclude_client_id);
        let message = BusMessage { topic: topic.into(), ty: ty.into(), payload, meta };
        let json = serde_json::to_string(&message).map_err(|_| Error::internal())?;
        let channel = format!("{}{topic}", self.prefix);
        let receivers: i64 =
            redis::cmd("PUBLISH").arg(channel).arg(json).query_async(&mut link.connection).await.map_err(
                |error| {
                    // Handlers pass this error on to their clients: the cause stays in the log.
                    tracing::warn!(%error, "publishing to Redis failed");
                    Error::unavailable("publishing to the message bus failed; retry shortly")
                },
            )?;
        if receivers == 0 {
            // This bus's own subscription should have received it: it is gone.
            link.broken.notify_one();
            return Err(Error::unavailable(
                "Redis delivered the message to no instance, not even this one: the bus is resubscribing",
            ));
        }
        Ok(())
    }

    /// Publishes a message for every connection of `user`, on every instance.
    pub(crate) async fn send_to_user(
        &self,
        user: &str,
        ty: &str,
        payload: Option<&RawValue>,
    ) -> Result<(), Error> {
        self.publish(&format!("{USER_CHANNEL}{user}"), ty, payload, &Map::new(), None).await
    }
}

fn status_of(link: &Option<Link>) -> BusStatus {
    match link {
        Some(_) => BusStatus::Connected,
        None => BusStatus::Reconnecting,
    }
}

/// The meta of a bus message: the frame's meta, plus [`EXCLUDE_KEY`] when the publisher
/// asked not to receive its own message; `None` when empty.
/// ([`Publish::meta`](super::Publish::meta) never lets the application set that key.)
fn bus_meta(meta: &Map<String, Value>, exclude_client_id: Option<Uuid>) -> Option<Map<String, Value>> {
    let mut meta = meta.clone();
    if let Some(id) = exclude_client_id {
        meta.insert(EXCLUDE_KEY.to_owned(), Value::String(id.to_string()));
    }
    (!meta.is_empty()).then_some(meta)
}

/// The `CLIENT SETNAME` of the bus connection of `prefix`.
fn connection_name(prefix: &str) -> String {
    let prefix: String = prefix.chars().map(|ch| if ch.is_ascii_graphic() { ch } else { '_' }).collect();
    format!("wskit-bus:{prefix}")
}

/// Opens, names and subscribes a bus connection, within the options' timeout. Its pushes
/// are delivered to `registry` as they arrive.
async fn connect_link(
    client: &redis::Client,
    options: &RedisOptions,
    registry: &Arc<Registry>,
) -> redis::RedisResult<Link> {
    let broken = Arc::new(Notify::new());
    let push = {
        let (registry, prefix, broken) = (Arc::clone(registry), options.prefix.clone(), Arc::clone(&broken));
        move |push: PushInfo| {
            match (push.kind, push.data.get(2)) {
                (PushKind::PMessage, Some(redis::Value::BulkString(bytes))) => {
                    deliver(&registry, &prefix, bytes)
                }
                (PushKind::Disconnection, _) => broken.notify_one(),
                _ => {}
            }
            Ok::<(), Infallible>(())
        }
    };
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(options.timeout))
        .set_response_timeout(Some(options.timeout))
        .set_push_sender(push);
    let setup = async {
        let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(connection_name(&options.prefix))
            .exec_async(&mut connection)
            .await?;
        connection.psubscribe(format!("{}*", escape_glob(&options.prefix))).await?;
        Ok(Link { connection, broken })
    };
    tokio::time::timeout(options.timeout, setup).await.unwrap_or_else(|_| {
        Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "connecting to Redis timed out",
            format!("after {:?}", options.timeout),
        )))
    })
}

/// Keeps the bus connection up: watches `first` (already in `current`), and whenever the
/// connection breaks, replaces it with backoff and publishes the new one in `current`.
async fn maintain(
    client: redis::Client,
    options: RedisOptions,
    registry: Arc<Registry>,
    first: Link,
    current: watch::Sender<Option<Link>>,
) {
    let mut link = first;
    loop {
        until_broken(&link, options.ping_interval).await;
        current.send_replace(None);
        crate::observe::bus_connected(false);
        tracing::warn!("the Redis bus connection dropped; publishes fail until it is back");
        drop(link);
        let mut delay = options.min_delay;
        link = loop {
            tokio::time::sleep(delay).await;
            match connect_link(&client, &options, &registry).await {
                Ok(link) => break link,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?delay, "cannot reconnect to Redis");
                    delay = (delay * 2).min(options.max_delay);
                }
            }
        };
        tracing::info!("the Redis bus connection is back");
        current.send_replace(Some(link.clone()));
        crate::observe::bus_connected(true);
    }
}

/// Returns when `link` is broken: closed, found unsubscribed, or not answering a ping.
async fn until_broken(link: &Link, ping_interval: Duration) {
    loop {
        tokio::select! {
            () = link.broken.notified() => return,
            () = tokio::time::sleep(ping_interval) => {
                let mut connection = link.connection.clone();
                if let Err(error) = redis::cmd("PING").query_async::<redis::Value>(&mut connection).await {
                    return tracing::warn!(%error, "the Redis bus connection does not answer pings");
                }
            }
        }
    }
}

/// The topic on the bus of a send to every connection of a user: this, then the user id.
/// No client can subscribe to it: topics starting with `$` are the server's own
/// ([`TopicRules`](super::TopicRules)).
const USER_CHANNEL: &str = "$user:";

/// Delivers one message from the bus to this instance's subscribers, or to the
/// connections of a user; or takes a step of a session handover.
fn deliver(registry: &Arc<Registry>, prefix: &str, bytes: &[u8]) {
    if crate::resume::redis::is_step(bytes) {
        return crate::resume::redis::on_step(registry, bytes);
    }
    let Some(decoded) = decode(prefix, bytes) else { return };
    let frame = Frame::Shared(decoded.frame.into());
    match decoded.topic.strip_prefix(USER_CHANNEL) {
        Some(user) => {
            registry.users.deliver(user, &frame, None);
        }
        None => {
            registry.publish(&decoded.topic, &decoded.ty, &frame, decoded.exclude);
        }
    }
}

/// A bus message made ready for local delivery.
pub(crate) struct Decoded<'a> {
    pub(crate) topic: Cow<'a, str>,
    /// The message type.
    pub(crate) ty: Cow<'a, str>,
    /// The subscriber frame: `{"type","meta"?,"payload"?}`.
    pub(crate) frame: String,
    /// The publisher's client id, when it asked not to receive its own message.
    pub(crate) exclude: Option<Uuid>,
}

/// Decodes the bytes of a bus message; `None` (logged) for anything that is not a
/// wskit/ws-kit publish.
pub(crate) fn decode<'a>(prefix: &str, bytes: &'a [u8]) -> Option<Decoded<'a>> {
    let text = std::str::from_utf8(bytes).ok();
    // serde reads a struct from an array of its fields too; a publish is one JSON object.
    let parsed = text.filter(|text| text.trim_start().starts_with('{')).map(serde_json::from_str);
    let mut message: BusMessage<'a> = match parsed {
        Some(Ok(message)) => message,
        _ => {
            tracing::debug!(prefix, "ignored a message on the Redis bus that is not a wskit/ws-kit publish");
            return None;
        }
    };
    let exclude = message
        .meta
        .as_mut()
        .and_then(|meta| meta.remove(EXCLUDE_KEY))
        .and_then(|id| id.as_str().and_then(|id| id.parse().ok()));
    let frame = match encode_frame(&message) {
        Ok(frame) => frame,
        Err(error) => {
            tracing::warn!(%error, "ignored an unencodable message on the Redis bus");
            return None;
        }
    };
    Some(Decoded { topic: message.topic, ty: message.ty, frame, exclude })
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
    fn only_objects_are_bus_messages() {
        // Found by fuzzing: an array of the fields was delivered as a message of type `t"`.
        assert!(decode("p:", br#"["to","t\""]"#).is_none());
        let decoded = decode("p:", br#" {"topic":"to","type":"T"}"#).unwrap();
        assert_eq!((&*decoded.topic, decoded.frame.as_str()), ("to", r#"{"type":"T"}"#));
    }

    #[test]
    fn prefixes_are_matched_literally() {
        assert_eq!(escape_glob("app:*[x]"), r"app:\*\[x\]");
    }
}
