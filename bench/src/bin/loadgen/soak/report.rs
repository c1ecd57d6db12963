//! The output of `soak`: a line per sample of the server's memory, descriptors and CPU
//! with the client's counters, and at the end the totals and the verdict.

use tokio::time::Instant;

use super::tally::{Counters, DeliveryOutcome, Tally};
use crate::histogram::Counts;
use crate::procfs::{cpu_ticks, open_fds, rss_kib, CLOCK_TICKS};
use crate::Result;

/// How much the server's RSS may grow from the first sample after the warm-up to the last
/// and still count as flat: allocators keep some memory after a burst, a leak keeps growing.
const RSS_MARGIN: f64 = 0.10;

/// The server's resources at one moment.
#[derive(Clone, Copy)]
pub(super) struct Resources {
    pub(super) rss_kib: u64,
    pub(super) fds: usize,
}

impl Resources {
    pub(super) fn of(pid: u32) -> Result<Resources> {
        Ok(Resources { rss_kib: rss_kib(pid)?, fds: open_fds(pid)? })
    }
}

/// One sample, `secs` after the start.
struct Sample {
    secs: f64,
    resources: Resources,
}

/// Takes and prints the samples.
pub(super) struct Sampler {
    pid: u32,
    begin: Instant,
    samples: Vec<Sample>,
    /// The previous sample's time, counters, latencies and server CPU ticks, for the rates
    /// and percentiles of the interval.
    previous: (Instant, Counters, Counts, Option<u64>),
}

impl Sampler {
    /// A sampler of server `pid`, counting time from `begin`.
    pub(super) fn new(pid: u32, begin: Instant) -> Sampler {
        let ticks = cpu_ticks(&pid.to_string());
        Sampler {
            pid,
            begin,
            samples: Vec::new(),
            previous: (begin, Counters::default(), Counts::empty(), ticks),
        }
    }

    /// Samples the server and prints the line, with the client's counters from `tally`.
    pub(super) fn take(&mut self, tally: &Tally) -> Result<()> {
        let now = Instant::now();
        let resources = Resources::of(self.pid)?;
        let counters = tally.counters();
        let latency = tally.latency.snapshot();
        let ticks = cpu_ticks(&self.pid.to_string());
        let (then, before, latency_before, ticks_before) = &self.previous;
        let elapsed = (now - *then).as_secs_f64().max(1e-3);
        let interval = latency.since(latency_before);
        let server_cpu = match (ticks_before, ticks) {
            (Some(from), Some(to)) => format!("{:.0}", (to - from) as f64 / CLOCK_TICKS / elapsed * 100.0),
            _ => "?".to_owned(),
        };
        let secs = (now - self.begin).as_secs_f64().max(0.0);
        println!(
            "sample t_s={secs:.0} rss_kib={} fds={} server_cpu_pct={server_cpu} sent={} published={} \
             msgs_per_sec={:.0} replied={} outstanding={} deliveries={} expected_deliveries={} errors={} wrong={} \
             pings={} p50_us={} p99_us={}",
            resources.rss_kib,
            resources.fds,
            counters.sent(),
            counters.published,
            (counters.sent() + counters.published - before.sent() - before.published) as f64 / elapsed,
            counters.replied,
            counters.outstanding(),
            counters.deliveries,
            counters.expected_deliveries,
            counters.errors,
            counters.wrong,
            counters.pings,
            interval.percentile(0.50),
            interval.percentile(0.99),
        );
        self.samples.push(Sample { secs, resources });
        self.previous = (now, counters, latency, ticks);
        Ok(())
    }
}

/// Everything the verdict is made of.
pub(super) struct Outcome<'a> {
    pub(super) sampler: &'a Sampler,
    /// The warm-up: the first sample at least this late is the reference for flat memory.
    pub(super) warmup: f64,
    /// Before the connections were opened, and after they were closed.
    pub(super) before: Resources,
    pub(super) after: Resources,
    pub(super) counters: Counters,
    /// Requests never answered.
    pub(super) lost: u64,
    pub(super) deliveries: DeliveryOutcome,
    pub(super) latency: Counts,
    pub(super) delivery_latency: Counts,
}

