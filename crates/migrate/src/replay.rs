//! Applying ZooKeeper transactions to the snapshot's tree, as
//! `FileTxnSnapLog.processTransaction` and `DataTree.processTxn` do when
//! ZooKeeper itself starts: sessions come and go with createSession and
//! closeSession; every other failure (NoNode, NodeExists: the fuzzy
//! snapshot already held the change) is ignored, after the one fix-up
//! ZooKeeper makes for a create that met an existing node.

use std::sync::Arc;

use rzk_proto::OpCode;

use crate::zk_tree::{split, Refused, ZkTree};
use crate::zk_txn::{CreateOwner, Txn, TxnHeader};

/// Applies one logged transaction.
pub fn apply(tree: &mut ZkTree, header: &TxnHeader, txn: &Txn) {
    match txn {
        Txn::CreateSession { timeout_ms } => {
            tree.sessions.insert(header.client_id, *timeout_ms);
        }
        Txn::CloseSession { paths } => {
            tree.sessions.remove(&header.client_id);
            tree.kill_session(header.client_id, header.zxid, paths);
        }
        _ => apply_op(tree, header, header.op, txn),
    }
}

/// One tree change of type `op` (a whole transaction or a multi's part,
/// which shares the multi's header).
fn apply_op(tree: &mut ZkTree, header: &TxnHeader, op: i32, txn: &Txn) {
    let zxid = header.zxid;
    match txn {
        Txn::Create {
            path,
            data,
            acl,
            owner,
            parent_cversion,
        } => {
            let owner = match owner {
                CreateOwner::Ephemeral(true) => header.client_id,
                CreateOwner::Ephemeral(false) => 0,
                CreateOwner::Encoded(o) => *o,
            };
            let created = tree.create(
                path,
                data.clone(),
                Arc::from(acl.as_slice()),
                owner,
                *parent_cversion,
                zxid,
                header.time,
            );
            // ZooKeeper's fix-up (processTxn, for plain create only): a node
            // re-created by another session after the snapshot serialised its
            // parent exists already, yet the parent must still show this
            // create's cversion and zxid.
            if created == Err(Refused::NodeExists) && op == OpCode::Create.code() {
                let (parent, _) = split(path);
                tree.set_cversion_pzxid(parent, *parent_cversion, zxid);
            }
        }
        Txn::Delete { path } => {
            let _ = tree.delete(path, zxid);
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            let _ = tree.set_data(path, data.clone(), *version, zxid, header.time);
        }
        Txn::SetAcl { path, acl, version } => {
            let _ = tree.set_acl(path, Arc::from(acl.as_slice()), *version);
        }
        Txn::Multi(parts) => {
            // A multi with an error part changed nothing: ZooKeeper turns
            // every other part into an error too.
            let failed = parts
                .iter()
                .any(|(part_op, _)| *part_op == OpCode::Error.code());
            if failed {
                return;
            }
            for (part_op, part) in parts {
                apply_op(tree, header, *part_op, part);
            }
        }
        Txn::Error { .. } | Txn::Check | Txn::CreateSession { .. } | Txn::CloseSession { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::Acl;

    fn header(op: OpCode, zxid: i64) -> TxnHeader {
        TxnHeader {
            client_id: 0x99,
            cxid: 0,
            zxid,
            time: 1000 + zxid,
            op: op.code(),
        }
    }

    fn create(path: &str, ephemeral: bool, parent_cversion: i32) -> Txn {
        Txn::Create {
            path: path.into(),
            data: Vec::new(),
            acl: Acl::open_unsafe(),
            owner: CreateOwner::Ephemeral(ephemeral),
            parent_cversion,
        }
    }

    #[test]
    fn sessions_multis_and_the_create_fixup() {
        let mut t = ZkTree::fresh();
        apply(
            &mut t,
            &header(OpCode::CreateSession, 1),
            &Txn::CreateSession { timeout_ms: 5000 },
        );
        apply(&mut t, &header(OpCode::Create, 2), &create("/e", true, 1));
        assert_eq!(t.nodes["/e"].stat.ephemeral_owner, 0x99);
        // Replayed again over a tree that holds it: the parent keeps the
        // higher cversion and takes a higher one with its zxid.
        apply(&mut t, &header(OpCode::Create, 3), &create("/e", false, 5));
        assert_eq!(t.nodes[""].stat.cversion, 5);
        assert_eq!(t.nodes[""].stat.pzxid, 3);
        let failed = Txn::Multi(vec![
            (OpCode::Create.code(), create("/m", false, 6)),
            (OpCode::Error.code(), Txn::Error { err: -101 }),
        ]);
        apply(&mut t, &header(OpCode::Multi, 4), &failed);
        assert!(!t.nodes.contains_key("/m"));
        let ok = Txn::Multi(vec![(OpCode::Create.code(), create("/m", false, 6))]);
        apply(&mut t, &header(OpCode::Multi, 5), &ok);
        assert!(t.nodes.contains_key("/m"));
        apply(
            &mut t,
            &header(OpCode::CloseSession, 6),
            &Txn::CloseSession { paths: vec![] },
        );
        assert!(!t.nodes.contains_key("/e"));
        assert!(t.sessions.is_empty());
    }
}
