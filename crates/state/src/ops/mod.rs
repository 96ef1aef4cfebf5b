//! `apply`: one module per kind of entry, each doing ZooKeeper's validation
//! (PrepRequestProcessor, in its order, so the first failing check decides the
//! error code exactly as ZooKeeper's does) and then the change (DataTree).

mod check;
mod container;
mod create;
mod delete;
mod multi;
mod session;
mod set_acl;
mod set_data;

use rzk_proto::{ErrorCode, Id, Response};

use crate::entry::{Applied, Entry, Reply, Txn, WriteOp};
use crate::path::CONFIG_ZOOKEEPER;
use crate::tree::DataTree;

/// What every op needs to know about the entry that carries it.
pub(crate) struct Ctx<'a> {
    pub zxid: i64,
    pub time_ms: i64,
    pub session_id: i64,
    pub auth: &'a [Id],
}

impl Ctx<'_> {
    /// `sessionTracker.checkSession`: writes need a live session.
    pub fn check_session(&self, tree: &DataTree) -> Result<(), ErrorCode> {
        if tree.sessions.is_live(self.session_id) {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }
}

/// `checkAndIncVersion`: -1 matches any version; the new version wraps like a
/// Java int.
pub(crate) fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

pub(crate) fn apply(tree: &mut DataTree, entry: &Entry) -> Applied {
    tree.undo.clear();
    tree.triggers.clear();
    tree.warnings.clear();

    let mut ended_session = None;
    let reply = match &entry.txn {
        Txn::CreateSession {
            session_id,
            timeout_ms,
            password,
        } => session::create(tree, *session_id, *timeout_ms, password),
        Txn::CloseSession { session_id } | Txn::ExpireSession { session_id } => {
            ended_session = Some(*session_id);
            session::close(tree, *session_id, entry.zxid)
        }
        Txn::DeleteContainer { path } => container::delete(tree, path, entry.zxid, entry.time_ms),
        Txn::Error { err, .. } => Reply::error(*err),
        Txn::SetConfig { servers } => {
            set_config(tree, servers, entry.zxid, entry.time_ms);
            Reply::ok(Response::Empty)
        }
        Txn::Write {
            session_id,
            auth,
            op,
        } => {
            let ctx = Ctx {
                zxid: entry.zxid,
                time_ms: entry.time_ms,
                session_id: *session_id,
                auth,
            };
            write(tree, &ctx, op)
        }
    };

    // A failed single write changed nothing (validation precedes mutation);
    // a failed multi has rolled back. Either way the zxid is consumed, as
    // ZooKeeper's error transactions are.
    tree.note_changes();
    tree.undo.clear();
    if entry.zxid > tree.last_zxid {
        tree.last_zxid = entry.zxid;
    }
    Applied {
        zxid: entry.zxid,
        reply,
        triggers: std::mem::take(&mut tree.triggers),
        ended_session,
        warnings: std::mem::take(&mut tree.warnings),
    }
}

fn write(tree: &mut DataTree, ctx: &Ctx<'_>, op: &WriteOp) -> Reply {
    let result = match op {
        WriteOp::Create { op, create } => {
            create::apply(tree, ctx, *op, create).map(|done| done.response())
        }
        WriteOp::Delete(req) => delete::apply(tree, ctx, req).map(|()| Response::Empty),
        WriteOp::SetData(req) => set_data::apply(tree, ctx, req).map(Response::Stat),
        WriteOp::SetAcl(req) => set_acl::apply(tree, ctx, req).map(Response::Stat),
        WriteOp::Check(req) => check::apply(tree, ctx, req).map(|()| Response::Empty),
        WriteOp::Multi(ops) => return multi::apply(tree, ctx, ops),
        WriteOp::Reconfig(_) => reconfig(tree, ctx),
    };
    match result {
        Ok(response) => Reply::ok(response),
        Err(err) => {
            tree.rollback();
            Reply::error(err)
        }
    }
}

/// Reconfig: ReconfigDisabled unless enabled; then the session check; then,
/// on a standalone server, Unimplemented, as ZooKeeper's standalone server
/// answers. In an ensemble this entry is logged only after the leader has
/// validated the request and carried the change out (the membership entries
/// set `/zookeeper/config`, see [`Txn::SetConfig`]); failures are logged as
/// error entries instead. So here it only answers the client with the new
/// configuration and its stat, as ZooKeeper's reply to reconfig does.
fn reconfig(tree: &DataTree, ctx: &Ctx<'_>) -> Result<Response, ErrorCode> {
    if !tree.config.reconfig_enabled {
        return Err(ErrorCode::ReconfigDisabled);
    }
    ctx.check_session(tree)?;
    if !tree.config.dynamic_config {
        return Err(ErrorCode::Unimplemented);
    }
    let node = tree
        .nodes
        .get(CONFIG_ZOOKEEPER)
        .ok_or(ErrorCode::SystemError)?;
    Ok(Response::Data {
        data: node.data().to_vec(),
        stat: node.client_stat(tree.extended()),
    })
}

/// `/zookeeper/config` after a membership change, as ZooKeeper's
/// `initConfigInZKDatabase` and reconfig write it: the server lines, then
/// `version=<zxid in hex>`; stat version -1 and mzxid the zxid. mtime is the
/// entry's time (0 for a membership entry, which carries no time: see
/// `rzk_replica::membership`). Data watches on the node fire, which is how
/// Curator's EnsembleTracker follows the ensemble.
fn set_config(tree: &mut DataTree, servers: &str, zxid: i64, time_ms: i64) {
    if !tree.config.dynamic_config {
        return;
    }
    let mut text = String::with_capacity(servers.len() + 24);
    text.push_str(servers);
    if !servers.is_empty() && !servers.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("version={zxid:x}"));
    tree.set_node_data(CONFIG_ZOOKEEPER, text.as_bytes(), -1, zxid, time_ms);
}
