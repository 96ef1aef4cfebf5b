//! setACL. Order of checks: session, path syntax, the new ACL (InvalidACL),
//! NoNode, ADMIN, aversion.

use rzk_proto::records::SetAclRequest;
use rzk_proto::{ErrorCode, Perms, Stat};

use super::{check_version, Ctx};
use crate::acl;
use crate::path::validate_path;
use crate::tree::DataTree;

pub(crate) fn apply(
    tree: &mut DataTree,
    ctx: &Ctx<'_>,
    req: &SetAclRequest,
) -> Result<Stat, ErrorCode> {
    ctx.check_session(tree)?;
    validate_path(&req.path, false)?;
    let acl = acl::fixup(&req.acl, ctx.auth)?;
    let node = tree.nodes.get(req.path.as_str()).ok_or(ErrorCode::NoNode)?;
    tree.check_perm(&node.acl, Perms::ADMIN, ctx.auth)?;
    let aversion = check_version(node.aversion(), req.version)?;
    Ok(tree.set_node_acl(&req.path, &acl, aversion))
}
