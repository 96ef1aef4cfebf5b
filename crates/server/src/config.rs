//! zoo.cfg: Apache ZooKeeper's configuration file, read unchanged.
//!
//! The file is a Java properties file. ZooKeeper's `QuorumPeerConfig` knows some
//! keys itself and turns every other key into a `zookeeper.<key>` system property,
//! which is how settings such as `4lw.commands.whitelist` or `skipACL` reach the
//! code that reads them. So rzk accepts those keys both bare and with the
//! `zookeeper.` prefix. A key rzk does not know is a warning, never a failure, so
//! that an existing zoo.cfg always starts.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// ZooKeeper's four-letter words, as the whitelist names them.
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

/// ZooKeeper keys rzk knows but has no use for (yet): accepted silently so a
/// production zoo.cfg starts without a wall of warnings.
const ACCEPTED_UNUSED_KEYS: &[&str] = &[
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "observerMasterPort",
    "connectToLearnerMasterLimit",
    "electionAlg",
    "quorumListenOnAllIPs",
    "syncEnabled",
    "dynamicConfigFile",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.auth.enableSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.cnxn.threads.size",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "preAllocSize",
    "forceSync",
    "fsync.warningthresholdms",
    "maxCnxns",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "serverCnxnFactory",
    "authProvider.1",
    "audit.enable",
    "digest.enabled",
    "jvm.pause.monitor",
];

/// The server's settings, with ZooKeeper's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub tick_time_ms: u32,
    /// Port of the client listener; 0 asks the kernel for one (tests).
    pub client_port: u16,
    /// `clientPortAddress`; all addresses when absent.
    pub client_port_address: Option<IpAddr>,
    /// `secureClientPort`: the TLS client listener (see `tls`), if any; 0
    /// asks the kernel for one (tests).
    pub secure_client_port: Option<u16>,
    /// `secureClientPortAddress`; all addresses when absent.
    pub secure_client_port_address: Option<IpAddr>,
    /// Every `ssl.*` key (also accepted as `zookeeper.ssl.*`), read by `tls`.
    pub ssl: SslProperties,
    /// `sslQuorum`: TLS between servers, which rzk does not have (a warning).
    pub ssl_quorum: bool,
    pub data_dir: PathBuf,
    /// `dataLogDir`, defaulting to `dataDir`.
    pub data_log_dir: PathBuf,
    /// Connections one client address may hold; 0 means unlimited.
    pub max_client_cnxns_per_ip: u32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// Enabled four-letter words (`4lw.commands.whitelist` plus ZooKeeper's
    /// always-on `srvr`, and `isro` when read-only mode is enabled).
    pub four_letter_words: Vec<String>,
    pub extended_types_enabled: bool,
    /// `DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    pub container_check_interval_ms: u64,
    pub container_max_per_minute: u32,
    /// `jute.maxbuffer`: the largest frame a client may send.
    pub max_frame_bytes: usize,
    pub read_only_mode_enabled: bool,
    pub reconfig_enabled: bool,
    /// `globalOutstandingLimit`: requests one connection may have in flight before
    /// rzk stops reading its socket.
    pub outstanding_requests_max: usize,
    pub enforce_quota: bool,
    pub skip_acl: bool,
    pub admin: AdminConfig,
    pub metrics: MetricsConfig,
    /// `server.N` lines, unparsed.
    pub servers: BTreeMap<u64, String>,
    /// The same lines, parsed and checked (empty for a standalone server).
    pub ensemble: crate::ensemble::Ensemble,
    /// `peerType`: what this server is when its `server.N` line does not say.
    pub peer_type: crate::ensemble::Role,
    /// `snapCount` (`zookeeper.snapCount`): log entries between snapshots.
    pub snap_count: u64,
    pub init_limit_ticks: u32,
    pub sync_limit_ticks: u32,
    pub autopurge_snap_retain_count: u32,
    pub autopurge_purge_interval_hours: u32,
    pub standalone_enabled: bool,
    pub client_port_listen_backlog: i32,
    /// `myid` from the data directory, 0 when absent (standalone).
    pub my_id: u64,
    /// `rzk.log.*`: rzk's own keys for its log (see `logging`).
    pub log: LogSettings,
    /// `rzk.workerThreads`: threads of the runtime that serves connections
    /// and runs raft; `None` means one per core but one (see
    /// [`worker_threads_for`]).
    pub worker_threads: Option<usize>,
}

