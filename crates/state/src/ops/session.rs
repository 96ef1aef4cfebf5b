//! Session lifecycle entries: createSession, closeSession and expiry.
//!
//! Ending a session deletes its ephemerals in path order (ZooKeeper uses hash
//! order; any fixed order is equally valid and this one is deterministic),
//! each a full delete: parent pzxid, quota usage, NodeDeleted and
//! NodeChildrenChanged triggers.

use rzk_proto::Response;

use crate::entry::Reply;
use crate::tree::{DataTree, SessionInfo};

pub(crate) fn create(
    tree: &mut DataTree,
    session_id: i64,
    timeout_ms: i32,
    password: &[u8],
) -> Reply {
    tree.sessions.insert(SessionInfo {
        session_id,
        timeout_ms,
        password: password.to_vec(),
    });
    Reply::ok(Response::Empty)
}

/// Close or expiry. An unknown session is not an error (ZooKeeper answers a
/// closeSession of a session it no longer tracks with OK).
pub(crate) fn close(tree: &mut DataTree, session_id: i64, zxid: i64) -> Reply {
    tree.sessions.remove(session_id);
    let paths: Vec<String> = tree
        .sessions
        .ephemerals_of(session_id)
        .map(str::to_owned)
        .collect();
    for path in paths {
        tree.delete_node(&path, zxid);
    }
    Reply::ok(Response::Empty)
}
