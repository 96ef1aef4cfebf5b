//! deleteContainer, proposed by the container/TTL reaper. The node is deleted
//! only if it is still deletable when the entry is applied (it may have
//! gained a child, been touched, or been replaced since it was proposed);
//! otherwise the entry is a no-op. Nobody waits for the reply.

use rzk_proto::Response;

use crate::entry::Reply;
use crate::tree::DataTree;

pub(crate) fn delete(tree: &mut DataTree, path: &str, zxid: i64, time_ms: i64) -> Reply {
    if tree.is_deletable(path, time_ms) {
        tree.delete_node(path, zxid);
    }
    Reply::ok(Response::Empty)
}