/// Most worker threads `rzk.workerThreads` accepts.
pub const WORKER_THREADS_MAX: usize = 1024;

/// The runtime's worker threads: as configured, else one fewer than the
/// cores, at least one.
///
/// The core left over is for what runs beside the workers on every write:
/// the WAL's fdatasync (on its flusher thread, or on the worker for a lone
/// writer), snapshot builds, and the kernel's disk and network work. A
/// second worker on a 2-core machine mostly added hand-offs: raft's core
/// hands each committed batch to its state machine task, and with another
/// worker idle, tokio wakes it (a futex call and, on a VM, an interrupt to
/// the other core) to steal that task. Measured on a 2-core VM with the
/// benchmark on the same machine (docs/PERFORMANCE.md, eighth session): one
/// worker answered a lone setData in 186 us against 262 (p50) with 95 us of
/// CPU against 140, served as many or more sets, creates and gets at 16x8
/// with 8-15% less CPU per op, and 3-server ensembles served the same.
/// Machines with more cores were not measured; there a worker per core
/// but one keeps the same core for the rest.
pub fn worker_threads_for(configured: Option<usize>, cores: usize) -> usize {
    configured.unwrap_or(cores.saturating_sub(1)).max(1)
}

/// `rzk.log.format` and `rzk.log.level`, as written; the binary weighs them
/// against its command line and `RUST_LOG` (see `logging`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSettings {
    pub format: Option<crate::logging::LogFormat>,
    pub level: Option<String>,
}

/// The `ssl.*` keys as written (key with its `ssl.` prefix, value). Debug
/// output hides passwords.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SslProperties(BTreeMap<String, String>);

impl SslProperties {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn insert(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_string(), value.to_string());
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl fmt::Debug for SslProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                let hidden = k.to_ascii_lowercase().contains("password");
                (k, if hidden { "<hidden>" } else { v.as_str() })
            }))
            .finish()
    }
}

/// `admin.*` keys: the admin HTTP server (see `admin`), on by default on
/// 0.0.0.0:8080 under `/commands`, as in ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub enable_server: bool,
    pub server_address: String,
    pub server_port: u16,
    pub command_url: String,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enable_server: true,
            server_address: "0.0.0.0".to_string(),
            server_port: 8080,
            command_url: "/commands".to_string(),
        }
    }
}

/// `metricsProvider.*` keys: Prometheus' `/metrics` (see `metrics`), on only
/// when `metricsProvider.className` names ZooKeeper's
/// `PrometheusMetricsProvider`, as in ZooKeeper (whose default provider
/// exports nothing over HTTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub prometheus_enabled: bool,
    /// `metricsProvider.httpHost`.
    pub http_host: String,
    /// `metricsProvider.httpPort`.
    pub http_port: u16,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            prometheus_enabled: false,
            http_host: "0.0.0.0".to_string(),
            http_port: 7000,
        }
    }
}

/// ZooKeeper's own providers that export nothing over HTTP.
const NON_HTTP_METRICS_PROVIDERS: &[&str] = &[
    "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider",
    "org.apache.zookeeper.metrics.impl.NullMetricsProvider",
];

