//! Pub/sub: [`Hub`], the registry of a server's connections and topic subscriptions, and
//! the bus that carries publishes between server instances.
//!
//! Handlers subscribe with [`Ctx::subscribe`](crate::Ctx::subscribe) and publish with
//! [`Ctx::publish`](crate::Ctx::publish); code outside handlers publishes and sends
//! through a clone of the [`Hub`]. A publish is serialized once and the same bytes are
//! queued for every subscriber.
//!
//! # Many subscribers per publish
//!
//! A publish queues its frame for each subscriber and wakes each subscriber's task, which
//! writes everything its queue holds in one write. How many publishes a write carries
//! depends on how often the runtime looks at its sockets while it runs those tasks: tokio
//! looks every 61 tasks by default, so with a thousand subscribers the next publishes are
//! read in the middle of a sweep, and the subscribers are written more often, with fewer
//! frames each. A server whose publishes reach many subscribers at once does better when
//! its runtime looks about once per sweep (tokio's `event_interval`): with 1000
//! subscribers, 1024 took the frames per write from 12.4 to 15.6 and the server's time per
//! delivery down by about a sixth (`bench/README.md`). Tasks that run long between awaits
//! delay the sockets' turn as much longer.
//!
//! ```no_run
//! let runtime = tokio::runtime::Builder::new_multi_thread()
//!     .event_interval(1024)
//!     .enable_all()
//!     .build()?;
//! # Ok::<(), std::io::Error>(())
//! ```

#[cfg(feature = "redis")]
pub(crate) mod redis;
mod registry;
mod topic;

#[cfg(feature = "redis")]
pub use self::redis::RedisOptions;
pub use topic::TopicRules;

use crate::close::Close;
use crate::envelope;
use crate::error::Error;
use crate::message::Message;
use crate::outbox::{Frame, Outbox};
pub use registry::Broadcast;
pub(crate) use registry::Registry;
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// The outcome of a successful publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for this many subscribers: exact, on a single node.
    Exact(usize),
    /// Handed to the broker, which delivers it to every instance (this one included):
    /// how many subscribers it reaches is not known here.
    Relayed,
}

/// Whether a hub's bus currently carries publishes to every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusStatus {
    /// Publishes reach every instance (always so for the in-memory bus).
    Connected,
    /// The bus connection is down and being re-established; publishes fail with
    /// UNAVAILABLE meanwhile.
    Reconnecting,
}

/// What a connection is about to do with a topic, for an authorization hook
/// ([`Server::authorize_topics`](crate::Server::authorize_topics)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicAction {
    /// [`Ctx::subscribe`](crate::Ctx::subscribe) to a topic it does not hold yet.
    Subscribe,
    /// [`Ctx::publish`](crate::Ctx::publish) to a topic.
    Publish,
}

/// Decides whether a connection, given its data, may subscribe or publish to a topic.
/// A box behind the `Arc`: a thin pointer, as every connection holds one.
pub(crate) type Authorize<D> =
    Arc<Box<dyn Fn(&D, uuid::Uuid, &str, TopicAction) -> Result<(), Error> + Send + Sync>>;

/// Options of a publish: [`Ctx::publish_with`](crate::Ctx::publish_with),
/// [`Hub::publish_with`].
///
/// ```
/// use wskit::Publish;
///
/// let options = Publish::new().exclude_self().meta("origin", "bot");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Publish {
    pub(crate) exclude_self: bool,
    pub(crate) meta: Map<String, Value>,
}

impl Publish {
    /// The default options: every subscriber receives the message, with no meta.
    pub fn new() -> Self {
        Self::default()
    }

    /// Skips the publishing connection (only meaningful from a handler).
    pub fn exclude_self(mut self) -> Self {
        self.exclude_self = true;
        self
    }

