//! Slow consumers are found by what they fail to take, not by the server's own backlog:
//! when a publisher outruns the server, clients that read stay connected while clients
//! that never read are shed.
//!
//! Its own test binary: it loads both cores for a few seconds. The rates suit a debug
//! build, in which the server and the readers share this process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use wskit::{message, router, Close, Ctx, Error, Hub, LimitKind, Limits, Server};
use wskit_examples::{RawClient, TestServer};

#[message("SUB")]
struct Sub;

#[message("SUBSCRIBED")]
struct Subscribed;

#[message("TICK")]
struct Tick {
    seq: u32,
    padding: String,
}

/// Counts the connections that closed, and signals when `expected` have.
struct Feed {
    closed: Arc<AtomicUsize>,
    expected: usize,
    all_closed: Arc<Notify>,
}

#[router]
impl Feed {
    #[on]
    async fn sub(&self, ctx: &mut Ctx<()>, _: Sub) -> Result<(), Error> {
        ctx.subscribe("feed").await?;
        ctx.reply(&Subscribed)
    }

    #[on_close]
    async fn closed(&self, _ctx: &mut Ctx<()>, close: Close) {
        assert_eq!(close.code, Close::TRY_AGAIN_LATER, "{close:?}");
        if self.closed.fetch_add(1, Ordering::AcqRel) + 1 == self.expected {
            self.all_closed.notify_one();
        }
    }
}

/// Subscribes a new client to the feed.
async fn subscriber(server: &TestServer) -> RawClient {
    let mut client = RawClient::connect(&server.url("/ws")).await;
    let answer = client.request(serde_json::json!({"type": "SUB"})).await;
    assert_eq!(answer["type"], "SUBSCRIBED");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_stay_connected_while_clients_that_never_read_are_shed() {
    const NON_READERS: usize = 200;
    const READERS: usize = 10;
    // A rate the readers of this test process keep up with in a debug build; it is
    // still more than the server, serving 210 subscribers in a debug build, keeps up with.
    const TICKS: u32 = 6_000;
    const PER_MILLISECOND: u32 = 2;

    let overflowed = Arc::new(AtomicUsize::new(0));
    let limits = {
        let overflowed = Arc::clone(&overflowed);
        Limits::default().write_timeout(Duration::from_secs(3)).on_exceeded(move |event| {
            assert_eq!(event.kind, LimitKind::OutboundQueue);
            overflowed.fetch_add(1, Ordering::AcqRel);
        })
    };
    let feed = Feed { closed: Arc::default(), expected: NON_READERS, all_closed: Arc::default() };
    let (closed, all_closed) = (Arc::clone(&feed.closed), Arc::clone(&feed.all_closed));
    let hub = Hub::memory();
    let server = TestServer::start(Server::new(feed).path("/ws").limits(limits).hub(hub.clone())).await;

    // Clients that subscribe and then never read again.
    let mut non_readers = Vec::new();
    for _ in 0..NON_READERS {
        non_readers.push(subscriber(&server).await);
    }
    // Clients that read every frame, and check that none is missing.
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let mut client = subscriber(&server).await;
        readers.push(tokio::spawn(async move {
            for expected in 0..TICKS {
                // Checked by its start, not parsed: in a debug build, parsing 4 kB of JSON
                // per frame would make the readers, not the server, the bottleneck.
                let frame = client.recv_text().await;
                let start = format!(r#"{{"type":"TICK","payload":{{"seq":{expected},"#);
                assert!(frame.starts_with(&start), "a reader got {:.60}… instead of tick {expected}", frame);
            }
        }));
    }

    // 2,000 ticks a second, of 4 kB each, for three seconds.
    let padding = "x".repeat(4000);
    let mut clock = tokio::time::interval(Duration::from_millis(1));
    for seq in (0..TICKS).step_by(PER_MILLISECOND as usize) {
        clock.tick().await;
        for seq in seq..seq + PER_MILLISECOND {
            hub.publish("feed", &Tick { seq, padding: padding.clone() }).await.unwrap();
        }
    }

    for reader in readers {
        tokio::time::timeout(Duration::from_secs(30), reader).await.expect("a reader fell behind").unwrap();
    }
    // Every client that never read was closed with 1013: those still sent to once they
    // had stalled for a second as their queue overflowed (the limits hook was told), the
    // others at the write timeout. No reader was: each got every tick.
    tokio::time::timeout(Duration::from_secs(30), all_closed.notified())
        .await
        .unwrap_or_else(|_| panic!("{} of {NON_READERS} non-readers closed", closed.load(Ordering::Acquire)));
    assert!(overflowed.load(Ordering::Acquire) > 0, "no non-reader was shed for its queue");
    drop(non_readers);
}
