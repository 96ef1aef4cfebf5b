//! `rzk`: the ZooKeeper-compatible coordination service.
//!
//! `rzk server [--config zoo.cfg]` runs a server; `rzk bench` load-tests
//! one (see the `rzk-bench` crate); `rzk import` seeds a data directory from
//! Apache ZooKeeper's files and `rzk export` writes one back as a ZooKeeper
//! snapshot (see the `rzk-migrate` crate and `migrate_cmd`); `rzk cli` is a
//! zkCli.sh-compatible shell (see the `rzk-cli` crate). Without a file it listens on
//! port 2181 on every address with `./data` as its data directory. The log
//! goes to stderr, as text or JSON (`--log-format`, `--log-level`, zoo.cfg's
//! `rzk.log.*`; see `rzk_server::logging`). SIGINT or
//! SIGTERM shut it down gracefully: connections are closed, queued replies
//! flushed.

use clap::{Parser, Subcommand};
use rzk_server::config::LogSettings;
use rzk_server::logging::{self, LogFormat};
use rzk_server::{Server, ServerConfig};
use std::path::PathBuf;
use std::process::ExitCode;

mod allocator;
mod migrate_cmd;

/// mimalloc instead of glibc's malloc: under write load malloc and free
/// were about 15% of the server's CPU (docs/PERFORMANCE.md, profiles), and
/// glibc's per-thread arenas keep freed memory that a tree of small nodes
/// fragments.
#[global_allocator]
static GLOBAL: allocator::MiMalloc = allocator::MiMalloc;

/// Returns the calling thread's freed mimalloc pages to the OS now. mimalloc
/// does that lazily, on the thread's later allocations, which never come on
/// an idle snapshot-building thread or an idle server: see
/// `rzk_replica::set_memory_release` and `rzk_server::idle_memory`.
fn release_freed_memory() {
    // SAFETY: mi_collect takes no pointers and may be called from any
    // thread at any time; it only frees memory mimalloc already owns.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Turns transparent huge pages off for this process unless the operator
/// chose otherwise with mimalloc's own `MIMALLOC_ALLOW_THP`.
///
/// mimalloc asks for huge pages on its whole arena (`MADV_HUGEPAGE`), so
/// with the kernel's common `madvise` THP setting every 2 MiB region that
/// holds one live allocation stays resident in full. For a tree of millions
/// of small nodes, churned by snapshots, that cost 12 MiB on an idle server
/// and about 37 MiB at rest with a million znodes (docs/PERFORMANCE.md),
/// for no measurable throughput gain. This is what `MIMALLOC_ALLOW_THP=0`
/// does, but that must be set before the process starts.
#[cfg(target_os = "linux")]
fn disable_transparent_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes
    // nothing but this process's huge-page eligibility.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if rc != 0 {
        eprintln!(
            "rzk: could not disable transparent huge pages: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn disable_transparent_huge_pages() {}

#[derive(Parser)]
#[command(
    name = "rzk",
    version,
    about = "A ZooKeeper-compatible coordination service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as `text` (human-readable, the default) or `json` (one
    /// object per line). Overrides zoo.cfg's `rzk.log.format`.
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// Log filter: a level (error, warn, info, debug, trace) or directives
    /// such as `info,rzk_server::session=debug`. Overrides `RUST_LOG` and
    /// zoo.cfg's `rzk.log.level`; the admin server can change it later.
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a server.
    Server {
        /// A ZooKeeper configuration file (zoo.cfg), used unchanged.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Load-test a ZooKeeper-protocol server (rzk or Apache ZooKeeper).
    Bench(rzk_bench::BenchArgs),
    /// Create an rzk data directory from Apache ZooKeeper's snapshot and
    /// transaction logs (or from a snapshot file `rzk export` wrote).
    Import(migrate_cmd::ImportArgs),
    /// Write a stopped server's tree as an Apache ZooKeeper snapshot.
    Export(migrate_cmd::ExportArgs),
    /// A zkCli.sh-compatible shell: `rzk cli [-server host:port[,...]]
    /// [-timeout ms] [-r] [command args...]`, or `rzk cli 4lw host:port word`.
    #[command(disable_help_flag = true)]
    Cli {
        /// zkCli's single-dash options and the command, parsed by `rzk-cli`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    disable_transparent_huge_pages();
    let cli = Cli::parse();
    // The server reads its zoo.cfg first, which may set the log's format and
    // level; every other command logs with the command line's settings.
    if let Command::Server { config } = cli.command {
        return server(config, cli.log_format, cli.log_level);
    }
    if let Err(e) = init_logging(cli.log_format, cli.log_level, &LogSettings::default()) {
        eprintln!("rzk: {e}");
        return ExitCode::FAILURE;
    }
    match cli.command {
        Command::Server { .. } => unreachable!("served and returned above"),
        Command::Bench(args) => match rzk_bench::main(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rzk bench: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Import(args) => report("import", migrate_cmd::import(args)),
        Command::Export(args) => report("export", migrate_cmd::export(args)),
        Command::Cli { args } => ExitCode::from(rzk_cli::main(&args).clamp(0, 255) as u8),
    }
}

/// Installs the log subscriber: format from the command line, else zoo.cfg,
/// else text; level from the command line, else `RUST_LOG`, else zoo.cfg,
/// else `info` (see `rzk_server::logging`).
fn init_logging(
    format: Option<LogFormat>,
    level: Option<String>,
    configured: &LogSettings,
) -> Result<(), String> {
    let format = format.or(configured.format).unwrap_or_default();
    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|l| !l.trim().is_empty());
    let level = level
        .or(env)
        .or_else(|| configured.level.clone())
        .unwrap_or_else(|| logging::DEFAULT_LEVEL.to_string());
    logging::init(format, &level)?;
    tracing::debug!("Log format {format}, level {level:?}");
    Ok(())
}
fn report(command: &str, outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rzk {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The server runtime's worker threads: zoo.cfg's `rzk.workerThreads`, else
/// tokio's own `TOKIO_WORKER_THREADS`, else one per core
/// (`rzk_server::config::worker_threads_for` says when fewer pay).
fn worker_threads(configured: Option<usize>) -> usize {
    let from_env = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=rzk_server::config::WORKER_THREADS_MAX).contains(n));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = rzk_server::config::worker_threads_for(configured.or(from_env), cores);
    tracing::info!("{workers} worker thread(s) for {cores} core(s)");
    workers
}

fn server(
    config_path: Option<PathBuf>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
) -> ExitCode {
    // The file is read before the log starts, since it may set the log's
    // format and level; what it has to say is logged right after.
    let parsed = config_path
        .as_ref()
        .map(|path| (path, ServerConfig::from_file(path)));
    let configured = match &parsed {
        Some((_, Ok(parsed))) => parsed.config.log.clone(),
        _ => LogSettings::default(),
    };
    if let Err(e) = init_logging(log_format, log_level, &configured) {
        eprintln!("rzk: {e}");
        return ExitCode::FAILURE;
    }
    rzk_replica::set_memory_release(release_freed_memory);
    let config = match parsed {
        None => ServerConfig::default(),
        Some((path, Ok(parsed))) => {
            for key in &parsed.unknown_keys {
                tracing::warn!("{}: unknown key {key:?} ignored", path.display());
            }
            parsed.config
        }
        Some((_, Err(e))) => {
            tracing::error!("Invalid configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = worker_threads(config.worker_threads);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("Cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match Server::bind(config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("Cannot start the server: {e}");
                return ExitCode::FAILURE;
            }
        };
        match server.run(shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("rzk stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("Server failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("Signal received, shutting down");
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