/// Prints the totals and the verdict; returns what went wrong, if anything.
pub(super) fn summary(outcome: &Outcome<'_>) -> Vec<String> {
    let Outcome { sampler, warmup, before, after, counters, lost, deliveries, latency, delivery_latency } =
        outcome;
    println!(
        "soak sent={} echo={} rpc={} replied={} rpc_errors={} lost={lost} errors={} wrong={} published={} \
         deliveries_expected={} deliveries={} deliveries_missing={} deliveries_duplicate={} pings={} \
         p50_us={} p99_us={} max_us={} delivery_p50_us={} delivery_p99_us={} delivery_max_us={}",
        counters.sent(),
        counters.echo_sent,
        counters.rpc_sent,
        counters.replied,
        counters.failed,
        counters.errors,
        counters.wrong,
        counters.published,
        counters.expected_deliveries,
        counters.deliveries,
        deliveries.missing,
        deliveries.duplicates,
        counters.pings,
        latency.percentile(0.50),
        latency.percentile(0.99),
        latency.max(),
        delivery_latency.percentile(0.50),
        delivery_latency.percentile(0.99),
        delivery_latency.max(),
    );
    let mut problems = Vec::new();
    let under_load = &sampler.samples;
    let first = under_load.iter().find(|sample| sample.secs > 0.5 && sample.secs >= *warmup);
    let (Some(opened), Some(first), Some(last)) = (under_load.first(), first, under_load.last()) else {
        return vec!["no sample after the warm-up: run longer than --warmup".to_owned()];
    };
    let rss_max = under_load.iter().map(|sample| sample.resources.rss_kib).max().unwrap_or_default();
    let (fds_min, fds_max) = under_load.iter().fold((usize::MAX, 0), |(min, max), sample| {
        (min.min(sample.resources.fds), max.max(sample.resources.fds))
    });
    let (first_rss, last_rss) = (first.resources.rss_kib, last.resources.rss_kib);
    let growth = (last_rss as f64 / first_rss as f64 - 1.0) * 100.0;
    let flat = growth <= RSS_MARGIN * 100.0;
    let fds_stable = fds_min == fds_max && after.fds <= before.fds;
    println!(
        "soak rss_before_kib={} rss_opened_kib={} rss_first_kib={first_rss} (t_s={:.0}) rss_last_kib={last_rss} \
         rss_max_kib={rss_max} rss_growth_pct={growth:.1} rss_flat={} rss_after_close_kib={} \
         fds_before={} fds_min={fds_min} fds_max={fds_max} fds_after_close={} fds_stable={}",
        before.rss_kib,
        opened.resources.rss_kib,
        first.secs,
        yes_no(flat),
        after.rss_kib,
        before.fds,
        after.fds,
        yes_no(fds_stable),
    );
    let mut check = |bad: bool, problem: String| {
        if bad {
            problems.push(problem);
        }
    };
    check(*lost > 0, format!("{lost} requests lost"));
    check(deliveries.missing > 0, format!("{} deliveries missing", deliveries.missing));
    check(deliveries.duplicates > 0, format!("{} deliveries duplicated", deliveries.duplicates));
    check(counters.wrong > 0, format!("{} wrong messages", counters.wrong));
    check(counters.errors > 0, format!("{} errors", counters.errors));
    check(!flat, format!("RSS grew by {growth:.1} % (more than {:.0} %)", RSS_MARGIN * 100.0));
    check(
        !fds_stable,
        format!(
            "open descriptors varied under load ({fds_min}..={fds_max}) or did not return to {} after the close \
             ({})",
            before.fds, after.fds
        ),
    );
    problems
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}
