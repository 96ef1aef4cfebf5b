//! The server's log: `tracing` events on stderr, one line each, either
//! human-readable (the default) or one JSON object per line, filtered by a
//! level that can be changed while the server runs.
//!
//! Where the settings come from, strongest first (the binary, `rzk`, applies
//! this order):
//!
//! | what | command line | environment | zoo.cfg | default |
//! |---|---|---|---|---|
//! | format | `--log-format text\|json` | | `rzk.log.format` | `text` |
//! | level | `--log-level FILTER` | `RUST_LOG` | `rzk.log.level` | `info` |
//!
//! A level is a `tracing` filter: a level name (`error`, `warn`, `info`,
//! `debug`, `trace`) or directives such as `info,rzk_server::session=debug`.
//! openraft narrates every vote and membership step at `info`; rzk logs
//! elections and role changes itself, so `openraft=warn` is added to any
//! filter that does not name `openraft`.
//!
//! The admin server changes the level at runtime (`/commands/log_level`)
//! through [`set_level`], which swaps the filter behind a
//! `tracing_subscriber` reload handle. ZooKeeper has no such keys (it is
//! configured by log4j/logback files); these are rzk's own.

use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

/// The level when nothing sets one.
pub const DEFAULT_LEVEL: &str = "info";

/// Level names, sorted.
const LEVELS: &[&str] = &["debug", "error", "info", "off", "trace", "warn"];

/// Added to a filter that does not mention openraft (see the module comment).
const QUIET_OPENRAFT: &str = "openraft=warn";

/// How each line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2026-01-02T03:04:05.678901Z  INFO rzk_server::connection: Session ...`
    #[default]
    Text,
    /// `{"timestamp":"...","level":"INFO","message":"Session ...","target":"..."}`
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected text or json"
            )),
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// The filter `level` stands for: the level with openraft quietened unless
/// it names openraft itself. An error names what is wrong with it.
pub fn filter(level: &str) -> Result<EnvFilter, String> {
    let level = level.trim();
    if level.is_empty() {
        return Err("an empty log level".to_string());
    }
    // A bare word is a target in `tracing`'s syntax ("verbose" would mean
    // everything from target `verbose`, nothing else: a silent server), so
    // a directive without `=` must be a level.
    for directive in level.split(',').map(str::trim) {
        if !directive.contains('=')
            && LEVELS
                .binary_search(&directive.to_ascii_lowercase().as_str())
                .is_err()
        {
            return Err(format!(
                "invalid log level {level:?}: {directive:?} is not one of {} (a target \
                 takes one as target=level)",
                LEVELS.join(", ")
            ));
        }
    }
    let directives = if level.contains("openraft") {
        level.to_string()
    } else {
        format!("{level},{QUIET_OPENRAFT}")
    };
    EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| format!("invalid log level {level:?}: {e}"))
}

/// The installed subscriber's reload handle and the level it was given.
struct Control {
    handle: reload::Handle<EnvFilter, Registry>,
    format: LogFormat,
    level: Mutex<String>,
}

static CONTROL: OnceLock<Control> = OnceLock::new();

/// Installs the process's subscriber, writing to stderr. Fails if `level`
/// is not a filter or a subscriber is already installed.
pub fn init(format: LogFormat, level: &str) -> Result<(), String> {
    let (filter_layer, handle) = reload::Layer::new(filter(level)?);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let text = (format == LogFormat::Text)
        .then(|| fmt::layer().with_writer(std::io::stderr).with_ansi(ansi));
    let json = (format == LogFormat::Json).then(|| {
        fmt::layer()
            .json()
            // `message` and the event's fields at the top level, not under
            // `fields`; no span list (rzk's events carry what they need).
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
    });
    tracing_subscriber::registry()
        .with(filter_layer)
        .with(text)
        .with(json)
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))?;
    let _ = CONTROL.set(Control {
        handle,
        format,
        level: Mutex::new(level.trim().to_string()),
    });
    Ok(())
}

/// The level and format in force, when [`init`] installed the subscriber
/// (not when the server runs embedded in another program).
pub fn current() -> Option<(String, LogFormat)> {
    let control = CONTROL.get()?;
    let level = control
        .level
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Some((level, control.format))
}

/// Replaces the level; returns the previous one. Fails on a bad filter
/// (nothing changes) or when [`init`] did not install the subscriber.
pub fn set_level(level: &str) -> Result<String, String> {
    let control = CONTROL.get().ok_or_else(|| {
        "the log level cannot be changed here: rzk's log subscriber is not installed".to_string()
    })?;
    let new = filter(level)?;
    let mut current = control.level.lock().unwrap_or_else(|e| e.into_inner());
    control
        .handle
        .reload(new)
        .map_err(|e| format!("cannot change the log level: {e}"))?;
    Ok(std::mem::replace(&mut *current, level.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!(" text ".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("logfmt".parse::<LogFormat>().is_err());
    }

    #[test]
    fn levels() {
        let directives = |level: &str| filter(level).map(|f| f.to_string());
        assert!(directives("debug").unwrap().contains("openraft=warn"));
        assert!(directives("DEBUG").is_ok());
        let named = directives("info,openraft=debug").unwrap();
        assert!(named.contains("openraft=debug") && !named.contains("openraft=warn"));
        assert!(filter("info,rzk_server::session=debug").is_ok());
        assert!(filter("").is_err());
        assert!(filter("verbose").is_err());
        assert!(filter("info,rzk_server").is_err());
        assert!(filter("rzk_server=[").is_err());
    }
}
