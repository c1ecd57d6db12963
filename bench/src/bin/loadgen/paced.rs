//! `loadgen paced`: round-trip latency at a fixed offered load, open loop.
//!
//! Closed-loop modes (`echo`) send the next request when a reply comes, so a slow server
//! is offered less work and its queueing never shows. Here every connection sends on its
//! own fixed schedule whatever the replies do: `--rate` requests per second in all, the
//! connections' schedules spread over one period so that the total is even. Sends due by
//! the same timer tick go out in one write; each reply (ECHO answers come back in order)
//! is timed from that write to the read that completes it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};

use crate::echo::ECHO;
use crate::histogram::Histogram;
use crate::wire::{client_frame, MessageCounter, Socket};
use crate::{Options, Result, SETUP_TIMEOUT};

/// How long the replies of the last requests may take after the sending stops.
const DRAIN: Duration = Duration::from_secs(2);

/// Requests written at once at most; later ones wait for the next tick.
const MAX_BURST: usize = 256;

/// What every connection counts, summed.
#[derive(Default)]
struct Totals {
    sent: AtomicU64,
    replied: AtomicU64,
}

/// Runs `paced` and prints its line.
pub(crate) async fn run(options: Options) -> Result<()> {
    let options = Arc::new(options);
    let frame = client_frame(ECHO.request.as_bytes());
    let burst = Arc::new(frame.repeat(MAX_BURST));
    let histogram = Arc::new(Histogram::new());
    let totals = Arc::new(Totals::default());
    let mut sockets = Vec::with_capacity(options.conns);
    for _ in 0..options.conns {
        let setup = async {
            let mut socket = Socket::open(&options.target).await?;
            socket.exchange(&frame, ECHO.reply).await?;
            Ok::<_, String>(socket)
        };
        sockets.push(timeout(SETUP_TIMEOUT, setup).await.map_err(|_| "setup timed out".to_owned())??);
    }
    let period = Duration::from_secs_f64(options.conns as f64 / options.rate);
    let begin = Instant::now() + Duration::from_millis(100);
    let counted_from = begin + options.warmup();
    let end = counted_from + options.secs();
    let mut tasks = JoinSet::new();
    for (index, socket) in sockets.into_iter().enumerate() {
        let first = begin + period.mul_f64(index as f64 / options.conns as f64);
        let schedule = Schedule { first, period, counted_from, end, frame_len: frame.len() };
        let (burst, histogram, totals) = (Arc::clone(&burst), Arc::clone(&histogram), Arc::clone(&totals));
        tasks.spawn(connection(socket, schedule, burst, histogram, totals));
    }
    let mut lost = 0;
    while let Some(joined) = tasks.join_next().await {
        lost += joined.map_err(|error| error.to_string())??;
    }
    let counts = histogram.snapshot();
    let (sent, replied) = (totals.sent.load(Ordering::Relaxed), totals.replied.load(Ordering::Relaxed));
    println!(
        "paced conns={} rate={:.0} warmup_s={} secs={} sent={sent} replied={replied} lost={lost} \
         counted={} achieved_per_sec={:.0} p50_us={} p90_us={} p99_us={} p999_us={} max_us={}",
        options.conns,
        options.rate,
        options.warmup,
        options.secs,
        counts.total(),
        counts.total() as f64 / options.secs,
        counts.percentile(0.50),
        counts.percentile(0.90),
        counts.percentile(0.99),
        counts.percentile(0.999),
        counts.max(),
    );
    if lost > 0 {
        return Err(format!("{lost} requests had no reply within {DRAIN:?} of the end"));
    }
    Ok(())
}

/// When one connection sends.
struct Schedule {
    first: Instant,
    period: Duration,
    /// Replies to requests sent from here on are timed.
    counted_from: Instant,
    /// No request is sent from here on.
    end: Instant,
    frame_len: usize,
}

/// One connection: sends on its schedule until the end, times every reply, and returns how
/// many requests got none within [`DRAIN`] after the end.
async fn connection(
    socket: Socket,
    schedule: Schedule,
    burst: Arc<Vec<u8>>,
    histogram: Arc<Histogram>,
    totals: Arc<Totals>,
) -> Result<u64> {
    let Socket { mut stream, mut buf, len: mut kept } = socket;
    let io = |error: std::io::Error| error.to_string();
    let mut counter = MessageCounter::default();
    // When each request in flight was written, oldest first.
    let mut written: VecDeque<Instant> = VecDeque::new();
    let mut due = schedule.first;
    let give_up = schedule.end + DRAIN;
    loop {
        let sending = due < schedule.end;
        if !sending && written.is_empty() {
            return Ok(0);
        }
        let read = tokio::select! {
            biased;
            () = sleep_until(give_up) => return Ok(written.len() as u64),
            () = sleep_until(due), if sending => {
                let now = Instant::now();
                let mut count = 0;
                while due <= now && due < schedule.end && count < MAX_BURST {
                    due += schedule.period;
                    count += 1;
                }
                stream.write_all(&burst[..count * schedule.frame_len]).await.map_err(io)?;
                let at = Instant::now();
                written.extend(std::iter::repeat_n(at, count));
                totals.sent.fetch_add(count as u64, Ordering::Relaxed);
                continue;
            }
            read = stream.read(&mut buf[kept..]) => match read.map_err(io)? {
                0 => return Err("the server closed the connection".into()),
                n => n,
            },
        };
        let now = Instant::now();
        let (replies, left) = counter.count(&mut buf, kept + read)?;
        kept = left;
        for _ in 0..replies {
            let sent = written.pop_front().ok_or("a reply to no request")?;
            if sent >= schedule.counted_from {
                histogram.record(now - sent);
            }
        }
        totals.replied.fetch_add(replies as u64, Ordering::Relaxed);
    }
}
