//! [`Registry`]: which connections are open, which subscribe to which topic, and which
//! belong to which user.

use crate::outbox::{Frame, Outbox};
use crate::panics::{self, Site};
#[cfg(feature = "server")]
use crate::wakeup::Millis;
use indexmap::IndexMap;
use std::collections::HashMap;
use std::sync::RwLock;
use uuid::Uuid;

/// Open connections, topic subscriptions and the connections of each user. Locks are held
/// only to look up or change the maps, never across an await, and publishing takes the
/// topic map's read lock only.
#[derive(Default)]
pub(crate) struct Registry {
    clients: RwLock<HashMap<Uuid, Outbox>>,
    /// The subscribers of each topic.
    pub(crate) topics: Groups,
    /// The connections of each user ([`Ctx::set_user`](crate::Ctx::set_user)).
    pub(crate) users: Groups,
    on_broadcast: RwLock<Option<BroadcastHook>>,
    /// Sessions of ended connections, kept to be resumed.
    #[cfg(feature = "server")]
    pub(crate) sessions: crate::resume::Sessions,
    /// Wakes the connections whose ping is due ([`wake_due`](Self::wake_due)).
    #[cfg(feature = "server")]
    ticker: crate::server::Ticker,
    /// Sessions handed over between instances on the Redis bus.
    #[cfg(feature = "redis")]
    pub(crate) handovers: crate::resume::redis::Handovers,
}

/// What [`Hub::on_broadcast`](super::Hub::on_broadcast) hooks receive: a publish, once
/// delivered to this server's subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Broadcast<'a> {
    /// The topic published to.
    pub topic: &'a str,
    /// The published message's type.
    pub message_type: &'a str,
    /// How many of this server's subscribers queued it.
    pub delivered: usize,
}

