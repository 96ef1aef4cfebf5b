//! rzk's network server: everything between the client's socket and the state
//! machine.
//!
//! A request's path: [`server`] accepts the socket; [`connection`] reads
//! frames ([`framing`]), tells four-letter words ([`fourlw`]) from the connect
//! handshake ([`handshake`]), then queues each request in the session's
//! [`pipeline`]. Writes go through the ordered [`log`], whose sequencer applies
//! them to the tree and hands watch triggers to the [`watch`] registry, which
//! pushes events into the connection's [`outbound`] queue; reads are served by
//! [`ops`] from the local tree. [`reply`] encodes what goes back.
//!
//! Modules, one job each:
//! - [`config`]: zoo.cfg, read unchanged, with ZooKeeper's defaults.
//! - [`limits`]: every fixed bound, with its unit.
//! - [`server`]: listener, `maxClientCnxns`, background tasks, shutdown.
//! - [`connection`]: one task per connection; the FIFO and ordering argument.
//! - [`handshake`]: new, resumed and refused sessions.
//! - [`pipeline`]: a session's requests in order (submitted, held, local).
//! - [`ops`]: routing and the locally served requests, one file per group.
//! - [`log`]: the ordered log (local sequencer for now) behind [`log::LogHandle`].
//! - [`replicated`]: the hooks `rzk-replica` applies through (`replication=raft`).
//! - [`watch`]: watch registry with ZooKeeper's trigger rules.
//! - [`session`]: session deadlines and the expiry task.
//! - [`read_only`]: read-only mode's handshake, request filter and local
//!   sessions (the decision to enter it is in [`role`]).
//! - [`container`]: the container/TTL checker task.
//! - [`tls`]: `secureClientPort`: ZooKeeper's `ssl.*` keys, PEM stores,
//!   rustls, the handshake.
//! - [`transport`]: a client stream (TCP or TLS) split into the halves the
//!   connection code works on.
//! - [`conn_table`]: open connections by id, session and address.
//! - [`outbound`]: a connection's one bounded outbound queue and its writer.
//! - [`control`]: closing a connection from outside, with a reason.
//! - [`framing`]: length-prefixed frames from a socket, cancel safe.
//! - [`fourlw`]: ruok, srvr, stat, mntr, conf, cons, ... and the whitelist.
//! - [`report`]: the values those commands report, read once, rendered by
//!   [`fourlw`] (text), [`admin`] (JSON) and [`metrics`] (Prometheus).
//! - [`admin`]: the admin HTTP server (`/commands/<name>`, `/ready`);
//!   [`admin_commands`] builds each command's JSON, [`http`] is the small
//!   HTTP/1.1 server under it and `/metrics`.
//! - [`logging`]: the server's own log output: text or JSON lines, the
//!   level from zoo.cfg, and changing it at runtime (`/commands/log_level`).
//! - [`metrics`]: Prometheus' `/metrics` (`metricsProvider.*`), gauges read
//!   at scrape time.
//! - [`auth`]: identities, digest and ip providers, the READ check for events.
//! - [`stats`], [`clock`], [`reply`], [`shared`]: counters, time, encoding,
//!   and the shared state with its lock order.

pub mod admin;
pub mod admin_commands;
pub mod auth;
pub mod clock;
pub mod config;
pub mod conn_table;
pub mod connection;
pub mod container;
pub mod control;
pub mod ensemble;
pub mod fourlw;
pub mod framing;
pub mod handshake;
pub mod http;
pub mod idle_memory;
pub mod limits;
pub mod log;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod outbound;
pub mod pipeline;
pub mod read_only;
pub mod reconfig;
pub mod replicated;
pub mod reply;
pub mod report;
pub mod role;
pub mod server;
pub mod session;
pub mod shared;
pub mod stats;
pub mod tls;
pub mod transport;
pub mod watch;

pub use config::{ConfigError, ServerConfig};
pub use server::Server;
