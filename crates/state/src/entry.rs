//! Log entries (what is replicated) and their outcomes (what `apply` returns).

use rzk_proto::records::{
    CheckVersionRequest, DeleteRequest, ReconfigRequest, SetAclRequest, SetDataRequest,
};
use rzk_proto::request::{CreateOp, MultiOp};
use rzk_proto::{ErrorCode, EventType, Id, OpCode, Response};

/// One log entry. The zxid and the time are assigned by whoever orders the log
/// (the in-memory log now, the raft leader later), never read from a clock here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Strictly increasing across entries; every entry consumes one, including
    /// writes that fail validation (as ZooKeeper's error transactions do).
    pub zxid: i64,
    /// Milliseconds since the Unix epoch, stamped by the log's orderer.
    pub time_ms: i64,
    pub txn: Txn,
}

/// What an entry does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// A new session. Id and password are chosen by the server that accepted the
    /// connection; the timeout is already negotiated.
    CreateSession {
        session_id: i64,
        timeout_ms: i32,
        password: Vec<u8>,
    },
    /// The client asked to close its session (closeSession, opcode -11).
    CloseSession { session_id: i64 },
    /// The session tracker found the session silent for longer than its timeout.
    ExpireSession { session_id: i64 },
    /// A client write. `auth` holds every identity the connection is authenticated
    /// as, including `ip:<client address>` and `super:` when applicable.
    /// Shared with the connection, which changes its list only on addauth:
    /// a copy per write was two string allocations per identity.
    Write {
        session_id: i64,
        auth: std::sync::Arc<[Id]>,
        op: WriteOp,
    },
    /// A write that failed before it could be validated (for example an
    /// undecodable body). It changes nothing but takes its zxid, as ZooKeeper's
    /// error transaction does, so zxids stay in step with ZooKeeper's.
    Error { session_id: i64, err: ErrorCode },
    /// The container/TTL checker found `path` deletable (an empty container that
    /// once had a child, or an expired TTL node). Re-checked at apply time.
    DeleteContainer { path: String },
    /// The ensemble's membership changed (a raft membership entry was
    /// applied): `/zookeeper/config` becomes `servers` (one `server.N=...`
    /// line each, in ZooKeeper's format) followed by `version=<zxid in
    /// hex>`, as ZooKeeper writes it after a reconfig. Never proposed by a
    /// client; the replica derives it from the membership entry itself, so
    /// the node and the membership cannot disagree. A no-op in a standalone
    /// tree ([`crate::StateConfig::dynamic_config`] false), whose config node
    /// stays empty as ZooKeeper's standalone one does.
    SetConfig { servers: String },
}

/// A client request that goes through the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// `op` is one of Create, Create2, CreateContainer, CreateTtl.
    Create {
        op: OpCode,
        create: CreateOp,
    },
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    SetAcl(SetAclRequest),
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
}

/// The reply to the client that sent the entry (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub err: ErrorCode,
    pub response: Response,
}

impl Reply {
    pub fn ok(response: Response) -> Self {
        Reply {
            err: ErrorCode::Ok,
            response,
        }
    }

    pub fn error(err: ErrorCode) -> Self {
        Reply {
            err,
            response: Response::Empty,
        }
    }
}

/// A change that watches may be waiting for, in the order ZooKeeper's DataTree
/// triggers them. The watch registry maps each to data/exist/child/persistent
/// watchers exactly as ZooKeeper's WatchManager does:
/// - NodeCreated and NodeDataChanged on `path`: data and exist watches;
/// - NodeDeleted on `path`: data, exist and child watches;
/// - NodeChildrenChanged on the parent: child watches.
///
/// `acl` is the node's ACL at the time of the change, so the registry can skip
/// sessions that may not READ the node: the node's own shared list, not a
/// copy (a copy was three allocations per change for the usual one-entry
/// list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTrigger {
    pub path: String,
    pub event: EventType,
    pub acl: crate::SharedAcl,
}

/// The outcome of applying one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub zxid: i64,
    /// For `Write` and `CloseSession`: what the requesting client gets. For other
    /// entries: `Reply::ok(Response::Empty)` (nobody waits for it).
    pub reply: Reply,
    /// Watch triggers, in order. Empty for failed writes.
    pub triggers: Vec<WatchTrigger>,
    /// Set when the entry ended a session (close or expiry), so the server can
    /// drop its connection and watches.
    pub ended_session: Option<i64>,
    /// Log lines the server should emit at WARN (for example a soft quota
    /// exceeded). Pure data: the state machine itself never logs.
    pub warnings: Vec<String>,
}
