//! `rzk bench`'s command line.

use std::time::Duration;

use clap::{Args, ValueEnum};

/// What the sessions send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Persistent sequential creates under `<root>/create`.
    Create,
    /// setData on random keys (version -1).
    Set,
    /// getData on random keys.
    Get,
    /// getData with probability `--read-percent`, setData otherwise.
    Mixed,
    /// multi of `--multi-ops` setData on random keys.
    Multi,
    /// Per cycle: connect, create an ephemeral znode, closeSession.
    EphemeralChurn,
    /// `--sessions` sessions watch one znode that another session sets;
    /// one op is one notification, its latency from the setData's send.
    Watch,
    /// getChildren of a parent with `--keys` children.
    List,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Mixed => "mixed",
            Workload::Multi => "multi",
            Workload::EphemeralChurn => "ephemeral-churn",
            Workload::Watch => "watch",
            Workload::List => "list",
        }
    }
}

/// A load generator for any ZooKeeper-protocol server (rzk, Apache
/// ZooKeeper, ...): many sessions, each with requests pipelined, latency
/// in an HDR histogram.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Servers, host:port[,host:port...]; sessions are spread over them.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub hosts: String,
    #[arg(long, short = 'w', value_enum, default_value = "get")]
    pub workload: Workload,
    /// Concurrent sessions (connections).
    #[arg(long, default_value_t = 16)]
    pub sessions: usize,
    /// Requests each session keeps in flight (pipelined).
    #[arg(long, default_value_t = 8)]
    pub inflight: usize,
    /// How long to measure (e.g. 10s, 500ms, 2m); ignored with --ops.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Measure exactly this many operations instead of a duration.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Load before measuring, not counted.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Bytes of data per create and setData.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Keys for set/get/mixed/multi, children for list.
    #[arg(long, default_value_t = 10_000)]
    pub keys: usize,
    /// Share of getData in the mixed workload.
    #[arg(long, default_value_t = 90)]
    pub read_percent: u8,
    /// setData operations per multi.
    #[arg(long, default_value_t = 4)]
    pub multi_ops: usize,
    /// The znode the benchmark works under (created if missing).
    #[arg(long, default_value = "/rzk-bench")]
    pub root: String,
    /// Do not create the keys first (reads of missing keys answer NoNode).
    #[arg(long)]
    pub no_setup: bool,
    /// Session timeout asked for, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub session_timeout_ms: i32,
    /// A server process on this machine to report CPU time and memory of.
    #[arg(long)]
    pub server_pid: Vec<u32>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Threads of the benchmark's runtime (1 keeps its own cost lowest).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seed of the key choice, for repeatable runs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl BenchArgs {
    pub fn host_list(&self) -> Vec<String> {
        self.hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// "10s", "500ms", "2m", "1.5s", or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1_000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (text, 1_000.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (10s, 500ms, 2m)"))?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(format!("{text:?} is not a duration"));
    }
    Ok(Duration::from_micros((value * unit_ms * 1_000.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
