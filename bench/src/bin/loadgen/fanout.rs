//! `loadgen fanout`: deliveries per second from one publisher to many subscribers of one
//! topic.
//!
//! `--subs` connections subscribe to the topic; after one publish has been checked at every
//! subscriber, one more connection publishes continuously, keeping at most `--inflight`
//! publishes not yet delivered to every subscriber (measured by the total deliveries
//! counted), so that no subscriber's queue grows without bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};

use crate::open::open_many;
use crate::procfs::check_open_files;
use crate::pubsub::{news, publish, subscribe, subscribed};
use crate::wire::{client_frame, MessageCounter, Socket};
use crate::{window, Options, Result, SETUP_TIMEOUT};

/// The topic of every subscriber.
const TOPIC: &str = "bench";

/// The text of every publish.
const TEXT: &str = "hello world";

/// Runs `fanout` and prints its line.
pub(crate) async fn run(options: Options) -> Result<()> {
    check_open_files(options.subs as u64 + 64)?;
    let subscribe = Arc::new(client_frame(subscribe(TOPIC).as_bytes()));
    let target = Arc::new(options.target.clone());
    let subscribers = open_many(options.subs, options.concurrency, |_| {
        let (subscribe, target) = (Arc::clone(&subscribe), Arc::clone(&target));
        async move {
            let mut socket = Socket::open(&target).await?;
            socket.exchange(&subscribe, &subscribed(TOPIC)).await?;
            Ok(socket)
        }
    })
    .await?;
    let mut publisher = Socket::open(&options.target).await?;
    let frame = client_frame(publish(TOPIC, TEXT).as_bytes());
    publisher.send(&frame).await?;
    let subscribers = check_first_delivery(subscribers).await?;

    let counter = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(Notify::new());
    let begin = Instant::now();
    let (warmup, secs) = (options.warmup(), options.secs());
    let deadline = begin + warmup + secs + Duration::from_millis(200);
    let mut readers = JoinSet::new();
    for socket in subscribers {
        readers.spawn(count_deliveries(socket, deadline, Arc::clone(&counter), Arc::clone(&progress)));
    }
    let frames = frame.repeat(options.inflight);
    let pacing = Pacing {
        inflight: options.inflight,
        subs: options.subs as u64,
        delivered: Arc::clone(&counter),
        progress,
    };
    let publishing = tokio::spawn(keep_publishing(publisher, frames, pacing, deadline));
    let window = window::measure(&counter, begin, warmup, secs, options.pid).await;
    let stopped = |what: &str| format!("{what} did not stop at the deadline");
    let published = timeout(Duration::from_secs(5), publishing)
        .await
        .map_err(|_| stopped("the publisher"))?
        .map_err(|error| error.to_string())??;
    let mut per_subscriber = Vec::with_capacity(options.subs);
    while let Some(joined) =
        timeout(Duration::from_secs(5), readers.join_next()).await.map_err(|_| stopped("the subscribers"))?
    {
        per_subscriber.push(joined.map_err(|error| error.to_string())??);
    }
    println!(
        "fanout subs={} inflight={} warmup_s={} secs={} published={published} deliveries={} \
         deliveries_per_sec={:.0} publishes_per_sec={:.0} per_sub_min={} per_sub_max={} \
         loadgen_cpu_pct={} server_cpu_pct={} server_sys_pct={}",
        options.subs,
        options.inflight,
        options.warmup,
        options.secs,
        window.count,
        window.rate(),
        window.rate() / options.subs as f64,
        per_subscriber.iter().min().unwrap_or(&0),
        per_subscriber.iter().max().unwrap_or(&0),
        window.loadgen_cpu,
        window.server_cpu,
        window.server_sys_cpu,
    );
    Ok(())
}

/// Checks that every subscriber receives exactly the published frame.
async fn check_first_delivery(subscribers: Vec<Socket>) -> Result<Vec<Socket>> {
    let expected = Arc::new(news(TEXT));
    let mut checks = JoinSet::new();
    for (i, mut socket) in subscribers.into_iter().enumerate() {
        let expected = Arc::clone(&expected);
        checks.spawn(async move {
            timeout(SETUP_TIMEOUT, socket.expect(&expected))
                .await
                .unwrap_or_else(|_| Err("no delivery of the first publish".into()))
                .map_err(|error| format!("subscriber {i}: {error}"))?;
            Ok::<_, String>(socket)
        });
    }
    let mut checked = Vec::with_capacity(checks.len());
    while let Some(joined) = checks.join_next().await {
        checked.push(joined.map_err(|error| error.to_string())??);
    }
    Ok(checked)
}

/// One subscriber: counts the messages it receives until `deadline`, adding them to
/// `counter` and waking the publisher. Returns its count.
async fn count_deliveries(
    socket: Socket,
    deadline: Instant,
    counter: Arc<AtomicU64>,
    progress: Arc<Notify>,
) -> Result<u64> {
    let Socket { mut stream, mut buf, len: mut kept } = socket;
    let mut messages = MessageCounter::default();
    let mut total = 0u64;
    let stop = sleep_until(deadline);
    tokio::pin!(stop);
    loop {
        let read = tokio::select! {
            biased;
            () = &mut stop => return Ok(total),
            read = stream.read(&mut buf[kept..]) => match read.map_err(|error| error.to_string())? {
                0 => return Err("the server closed a subscriber's connection".into()),
                n => n,
            },
        };
        let (delivered, left) = messages.count(&mut buf, kept + read)?;
        kept = left;
        if delivered > 0 {
            counter.fetch_add(delivered as u64, Ordering::Relaxed);
            total += delivered as u64;
            progress.notify_one();
        }
    }
}

/// How the publisher keeps a bounded number of publishes in flight.
struct Pacing {
    /// Publishes not yet delivered to every subscriber, at most.
    inflight: usize,
    subs: u64,
    /// Deliveries counted across all subscribers.
    delivered: Arc<AtomicU64>,
    /// Notified when `delivered` grows.
    progress: Arc<Notify>,
}

/// The publisher: writes publishes (`frames` holds `pacing.inflight` of them) whenever the
/// pacing allows, until `deadline`. Any frame the server sends it (an `ERROR`) is an error.
/// Returns the number of publishes.
async fn keep_publishing(
    mut socket: Socket,
    frames: Vec<u8>,
    pacing: Pacing,
    deadline: Instant,
) -> Result<u64> {
    let Pacing { inflight, subs, delivered, progress } = pacing;
    let frame_len = frames.len() / inflight;
    let mut sent = 0u64;
    let stop = sleep_until(deadline);
    tokio::pin!(stop);
    loop {
        let completed = delivered.load(Ordering::Relaxed) / subs;
        let allowed = (completed + inflight as u64).saturating_sub(sent) as usize;
        if allowed > 0 {
            tokio::select! {
                biased;
                () = &mut stop => return Ok(sent),
                written = socket.send(&frames[..allowed * frame_len]) => written?,
            }
            sent += allowed as u64;
            continue;
        }
        tokio::select! {
            biased;
            () = &mut stop => return Ok(sent),
            () = progress.notified() => {}
            answer = socket.next_text() => {
                return Err(format!("the publisher received {}", String::from_utf8_lossy(&answer?)));
            }
        }
    }
}
