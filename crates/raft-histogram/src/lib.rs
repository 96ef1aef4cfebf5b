//! The histograms behind openraft's runtime statistics, written for rzk.
//!
//! openraft keeps a dozen histograms of batch sizes and stage latencies
//! (`RuntimeStats`) through the `base2histogram` crate. That crate answers
//! "which bucket holds this value" from lookup tables, and the first
//! histogram made builds the tables for all sixteen bucket widths it
//! supports: about 26 MiB written at start-up (and ~47 million instructions),
//! of which openraft's width needs 2 KiB. On a server whose whole tree of a
//! million znodes takes ~210 MiB, that was a tenth of its memory for
//! statistics rzk never shows.
//!
//! This crate takes its place through the workspace's `[patch.crates-io]`.
//! It provides what openraft uses (`Histogram`, `PercentileStats`,
//! `AsciiChart`) with the same bucket geometry, computed with a few shifts
//! instead of tables:
//!
//! - values 0 to 3 have a bucket each;
//! - every power of two from 4 up is split into four equal buckets, so a
//!   bucket's width is at most a quarter of its lower bound;
//! - 4 + 62 * 4 = 252 buckets cover all of `u64`, 2,016 bytes of counters
//!   per histogram.
//!
//! Percentiles are reported as the lower bound of the bucket that holds the
//! requested rank, so they are within 25% below the true value.
//!
//! The type parameter `T` exists because openraft names `Histogram<()>`;
//! the original uses it for per-slot metadata, which openraft does not use.

mod chart;
mod histogram;
mod percentile;

pub use chart::{AsciiChart, DetailedDisplay};
pub use histogram::Histogram;
pub use percentile::PercentileStats;
