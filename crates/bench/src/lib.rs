//! `rzk bench`: a load generator for any ZooKeeper-protocol server.
//!
//! Built on rzk's own `proto` crate with raw pipelining (see [`conn`]) so
//! that its cost per request stays far below a server's; it reports its
//! own CPU time per operation so that this can be checked, and, given
//! `--server-pid`, the server's.
//!
//! - [`options`]: the command line.
//! - [`workload`]: what each workload sends, and the znodes it creates first.
//! - [`conn`]: one session's connection, requests batched, replies parsed
//!   only as far as their header.
//! - [`run`]: sessions as tasks, warmup, the measured phase, the tallies.
//! - [`report`]: a table or one JSON object.
//! - [`procfs`]: CPU time and memory of processes.

pub mod conn;
pub mod options;
pub mod procfs;
pub mod report;
pub mod run;
pub mod workload;

pub use options::{BenchArgs, Workload};

/// Runs the benchmark on a runtime of `args.threads` threads, prints the
/// report to stdout, and returns whether it ran (errors answered by the
/// server are results, not failures).
pub fn main(args: BenchArgs) -> Result<(), String> {
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let outcome = runtime.block_on(run::run(args.clone()))?;
    if args.json {
        println!("{}", report::json(&args, &outcome));
    } else {
        print!("{}", report::table(&args, &outcome));
    }
    if outcome.tally.ops == 0 {
        return Err(outcome
            .tally
            .failure
            .unwrap_or_else(|| "no operation completed".to_string()));
    }
    Ok(())
}
