//! The Redis bus under faults, with two instances sharing it and traffic flowing both
//! ways between them: a Redis killed and restarted, and a Redis that answers slowly. The
//! instances keep their clients and serve them, report the outage (publishes fail with
//! UNAVAILABLE), and resume cross-instance delivery by themselves; every publish is either
//! delivered or reported failed, except at the edges of the fault, which the tests count.
//!
//! `cargo test --test redis_faults -- --nocapture` prints how long recovery took and what
//! was lost.

mod rooms;

use rooms::{subscribe, News, Rooms};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use wskit::{BusStatus, Code, Hub, RedisOptions, Server, TopicRules};
use wskit_examples::faults::{redis_host_port, FaultProxy, RedisServer};
use wskit_examples::{redis_url, unique_prefix, RawClient, Received, TestServer};

/// How long noticing an outage, or recovering from it, may take before the test fails:
/// generous, for a loaded machine.
const BOUND: Duration = Duration::from_secs(15);

/// How often each direction of the traffic publishes (each publish is awaited first).
const PACE: Duration = Duration::from_millis(5);

/// How close to the start of a fault a relayed publish may still be lost: Redis had
/// answered the publisher, but not yet written the message to the other instance (a
/// killed Redis), or the message was on its way through a link that has just become slow.
const FAULT_EDGE: Duration = Duration::from_secs(1);

/// One wskit instance: a server with its hub on the shared Redis.
struct Instance {
    server: TestServer,
    hub: Hub,
}

impl Instance {
    async fn start(url: &str, options: RedisOptions) -> Self {
        let hub = Hub::redis(url, options, TopicRules::default()).await.unwrap();
        let server = TestServer::start(Server::new(Rooms).path("/ws").hub(hub.clone())).await;
        Instance { server, hub }
    }

    async fn client(&self) -> RawClient {
        RawClient::connect(&self.server.url("/ws")).await
    }
}

/// One publish of the traffic.
struct Sent {
    seq: u64,
    started: Instant,
    ended: Instant,
    /// Whether the receiving instance's bus reported itself connected when the publish
    /// started: if not, the message may reach nobody there, and only that status says so.
    receiver_connected: bool,
    /// Why it failed; `None` when relayed.
    failure: Option<Code>,
}

/// Traffic from one instance to a client of the other: the publishing instance's hub
/// publishes numbered NEWS on a topic as fast as [`PACE`] allows, as an application task
/// would, and the client, subscribed on the other instance, records what arrives.
struct Flow {
    name: &'static str,
    stop: watch::Sender<bool>,
    publisher: JoinHandle<Vec<Sent>>,
    receiver: JoinHandle<Vec<(u64, Instant)>>,
    /// How many numbers arrived, and when the latest did.
    arrived: watch::Receiver<(usize, Option<Instant>)>,
    /// How many publishes failed.
    failed: watch::Receiver<usize>,
}