impl Default for ServerConfig {
    /// What `rzk server` runs with no configuration file: port 2181 on every
    /// address, `./data`, tickTime 2000, everything else as ZooKeeper.
    fn default() -> Self {
        let tick_time_ms = 2000;
        ServerConfig {
            tick_time_ms,
            client_port: 2181,
            client_port_address: None,
            secure_client_port: None,
            secure_client_port_address: None,
            ssl: SslProperties::default(),
            ssl_quorum: false,
            data_dir: PathBuf::from("data"),
            data_log_dir: PathBuf::from("data"),
            max_client_cnxns_per_ip: 60,
            min_session_timeout_ms: 2 * tick_time_ms as i32,
            max_session_timeout_ms: 20 * tick_time_ms as i32,
            four_letter_words: default_whitelist(false),
            extended_types_enabled: false,
            super_digest: None,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            max_frame_bytes: rzk_proto::frame::DEFAULT_MAX_FRAME_BYTES,
            read_only_mode_enabled: false,
            reconfig_enabled: false,
            outstanding_requests_max: 1000,
            enforce_quota: false,
            skip_acl: false,
            admin: AdminConfig::default(),
            metrics: MetricsConfig::default(),
            servers: BTreeMap::new(),
            ensemble: crate::ensemble::Ensemble::default(),
            peer_type: crate::ensemble::Role::Participant,
            snap_count: SNAP_COUNT_DEFAULT,
            init_limit_ticks: 10,
            sync_limit_ticks: 5,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            standalone_enabled: true,
            client_port_listen_backlog: -1,
            worker_threads: None,
            my_id: 0,
            log: LogSettings::default(),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Io {
        path: PathBuf,
        message: String,
    },
    BadValue {
        key: String,
        value: String,
        expected: &'static str,
    },
    Missing(&'static str),
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, message } => {
                write!(f, "cannot read {}: {message}", path.display())
            }
            ConfigError::BadValue {
                key,
                value,
                expected,
            } => write!(f, "{key}={value}: expected {expected}"),
            ConfigError::Missing(key) => write!(f, "{key} is not set"),
            ConfigError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A parsed configuration and the keys it ignored (to be logged as warnings).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub config: ServerConfig,
    pub unknown_keys: Vec<String>,
}

impl ServerConfig {
    /// The listener address.
    pub fn client_address(&self) -> SocketAddr {
        let ip = self
            .client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        SocketAddr::new(ip, self.client_port)
    }

    /// The TLS listener's address, when `secureClientPort` is set.
    pub fn secure_client_address(&self) -> Option<SocketAddr> {
        let ip = self
            .secure_client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Some(SocketAddr::new(ip, self.secure_client_port?))
    }

    /// ZooKeeper's timeout negotiation: the client's wish clamped into
    /// `[minSessionTimeout, maxSessionTimeout]`.
    pub fn negotiate_timeout_ms(&self, requested_ms: i32) -> i32 {
        requested_ms
            .max(self.min_session_timeout_ms)
            .min(self.max_session_timeout_ms)
    }

    pub fn four_letter_word_enabled(&self, word: &str) -> bool {
        self.four_letter_words.iter().any(|w| w == word)
    }

    /// Reads and parses a zoo.cfg file.
    pub fn from_file(path: &Path) -> Result<Parsed, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&text)
    }

