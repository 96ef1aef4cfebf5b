//! Keeping quota usage current, and checking quota limits before a write.
//!
//! The usage update is `DataTree.updateQuotaStat` / `updateQuotaForPath`: the
//! `zookeeper_stats` node's data is rewritten in place (Stat untouched, no
//! watch). The check is `ZooKeeperServer.checkQuota`, which only runs when
//! `enforce_quota` is set, reads the committed limits and usage, and logs
//! "Quota exceeded" for soft limits (a warning here) while hard limits reject.

use rzk_proto::ErrorCode;

use super::Undo;
use crate::path::{java_substring_from, PROC_ZOOKEEPER, QUOTA_ZOOKEEPER};
use crate::quota::{limit_path, stat_path, StatsTrack, LIMIT_NODE, STAT_NODE};
use crate::tree::DataTree;

/// Length of `/zookeeper/quota` in UTF-16 units (`Quotas.trimQuotaPath`).
const QUOTA_PREFIX_LEN: usize = QUOTA_ZOOKEEPER.len();

impl DataTree {
    /// After `createNode` of `path` (child `name` of `parent`): a new limits
    /// node makes its path a quota root; a new stats node gets the current
    /// usage of its root; and the usage of the quota root above `path` grows.
    pub(super) fn quota_after_create(
        &mut self,
        parent: &str,
        name: &str,
        path: &str,
        data_len: i64,
    ) {
        if let Some(root) = parent.strip_prefix(QUOTA_ZOOKEEPER) {
            if name == LIMIT_NODE && !root.is_empty() {
                self.undo.push(Undo::Quotas(Box::new(self.quotas.clone())));
                self.quotas.add(root);
            }
            if name == STAT_NODE {
                self.recompute_quota_usage(root);
            }
        }
        if let Some(prefix) = self.quotas.max_prefix(path) {
            self.add_quota_usage(&prefix, data_len, 1);
        }
    }

    /// After `deleteNode`: deleting a limits node drops that quota root (and,
    /// as ZooKeeper's trie does, every root below it), then the usage of the
    /// quota root above `path` shrinks.
    pub(super) fn quota_after_delete(
        &mut self,
        parent: &str,
        name: &str,
        path: &str,
        data_len: i64,
    ) {
        if name == LIMIT_NODE && parent.starts_with(PROC_ZOOKEEPER) {
            // ZooKeeper cuts the first 16 characters whatever the parent is;
            // where that would throw, nothing happens here.
            if let Some(root) = java_substring_from(parent, QUOTA_PREFIX_LEN) {
                if !root.is_empty() {
                    self.undo.push(Undo::Quotas(Box::new(self.quotas.clone())));
                    self.quotas.delete(root);
                }
            }
        }
        if let Some(prefix) = self.quotas.max_prefix(path) {
            self.add_quota_usage(&prefix, -data_len, -1);
        }
    }

    pub(super) fn quota_after_set_data(&mut self, path: &str, bytes_diff: i64) {
        if let Some(prefix) = self.quotas.max_prefix(path) {
            self.add_quota_usage(&prefix, bytes_diff, 0);
        }
    }

    /// `updateQuotaStat`.
    fn add_quota_usage(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_path = stat_path(prefix);
        let Some(node) = self.nodes.get(stat_path.as_str()) else {
            return;
        };
        let Some(mut usage) = StatsTrack::parse(node.data()) else {
            return; // ZooKeeper would throw while applying; leave it as is
        };
        usage.set_count(usage.count().wrapping_add(count_diff));
        usage.set_bytes(usage.bytes().wrapping_add(bytes_diff));
        self.rewrite_quota_node(&stat_path, usage.to_text().into_bytes());
    }

    /// `updateQuotaForPath`: usage = this node and all its descendants (count
    /// and data bytes), written as a fresh `count=..,bytes=..`.
    fn recompute_quota_usage(&mut self, root: &str) {
        let (count, bytes) = if self.lookup(root).is_some() {
            self.subtree_usage(DataTree::key(root))
        } else {
            (0, 0)
        };
        let mut usage = StatsTrack::default();
        usage.set_count(count);
        usage.set_bytes(bytes);
        let stat_path = stat_path(root);
        self.rewrite_quota_node(&stat_path, usage.to_text().into_bytes());
    }

