//! Requests, one module per group: where each opcode goes and how the ones
//! served locally are answered.
//!
//! Every write (create in all its forms, delete, setData, setACL, check, multi,
//! reconfig) and closeSession goes through the log; the state machine validates
//! it at apply time. Everything else is served by the connection from the local
//! tree when it reaches the head of the session's queue, under the core lock.

pub mod auth;
pub mod read;
pub mod watches;

use crate::reply::Body;
use crate::shared::Core;
use crate::watch::ConnId;
use rzk_proto::{ErrorCode, Id, OpCode, Request, Response};
use rzk_state::WriteOp;

/// Where a decoded request goes.
#[derive(Debug)]
pub enum Route {
    /// Through the log as `Txn::Write`.
    Write(WriteOp),
    /// Through the log as `Txn::CloseSession`.
    CloseSession,
    /// `sync`: waits, in the session's order, until this server has applied
    /// everything the leader had committed (see `LogHandle::sync`).
    Sync(String),
    /// addauth: changes the connection's identities (see [`auth`]).
    Auth(rzk_proto::records::AuthPacket),
    /// SASL: not supported (see [`auth`]).
    Sasl,
    /// Served locally at the head of the queue.
    Local(Request),
}

pub fn route(request: Request) -> Route {
    match request {
        Request::Create(create) => Route::Write(WriteOp::Create {
            op: OpCode::Create,
            create,
        }),
        Request::Delete(r) => Route::Write(WriteOp::Delete(r)),
        Request::SetData(r) => Route::Write(WriteOp::SetData(r)),
        Request::SetAcl(r) => Route::Write(WriteOp::SetAcl(r)),
        Request::Check(r) => Route::Write(WriteOp::Check(r)),
        Request::Multi(ops) => Route::Write(WriteOp::Multi(ops)),
        Request::Reconfig(r) => Route::Write(WriteOp::Reconfig(r)),
        Request::CloseSession => Route::CloseSession,
        Request::Sync(r) => Route::Sync(r.path),
        Request::Auth(packet) => Route::Auth(packet),
        Request::Sasl(_) => Route::Sasl,
        other => Route::Local(other),
    }
}

/// Fixes the create flavour from the frame's opcode (the request body is the
/// same record for create, create2 and createContainer).
pub fn with_opcode(route: Route, op: OpCode) -> Route {
    match route {
        Route::Write(WriteOp::Create { create, .. }) => {
            Route::Write(WriteOp::Create { op, create })
        }
        other => other,
    }
}

/// What a locally served request needs.
pub struct LocalCtx<'a> {
    pub core: &'a mut Core,
    pub conn: ConnId,
    pub session_id: i64,
    pub auth: &'a [Id],
}

/// A local answer: error code and body (the body is ignored unless Ok).
#[derive(Debug)]
pub struct LocalReply {
    pub err: ErrorCode,
    pub body: Body,
}

impl LocalReply {
    pub fn ok(body: impl Into<Body>) -> Self {
        LocalReply {
            err: ErrorCode::Ok,
            body: body.into(),
        }
    }

    pub fn error(err: ErrorCode) -> Self {
        LocalReply {
            err,
            body: Body::Response(Response::Empty),
        }
    }
}

impl From<Result<Response, ErrorCode>> for LocalReply {
    fn from(r: Result<Response, ErrorCode>) -> Self {
        match r {
            Ok(resp) => LocalReply::ok(resp),
            Err(e) => LocalReply::error(e),
        }
    }
}

/// Serves a local request (never a write, auth or SASL: see [`route`]).
pub fn serve_local(ctx: &mut LocalCtx<'_>, op: OpCode, request: &Request) -> LocalReply {
    match request {
        Request::Ping => LocalReply::ok(Response::Empty),
        Request::WhoAmI => LocalReply::ok(Response::WhoAmI(crate::auth::client_infos(ctx.auth))),
        Request::Exists(r) => read::exists(ctx, r).into(),
        Request::GetData(r) => read::get_data(ctx, r).into(),
        Request::GetChildren(r) => read::get_children(ctx, r, op == OpCode::GetChildren2).into(),
        Request::GetAcl(r) => read::get_acl(ctx, r).into(),
        Request::GetEphemerals(r) => read::get_ephemerals(ctx, r).into(),
        Request::GetAllChildrenNumber(r) => read::get_all_children_number(ctx, r).into(),
        Request::MultiRead(ops) => LocalReply::ok(read::multi_read(ctx, ops)),
        Request::SetWatches(w) => {
            watches::set_watches(ctx, w);
            LocalReply::ok(Response::Empty)
        }
        Request::AddWatch(r) => watches::add_watch(ctx, r),
        Request::CheckWatches(r) => watches::check_watches(ctx, r),
        Request::RemoveWatches(r) => watches::remove_watches(ctx, r),
        // Writes, closeSession, auth and SASL never get here; answering
        // Unimplemented keeps a routing mistake visible to the client.
        _ => LocalReply::error(ErrorCode::Unimplemented),
    }
}

