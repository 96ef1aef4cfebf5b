//! A log-bucketed histogram of `u64` values: fixed memory, constant-time
//! recording, four buckets per power of two.

use std::fmt;
use std::marker::PhantomData;

use crate::PercentileStats;

/// Buckets for the values 0..=3, one each.
const EXACT_BUCKETS: usize = 4;

/// Buckets per power of two from 4 up (a power of two itself).
const SUB_BUCKETS: usize = 4;

/// log2 of [`SUB_BUCKETS`].
const SUB_BUCKET_BITS: u32 = SUB_BUCKETS.trailing_zeros();

/// Buckets in all: the exact ones, then 62 powers of two (2^2 to 2^63).
pub(crate) const BUCKETS: usize = EXACT_BUCKETS + 62 * SUB_BUCKETS;

/// Counts of recorded values by bucket.
///
/// `T` is only a marker (see the crate's documentation).
pub struct Histogram<T = ()> {
    counts: Box<[u64; BUCKETS]>,
    samples: u64,
    marker: PhantomData<T>,
}

/// The bucket that holds `value`.
pub(crate) fn bucket_of(value: u64) -> usize {
    if value < EXACT_BUCKETS as u64 {
        return value as usize;
    }
    // value >= 4, so its highest set bit is at least bit 2.
    let exponent = 63 - value.leading_zeros();
    let sub = (value >> (exponent - SUB_BUCKET_BITS)) as usize & (SUB_BUCKETS - 1);
    EXACT_BUCKETS + (exponent - SUB_BUCKET_BITS) as usize * SUB_BUCKETS + sub
}

/// The smallest value bucket `index` holds.
pub(crate) fn lower_bound(index: usize) -> u64 {
    if index < EXACT_BUCKETS {
        return index as u64;
    }
    let above = index - EXACT_BUCKETS;
    let shift = (above / SUB_BUCKETS) as u32;
    let sub = (above % SUB_BUCKETS) as u64;
    (SUB_BUCKETS as u64 + sub) << shift
}

impl<T> Histogram<T> {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            samples: 0,
            marker: PhantomData,
        }
    }

    /// Records `value` once.
    pub fn record(&mut self, value: u64) {
        self.record_n(value, 1);
    }

    /// Records `value` `count` times.
    pub fn record_n(&mut self, value: u64, count: u64) {
        let bucket = &mut self.counts[bucket_of(value)];
        *bucket = bucket.saturating_add(count);
        self.samples = self.samples.saturating_add(count);
    }

    /// How many values were recorded.
    pub fn total(&self) -> u64 {
        self.samples
    }

    /// Forgets every recorded value.
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.samples = 0;
    }

    /// The lower bound of the bucket holding the value of rank
    /// `ceil(fraction * samples)` (at least the first), or 0 when empty.
    pub fn percentile(&self, fraction: f64) -> u64 {
        if self.samples == 0 {
            return 0;
        }
        let rank = ((fraction * self.samples as f64).ceil() as u64).clamp(1, self.samples);
        let mut seen = 0u64;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return lower_bound(index);
            }
        }
        lower_bound(BUCKETS - 1)
    }

    /// The percentiles openraft reports.
    pub fn percentile_stats(&self) -> PercentileStats {
        PercentileStats {
            samples: self.samples,
            p0_1: self.percentile(0.001),
            p1: self.percentile(0.01),
            p5: self.percentile(0.05),
            p10: self.percentile(0.10),
            p50: self.percentile(0.50),
            p90: self.percentile(0.90),
            p99: self.percentile(0.99),
            p99_9: self.percentile(0.999),
        }
    }

    /// The non-empty buckets: (lower bound, upper bound exclusive or
    /// `None` for the last bucket, count).
    pub fn buckets(&self) -> impl Iterator<Item = (u64, Option<u64>, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &count)| count > 0)
            .map(|(index, &count)| {
                let upper = (index + 1 < BUCKETS).then(|| lower_bound(index + 1));
                (lower_bound(index), upper, count)
            })
    }
}

impl<T> Default for Histogram<T> {
    fn default() -> Self {
        Histogram::new()
    }
}

// Written out rather than derived: a derive would demand `T: Clone` (and so
// on), which a marker does not need.
impl<T> Clone for Histogram<T> {
    fn clone(&self) -> Self {
        Histogram {
            counts: self.counts.clone(),
            samples: self.samples,
            marker: PhantomData,
        }
    }
}

impl<T> PartialEq for Histogram<T> {
    fn eq(&self, other: &Self) -> bool {
        self.samples == other.samples && self.counts == other.counts
    }
}

impl<T> Eq for Histogram<T> {}

impl<T> fmt::Debug for Histogram<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("samples", &self.samples)
            .field("percentiles", &self.percentile_stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_u64_in_order_without_gaps() {
        assert_eq!(lower_bound(0), 0);
        for index in 1..BUCKETS {
            assert!(
                lower_bound(index) > lower_bound(index - 1),
                "bucket {index}"
            );
            // Each bucket's lower bound maps back to it, and the value just
            // below it to the previous bucket.
            assert_eq!(bucket_of(lower_bound(index)), index);
            assert_eq!(bucket_of(lower_bound(index) - 1), index - 1);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(lower_bound(BUCKETS - 1), 7 << 61);
    }

    #[test]
    fn a_bucket_is_at_most_a_quarter_of_its_lower_bound_wide() {
        for index in EXACT_BUCKETS..BUCKETS - 1 {
            let width = lower_bound(index + 1) - lower_bound(index);
            assert!(width * 4 <= lower_bound(index), "bucket {index}");
        }
        assert_eq!(bucket_of(4), 4);
        assert_eq!(bucket_of(7), 7);
        assert_eq!(bucket_of(8), 8);
        assert_eq!(bucket_of(9), 8);
        assert_eq!(bucket_of(10), 9);
    }

    #[test]
    fn percentiles_fall_in_the_bucket_of_the_true_value() {
        let mut h: Histogram = Histogram::new();
        for value in 1..=1000u64 {
            h.record(value);
        }
        let stats = h.percentile_stats();
        assert_eq!(stats.samples, 1000);
        for (got, truth) in [
            (stats.p0_1, 1),
            (stats.p1, 10),
            (stats.p5, 50),
            (stats.p10, 100),
            (stats.p50, 500),
            (stats.p90, 900),
            (stats.p99, 990),
            (stats.p99_9, 999),
        ] {
            assert_eq!(got, lower_bound(bucket_of(truth)), "true value {truth}");
            assert!(
                got <= truth && truth - got <= truth / 4,
                "{got} for {truth}"
            );
        }
    }

    #[test]
    fn record_n_counts_many_and_an_empty_histogram_reports_zeros() {
        let mut h: Histogram<()> = Histogram::new();
        assert_eq!(h.percentile_stats().p99, 0);
        h.record_n(3, 5);
        h.record(1 << 40);
        assert_eq!(h.total(), 6);
        assert_eq!(h.percentile(0.5), 3);
        assert_eq!(h.percentile(1.0), 1 << 40);
        let buckets: Vec<_> = h.buckets().collect();
        assert_eq!(buckets, vec![(3, Some(4), 5), (1 << 40, Some(5 << 38), 1)]);
        let copy = h.clone();
        assert_eq!(copy, h);
        h.clear();
        assert_ne!(copy, h);
        assert_eq!(h.total(), 0);
    }
}
