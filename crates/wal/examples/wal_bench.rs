//! Throughput of the WAL with real fdatasync, and the raw fdatasync latency
//! of the filesystem underneath for comparison.
//!
//! `cargo run --release -p rzk-wal --example wal_bench -- [DIR] [SECONDS]`
//!
//! DIR (default: the system temp dir) picks the filesystem; a temp dir is
//! made inside it and removed afterwards. For each producer count, that many
//! tokio tasks each append one 100-byte record and await its flush, in a loop,
//! for SECONDS (default 3). Group commit shows as records per fdatasync round
//! growing with the number of producers.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rzk_wal::{Record, Wal, WalOptions};

const PAYLOAD_BYTES: usize = 100;
const RAW_SYNC_SAMPLES: usize = 500;
const PRODUCER_COUNTS: [usize; 3] = [1, 16, 64];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let dir = tempfile::tempdir_in(&base)?;
    println!(
        "filesystem of {}; {seconds} s per run; {PAYLOAD_BYTES}-byte payloads",
        base.display()
    );

    let raw = raw_fdatasync_latency(&dir.path().join("raw"))?;
    println!(
        "raw fdatasync after a {PAYLOAD_BYTES}-byte append: mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms \
         ({RAW_SYNC_SAMPLES} samples, {:.0} syncs/s back to back)",
        ms(mean(&raw)),
        ms(percentile(&raw, 50)),
        ms(percentile(&raw, 99)),
        1.0 / mean(&raw).as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for producers in PRODUCER_COUNTS {
        let log_dir = dir.path().join(format!("wal-{producers}"));
        runtime.block_on(run(log_dir, producers, Duration::from_secs(seconds)))?;
    }
    Ok(())
}

async fn run(dir: PathBuf, producers: usize, duration: Duration) -> Result<(), rzk_wal::WalError> {
    let (wal, _) = Wal::open(&dir, WalOptions::default())?;
    let next = Arc::new(Mutex::new(1u64));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(producers);
    for _ in 0..producers {
        let wal = wal.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let begun = Instant::now();
                {
                    let mut next = next
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let record = Record {
                        index: *next,
                        term: 1,
                        payload: vec![0x5A; PAYLOAD_BYTES],
                    };
                    wal.append(&[record])?;
                    *next += 1;
                }
                wal.flush().await?;
                latencies.push(begun.elapsed());
            }
            Ok::<_, rzk_wal::WalError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        match task.await {
            Ok(result) => latencies.extend(result?),
            Err(join_error) => panic!("producer task failed: {join_error}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = wal.stats();
    println!(
        "producers {producers:3}: {:8.0} appends/s, {:6.0} fdatasync rounds/s, {:5.1} records/round, \
         latency p50 {:.3} ms p99 {:.3} ms",
        stats.records_appended as f64 / elapsed,
        stats.sync_rounds as f64 / elapsed,
        stats.records_appended as f64 / stats.sync_rounds.max(1) as f64,
        ms(percentile(&latencies, 50)),
        ms(percentile(&latencies, 99)),
    );
    Ok(())
}

/// Append a small record to a file and fdatasync it, repeatedly: the floor
/// under any single writer's latency.
fn raw_fdatasync_latency(path: &std::path::Path) -> std::io::Result<Vec<Duration>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)?;
    let data = [0x5Au8; PAYLOAD_BYTES];
    let mut samples = Vec::with_capacity(RAW_SYNC_SAMPLES);
    for i in 0..RAW_SYNC_SAMPLES {
        let begun = Instant::now();
        file.write_all_at(&data, (i * PAYLOAD_BYTES) as u64)?;
        file.sync_data()?;
        samples.push(begun.elapsed());
    }
    Ok(samples)
}

fn mean(samples: &[Duration]) -> Duration {
    samples.iter().sum::<Duration>() / samples.len().max(1) as u32
}

fn percentile(samples: &[Duration], pct: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted
        .get(sorted.len() * pct / 100)
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
