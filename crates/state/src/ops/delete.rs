//! delete (PrepRequestProcessor's delete case, then `DataTree.deleteNode`).
//!
//! Note the order: the parent is looked up and its DELETE permission checked
//! before the node itself is, and the path is not run through validatePath
//! (only "has a slash, no NUL, not a system node").

use rzk_proto::records::DeleteRequest;
use rzk_proto::{ErrorCode, Perms};

use super::{check_version, Ctx};
use crate::path;
use crate::tree::DataTree;

pub(crate) fn apply(
    tree: &mut DataTree,
    ctx: &Ctx<'_>,
    req: &DeleteRequest,
) -> Result<(), ErrorCode> {
    ctx.check_session(tree)?;
    let parent_path = parent_for_delete(&req.path)?;
    let parent = tree.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
    tree.check_perm(&parent.acl, Perms::DELETE, ctx.auth)?;
    let node = tree.nodes.get(req.path.as_str()).ok_or(ErrorCode::NoNode)?;
    check_version(node.version(), req.version)?;
    if !node.children().is_empty() {
        return Err(ErrorCode::NotEmpty);
    }
    tree.delete_node(&req.path, ctx.zxid);
    Ok(())
}

/// `getParentPathAndValidate`: BadArguments for a path without `/`, with a
/// NUL, or naming one of ZooKeeper's own nodes.
pub(crate) fn parent_for_delete(p: &str) -> Result<&str, ErrorCode> {
    let (parent, _) = path::split_last(p).ok_or(ErrorCode::BadArguments)?;
    if p.contains('\0') || path::is_special(p) {
        return Err(ErrorCode::BadArguments);
    }
    Ok(parent)
}
