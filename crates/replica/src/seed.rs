//! Seeding a data directory with a snapshot made elsewhere (`rzk import`):
//! the raft metadata such a snapshot needs, built here so that nothing
//! outside this crate has to know openraft's types.
//!
//! Why a snapshot at a chosen index and no log: rzk's zxid is the raft log
//! index (`types::zxid_of`), so an imported tree must sit at an index at or
//! above the last zxid its clients have seen (ZooKeeper's, which carry the
//! epoch in their high 32 bits) for new zxids to keep increasing and for
//! those clients' `lastZxidSeen` to be accepted. A server starting with this
//! snapshot and an empty log restores the tree, takes the membership from
//! the snapshot (so `initialize` finds it already initialised and does
//! nothing) and appends its first entry at `index + 1`.
//!
//! The log id's term is 0, the term openraft gives the initial membership
//! entry of a fresh log: no leader has been elected over this history yet,
//! and the first election is term 1.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;

use openraft::alias::{CommittedLeaderIdOf, SnapshotMetaOf};
use openraft::{Membership, SnapshotMeta, StoredMembership};

use crate::membership::Member;
use crate::snapshot_store::SnapshotStore;
use crate::types::{LogId, NodeId, TypeConfig};

/// The metadata of a snapshot covering log index `index`, with `voters` as
/// the ensemble (all voters, as `Replica::initialize` makes them).
pub fn seed_meta(
    index: u64,
    voters: BTreeMap<NodeId, Member>,
) -> io::Result<SnapshotMetaOf<TypeConfig>> {
    let ids: BTreeSet<NodeId> = voters.keys().copied().collect();
    if ids.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a seeded snapshot needs at least one voter",
        ));
    }
    let membership = Membership::new(vec![ids], voters)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let log_id = LogId::new(CommittedLeaderIdOf::<TypeConfig>::new(0), index);
    Ok(SnapshotMeta {
        last_log_id: Some(log_id),
        last_membership: StoredMembership::new(Some(log_id), membership),
    })
}

/// Writes `state` (the state crate's snapshot bytes) as the snapshot at
/// `index` in the snapshot directory `dir`, durably. Returns the file.
pub fn write_seed_snapshot(
    dir: impl Into<PathBuf>,
    index: u64,
    voters: BTreeMap<NodeId, Member>,
    state: &[u8],
) -> io::Result<PathBuf> {
    let store = SnapshotStore::open(dir)?;
    let meta = seed_meta(index, voters)?;
    store.save(&meta, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_snapshot_loads_back_at_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let voters = BTreeMap::from([(0, Member::at(""))]);
        let path = write_seed_snapshot(dir.path(), 1 << 33, voters, b"state").unwrap();
        assert!(path.ends_with("snapshot.00000000008589934592"));
        let loaded = SnapshotStore::open(dir.path())
            .unwrap()
            .load_newest()
            .unwrap()
            .unwrap();
        assert_eq!(loaded.index(), Some(1 << 33));
        assert_eq!(&*loaded.bytes, b"state");
        assert!(seed_meta(1, BTreeMap::new()).is_err());
    }
}