type BroadcastHook = std::sync::Arc<dyn Fn(&Broadcast<'_>) + Send + Sync>;

impl Registry {
    pub(crate) fn connect(&self, client_id: Uuid, outbox: Outbox) {
        write(&self.clients).insert(client_id, outbox);
    }

    /// Forgets a connection, its subscriptions to `topics` and its place among the
    /// connections of `user`.
    pub(crate) fn disconnect(&self, client_id: Uuid, topics: &[Box<str>], user: Option<&str>) {
        write(&self.clients).remove(&client_id);
        self.topics.leave_all(topics, client_id);
        self.users.leave_all(user.as_slice(), client_id);
    }

    /// Delivers a publish of a message of type `ty` to the subscribers of `topic` but
    /// `exclude`, tells the broadcast hook, and returns how many queued it.
    pub(crate) fn publish(&self, topic: &str, ty: &str, frame: &Frame, exclude: Option<Uuid>) -> usize {
        let delivered = self.topics.deliver(topic, frame, exclude);
        crate::observe::published(delivered);
        // Cloned out of the lock: the hook may publish, or set another hook.
        let hook = read(&self.on_broadcast).clone();
        if let Some(hook) = hook {
            let broadcast = Broadcast { topic, message_type: ty, delivered };
            panics::guard(Site::OnBroadcast, false, || hook(&broadcast));
        }
        delivered
    }

    pub(crate) fn set_on_broadcast(&self, hook: BroadcastHook) {
        *write(&self.on_broadcast) = Some(hook);
    }

    pub(crate) fn client(&self, client_id: Uuid) -> Option<Outbox> {
        read(&self.clients).get(&client_id).cloned()
    }

    pub(crate) fn clients(&self) -> Vec<Uuid> {
        read(&self.clients).keys().copied().collect()
    }

    /// Wakes every open connection, e.g. to see that the server shuts down.
    #[cfg(feature = "server")]
    pub(crate) fn wake_all(&self) {
        read(&self.clients).values().for_each(Outbox::wake);
    }

    /// Wakes every open connection whose wake-up is due at `now`: the ping schedules of
    /// a host's connections, run from one ticker. One look at a word per connection.
    #[cfg(feature = "server")]
    pub(crate) fn wake_due(&self, now: Millis) {
        read(&self.clients).values().for_each(|outbox| outbox.wake_if_due(now));
    }

    /// Makes sure the registry's ticker wakes the connections that are due at least
    /// every `period`.
    #[cfg(feature = "server")]
    pub(crate) fn tick_every(self: &std::sync::Arc<Self>, period: std::time::Duration) {
        self.ticker.run(self, period);
    }

    pub(crate) fn client_count(&self) -> usize {
        read(&self.clients).len()
    }
}

/// Connections grouped by name: the subscribers of each topic, the connections of each
/// user. A group exists while it has a member, so the map holds only live connections.
/// Members are kept in an insertion-ordered map, which a publish walks as a dense array.
#[derive(Default)]
pub(crate) struct Groups {
    map: RwLock<HashMap<Box<str>, IndexMap<Uuid, Outbox>>>,
}

impl Groups {
    pub(crate) fn join(&self, group: &str, client_id: Uuid, outbox: &Outbox) {
        let mut map = write(&self.map);
        match map.get_mut(group) {
            Some(members) => {
                members.insert(client_id, outbox.clone());
            }
            None => {
                map.insert(group.into(), IndexMap::from([(client_id, outbox.clone())]));
            }
        }
    }

    pub(crate) fn leave(&self, group: &str, client_id: Uuid) {
        self.leave_all(&[group], client_id);
    }

    pub(crate) fn leave_all(&self, groups: &[impl AsRef<str>], client_id: Uuid) {
        if groups.is_empty() {
            return;
        }
        let mut map = write(&self.map);
        for group in groups {
            let group = group.as_ref();
            if let Some(members) = map.get_mut(group) {
                members.swap_remove(&client_id);
                if members.is_empty() {
                    map.remove(group);
                }
            }
        }
    }

    /// Makes the member `from` of each of `groups` the member `to`, with the queue
    /// `outbox`, in one step: a delivery meanwhile reaches one or the other, in every group
    /// alike.
    #[cfg(feature = "server")]
    pub(crate) fn move_members(&self, groups: &[Box<str>], from: Uuid, to: Uuid, outbox: &Outbox) {
        let mut map = write(&self.map);
        for group in groups {
            if let Some(members) = map.get_mut(&**group) {
                members.swap_remove(&from);
                members.insert(to, outbox.clone());
            }
        }
    }

    /// Makes `client_id`, with the queue `outbox`, a member of each of `groups` in one
    /// step.
    #[cfg(feature = "redis")]
    pub(crate) fn join_all(&self, groups: &[Box<str>], client_id: Uuid, outbox: &Outbox) {
        let mut map = write(&self.map);
        for group in groups {
            map.entry(group.clone()).or_default().insert(client_id, outbox.clone());
        }
    }

    /// Queues `frame` for every member of `group` but `exclude`; returns how many queued
    /// it. A member whose queue is full misses the frame, and is closed with 1013 unless
    /// its policy is to drop frames ([`SlowConsumer`](crate::SlowConsumer)).
    pub(crate) fn deliver(&self, group: &str, frame: &Frame, exclude: Option<Uuid>) -> usize {
        let map = read(&self.map);
        let Some(members) = map.get(group) else { return 0 };
        members
            .iter()
            .filter(|(id, _)| Some(**id) != exclude)
            .filter(|(_, outbox)| outbox.push(frame.clone()).is_ok())
            .count()
    }

    /// The queues of the members of `group`.
    pub(crate) fn members(&self, group: &str) -> Vec<Outbox> {
        read(&self.map).get(group).map_or_else(Vec::new, |members| members.values().cloned().collect())
    }

    pub(crate) fn names(&self) -> Vec<String> {
        read(&self.map).keys().map(|group| group.to_string()).collect()
    }

    pub(crate) fn len(&self) -> usize {
        read(&self.map).len()
    }

    pub(crate) fn count(&self, group: &str) -> usize {
        read(&self.map).get(group).map_or(0, IndexMap::len)
    }
}

/// The maps stay consistent even if a thread panicked while holding a lock (every
/// change is a single insert or remove), so a poisoned lock is used as is.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}
