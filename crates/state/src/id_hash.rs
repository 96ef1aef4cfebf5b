//! Maps and sets keyed by ids the server hands out itself (session ids,
//! proposal sequence numbers), looked up several times per request.
//!
//! std's default SipHash costs ~140 instructions for an 8-byte key; foldhash
//! (already the node map's hasher) a small fraction of that, and its seed is
//! random per process like std's. The keys here are never chosen by a client
//! before they are inserted, so the weaker flooding resistance does not open
//! a collision attack: a client can only look up an id, not plant one.

use std::collections::{HashMap, HashSet};

/// The hasher of [`IdMap`] and [`IdSet`].
pub type IdHasher = foldhash::fast::RandomState;

/// A `HashMap` with [`IdHasher`]; build it with `IdMap::default()`.
pub type IdMap<K, V> = HashMap<K, V, IdHasher>;

/// A `HashSet` with [`IdHasher`]; build it with `IdSet::default()`.
pub type IdSet<T> = HashSet<T, IdHasher>;
