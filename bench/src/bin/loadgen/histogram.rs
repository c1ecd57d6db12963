//! A latency histogram that tasks add to without locks and that takes millions of samples
//! in fixed memory: log-linear buckets of microseconds, 64 per power of two, so a
//! percentile is off by less than 1.6 %.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bits of a value kept below its leading one: 64 buckets per power of two.
const SUB_BITS: u32 = 6;

/// Values below this have a bucket each.
const EXACT: u64 = 2 << SUB_BITS;

/// Enough buckets for any `u64`.
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) << SUB_BITS;

/// Counts of latencies, in microseconds.
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }

    pub(crate) fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far, to subtract an earlier snapshot from or to read percentiles of.
    pub(crate) fn snapshot(&self) -> Counts {
        Counts(self.buckets.iter().map(|bucket| bucket.load(Ordering::Relaxed)).collect())
    }
}

/// A copy of a histogram's counts.
#[derive(Clone)]
pub(crate) struct Counts(Vec<u64>);

impl Counts {
    pub(crate) fn empty() -> Self {
        Counts(vec![0; BUCKETS])
    }

    /// What was recorded after `earlier`.
    pub(crate) fn since(&self, earlier: &Counts) -> Counts {
        Counts(self.0.iter().zip(&earlier.0).map(|(now, then)| now - then).collect())
    }

    pub(crate) fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The latency in microseconds below which a fraction `quantile` of the samples fall
    /// (the upper end of its bucket); `-` without samples.
    pub(crate) fn percentile(&self, quantile: f64) -> String {
        let total = self.total();
        if total == 0 {
            return "-".to_owned();
        }
        let rank = ((total as f64 * quantile).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (index, count) in self.0.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return upper_end(index).to_string();
            }
        }
        unreachable!("the rank is at most the total")
    }

    /// The largest latency recorded, as the upper end of its bucket; `-` without samples.
    pub(crate) fn max(&self) -> String {
        self.0
            .iter()
            .rposition(|&count| count > 0)
            .map_or_else(|| "-".to_owned(), |i| upper_end(i).to_string())
    }
}

/// The bucket of `micros`: the value itself below [`EXACT`], else its power of two and the
/// [`SUB_BITS`] bits after its leading one.
fn bucket(micros: u64) -> usize {
    if micros < EXACT {
        return micros as usize;
    }
    let shift = 63 - micros.leading_zeros() - SUB_BITS;
    ((u64::from(shift) << SUB_BITS) + (micros >> shift)) as usize
}

/// The largest value of bucket `index`.
fn upper_end(index: usize) -> u64 {
    let index = index as u64;
    if index < EXACT {
        return index;
    }
    let shift = (index >> SUB_BITS) - 1;
    let mantissa = u128::from((index & ((1 << SUB_BITS) - 1)) | (1 << SUB_BITS));
    u64::try_from(((mantissa + 1) << shift) - 1).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_hold_their_values() {
        let mut previous_end = None;
        for index in 0..BUCKETS {
            let end = upper_end(index);
            if let Some(previous) = previous_end {
                assert_eq!(bucket(previous + 1), index, "first value of bucket {index}");
            }
            assert_eq!(bucket(end), index, "last value of bucket {index}");
            previous_end = (end < u64::MAX).then_some(end);
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_are_within_the_bucket_error() {
        let histogram = Histogram::new();
        for micros in 1..=10_000 {
            histogram.record(Duration::from_micros(micros));
        }
        let counts = histogram.snapshot();
        let p50: f64 = counts.percentile(0.5).parse().unwrap();
        let p99: f64 = counts.percentile(0.99).parse().unwrap();
        assert!((p50 / 5000.0 - 1.0).abs() < 0.016, "{p50}");
        assert!((p99 / 9900.0 - 1.0).abs() < 0.016, "{p99}");
        assert_eq!(counts.since(&counts).total(), 0);
        assert_eq!(Counts::empty().percentile(0.5), "-");
    }
}
