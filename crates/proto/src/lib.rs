//! ZooKeeper's client protocol, as bytes and as Rust values.
//!
//! This crate is pure: no I/O, no async, no clock. It turns frames into typed
//! requests and typed responses into frames, exactly as Apache ZooKeeper's jute
//! definitions (`zookeeper.jute`) lay them out.
//!
//! Modules, one job each:
//! - [`jute`]: the primitive encoding (big-endian ints and longs, length-prefixed
//!   buffers, strings and vectors) with a reader that never panics and never
//!   allocates more than the input holds.
//! - [`frame`]: the 4-byte length prefix and the frame size limit (`jute.maxbuffer`).
//! - [`codes`]: opcodes, error codes, event types, keeper states, create modes,
//!   permission bits, watch modes.
//! - [`types`]: `Stat`, `Id`, `Acl`.
//! - [`records`]: every request and response record of the client protocol.
//! - [`request`]: a decoded client request (header + typed body).
//! - [`response`]: a reply body, encodable after a `ReplyHeader`.
//! - [`java_date`]: wall times printed the way ZooKeeper's Java prints them.

pub mod codes;
pub mod frame;
pub mod java_date;
pub mod jute;
pub mod records;
pub mod request;
pub mod response;
pub mod types;

pub use codes::{CreateMode, ErrorCode, EventType, KeeperState, OpCode, Perms, WatcherType};
pub use jute::{Decode, DecodeError, Encode, Reader};
pub use request::{Request, RequestFrame};
pub use response::{MultiReadResult, MultiResult, Response};
pub use types::{Acl, Id, Stat};
