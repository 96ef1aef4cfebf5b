//! check (version check, in a multi or on its own). Needs READ.
//! Order of checks: session, path syntax, NoNode, READ, version.
//!
//! On its own (opcode 13 outside a multi, which no mainstream client sends),
//! a successful check answers OK with an empty body. ZooKeeper 3.8.0 instead
//! drops the connection (it tries to serialize a null Stat); failures answer
//! the error code in the header in both.

use rzk_proto::records::CheckVersionRequest;
use rzk_proto::{ErrorCode, Perms};

use super::{check_version, Ctx};
use crate::path::validate_path;
use crate::tree::DataTree;

pub(crate) fn apply(
    tree: &mut DataTree,
    ctx: &Ctx<'_>,
    req: &CheckVersionRequest,
) -> Result<(), ErrorCode> {
    ctx.check_session(tree)?;
    validate_path(&req.path, false)?;
    let node = tree.nodes.get(req.path.as_str()).ok_or(ErrorCode::NoNode)?;
    tree.check_perm(&node.acl, Perms::READ, ctx.auth)?;
    check_version(node.version(), req.version)?;
    Ok(())
}
