//! Every fixed bound of the server in one place, with its unit in its name.
//!
//! Bounds that an operator sets in zoo.cfg (frame size, outstanding requests,
//! connections per address) live in [`crate::config::ServerConfig`]; these are the
//! ones rzk chooses itself.

/// Watch events that may wait in one connection's outbound queue on top of its
/// outstanding replies. A client that lets more pile up is not reading its
/// socket; its connection is closed rather than an event dropped.
pub const OUTBOUND_EVENTS_MAX: usize = 16_384;

/// Bytes the writer gathers from the outbound queue into one socket write.
pub const WRITE_BATCH_BYTES_MAX: usize = 64 * 1024;

/// Watches (path and kind pairs, counted over the data and child tables) one
/// connection may hold. Generous: a client beyond it is most likely leaking
/// watches, and its connection is closed with a log line.
pub const WATCHES_PER_CONNECTION_MAX: usize = 1_000_000;

/// Time a new connection has to send its first frame (ZooKeeper's
/// `zookeeper.nio.sessionlessCnxnTimeout` default).
pub const SESSIONLESS_CONNECTION_TIMEOUT_MS: u64 = 10_000;

/// Time a client on the secure client port has to finish the TLS handshake
/// (Netty's default handshake timeout, which ZooKeeper's secure port uses).
/// The connection counts against `maxClientCnxns` meanwhile.
pub const TLS_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// Time a closing connection gets to flush replies already queued.
pub const CLOSE_FLUSH_TIMEOUT_MS: u64 = 1_000;

/// Bytes a four-letter-word answer may reach (`dump` and `cons` grow with the
/// number of sessions; beyond this the output is cut with a note).
pub const FOUR_LETTER_OUTPUT_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Files visited when `dirs` and `conf` add up the data directory size.
pub const DIR_SIZE_FILES_MAX: usize = 100_000;

/// Bytes of an HTTP request's header block on the admin and metrics ports
/// (request line and headers; the endpoints take no body). Monitoring tools
/// send a few hundred.
pub const HTTP_REQUEST_HEAD_BYTES_MAX: usize = 8 * 1024;

/// Time an HTTP client has to send its request head, and again to take the
/// answer, before its connection is closed.
pub const HTTP_IO_TIMEOUT_MS: u64 = 10_000;

/// HTTP connections served at once on each of the admin and metrics ports;
/// more are closed unanswered. Scrapers and probes open one at a time.
pub const HTTP_CONNECTIONS_MAX: usize = 64;

/// Pause after a failed `accept` (out of file descriptors and the like).
pub const ACCEPT_ERROR_BACKOFF_MS: u64 = 100;

/// Bytes of a session password (ZooKeeper's length).
pub const SESSION_PASSWORD_BYTES: usize = 16;

const _: () = assert!(CLOSE_FLUSH_TIMEOUT_MS < SESSIONLESS_CONNECTION_TIMEOUT_MS);