    /// Node count and data bytes of the subtree at `path` (itself included).
    fn subtree_usage(&self, path: &str) -> (i64, i64) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let Some(top) = self.nodes.get(path) else {
            return (0, 0);
        };
        let mut visit = |n: &crate::node::Node, stack: &mut Vec<u32>| {
            count += 1;
            bytes += n.data().len() as i64;
            stack.extend(n.children().slots());
        };
        let mut stack = Vec::new();
        visit(top, &mut stack);
        while let Some(slot) = stack.pop() {
            if let Some(n) = self.nodes.node_at(slot) {
                visit(n, &mut stack);
            }
        }
        (count, bytes)
    }

    /// Replaces a quota node's data without touching its Stat.
    fn rewrite_quota_node(&mut self, path: &str, data: Vec<u8>) {
        self.before_change(path);
        let Some(node) = self.nodes.get_mut(path) else {
            return;
        };
        let stat = node.stat();
        let old = node.replace_data(&data, stat);
        self.data_size =
            (self.data_size + data.len() as u64).saturating_sub(old.data().len() as u64);
        self.undo.push(Undo::Data {
            path: path.into(),
            data: old,
            stat,
        });
    }

    /// `ZooKeeperServer.checkQuota` for a create (`old_len` None, count +1) or
    /// a setData (`old_len` Some, count +0) of `path` with `new_len` bytes.
    pub(crate) fn check_quota(
        &mut self,
        path: &str,
        old_len: Option<usize>,
        new_len: usize,
    ) -> Result<(), ErrorCode> {
        if !self.config.enforce_quota {
            return Ok(());
        }
        let Some(prefix) = self.committed_quotas().max_prefix(path) else {
            return Ok(());
        };
        let (count_diff, bytes_diff) = match old_len {
            None => (1i64, new_len as i64),
            Some(old) => (0i64, new_len as i64 - old as i64),
        };
        let Some(limits) = self.quota_track(&limit_path(&prefix)) else {
            return Ok(());
        };
        let check_count =
            count_diff != 0 && (limits.count() > -1 || limits.count_hard_limit() > -1);
        let check_bytes = bytes_diff != 0 && (limits.bytes() > -1 || limits.byte_hard_limit() > -1);
        if !check_count && !check_bytes {
            return Ok(());
        }
        let Some(usage) = self.quota_track(&stat_path(&prefix)) else {
            return Ok(());
        };
        if check_count {
            let new_count = usage.count().wrapping_add(count_diff);
            let hard = limits.count_hard_limit() > -1;
            let limit = if hard {
                limits.count_hard_limit()
            } else {
                limits.count()
            };
            if new_count > limit {
                self.warnings.push(format!(
                    "Quota exceeded: {prefix} [current count={new_count}, {}CountLimit={limit}]",
                    if hard { "hard" } else { "soft" }
                ));
                if hard {
                    return Err(ErrorCode::QuotaExceeded);
                }
            }
        }
        if check_bytes {
            let new_bytes = usage.bytes().wrapping_add(bytes_diff);
            let hard = limits.byte_hard_limit() > -1;
            let limit = if hard {
                limits.byte_hard_limit()
            } else {
                limits.bytes()
            };
            if new_bytes > limit {
                self.warnings.push(format!(
                    "Quota exceeded: {prefix} [current bytes={new_bytes}, {}ByteLimit={limit}]",
                    if hard { "hard" } else { "soft" }
                ));
                if hard {
                    return Err(ErrorCode::QuotaExceeded);
                }
            }
        }
        Ok(())
    }

    /// The quota roots as of the start of the current entry.
    fn committed_quotas(&self) -> &crate::quota::PathTrie {
        self.undo
            .iter()
            .find_map(|u| match u {
                Undo::Quotas(trie) => Some(&**trie),
                _ => None,
            })
            .unwrap_or(&self.quotas)
    }

    /// A quota node's record as of the start of the current entry: inside a
    /// multi, ZooKeeper checks quotas against the committed tree, not against
    /// the multi's own earlier ops, so the oldest undo record of the node wins.
    fn quota_track(&self, path: &str) -> Option<StatsTrack> {
        let mut committed: Option<Option<&[u8]>> = None;
        for u in &self.undo {
            let found = match u {
                Undo::Data { path: p, data, .. } if &**p == path => Some(Some(data.data())),
                Undo::Deleted { path: p, node } if &**p == path => Some(Some(node.data())),
                Undo::Created { path: p } if &**p == path => Some(None),
                _ => None,
            };
            if found.is_some() {
                committed = found;
                break;
            }
        }
        let data = match committed {
            Some(d) => d?,
            None => self.nodes.get(path)?.data(),
        };
        StatsTrack::parse(data)
    }
}