/// ZooKeeper's short operation names, as `cons` prints them (`lop=`).
/// Every name [`op_name`] returns, "NA" last: the request kinds whose
/// latencies `/metrics` reports.
pub const OP_NAMES: [&str; 25] = [
    "PING", "SESS", "MULT", "MLTR", "CREA", "DELE", "SETD", "RECO", "SETA", "CLOS", "SYNC", "CHEC",
    "EXIS", "GETD", "SETW", "STW2", "ADDW", "GETA", "GETC", "GETACN", "CHKW", "REMW", "HOMI",
    "GETE", "NA",
];

/// `op`'s position in [`OP_NAMES`]: a match, as it runs for every reply.
pub fn op_index(op: OpCode) -> usize {
    match op {
        OpCode::Ping => 0,
        OpCode::CreateSession => 1,
        OpCode::Multi => 2,
        OpCode::MultiRead => 3,
        OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => 4,
        OpCode::Delete | OpCode::DeleteContainer => 5,
        OpCode::SetData => 6,
        OpCode::Reconfig => 7,
        OpCode::SetAcl => 8,
        OpCode::CloseSession => 9,
        OpCode::Sync => 10,
        OpCode::Check => 11,
        OpCode::Exists => 12,
        OpCode::GetData => 13,
        OpCode::SetWatches => 14,
        OpCode::SetWatches2 => 15,
        OpCode::AddWatch => 16,
        OpCode::GetAcl => 17,
        OpCode::GetChildren | OpCode::GetChildren2 => 18,
        OpCode::GetAllChildrenNumber => 19,
        OpCode::CheckWatches => 20,
        OpCode::RemoveWatches => 21,
        OpCode::WhoAmI => 22,
        OpCode::GetEphemerals => 23,
        _ => OP_NAMES.len() - 1,
    }
}

/// `op`'s short name, as `cons` prints it (`lop=`).
pub fn op_name(op: OpCode) -> &'static str {
    OP_NAMES[op_index(op)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_its_zookeeper_short_name() {
        // ZooKeeper's Request.op2String abbreviations, as `cons` shows them.
        let expected = |op: OpCode| match op {
            OpCode::Ping => "PING",
            OpCode::CreateSession => "SESS",
            OpCode::Multi => "MULT",
            OpCode::MultiRead => "MLTR",
            OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => {
                "CREA"
            }
            OpCode::Delete | OpCode::DeleteContainer => "DELE",
            OpCode::SetData => "SETD",
            OpCode::Reconfig => "RECO",
            OpCode::SetAcl => "SETA",
            OpCode::CloseSession => "CLOS",
            OpCode::Sync => "SYNC",
            OpCode::Check => "CHEC",
            OpCode::Exists => "EXIS",
            OpCode::GetData => "GETD",
            OpCode::SetWatches => "SETW",
            OpCode::SetWatches2 => "STW2",
            OpCode::AddWatch => "ADDW",
            OpCode::GetAcl => "GETA",
            OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
            OpCode::GetAllChildrenNumber => "GETACN",
            OpCode::CheckWatches => "CHKW",
            OpCode::RemoveWatches => "REMW",
            OpCode::WhoAmI => "HOMI",
            OpCode::GetEphemerals => "GETE",
            _ => "NA",
        };
        for op in OpCode::ALL {
            assert_eq!(op_name(*op), expected(*op), "{op:?}");
            assert_eq!(OP_NAMES[op_index(*op)], expected(*op), "{op:?}");
        }
    }
}