    /// Adds `key: value` to the frame's `meta`. ws-kit clients drop frames with meta keys
    /// their schema does not declare: add only keys the message declares.
    ///
    /// `excludeClientId` is reserved (it is how the Redis bus carries
    /// [`exclude_self`](Self::exclude_self)) and is ignored, on every bus alike.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        let key = key.into();
        if key == EXCLUDE_KEY {
            tracing::debug!("ignored the reserved publish meta key {EXCLUDE_KEY}; use exclude_self()");
        } else {
            self.meta.insert(key, value.into());
        }
        self
    }
}

/// The meta key that carries the id of a connection to skip on the Redis bus, as ws-kit's
/// plugin writes it. Only the bus sets it, and it never reaches a client.
const EXCLUDE_KEY: &str = "excludeClientId";

/// The registry of a server's connections and topics, and its bus. Cheap to clone: clones
/// share the same registry.
///
/// A [`Server`](crate::Server) has one (in-memory unless configured otherwise); get it with
/// [`Server::hub_handle`](crate::Server::hub_handle) to publish or send from anywhere, e.g. an HTTP
/// endpoint or a background task.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    registry: Arc<Registry>,
    rules: TopicRules,
    bus: Bus,
}

/// Where publishes go.
enum Bus {
    /// Straight to this process's subscribers.
    Memory,
    /// Through Redis, to every instance.
    #[cfg(feature = "redis")]
    Redis(self::redis::RedisBus),
}

impl Default for Hub {
    fn default() -> Self {
        Self::memory()
    }
}

impl Hub {
    /// A hub whose publishes reach the subscribers of this process only.
    pub fn memory() -> Self {
        Self::memory_with(TopicRules::default())
    }

    /// An in-memory hub with custom topic rules.
    pub fn memory_with(rules: TopicRules) -> Self {
        Hub { inner: Arc::new(HubInner { registry: Arc::default(), rules, bus: Bus::Memory }) }
    }

    /// A hub whose publishes go through Redis at `url` (e.g. `redis://127.0.0.1:6379`) and
    /// reach the subscribers of every instance on the same Redis and channel prefix,
    /// ws-kit instances included. Returns once subscribed; fails with UNAVAILABLE if Redis
    /// cannot be reached within the [timeout](RedisOptions::timeout).
    ///
    /// It needs Redis 6 or later: the bus holds one RESP3 connection, named
    /// `wskit-bus:<prefix>` in `CLIENT LIST`, that both publishes and receives.
    #[cfg(feature = "redis")]
    pub async fn redis(url: &str, options: RedisOptions, rules: TopicRules) -> Result<Self, Error> {
        let registry = Arc::<Registry>::default();
        let bus = self::redis::RedisBus::connect(url, options, Arc::clone(&registry)).await?;
        Ok(Hub { inner: Arc::new(HubInner { registry, rules, bus: Bus::Redis(bus) }) })
    }

    /// Whether the bus currently carries publishes to every instance.
    pub fn bus_status(&self) -> BusStatus {
        match &self.inner.bus {
            Bus::Memory => BusStatus::Connected,
            #[cfg(feature = "redis")]
            Bus::Redis(bus) => bus.status(),
        }
    }

    /// Waits until the bus status is `status`.
    pub async fn wait_for_bus(&self, status: BusStatus) {
        match &self.inner.bus {
            Bus::Memory if status == BusStatus::Connected => {}
            Bus::Memory => std::future::pending().await,
            #[cfg(feature = "redis")]
            Bus::Redis(bus) => bus.wait_for(status).await,
        }
    }

    /// The topic rules subscriptions and publishes follow.
    pub fn rules(&self) -> &TopicRules {
        &self.inner.rules
    }

    /// Publishes `message` to every subscriber of `topic`.
    pub async fn publish<M: Message>(&self, topic: &str, message: &M) -> Result<Delivery, Error> {
        self.publish_with(topic, message, &Publish::new()).await
    }

    /// Publishes with [`Publish`] options.
    pub async fn publish_with<M: Message>(
        &self,
        topic: &str,
        message: &M,
        options: &Publish,
    ) -> Result<Delivery, Error> {
        self.inner.rules.check(topic)?;
        self.publish_checked(None, topic, message, options).await
    }