impl Flow {
    async fn start(name: &'static str, from: &Instance, to: &Instance) -> Self {
        let topic = format!("traffic:{name}");
        let mut client = to.client().await;
        subscribe(&mut client, &topic).await;
        let (stop, stopped) = watch::channel(false);
        let (arrivals, arrived) = watch::channel((0, None));
        let (failures, failed) = watch::channel(0);
        let receiver = tokio::spawn(async move {
            let mut received = Vec::new();
            loop {
                // Longer than any outage the tests allow: a silence this long is a failure.
                let frame = match client.next_within(2 * BOUND).await {
                    Received::Json(frame) => frame,
                    other => panic!("the receiving client lost its connection: {other:?}"),
                };
                assert_eq!(frame["type"], "NEWS", "{frame}");
                let text = frame["payload"]["text"].as_str().expect("a text");
                if text == "end" {
                    return received;
                }
                let now = Instant::now();
                received.push((text.parse().expect("a number"), now));
                arrivals.send_modify(|(count, latest)| (*count, *latest) = (*count + 1, Some(now)));
            }
        });
        let (hub, receiving_hub) = (from.hub.clone(), to.hub.clone());
        let publisher = tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut pace = tokio::time::interval(PACE);
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for seq in 0.. {
                pace.tick().await;
                if *stopped.borrow() {
                    break;
                }
                let receiver_connected = receiving_hub.bus_status() == BusStatus::Connected;
                let started = Instant::now();
                let result = hub.publish(&topic, &News { text: seq.to_string() }).await;
                let failure = result.err().map(|error| error.code().clone());
                if failure.is_some() {
                    failures.send_modify(|failed| *failed += 1);
                }
                sent.push(Sent { seq, started, ended: Instant::now(), receiver_connected, failure });
            }
            // The receiver stops at this marker. Redis keeps the order of one connection's
            // publishes, so every number relayed before it on this connection has arrived
            // by then; the connections before this one are closed.
            while hub.publish(&topic, &News { text: "end".into() }).await.is_err() {
                pace.tick().await;
            }
            sent
        });
        Flow { name, stop, publisher, receiver, arrived, failed }
    }

    /// Waits until `count` numbers have arrived in all.
    async fn until_arrived(&mut self, count: usize) {
        let arrived = self.arrived.wait_for(|(arrived, _)| *arrived >= count);
        tokio::time::timeout(BOUND, arrived).await.expect("the traffic did not flow").unwrap();
    }

    /// Waits for the first number to arrive after `moment`, and returns when it did.
    async fn until_arrival_after(&mut self, moment: Instant) -> Instant {
        let arrived = self.arrived.wait_for(|(_, latest)| latest.is_some_and(|latest| latest > moment));
        let arrived = tokio::time::timeout(BOUND, arrived)
            .await
            .unwrap_or_else(|_| panic!("{}: no delivery across instances within {BOUND:?}", self.name));
        arrived.unwrap().1.unwrap()
    }

    /// The number of arrivals so far.
    fn arrivals(&self) -> usize {
        self.arrived.borrow().0
    }

    /// Waits until `more` publishes have failed from now on: the traffic met the outage.
    async fn until_more_failed(&mut self, more: usize) {
        let count = *self.failed.borrow() + more;
        let failed = self.failed.wait_for(|failed| *failed >= count);
        tokio::time::timeout(BOUND, failed)
            .await
            .expect("the traffic did not go on through the outage")
            .unwrap();
    }

    /// Stops the traffic and returns what was published and what arrived.
    async fn finish(self) -> (&'static str, Vec<Sent>, Vec<(u64, Instant)>) {
        self.stop.send_replace(true);
        let sent = self.publisher.await.unwrap();
        (self.name, sent, self.receiver.await.unwrap())
    }
}

/// A fault: when it began and when it ended (Redis answered again, or fast again).
#[derive(Clone, Copy)]
struct Fault {
    began: Instant,
    ended: Instant,
}

/// What became of one direction's publishes.
#[derive(Debug, Default)]
struct Tally {
    delivered: usize,
    /// Reported failed (UNAVAILABLE), and not delivered.
    failed: usize,
    /// Reported failed, yet delivered: a publish that timed out while Redis was slow.
    failed_yet_delivered: usize,
    /// Relayed, but lost at the start of the fault.
    lost_at_fault: usize,
    /// Relayed while the receiving instance reported its bus reconnecting, and lost.
    lost_while_receiver_reconnecting: usize,
}