    /// Parses zoo.cfg text. A relative `dataDir` is relative to the working
    /// directory, as in ZooKeeper.
    pub fn parse(text: &str) -> Result<Parsed, ConfigError> {
        let props = parse_properties(text);
        let mut cfg = ServerConfig::default();
        let mut unknown_keys = Vec::new();
        let mut data_dir = None;
        let mut data_log_dir = None;
        let mut client_port = None;
        let mut min_timeout = None;
        let mut max_timeout = None;
        let mut whitelist = None;
        for (key, value) in &props {
            if !apply_key(
                &mut cfg,
                key,
                value,
                &mut Collected {
                    data_dir: &mut data_dir,
                    data_log_dir: &mut data_log_dir,
                    client_port: &mut client_port,
                    min_timeout: &mut min_timeout,
                    max_timeout: &mut max_timeout,
                    whitelist: &mut whitelist,
                },
            )? {
                unknown_keys.push(key.clone());
            }
        }
        let data_dir = data_dir.ok_or(ConfigError::Missing("dataDir"))?;
        cfg.data_log_dir = data_log_dir.unwrap_or_else(|| data_dir.clone());
        cfg.data_dir = data_dir;
        cfg.my_id = read_my_id(&cfg.data_dir)?;
        cfg.ensemble = crate::ensemble::Ensemble::parse(&cfg.servers)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        // ZooKeeper 3.5+: the client port may come from this server's line.
        let line_client = cfg.ensemble.get(cfg.my_id).and_then(|s| s.client);
        if client_port.is_none() {
            if let Some(addr) = line_client {
                client_port = Some(addr.port());
                if cfg.client_port_address.is_none() && !addr.ip().is_unspecified() {
                    cfg.client_port_address = Some(addr.ip());
                }
            }
        }
        if !cfg.ensemble.is_empty() && cfg.ensemble.get(cfg.my_id).is_none() {
            return Err(ConfigError::Invalid(format!(
                "myid {} (from {}) has no server.{} line",
                cfg.my_id,
                cfg.data_dir.join("myid").display(),
                cfg.my_id
            )));
        }
        if cfg.secure_client_port.is_none() {
            if let Some(addr) = cfg.ensemble.get(cfg.my_id).and_then(|s| s.secure_client) {
                cfg.secure_client_port = Some(addr.port());
                if cfg.secure_client_port_address.is_none() && !addr.ip().is_unspecified() {
                    cfg.secure_client_port_address = Some(addr.ip());
                }
            }
        }
        if cfg.secure_client_port.is_none() && cfg.secure_client_port_address.is_some() {
            return Err(ConfigError::Invalid(
                "secureClientPortAddress is set but secureClientPort is not set".to_string(),
            ));
        }
        cfg.client_port = client_port.ok_or(ConfigError::Missing("clientPort"))?;
        if cfg.tick_time_ms == 0 {
            return Err(ConfigError::Missing("tickTime"));
        }
        let tick = cfg.tick_time_ms as i32;
        cfg.min_session_timeout_ms = min_timeout.filter(|t| *t != -1).unwrap_or(2 * tick);
        cfg.max_session_timeout_ms = max_timeout.filter(|t| *t != -1).unwrap_or(20 * tick);
        if cfg.min_session_timeout_ms > cfg.max_session_timeout_ms {
            return Err(ConfigError::Invalid(
                "minSessionTimeout must not be larger than maxSessionTimeout".to_string(),
            ));
        }
        cfg.four_letter_words = match whitelist {
            Some(list) => whitelist_from(&list, cfg.read_only_mode_enabled),
            None => default_whitelist(cfg.read_only_mode_enabled),
        };
        Ok(Parsed {
            config: cfg,
            unknown_keys,
        })
    }
}

/// Values that need all keys before they can be finished.
struct Collected<'a> {
    data_dir: &'a mut Option<PathBuf>,
    data_log_dir: &'a mut Option<PathBuf>,
    client_port: &'a mut Option<u16>,
    min_timeout: &'a mut Option<i32>,
    max_timeout: &'a mut Option<i32>,
    whitelist: &'a mut Option<String>,
}