    /// Publishes to a topic that already passed the rules, on behalf of `sender`.
    pub(crate) async fn publish_checked<M: Message>(
        &self,
        sender: Option<Uuid>,
        topic: &str,
        message: &M,
        options: &Publish,
    ) -> Result<Delivery, Error> {
        let exclude = if options.exclude_self { sender } else { None };
        match &self.inner.bus {
            Bus::Memory => {
                let frame = envelope::encode_published(message, &options.meta)?;
                let delivered =
                    self.inner.registry.publish(topic, M::TYPE, &Frame::Shared(frame.into()), exclude);
                Ok(Delivery::Exact(delivered))
            }
            #[cfg(feature = "redis")]
            Bus::Redis(bus) => {
                let payload = M::HAS_PAYLOAD.then(|| to_raw(message)).transpose()?;
                bus.commands().publish(topic, M::TYPE, payload.as_deref(), &options.meta, exclude).await?;
                Ok(Delivery::Relayed)
            }
        }
    }

    /// Sends `message` to the connection `client_id`. NOT_FOUND if no such connection is
    /// open on this server.
    pub fn send_to<M: Message>(&self, client_id: Uuid, message: &M) -> Result<(), Error> {
        self.client(client_id)?.push(Frame::Owned(envelope::encode(message, None)?))
    }

