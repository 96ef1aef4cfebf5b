//! multi: all-or-nothing.
//!
//! Each op is validated against the tree as changed by the ops before it (the
//! changes are made for real and recorded in the undo log, which gives the
//! same view as ZooKeeper's pending-change records). On the first failure the
//! log is rolled back and the results are: earlier ops `Error(Ok)`, the
//! failing op `Error(code)`, later ops `Error(RuntimeInconsistency)`.
//!
//! The reply header of a multi is OK even when an op failed: ZooKeeper's
//! FinalRequestProcessor never copies the first error into the header for a
//! multi (clients find it in the results).
//!
//! How ZooKeeper deserializes a multi matters for create ops: the opcode in
//! each op header is not kept, the op is rebuilt from its flags
//! (`Op.create(path, data, acl, flags)`): a container flag makes a
//! createContainer, TTL flags make a createTTL (only if the header said
//! createTTL, since only then was a ttl read; otherwise ZooKeeper fails the
//! whole request with MarshallingError), anything else a plain create whose
//! result carries no Stat, even when the client sent create2.

use rzk_proto::request::MultiOp;
use rzk_proto::{CreateMode, ErrorCode, MultiResult, OpCode, Response};

use super::{check, create, delete, set_data, Ctx};
use crate::entry::Reply;
use crate::tree::DataTree;

pub(crate) fn apply(tree: &mut DataTree, ctx: &Ctx<'_>, ops: &[MultiOp]) -> Reply {
    let mut results = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match apply_one(tree, ctx, op) {
            Ok(result) => results.push(result),
            Err(Failure::Op(err)) => {
                tree.rollback();
                let mut results: Vec<MultiResult> = Vec::with_capacity(ops.len());
                results.extend((0..i).map(|_| MultiResult::Error(ErrorCode::Ok)));
                results.push(MultiResult::Error(err));
                results.extend(
                    (i + 1..ops.len()).map(|_| MultiResult::Error(ErrorCode::RuntimeInconsistency)),
                );
                return Reply::ok(Response::Multi(results));
            }
            Err(Failure::Request(err)) => {
                tree.rollback();
                return Reply::error(err);
            }
        }
    }
    Reply::ok(Response::Multi(results))
}

enum Failure {
    /// This op fails; the multi answers per-op results.
    Op(ErrorCode),
    /// The whole request fails with this code in the reply header.
    Request(ErrorCode),
}

fn apply_one(tree: &mut DataTree, ctx: &Ctx<'_>, op: &MultiOp) -> Result<MultiResult, Failure> {
    let result = match op {
        MultiOp::Create { op, create } => {
            let effective = effective_create_op(*op, create.flags)
                .ok_or(Failure::Request(ErrorCode::MarshallingError))?;
            let mut req = create.clone();
            if effective != OpCode::CreateTtl {
                req.ttl = -1;
            }
            let done = create::apply(tree, ctx, effective, &req).map_err(Failure::Op)?;
            if effective == OpCode::Create {
                MultiResult::Create { path: done.path }
            } else {
                MultiResult::Create2 {
                    path: done.path,
                    stat: done.stat,
                }
            }
        }
        MultiOp::Delete(req) => {
            delete::apply(tree, ctx, req).map_err(Failure::Op)?;
            MultiResult::Delete
        }
        MultiOp::SetData(req) => MultiResult::SetData {
            stat: set_data::apply(tree, ctx, req).map_err(Failure::Op)?,
        },
        MultiOp::Check(req) => {
            check::apply(tree, ctx, req).map_err(Failure::Op)?;
            MultiResult::Check
        }
    };
    Ok(result)
}

/// The opcode ZooKeeper gives a create inside a multi (see the module doc).
/// `None` where ZooKeeper fails the whole multi with MarshallingError.
fn effective_create_op(header_op: OpCode, flags: i32) -> Option<OpCode> {
    let mode = CreateMode::from_code(flags).unwrap_or(CreateMode::Persistent);
    if mode.is_ttl() {
        return (header_op == OpCode::CreateTtl).then_some(OpCode::CreateTtl);
    }
    Some(if mode.is_container() {
        OpCode::CreateContainer
    } else {
        OpCode::Create
    })
}
