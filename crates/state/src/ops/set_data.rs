//! setData. The parent is not touched (its cversion and pzxid stay).
//! Order of checks: session, path syntax, NoNode, WRITE, quota, version.

use rzk_proto::records::SetDataRequest;
use rzk_proto::{ErrorCode, Perms, Stat};

use super::{check_version, Ctx};
use crate::path::validate_path;
use crate::tree::DataTree;

pub(crate) fn apply(
    tree: &mut DataTree,
    ctx: &Ctx<'_>,
    req: &SetDataRequest,
) -> Result<Stat, ErrorCode> {
    ctx.check_session(tree)?;
    validate_path(&req.path, false)?;
    let slot = tree.nodes.slot_of(&req.path).ok_or(ErrorCode::NoNode)?;
    let node = tree.nodes.node_at(slot).ok_or(ErrorCode::NoNode)?;
    tree.check_perm(&node.acl, Perms::WRITE, ctx.auth)?;
    let (old_len, current_version) = (node.data().len(), node.version());
    // Quota checks look up other nodes but move none: the slot stays valid.
    tree.check_quota(&req.path, Some(old_len), req.data.len())?;
    let version = check_version(current_version, req.version)?;
    Ok(tree.set_node_data_at(slot, &req.path, &req.data, version, ctx.zxid, ctx.time_ms))
}