    /// Closes the connection `client_id` with `code` and `reason`, as
    /// [`ClientHandle::close`](crate::ClientHandle::close) does: what was queued before is
    /// still written, a running handler is stopped, and `#[on_close]` runs. NOT_FOUND if no
    /// such connection is open on this server; FAILED_PRECONDITION if it is closing already.
    pub fn close(
        &self,
        client_id: Uuid,
        code: u16,
        reason: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Result<(), Error> {
        match self.client(client_id)?.request_close(Close::application(code, reason)) {
            true => Ok(()),
            false => {
                Err(Error::failed_precondition(format!("the connection {client_id} is closing already")))
            }
        }
    }

    fn client(&self, client_id: Uuid) -> Result<Outbox, Error> {
        self.inner
            .registry
            .client(client_id)
            .ok_or_else(|| Error::not_found(format!("no open connection with client id {client_id}")))
    }

    /// Sends `message` to every connection of `user` (tagged with
    /// [`Ctx::set_user`](crate::Ctx::set_user) or [`Server::user`](crate::Server::user)):
    /// all of a user's devices. The frame is that of a publish (`meta` omitted when empty).
    /// With the in-memory bus the delivery counts the
    /// connections that queued it ([`Delivery::Exact`], 0 when the user is offline); with
    /// the Redis bus the message reaches the user's connections on every instance
    /// ([`Delivery::Relayed`]). A connection whose queue is full misses it, as with
    /// [`publish`](Self::publish).
    pub async fn send_to_user<M: Message>(&self, user: &str, message: &M) -> Result<Delivery, Error> {
        match &self.inner.bus {
            Bus::Memory => {
                // Framed as a publish, as the Redis bus frames it: `meta` only when not empty.
                let frame = Frame::Shared(envelope::encode_published(message, &Map::new())?.into());
                Ok(Delivery::Exact(self.inner.registry.users.deliver(user, &frame, None)))
            }
            #[cfg(feature = "redis")]
            Bus::Redis(bus) => {
                let payload = M::HAS_PAYLOAD.then(|| to_raw(message)).transpose()?;
                bus.commands().send_to_user(user, M::TYPE, payload.as_deref()).await?;
                Ok(Delivery::Relayed)
            }
        }
    }

    /// Closes every connection of `user` on this server with `code` and `reason` (see
    /// [`close`](Self::close)); returns how many it closed. To sign a user out everywhere
    /// with the Redis bus, call it on every instance, e.g. from a message sent with
    /// [`send_to_user`](Self::send_to_user) that the client answers by leaving.
    pub fn close_user(
        &self,
        user: &str,
        code: u16,
        reason: impl Into<std::borrow::Cow<'static, str>>,
    ) -> usize {
        let close = Close::application(code, reason);
        let members = self.inner.registry.users.members(user);
        members.iter().filter(|outbox| outbox.request_close(close.clone())).count()
    }

    /// The number of open connections of `user` on this server.
    pub fn user_connection_count(&self, user: &str) -> usize {
        self.inner.registry.users.count(user)
    }

    /// Whether `user` has an open connection on this server.
    pub fn is_online(&self, user: &str) -> bool {
        self.user_connection_count(user) > 0
    }

    /// The users with an open connection on this server.
    pub fn users(&self) -> Vec<String> {
        self.inner.registry.users.names()
    }

    /// The number of users with an open connection on this server.
    pub fn user_count(&self) -> usize {
        self.inner.registry.users.len()
    }

    /// Calls `hook` after each publish has been delivered to this server's subscribers:
    /// with the topic, the message type and how many subscribers queued it. With the
    /// Redis bus every instance calls its hook when the publish reaches it (the count is
    /// then that instance's). Replaces the previous hook. Keep it quick: it runs on the
    /// publishing task (or the bus's), after every publish.
    pub fn on_broadcast(&self, hook: impl Fn(&Broadcast<'_>) + Send + Sync + 'static) {
        self.inner.registry.set_on_broadcast(Arc::new(hook));
    }

    /// The ids of the open connections.
    pub fn clients(&self) -> Vec<Uuid> {
        self.inner.registry.clients()
    }

    /// The number of open connections.
    pub fn client_count(&self) -> usize {
        self.inner.registry.client_count()
    }

    /// The topics with at least one subscriber on this server.
    pub fn topics(&self) -> Vec<String> {
        self.inner.registry.topics.names()
    }

    /// The number of subscribers of `topic` on this server.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.inner.registry.topics.count(topic)
    }

    /// The registry, for session resume.
    #[cfg(feature = "server")]
    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The registry, shared, for a task that must not keep the hub alive.
    #[cfg(feature = "server")]
    pub(crate) fn registry_arc(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// Whether publishes go through Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn is_redis(&self) -> bool {
        matches!(self.inner.bus, Bus::Redis(_))
    }

    /// The number of resumable sessions kept on this server after their connections
    /// ended, waiting for their clients to resume them ([`crate::resume`]).
    #[cfg(feature = "server")]
    pub fn kept_sessions(&self) -> usize {
        self.inner.registry.sessions.kept()
    }

    pub(crate) fn connect(&self, client_id: Uuid, outbox: Outbox) {
        self.inner.registry.connect(client_id, outbox);
    }

    pub(crate) fn disconnect(&self, client_id: Uuid, topics: &[Box<str>], user: Option<&str>) {
        self.inner.registry.disconnect(client_id, topics, user);
    }

    pub(crate) fn subscribe(&self, topic: &str, client_id: Uuid, outbox: &Outbox) {
        self.inner.registry.topics.join(topic, client_id, outbox);
    }

    pub(crate) fn unsubscribe(&self, topic: &str, client_id: Uuid) {
        self.inner.registry.topics.leave(topic, client_id);
    }

    /// Counts the connection `client_id` among the connections of `user` (and no longer
    /// among those of `previous`).
    pub(crate) fn tag_user(&self, client_id: Uuid, outbox: &Outbox, user: &str, previous: Option<&str>) {
        let users = &self.inner.registry.users;
        if let Some(previous) = previous {
            users.leave(previous, client_id);
        }
        users.join(user, client_id, outbox);
    }
}

/// Serializes a payload for the bus.
#[cfg(feature = "redis")]
fn to_raw<T: serde::Serialize + ?Sized>(value: &T) -> Result<Box<serde_json::value::RawValue>, Error> {
    serde_json::value::to_raw_value(value).map_err(|error| {
        tracing::error!(%error, "failed to serialize a published message");
        Error::internal()
    })
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("clients", &self.client_count())
            .field("rules", &self.inner.rules)
            .finish_non_exhaustive()
    }
}