/// Applies one key; `Ok(false)` for a key rzk does not know.
fn apply_key(
    cfg: &mut ServerConfig,
    key: &str,
    value: &str,
    c: &mut Collected<'_>,
) -> Result<bool, ConfigError> {
    match key {
        "dataDir" => *c.data_dir = Some(PathBuf::from(value)),
        "dataLogDir" => *c.data_log_dir = Some(PathBuf::from(value)),
        "clientPort" => *c.client_port = Some(number(key, value)?),
        "clientPortAddress" => {
            cfg.client_port_address = Some(value.parse().map_err(|_| ConfigError::BadValue {
                key: key.to_string(),
                value: value.to_string(),
                expected: "an IP address",
            })?)
        }
        "rzk.log.format" => {
            cfg.log.format = Some(value.parse().map_err(|_| ConfigError::BadValue {
                key: key.to_string(),
                value: value.to_string(),
                expected: "text or json",
            })?)
        }
        "rzk.workerThreads" => {
            let n: usize = number(key, value)?;
            if n == 0 || n > WORKER_THREADS_MAX {
                return Err(ConfigError::BadValue {
                    key: key.to_string(),
                    value: value.to_string(),
                    expected: "a number of threads from 1 to 1024",
                });
            }
            cfg.worker_threads = Some(n);
        }
        "rzk.log.level" => {
            crate::logging::filter(value)
                .map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
            cfg.log.level = Some(value.trim().to_string());
        }
        "secureClientPort" => cfg.secure_client_port = Some(number(key, value)?),
        "secureClientPortAddress" => {
            cfg.secure_client_port_address =
                Some(value.parse().map_err(|_| ConfigError::BadValue {
                    key: key.to_string(),
                    value: value.to_string(),
                    expected: "an IP address",
                })?)
        }
        "sslQuorum" => cfg.ssl_quorum = boolean(key, value)?,
        "tickTime" => cfg.tick_time_ms = number(key, value)?,
        "maxClientCnxns" => cfg.max_client_cnxns_per_ip = number(key, value)?,
        "minSessionTimeout" => *c.min_timeout = Some(number(key, value)?),
        "maxSessionTimeout" => *c.max_timeout = Some(number(key, value)?),
        "initLimit" => cfg.init_limit_ticks = number(key, value)?,
        "syncLimit" => cfg.sync_limit_ticks = number(key, value)?,
        "autopurge.snapRetainCount" => {
            cfg.autopurge_snap_retain_count = number::<u32>(key, value)?.max(3)
        }
        "autopurge.purgeInterval" => cfg.autopurge_purge_interval_hours = number(key, value)?,
        "peerType" => {
            cfg.peer_type = match value {
                "participant" => crate::ensemble::Role::Participant,
                "observer" => crate::ensemble::Role::Observer,
                _ => {
                    return Err(ConfigError::BadValue {
                        key: key.to_string(),
                        value: value.to_string(),
                        expected: "participant or observer",
                    })
                }
            }
        }
        "standaloneEnabled" => cfg.standalone_enabled = boolean(key, value)?,
        "reconfigEnabled" => cfg.reconfig_enabled = boolean(key, value)?,
        "clientPortListenBacklog" => cfg.client_port_listen_backlog = number(key, value)?,
        "metricsProvider.className" => {
            cfg.metrics.prometheus_enabled = match value {
                crate::metrics::PROMETHEUS_PROVIDER => true,
                v if NON_HTTP_METRICS_PROVIDERS.contains(&v) => false,
                // ZooKeeper cannot load another class either, and refuses
                // to start.
                _ => {
                    return Err(ConfigError::BadValue {
                        key: key.to_string(),
                        value: value.to_string(),
                        expected: "ZooKeeper's PrometheusMetricsProvider or DefaultMetricsProvider",
                    })
                }
            }
        }
        "metricsProvider.httpHost" => cfg.metrics.http_host = value.to_string(),
        "metricsProvider.httpPort" => cfg.metrics.http_port = number(key, value)?,
        _ if ACCEPTED_UNUSED_KEYS.contains(&key)
            || key.starts_with("metricsProvider.")
            || key.starts_with("group.")
            || key.starts_with("weight.") => {}
        _ if key.starts_with("server.") => {
            let id = number(key, &key["server.".len()..])?;
            cfg.servers.insert(id, value.to_string());
        }
        // Keys ZooKeeper reads as `zookeeper.<key>` system properties (or, for
        // a few, as plain system properties): accepted with or without prefix.
        _ => return apply_property(cfg, key.strip_prefix("zookeeper.").unwrap_or(key), value, c),
    }
    Ok(true)
}

fn apply_property(
    cfg: &mut ServerConfig,
    key: &str,
    value: &str,
    c: &mut Collected<'_>,
) -> Result<bool, ConfigError> {
    match key {
        "4lw.commands.whitelist" => *c.whitelist = Some(value.to_string()),
        "extendedTypesEnabled" => cfg.extended_types_enabled = boolean(key, value)?,
        "DigestAuthenticationProvider.superDigest" => cfg.super_digest = Some(value.to_string()),
        "znode.container.checkIntervalMs" => cfg.container_check_interval_ms = number(key, value)?,
        "znode.container.maxPerMinute" => cfg.container_max_per_minute = number(key, value)?,
        "snapCount" => cfg.snap_count = number(key, value)?,
        "jute.maxbuffer" => cfg.max_frame_bytes = number(key, value)?,
        "readonlymode.enabled" => cfg.read_only_mode_enabled = boolean(key, value)?,
        "globalOutstandingLimit" => {
            cfg.outstanding_requests_max = number::<usize>(key, value)?.max(1)
        }
        "enforceQuota" => cfg.enforce_quota = boolean(key, value)?,
        "skipACL" => cfg.skip_acl = value == "yes" || boolean(key, value).unwrap_or(false),
        "admin.enableServer" => cfg.admin.enable_server = boolean(key, value)?,
        "admin.serverAddress" => cfg.admin.server_address = value.to_string(),
        "admin.serverPort" => cfg.admin.server_port = number(key, value)?,
        "admin.commandURL" => cfg.admin.command_url = value.to_string(),
        _ if key.starts_with("ssl.") => cfg.ssl.insert(key, value),
        _ if key.starts_with("admin.") || key.starts_with("4lw.") => {}
        _ => return Ok(false),
    }
    Ok(true)
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        expected: "a number",
    })
}

