//! What the connections of `soak` count, shared by all of them: requests sent and answered,
//! errors, wrong messages, and every publish with the deliveries it is owed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

use crate::histogram::Histogram;

/// Errors and wrong messages printed in full, of each; the rest are only counted.
const SHOWN: u64 = 10;

/// The counters of a run.
pub(super) struct Tally {
    echo_sent: AtomicU64,
    rpc_sent: AtomicU64,
    /// Requests answered by their reply.
    replied: AtomicU64,
    /// Requests answered by an `RPC_ERROR`.
    failed: AtomicU64,
    /// Error frames, write and read errors.
    errors: AtomicU64,
    wrong: AtomicU64,
    pings: AtomicU64,
    /// Send to reply of the requests.
    pub(super) latency: Histogram,
    /// Publish to delivery, for each delivery.
    pub(super) delivery_latency: Histogram,
    publishes: Mutex<Publishes>,
    /// Subscribers of each topic.
    subscribers: Vec<u64>,
}

/// Every publish of the run, its id being its index.
#[derive(Default)]
struct Publishes {
    sent: Vec<Publish>,
    /// Deliveries owed: the subscribers of each publish's topic, summed.
    expected: u64,
    /// Deliveries received, each of a known publish at a subscriber of its topic.
    received: u64,
}

struct Publish {
    topic: u32,
    at: Instant,
    deliveries: u64,
}

/// The counters at one moment.
#[derive(Clone, Copy, Default)]
pub(super) struct Counters {
    pub(super) echo_sent: u64,
    pub(super) rpc_sent: u64,
    pub(super) replied: u64,
    pub(super) failed: u64,
    pub(super) errors: u64,
    pub(super) wrong: u64,
    pub(super) pings: u64,
    pub(super) published: u64,
    pub(super) expected_deliveries: u64,
    pub(super) deliveries: u64,
}

impl Counters {
    pub(super) fn sent(&self) -> u64 {
        self.echo_sent + self.rpc_sent
    }

    /// Requests sent and not answered yet.
    pub(super) fn outstanding(&self) -> u64 {
        self.sent() - self.replied - self.failed
    }

    /// Everything sent has been answered and delivered.
    pub(super) fn settled(&self) -> bool {
        self.outstanding() == 0 && self.deliveries == self.expected_deliveries
    }
}

/// How the deliveries of all publishes turned out.
pub(super) struct DeliveryOutcome {
    /// Deliveries owed and not received.
    pub(super) missing: u64,
    /// Deliveries of a publish beyond its subscribers.
    pub(super) duplicates: u64,
}

/// What a request is, for the counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    Echo,
    Rpc,
}

impl Tally {
    /// A tally for topics with `subscribers[topic]` subscribers each.
    pub(super) fn new(subscribers: Vec<u64>) -> Self {
        Tally {
            echo_sent: AtomicU64::new(0),
            rpc_sent: AtomicU64::new(0),
            replied: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            wrong: AtomicU64::new(0),
            pings: AtomicU64::new(0),
            latency: Histogram::new(),
            delivery_latency: Histogram::new(),
            publishes: Mutex::new(Publishes::default()),
            subscribers,
        }
    }

    pub(super) fn sent(&self, kind: Kind) {
        let counter = match kind {
            Kind::Echo => &self.echo_sent,
            Kind::Rpc => &self.rpc_sent,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn replied(&self, latency: Duration) {
        self.replied.fetch_add(1, Ordering::Relaxed);
        self.latency.record(latency);
    }

    /// A request answered by `message`, an `RPC_ERROR`: answered, but an error.
    pub(super) fn failed(&self, message: &[u8]) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.error(&String::from_utf8_lossy(message));
    }

    pub(super) fn error(&self, what: &str) {
        if self.errors.fetch_add(1, Ordering::Relaxed) < SHOWN {
            eprintln!("error: {what}");
        }
    }

    pub(super) fn wrong(&self, message: &[u8]) {
        if self.wrong.fetch_add(1, Ordering::Relaxed) < SHOWN {
            eprintln!("wrong message: {}", String::from_utf8_lossy(message));
        }
    }

    pub(super) fn ping(&self) {
        self.pings.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a publish to `topic` about to be sent, and returns its id.
    pub(super) fn publish(&self, topic: u32) -> u64 {
        let mut publishes = self.publishes.lock().expect("no panics while locked");
        publishes.expected += self.subscribers[topic as usize];
        publishes.sent.push(Publish { topic, at: Instant::now(), deliveries: 0 });
        publishes.sent.len() as u64 - 1
    }

    /// Records the delivery of publish `id` to a subscriber of `topic`; false if no such
    /// publish went to that topic.
    pub(super) fn delivered(&self, id: u64, topic: u32) -> bool {
        let mut publishes = self.publishes.lock().expect("no panics while locked");
        let Some(publish) = publishes.sent.get_mut(id as usize).filter(|publish| publish.topic == topic)
        else {
            return false;
        };
        publish.deliveries += 1;
        let at = publish.at;
        publishes.received += 1;
        drop(publishes);
        self.delivery_latency.record(at.elapsed());
        true
    }

    pub(super) fn counters(&self) -> Counters {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let publishes = self.publishes.lock().expect("no panics while locked");
        Counters {
            echo_sent: load(&self.echo_sent),
            rpc_sent: load(&self.rpc_sent),
            replied: load(&self.replied),
            failed: load(&self.failed),
            errors: load(&self.errors),
            wrong: load(&self.wrong),
            pings: load(&self.pings),
            published: publishes.sent.len() as u64,
            expected_deliveries: publishes.expected,
            deliveries: publishes.received,
        }
    }

    /// Compares each publish's deliveries with its topic's subscribers.
    pub(super) fn deliveries(&self) -> DeliveryOutcome {
        let publishes = self.publishes.lock().expect("no panics while locked");
        let mut outcome = DeliveryOutcome { missing: 0, duplicates: 0 };
        for publish in &publishes.sent {
            let owed = self.subscribers[publish.topic as usize];
            outcome.missing += owed.saturating_sub(publish.deliveries);
            outcome.duplicates += publish.deliveries.saturating_sub(owed);
        }
        outcome
    }
}
