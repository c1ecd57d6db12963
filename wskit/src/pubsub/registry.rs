//! [`Registry`]: which connections are open and which subscribe to which topic.

use crate::outbox::{Frame, Outbox};
use std::collections::HashMap;
use std::sync::RwLock;
use uuid::Uuid;

/// Open connections and topic subscriptions. Locks are held only to look up or change the
/// maps, never across an await, and publishing takes the topic map's read lock only.
#[derive(Default)]
pub(crate) struct Registry {
    clients: RwLock<HashMap<Uuid, Outbox>>,
    topics: RwLock<HashMap<Box<str>, HashMap<Uuid, Outbox>>>,
}

impl Registry {
    pub(crate) fn connect(&self, client_id: Uuid, outbox: Outbox) {
        write(&self.clients).insert(client_id, outbox);
    }

    /// Forgets a connection and its subscriptions to `topics`.
    pub(crate) fn disconnect(&self, client_id: Uuid, topics: &[Box<str>]) {
        write(&self.clients).remove(&client_id);
        if topics.is_empty() {
            return;
        }
        let mut map = write(&self.topics);
        for topic in topics {
            remove_subscriber(&mut map, topic, client_id);
        }
    }

    pub(crate) fn subscribe(&self, topic: &str, client_id: Uuid, outbox: &Outbox) {
        let mut map = write(&self.topics);
        match map.get_mut(topic) {
            Some(subscribers) => {
                subscribers.insert(client_id, outbox.clone());
            }
            None => {
                map.insert(topic.into(), HashMap::from([(client_id, outbox.clone())]));
            }
        }
    }

    pub(crate) fn unsubscribe(&self, topic: &str, client_id: Uuid) {
        remove_subscriber(&mut write(&self.topics), topic, client_id);
    }

    /// Queues `frame` for every subscriber of `topic` but `exclude`; returns how many
    /// queued it. A subscriber whose queue is full misses the frame, and is closed with
    /// 1013 unless its policy is to drop frames ([`SlowConsumer`](crate::SlowConsumer)).
    pub(crate) fn deliver(&self, topic: &str, frame: &Frame, exclude: Option<Uuid>) -> usize {
        let map = read(&self.topics);
        let Some(subscribers) = map.get(topic) else { return 0 };
        subscribers
            .iter()
            .filter(|(id, _)| Some(**id) != exclude)
            .filter(|(_, outbox)| outbox.push(frame.clone()).is_ok())
            .count()
    }

    pub(crate) fn client(&self, client_id: Uuid) -> Option<Outbox> {
        read(&self.clients).get(&client_id).cloned()
    }

    pub(crate) fn clients(&self) -> Vec<Uuid> {
        read(&self.clients).keys().copied().collect()
    }

    pub(crate) fn client_count(&self) -> usize {
        read(&self.clients).len()
    }

    pub(crate) fn topics(&self) -> Vec<String> {
        read(&self.topics).keys().map(|topic| topic.to_string()).collect()
    }

    pub(crate) fn subscriber_count(&self, topic: &str) -> usize {
        read(&self.topics).get(topic).map_or(0, HashMap::len)
    }
}

fn remove_subscriber(map: &mut HashMap<Box<str>, HashMap<Uuid, Outbox>>, topic: &str, client_id: Uuid) {
    if let Some(subscribers) = map.get_mut(topic) {
        subscribers.remove(&client_id);
        if subscribers.is_empty() {
            map.remove(topic);
        }
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