/// Accounts for every publish of a finished flow, and checks that nothing was lost
/// silently: a relayed publish that did not arrive was sent either at the edge of the
/// `fault` or while the receiving instance reported its outage.
fn account((name, sent, received): (&str, Vec<Sent>, Vec<(u64, Instant)>), fault: Fault) {
    let mut arrivals = HashMap::new();
    for (seq, at) in received {
        assert!(arrivals.insert(seq, at).is_none(), "{name}: {seq} arrived twice");
        assert!(seq < sent.len() as u64, "{name}: {seq} arrived but was never published");
    }
    let mut tally = Tally::default();
    for publish in &sent {
        let delivered = arrivals.contains_key(&publish.seq);
        match (&publish.failure, delivered) {
            (Some(code), _) => {
                assert_eq!(code, &Code::Unavailable, "{name}: publish {} failed with {code:?}", publish.seq);
                *if delivered { &mut tally.failed_yet_delivered } else { &mut tally.failed } += 1;
            }
            (None, true) => tally.delivered += 1,
            (None, false) if !publish.receiver_connected => tally.lost_while_receiver_reconnecting += 1,
            (None, false) => {
                let at_fault = publish.started < fault.ended && publish.ended + FAULT_EDGE > fault.began;
                assert!(at_fault, "{name}: publish {} was relayed and silently lost", publish.seq);
                tally.lost_at_fault += 1;
            }
        }
    }
    eprintln!("{name}: {} published: {tally:?}", sent.len());
}

/// Asserts that every publish of `sent` that started within `outage` failed.
fn failed_throughout(name: &str, sent: &[Sent], outage: std::ops::Range<Instant>) {
    let during: Vec<&Sent> = sent.iter().filter(|publish| outage.contains(&publish.started)).collect();
    assert!(!during.is_empty(), "{name}: the traffic went on through the outage");
    assert!(
        during.iter().all(|publish| publish.failure.is_some()),
        "{name}: a publish during the outage was relayed"
    );
    eprintln!("{name}: {} publishes during the outage, all reported failed", during.len());
}

/// The bus status changes of a hub, with when they were seen.
struct StatusLog {
    changes: Arc<Mutex<Vec<(BusStatus, Instant)>>>,
    watcher: JoinHandle<()>,
}

impl StatusLog {
    fn start(hub: &Hub) -> Self {
        let (hub, changes) = (hub.clone(), Arc::new(Mutex::new(Vec::new())));
        let log = Arc::clone(&changes);
        let watcher = tokio::spawn(async move {
            for status in [BusStatus::Reconnecting, BusStatus::Connected].into_iter().cycle() {
                hub.wait_for_bus(status).await;
                log.lock().unwrap().push((status, Instant::now()));
            }
        });
        StatusLog { changes, watcher }
    }

    /// When the bus first reported `status` after `moment`.
    fn first_after(&self, status: BusStatus, moment: Instant) -> Option<Instant> {
        let changes = self.changes.lock().unwrap();
        changes.iter().find(|(seen, at)| *seen == status && *at > moment).map(|(_, at)| *at)
    }
}

