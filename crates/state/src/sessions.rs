//! The session table and each session's ephemeral nodes.
//!
//! Both are replicated state: a session exists from its CreateSession entry to
//! its CloseSession/ExpireSession entry, and its ephemerals are deleted by that
//! same entry. BTreeMaps keep every iteration in id/path order, so replicas
//! delete ephemerals (and fire watches) in the same order.

use std::collections::{BTreeMap, BTreeSet};

use crate::tree::SessionInfo;

#[derive(Debug, Clone, Default)]
pub struct SessionTable {
    live: BTreeMap<i64, SessionInfo>,
    /// Session id -> paths of its ephemerals. Sessions without ephemerals have
    /// no entry.
    ephemerals: BTreeMap<i64, BTreeSet<Box<str>>>,
    ephemeral_count: usize,
}

impl SessionTable {
    pub fn insert(&mut self, info: SessionInfo) {
        self.live.insert(info.session_id, info);
    }

    pub fn remove(&mut self, session_id: i64) -> Option<SessionInfo> {
        self.live.remove(&session_id)
    }

    pub fn get(&self, session_id: i64) -> Option<&SessionInfo> {
        self.live.get(&session_id)
    }

    pub fn is_live(&self, session_id: i64) -> bool {
        self.live.contains_key(&session_id)
    }

    pub fn all(&self) -> impl Iterator<Item = &SessionInfo> {
        self.live.values()
    }

    pub fn add_ephemeral(&mut self, session_id: i64, path: &str) {
        if self
            .ephemerals
            .entry(session_id)
            .or_default()
            .insert(path.into())
        {
            self.ephemeral_count += 1;
        }
    }

    pub fn remove_ephemeral(&mut self, session_id: i64, path: &str) {
        if let Some(set) = self.ephemerals.get_mut(&session_id) {
            if set.remove(path) {
                self.ephemeral_count -= 1;
            }
            if set.is_empty() {
                self.ephemerals.remove(&session_id);
            }
        }
    }

    /// The session's ephemeral paths, sorted.
    pub fn ephemerals_of(&self, session_id: i64) -> impl Iterator<Item = &str> {
        self.ephemerals
            .get(&session_id)
            .into_iter()
            .flat_map(|set| set.iter().map(|p| &**p))
    }

    pub fn ephemerals_by_session(&self) -> impl Iterator<Item = (i64, &BTreeSet<Box<str>>)> {
        self.ephemerals.iter().map(|(id, set)| (*id, set))
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemeral_count
    }
}
