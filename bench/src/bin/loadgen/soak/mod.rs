//! `loadgen soak`: many connections under a steady mixed load for a long time, to show that
//! the server's memory stays flat, its descriptors stable, and that nothing is lost.
//!
//! Every connection subscribes to one of `--topics` topics, then sends on a fixed schedule
//! (open loop: `--rate` messages per second in all, spread evenly over the connections) a
//! deterministic mix (`--mix ECHO:RPC:PUBLISH`) of ECHO, ECHO_RPC with a correlation id, and
//! PUBLISH to a topic; every message carries an id. Each reply is matched to its request and
//! each delivery to its publish, which owes one delivery per subscriber of its topic. After
//! `--secs` the connections stop sending and get up to `--grace` seconds for the last
//! answers. Every `--sample-secs` a line gives the server's RSS, descriptors and CPU with
//! the counters; the end gives the totals, and a failure (exit status 1) if a request or a
//! delivery was lost, a message was wrong or an error, the RSS grew, or descriptors changed.

mod connection;
mod frames;
mod plan;
mod report;
mod tally;

pub(crate) use plan::Mix;

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, Instant};

use crate::open::open_many;
use crate::procfs::check_open_files;
use crate::pubsub::{subscribe, subscribed};
use crate::wire::{client_frame, Socket};
use crate::{Options, Result};
use connection::Connection;
use plan::{topic_name, Plan};
use report::{Outcome, Resources, Sampler};
use tally::Tally;

/// Between the connections being ready and the first message, for the tasks to start.
const LEAD: Duration = Duration::from_millis(200);

/// How long the server may take to close every connection after the end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `soak`: prints its samples and summary, fails if anything went wrong.
pub(crate) async fn run(options: Options) -> Result<()> {
    let pid = options.pid.ok_or("soak needs --pid of the server")?;
    check_open_files(options.conns as u64 + 64)?;
    let topics = options.topics.min(options.conns) as u32;
    let before = Resources::of(pid)?;
    println!(
        "soak conns={} rate={} secs={} topics={topics} mix={} sample_secs={} warmup_s={} grace_s={}",
        options.conns,
        options.rate,
        options.secs,
        options.mix,
        options.sample_secs,
        options.warmup,
        options.grace,
    );
    let target = Arc::new(options.target.clone());
    let connections = open_many(options.conns, options.concurrency, |index| {
        let target = Arc::clone(&target);
        let topic = (index % topics as usize) as u32;
        async move {
            let mut socket = Socket::open(&target).await?;
            let name = topic_name(topic);
            socket.exchange(&client_frame(subscribe(&name).as_bytes()), &subscribed(&name)).await?;
            Ok(Connection { socket, index, topic })
        }
    })
    .await?;
    let mut subscribers = vec![0u64; topics as usize];
    for connection in &connections {
        subscribers[connection.topic as usize] += 1;
    }
    let tally = Arc::new(Tally::new(subscribers));

    let begin = Instant::now() + LEAD;
    let end = begin + options.secs();
    let plan = Arc::new(Plan {
        period: Duration::from_secs_f64(options.conns as f64 / options.rate),
        start: begin,
        spacing: Duration::from_secs_f64(1.0 / options.rate),
        stop_sending: end,
        mix: options.mix,
        topics,
    });
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for connection in connections {
        tasks.spawn(connection::run(connection, Arc::clone(&plan), Arc::clone(&tally), stopped.clone()));
    }
    let mut sampler = Sampler::new(pid, begin);
    sleep_until(begin).await;
    sampler.take(&tally)?;
    let every = Duration::from_secs_f64(options.sample_secs);
    let mut next = begin + every;
    while next < end {
        sleep_until(next).await;
        sampler.take(&tally)?;
        next += every;
    }
    sleep_until(end).await;
    sampler.take(&tally)?;

    // The last requests and publishes get the grace period to be answered and delivered.
    let grace_end = end + Duration::from_secs_f64(options.grace);
    while !tally.counters().settled() && Instant::now() < grace_end {
        sleep(Duration::from_millis(50)).await;
    }
    stop.send_replace(true);
    let mut lost = 0;
    while let Some(unanswered) = tasks.join_next().await {
        lost += unanswered.map_err(|error| error.to_string())?;
    }
    let after = closed(pid, before).await?;
    let outcome = Outcome {
        sampler: &sampler,
        warmup: options.warmup,
        before,
        after,
        counters: tally.counters(),
        lost,
        deliveries: tally.deliveries(),
        latency: tally.latency.snapshot(),
        delivery_latency: tally.delivery_latency.snapshot(),
    };
    let problems = report::summary(&outcome);
    if problems.is_empty() {
        println!("soak ok");
        Ok(())
    } else {
        Err(format!("soak failed: {}", problems.join("; ")))
    }
}

/// The server's resources once it has closed the connections (its descriptor count back
/// to `before`), or after [`CLOSE_TIMEOUT`].
async fn closed(pid: u32, before: Resources) -> Result<Resources> {
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    loop {
        let now = Resources::of(pid)?;
        if now.fds <= before.fds || Instant::now() >= deadline {
            // Memory freed by the closes shows a moment later.
            sleep(Duration::from_secs(1)).await;
            return Resources::of(pid);
        }
        sleep(Duration::from_millis(100)).await;
    }
}
