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

/// Reconfig: ReconfigDisabled unless enabled; then the session check; then
/// Unimplemented, which is what a standalone ZooKeeper answers (dynamic
/// reconfiguration of an rzk ensemble is not supported yet).
fn reconfig(tree: &DataTree, ctx: &Ctx<'_>) -> Result<Response, ErrorCode> {
    if !tree.config.reconfig_enabled {
        return Err(ErrorCode::ReconfigDisabled);
    }
    ctx.check_session(tree)?;
    Err(ErrorCode::Unimplemented)
}