/// Java's `Boolean.parseBoolean` is lenient (anything but "true" is false);
/// ZooKeeper's own `parseBoolean` rejects other words, and so do we.
fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::BadValue {
            key: key.to_string(),
            value: value.to_string(),
            expected: "true or false",
        }),
    }
}

/// ZooKeeper's default: only `srvr` (zkServer.sh needs it), plus `isro` when
/// read-only mode is enabled.
fn default_whitelist(read_only_mode: bool) -> Vec<String> {
    whitelist_from("", read_only_mode)
}

/// `FourLetterCommands.isEnabled`: a comma separated list, `*` for all.
fn whitelist_from(list: &str, read_only_mode: bool) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item == "*" {
            words.extend(FOUR_LETTER_WORDS.iter().map(|w| w.to_string()));
            break;
        }
        words.push(item.to_string());
    }
    if read_only_mode {
        words.push("isro".to_string());
    }
    words.push("srvr".to_string());
    words.sort();
    words.dedup();
    words
}

/// ZooKeeper's default `snapCount`.
pub const SNAP_COUNT_DEFAULT: u64 = 100_000;

fn read_my_id(data_dir: &Path) -> Result<u64, ConfigError> {
    let path = data_dir.join("myid");
    match std::fs::read_to_string(&path) {
        Ok(text) => number("myid", text.trim()),
        Err(_) => Ok(0),
    }
}

/// Java properties, the subset zoo.cfg files use: `key=value`, `key: value` or
/// `key value`; `#` and `!` comments; a trailing backslash continues a line.
/// Later duplicates win, as in `Properties.load`.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let logical = std::mem::take(&mut pending);
        if let Some((k, v)) = split_property(&logical) {
            out.retain(|(key, _)| key != &k);
            out.push((k, v));
        }
    }
    if !pending.is_empty() {
        if let Some((k, v)) = split_property(&pending) {
            out.retain(|(key, _)| key != &k);
            out.push((k, v));
        }
    }
    out
}

