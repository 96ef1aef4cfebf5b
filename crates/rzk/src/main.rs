//! `rzk`: the ZooKeeper-compatible coordination service.
//!
//! `rzk server [--config zoo.cfg]` runs a server; `rzk bench` load-tests
//! one (see the `rzk-bench` crate); `rzk import` seeds a data directory from
//! Apache ZooKeeper's files and `rzk export` writes one back as a ZooKeeper
//! snapshot (see the `rzk-migrate` crate and `migrate_cmd`). Without a file it listens on
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

mod migrate_cmd;

/// mimalloc instead of glibc's malloc: under write load malloc and free
/// were about 15% of the server's CPU (docs/PERFORMANCE.md, profiles), and
/// glibc's per-thread arenas keep freed memory that a tree of small nodes
/// fragments.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server { config } => server(config, cli.log_format, cli.log_level),
        command => {
            if let Err(e) = init_logging(cli.log_format, cli.log_level, &LogSettings::default()) {
                eprintln!("rzk: {e}");
                return ExitCode::FAILURE;
            }
            match command {
                Command::Server { .. } => unreachable!("handled above"),
                Command::Bench(args) => match rzk_bench::main(args) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("rzk bench: {e}");
                        ExitCode::FAILURE
                    }
                },
                Command::Import(args) => report("import", migrate_cmd::import(args)),
                Command::Export(args) => report("export", migrate_cmd::export(args)),
            }
        }
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
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
