//! A progress line on stderr for large inputs: bytes read of the total and
//! records so far, redrawn in place at most a few times a second.
//!
//! Why so plain: no dependency, and it stays silent for small inputs (under
//! `MIN_BYTES`) and when disabled, so tests and scripts see clean output.

use std::io::Write;
use std::time::{Duration, Instant};

/// Inputs smaller than this get no progress line.
const MIN_BYTES: u64 = 64 * 1024 * 1024;
/// The line is redrawn at most this often.
const REDRAW_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub struct Progress {
    what: String,
    total_bytes: u64,
    enabled: bool,
    last_drawn: Option<Instant>,
    drew: bool,
}

impl Progress {
    /// A progress line for reading `total_bytes` of `what`; shown only if
    /// `enabled` and the input is large.
    pub fn new(what: impl Into<String>, total_bytes: u64, enabled: bool) -> Self {
        Progress {
            what: what.into(),
            total_bytes,
            enabled: enabled && total_bytes >= MIN_BYTES,
            last_drawn: None,
            drew: false,
        }
    }

    /// A progress that never draws.
    pub fn silent() -> Self {
        Progress::new("", 0, false)
    }

    /// `bytes` of the input read, `records` records so far.
    pub fn update(&mut self, bytes: u64, records: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last_drawn
            .is_some_and(|t| now.duration_since(t) < REDRAW_EVERY)
        {
            return;
        }
        self.last_drawn = Some(now);
        self.drew = true;
        let percent = bytes.saturating_mul(100) / self.total_bytes.max(1);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r{}: {percent:3}% ({} of {} MiB, {records} records)",
            self.what,
            bytes >> 20,
            self.total_bytes >> 20
        );
        let _ = err.flush();
    }

    /// Ends the line, if one was drawn.
    pub fn finish(&mut self) {
        if self.drew {
            eprintln!();
            self.drew = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