fn split_property(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let split_at = line.find(['=', ':', ' ', '\t']).unwrap_or(line.len());
    let key = line[..split_at].trim().to_string();
    let mut rest = line[split_at..].trim_start();
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r;
    }
    Some((key, rest.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Parsed {
        ServerConfig::parse(text).expect("valid config")
    }

    #[test]
    fn debian_default_zoo_cfg() {
        let p = parse(
            "# comment\ntickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/nonexistent/zk\nclientPort=2181\n",
        );
        let c = p.config;
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.client_port, 2181);
        assert_eq!(c.min_session_timeout_ms, 4000);
        assert_eq!(c.max_session_timeout_ms, 40000);
        assert_eq!(c.max_client_cnxns_per_ip, 60);
        assert_eq!(c.data_log_dir, PathBuf::from("/nonexistent/zk"));
        assert_eq!(c.four_letter_words, vec!["srvr".to_string()]);
        assert!(p.unknown_keys.is_empty());
    }

    #[test]
    fn ensemble_keys() {
        let p = parse(
            "dataDir=/nonexistent/zk\nclientPort=1\ntickTime=100\nsnapCount=2000\nzookeeper.snapCount=3000\n\
             peerType=observer\nautopurge.purgeInterval=1\nautopurge.snapRetainCount=5\n",
        );
        let c = p.config;
        assert_eq!(c.snap_count, 3000, "the later, prefixed key wins");
        assert_eq!(c.peer_type, crate::ensemble::Role::Observer);
        assert_eq!(
            (
                c.autopurge_purge_interval_hours,
                c.autopurge_snap_retain_count
            ),
            (1, 5)
        );
        assert_eq!(
            ServerConfig::parse("dataDir=/x\nclientPort=1\npeerType=leader\n").map(|_| ()),
            Err(ConfigError::BadValue {
                key: "peerType".to_string(),
                value: "leader".to_string(),
                expected: "participant or observer",
            })
        );
    }

    #[test]
    fn whitelist_star_and_prefixed_properties() {
        let p = parse(
            "dataDir=/x\nclientPort=1\n4lw.commands.whitelist=*\n\
             zookeeper.DigestAuthenticationProvider.superDigest=super:abc\n\
             skipACL=yes\nfancyKey=1\n",
        );
        assert!(p.config.four_letter_word_enabled("mntr"));
        assert_eq!(p.config.super_digest.as_deref(), Some("super:abc"));
        assert!(p.config.skip_acl);
        assert_eq!(p.unknown_keys, vec!["fancyKey".to_string()]);
    }

    #[test]
    fn metrics_provider_keys() {
        let off = parse("dataDir=/x\nclientPort=1\n").config.metrics;
        assert_eq!(off, MetricsConfig::default());
        assert!(!off.prometheus_enabled);
        let on = parse(
            "dataDir=/x\nclientPort=1\n\
             metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
             metricsProvider.httpPort=7001\nmetricsProvider.httpHost=127.0.0.1\n\
             metricsProvider.exportJvmInfo=false\n",
        );
        assert!(on.unknown_keys.is_empty());
        assert!(on.config.metrics.prometheus_enabled);
        assert_eq!(on.config.metrics.http_port, 7001);
        assert_eq!(on.config.metrics.http_host, "127.0.0.1");
        assert!(
            ServerConfig::parse("dataDir=/x\nclientPort=1\nmetricsProvider.className=x.Y\n")
                .is_err()
        );
    }

    #[test]
    fn explicit_whitelist_keeps_srvr() {
        let p = parse("dataDir=/x\nclientPort=1\n4lw.commands.whitelist=ruok, stat\n");
        assert_eq!(p.config.four_letter_words, vec!["ruok", "srvr", "stat"]);
    }

    #[test]
    fn timeouts_and_errors() {
        let p = parse("dataDir=/x\nclientPort=1\ntickTime=100\nmaxSessionTimeout=500\n");
        assert_eq!(p.config.min_session_timeout_ms, 200);
        assert_eq!(p.config.negotiate_timeout_ms(1), 200);
        assert_eq!(p.config.negotiate_timeout_ms(100_000), 500);
        assert!(ServerConfig::parse("clientPort=1\n").is_err());
        assert!(ServerConfig::parse("dataDir=/x\nclientPort=x\n").is_err());
        assert!(ServerConfig::parse(
            "dataDir=/x\nclientPort=1\nminSessionTimeout=9\nmaxSessionTimeout=8\n"
        )
        .is_err());
    }

    #[test]
    fn worker_threads_key_and_default() {
        assert_eq!(
            parse("dataDir=/x\nclientPort=1\n").config.worker_threads,
            None
        );
        let p = parse("dataDir=/x\nclientPort=1\nrzk.workerThreads=3\n");
        assert!(p.unknown_keys.is_empty());
        assert_eq!(p.config.worker_threads, Some(3));
        for bad in ["0", "1025", "many"] {
            assert!(
                ServerConfig::parse(&format!(
                    "dataDir=/x\nclientPort=1\nrzk.workerThreads={bad}\n"
                ))
                .is_err(),
                "{bad}"
            );
        }
        assert_eq!(worker_threads_for(None, 0), 1);
        assert_eq!(worker_threads_for(None, 1), 1);
        assert_eq!(worker_threads_for(None, 2), 1);
        assert_eq!(worker_threads_for(None, 16), 15);
        assert_eq!(worker_threads_for(Some(4), 2), 4);
    }

    #[test]
    fn properties_syntax() {
        let props = parse_properties("a = 1\nb: 2\nc 3\n! bang\nd=long \\\n  value\na=4\n");
        assert_eq!(
            props,
            vec![
                ("b".to_string(), "2".to_string()),
                ("c".to_string(), "3".to_string()),
                ("d".to_string(), "long value".to_string()),
                ("a".to_string(), "4".to_string()),
            ]
        );
    }
}
