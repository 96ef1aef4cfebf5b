//! create, create2, createContainer, createTTL (PrepRequestProcessor's
//! `pRequest2TxnCreate`, then `DataTree.createNode`).
//!
//! What kind of node is made follows the *opcode*, as in ZooKeeper, whose
//! transaction type is chosen by opcode: createContainer always makes a
//! container and createTTL a TTL node, while create/create2 with the
//! container flag make a plain persistent node. The flags decide
//! sequential/ephemeral and which TTL checks apply.

use rzk_proto::request::CreateOp;
use rzk_proto::{CreateMode, ErrorCode, OpCode, Perms, Response, Stat};

use super::Ctx;
use crate::acl;
use crate::ephemeral::{self, EphemeralKind, CONTAINER_OWNER};
use crate::path::{self, validate_path};
use crate::tree::DataTree;

/// A sequential node's suffix: ten digits, or a sign and nine.
const SEQUENCE_SUFFIX_BYTES: usize = 10;

/// A successful create: the final path (with any sequential suffix) and Stat.
pub(crate) struct Created {
    pub op: OpCode,
    pub path: String,
    pub stat: Stat,
}

impl Created {
    /// create answers the path; create2, createContainer and createTTL the
    /// path and the Stat.
    pub fn response(self) -> Response {
        if self.op == OpCode::Create {
            Response::Create { path: self.path }
        } else {
            Response::Create2 {
                path: self.path,
                stat: self.stat,
            }
        }
    }
}

pub(crate) fn apply(
    tree: &mut DataTree,
    ctx: &Ctx<'_>,
    op: OpCode,
    req: &CreateOp,
) -> Result<Created, ErrorCode> {
    let mode = CreateMode::from_code(req.flags).ok_or(ErrorCode::BadArguments)?;
    // Only createTTL carries a ttl; ZooKeeper uses -1 for the others.
    let ttl = if op == OpCode::CreateTtl { req.ttl } else { -1 };

    // validateCreateRequest
    if mode.is_ttl() && !tree.config.extended_types_enabled {
        return Err(ErrorCode::Unimplemented);
    }
    if mode.is_ttl() {
        ephemeral::ttl_owner(ttl).ok_or(ErrorCode::BadArguments)?;
    } else if ttl >= 0 {
        return Err(ErrorCode::BadArguments);
    }
    ctx.check_session(tree)?;

    // validatePathForCreate: only "has a slash, has no NUL" so far.
    let (parent_path, _) = path::split_last(&req.path).ok_or(ErrorCode::BadArguments)?;
    if req.path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let acl = acl::fixup(&req.acl, ctx.auth)?;
    let parent = tree.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
    tree.check_perm(&parent.acl, Perms::CREATE, ctx.auth)?;

    // Sized for the suffix up front: a clone then a push reallocated, and
    // `format!` built the suffix in a string of its own.
    let mut path = String::with_capacity(req.path.len() + SEQUENCE_SUFFIX_BYTES);
    path.push_str(&req.path);
    if mode.is_sequential() {
        // The parent's stored cversion (children ever created), before this
        // create, as Java's `%010d` writes it (a sign counts in the width).
        use std::fmt::Write;
        let _ = write!(path, "{:010}", parent.cversion());
    }
    validate_path(&path, false)?;
    if tree.lookup(&path).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if matches!(parent.kind(tree.extended()), EphemeralKind::Session(_)) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    tree.check_quota(&path, None, req.data.len())?;

    let owner = match op {
        OpCode::CreateContainer => CONTAINER_OWNER,
        // createTTL with a non-TTL mode and a negative ttl makes ZooKeeper
        // fail while applying the transaction; answer BadArguments instead.
        OpCode::CreateTtl => ephemeral::ttl_owner(ttl).ok_or(ErrorCode::BadArguments)?,
        _ if mode.is_ephemeral() => ctx.session_id,
        _ => 0,
    };
    let stat = tree.create_node(&path, &req.data, &acl, owner, ctx.zxid, ctx.time_ms);
    Ok(Created { op, path, stat })
}