impl Drop for StatusLog {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Waits until both instances report their bus reconnecting, and returns when.
async fn until_both_reconnecting(one: &Instance, two: &Instance) -> Instant {
    let both = async {
        one.hub.wait_for_bus(BusStatus::Reconnecting).await;
        two.hub.wait_for_bus(BusStatus::Reconnecting).await;
    };
    tokio::time::timeout(BOUND, both).await.expect("an instance did not notice the outage");
    Instant::now()
}

/// During an outage, a client is still served: its subscription is taken (subscriptions
/// are local) and its publish is answered with UNAVAILABLE; so is a publish by the hub.
async fn served_during_outage(instance: &Instance, client: &mut RawClient, topic: &str) {
    let topics = subscribe(client, topic).await;
    assert_eq!(
        (&topics["type"], &topics["payload"]),
        (&json!("TOPICS"), &json!({"topics": [topic]})),
        "{topics}"
    );
    let answer = client
        .request(json!({"type": "SAY", "payload": {"topic": topic, "text": "lost?", "excludeSelf": false}}))
        .await;
    assert_eq!(
        (&answer["type"], &answer["payload"]["code"]),
        (&json!("ERROR"), &json!("UNAVAILABLE")),
        "{answer}"
    );
    let error = instance.hub.publish(topic, &News { text: "lost?".into() }).await.unwrap_err();
    assert_eq!(error.code(), &Code::Unavailable);
}

/// After the outage, a client's publish crosses to a client of the other instance, and
/// the publishes that failed during the outage never arrive: the next frame is this one.
async fn client_publish_crosses(from: &mut RawClient, to: &mut RawClient, topic: &str) {
    let answer = from
        .request(json!({"type": "SAY", "payload": {"topic": topic, "text": "back", "excludeSelf": false}}))
        .await;
    // Across a broker the delivery count is unknown.
    assert_eq!(
        (&answer["type"], &answer["payload"]["count"]),
        (&json!("DELIVERED"), &json!(null)),
        "{answer}"
    );
    assert_eq!(to.recv().await, json!({"type": "NEWS", "payload": {"text": "back"}}));
}

fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

#[tokio::test]
async fn a_killed_and_restarted_redis_is_survived_reported_and_recovered_from() {
    let Some(mut redis) = RedisServer::start().await else { return };
    // Default options, as an application runs: the recovery measured is what it gets.
    let one = Instance::start(&redis.url(), RedisOptions::default()).await;
    let two = Instance::start(&redis.url(), RedisOptions::default()).await;
    let (status_one, status_two) = (StatusLog::start(&one.hub), StatusLog::start(&two.hub));
    let mut one_to_two = Flow::start("one-to-two", &one, &two).await;
    let mut two_to_one = Flow::start("two-to-one", &two, &one).await;
    let (mut alice, mut bob) = (one.client().await, two.client().await);
    one_to_two.until_arrived(20).await;
    two_to_one.until_arrived(20).await;

    // SIGKILL mid-traffic: the instances learn of it from their connections closing.
    let killed = Instant::now();
    redis.kill();
    let noticed = until_both_reconnecting(&one, &two).await;
    served_during_outage(&one, &mut alice, "chat:one").await;
    served_during_outage(&two, &mut bob, "chat:two").await;
    one_to_two.until_more_failed(5).await;
    two_to_one.until_more_failed(5).await;

    let restarting = Instant::now();
    redis.restart().await;
    let ready = Instant::now();
    let resumed = [one_to_two.until_arrival_after(ready).await, two_to_one.until_arrival_after(ready).await];
    // And the traffic goes on flowing.
    let (so_far_one, so_far_two) = (one_to_two.arrivals(), two_to_one.arrivals());
    one_to_two.until_arrived(so_far_one + 20).await;
    two_to_one.until_arrived(so_far_two + 20).await;
    client_publish_crosses(&mut alice, &mut bob, "chat:two").await;
    client_publish_crosses(&mut bob, &mut alice, "chat:one").await;

    let fault = Fault { began: killed, ended: ready };
    let flows = [one_to_two.finish().await, two_to_one.finish().await];
    for (name, sent, _) in &flows {
        failed_throughout(name, sent, noticed..restarting);
    }
    for flow in flows {
        account(flow, fault);
    }
    let reconnected = [&status_one, &status_two]
        .map(|log| log.first_after(BusStatus::Connected, ready).expect("the bus reported itself connected"));
    eprintln!(
        "killed Redis: outage noticed by both instances after {}, Redis down for {}, restarted in {}; \
         after the restart: buses connected after {} and {}, cross-instance delivery resumed after {} (one to two) \
         and {} (two to one)",
        millis(noticed - killed),
        millis(ready - killed),
        millis(ready - restarting),
        millis(reconnected[0] - ready),
        millis(reconnected[1] - ready),
        millis(resumed[0] - ready),
        millis(resumed[1] - ready),
    );
}

#[tokio::test]
async fn a_slow_redis_is_survived_reported_and_recovered_from() {
    let Some(url) = redis_url().await else { return };
    const TIMEOUT: Duration = Duration::from_secs(1);
    // Within the timeout: commands are slow but answered.
    const SLOW: Duration = Duration::from_millis(200);
    // Beyond the timeout: commands, pings and reconnections time out.
    const STALLED: Duration = Duration::from_secs(3);
    let proxy = FaultProxy::start(redis_host_port(&url)).await;
    let options = RedisOptions::default()
        .prefix(unique_prefix("slow"))
        .timeout(TIMEOUT)
        .ping_interval(Duration::from_millis(200))
        .reconnect_delay(Duration::from_millis(50), Duration::from_millis(500));
    let one = Instance::start(&proxy.redis_url(), options.clone()).await;
    let two = Instance::start(&proxy.redis_url(), options).await;
    let (status_one, status_two) = (StatusLog::start(&one.hub), StatusLog::start(&two.hub));
    let mut one_to_two = Flow::start("one-to-two", &one, &two).await;
    let mut two_to_one = Flow::start("two-to-one", &two, &one).await;
    let (mut alice, mut bob) = (one.client().await, two.client().await);
    one_to_two.until_arrived(20).await;
    two_to_one.until_arrived(20).await;

    // Slow but within the timeout: the traffic goes on, late, over the same connections.
    let slowed = Instant::now();
    proxy.set_delay(SLOW);
    let (so_far_one, so_far_two) = (one_to_two.arrivals(), two_to_one.arrivals());
    one_to_two.until_arrived(so_far_one + 5).await;
    two_to_one.until_arrived(so_far_two + 5).await;
    for log in [&status_one, &status_two] {
        assert_eq!(log.first_after(BusStatus::Reconnecting, slowed), None, "a slow Redis is not an outage");
    }

    // Slower than the timeout: publishes time out, then pings do, and the instances
    // report the outage until Redis is fast again.
    let stalled = Instant::now();
    proxy.set_delay(STALLED);
    let noticed = until_both_reconnecting(&one, &two).await;
    served_during_outage(&one, &mut alice, "chat:one").await;
    served_during_outage(&two, &mut bob, "chat:two").await;
    one_to_two.until_more_failed(5).await;
    two_to_one.until_more_failed(5).await;

    let fast = Instant::now();
    proxy.set_delay(Duration::ZERO);
    let resumed = [one_to_two.until_arrival_after(fast).await, two_to_one.until_arrival_after(fast).await];
    let (so_far_one, so_far_two) = (one_to_two.arrivals(), two_to_one.arrivals());
    one_to_two.until_arrived(so_far_one + 20).await;
    two_to_one.until_arrived(so_far_two + 20).await;
    client_publish_crosses(&mut alice, &mut bob, "chat:two").await;
    client_publish_crosses(&mut bob, &mut alice, "chat:one").await;
    // What the proxy read while stalled is due by then: Redis still gets the publishes
    // that had timed out, and the tally counts those that arrive.
    tokio::time::sleep_until(fast + STALLED).await;

    let fault = Fault { began: stalled, ended: fast };
    let flows = [one_to_two.finish().await, two_to_one.finish().await];
    let mut latencies = Vec::new();
    for (name, sent, received) in &flows {
        failed_throughout(name, sent, noticed..fast);
        // While slow, each message crossed the slow link twice: to Redis and back out.
        let started: HashMap<u64, Instant> =
            sent.iter().map(|publish| (publish.seq, publish.started)).collect();
        for (seq, arrived) in received {
            let started = started[seq];
            if started > slowed && *arrived < stalled {
                let latency = *arrived - started;
                assert!(latency >= 2 * SLOW, "{name}: {seq} crossed a slow Redis in {latency:?}");
                latencies.push(latency);
            }
        }
    }
    assert!(!latencies.is_empty(), "messages crossed the slow Redis");
    for flow in flows {
        account(flow, fault);
    }
    let reconnected = [&status_one, &status_two]
        .map(|log| log.first_after(BusStatus::Connected, fast).expect("the bus reported itself connected"));
    eprintln!(
        "slow Redis: {} per chunk each way: delivery in {} to {}, no reconnection; {} per chunk \
         (timeout {}): outage noticed by both instances after {}; fast again: buses connected after {} and {}, \
         cross-instance delivery resumed after {} (one to two) and {} (two to one)",
        millis(SLOW),
        millis(*latencies.iter().min().unwrap()),
        millis(*latencies.iter().max().unwrap()),
        millis(STALLED),
        millis(TIMEOUT),
        millis(noticed - stalled),
        millis(reconnected[0] - fast),
        millis(reconnected[1] - fast),
        millis(resumed[0] - fast),
        millis(resumed[1] - fast),
    );
}
