//! ZooKeeper's `EphemeralType`: what a node's stored `ephemeralOwner` encodes.
//!
//! - 0: a plain persistent node;
//! - `Long.MIN_VALUE`: a container;
//! - with extended types enabled, `0xFF00_0000_0000_0000 | ttl`: a TTL node
//!   (the top byte all ones, the reserved bits 40..56 zero for TTL);
//! - anything else: the id of the session that owns an ephemeral.
//!
//! The encoding is persisted (snapshots carry the stored owner), so it is kept
//! bit-for-bit as ZooKeeper's.

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_OWNER: i64 = i64::MIN;

const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
const RESERVED_BITS_SHIFT: u32 = 40;
const EXTENDED_BIT_TTL: i64 = 0;

/// `EphemeralType.TTL.maxValue()`: 2^40 - 1 ms (about 34 years).
pub const MAX_TTL_MS: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);

/// A decoded `ephemeralOwner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EphemeralKind {
    /// `VOID`: persistent.
    Persistent,
    /// `NORMAL`: an ephemeral of this session.
    Session(i64),
    Container,
    /// A TTL node and its ttl in milliseconds.
    Ttl(i64),
    /// An extended-type owner whose feature bits ZooKeeper does not know (it
    /// would throw); never produced by this state machine.
    Unknown,
}

impl EphemeralKind {
    /// `EphemeralType.get` (without the 3.5.3 emulation, which is off by default).
    pub fn of(owner: i64, extended_types: bool) -> Self {
        if extended_types && owner & EXTENDED_MASK == EXTENDED_MASK {
            let feature = (owner & RESERVED_BITS_MASK) >> RESERVED_BITS_SHIFT;
            return if feature == EXTENDED_BIT_TTL {
                EphemeralKind::Ttl(owner & MAX_TTL_MS)
            } else {
                EphemeralKind::Unknown
            };
        }
        match owner {
            CONTAINER_OWNER => EphemeralKind::Container,
            0 => EphemeralKind::Persistent,
            session => EphemeralKind::Session(session),
        }
    }
}

/// `EphemeralType.TTL.toEphemeralOwner`: `None` where ZooKeeper throws
/// (ttl <= 0 or > `MAX_TTL_MS`).
pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
    (ttl_ms > 0 && ttl_ms <= MAX_TTL_MS).then_some(EXTENDED_MASK | EXTENDED_BIT_TTL | ttl_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_zookeeper() {
        assert_eq!(MAX_TTL_MS, 0x0000_00ff_ffff_ffff);
        assert_eq!(ttl_owner(100), Some(0xff00_0000_0000_0064_u64 as i64));
        assert_eq!(ttl_owner(0), None);
        assert_eq!(ttl_owner(-1), None);
        assert_eq!(ttl_owner(MAX_TTL_MS + 1), None);
        let owner = ttl_owner(5000).unwrap();
        assert_eq!(EphemeralKind::of(owner, true), EphemeralKind::Ttl(5000));
        assert_eq!(
            EphemeralKind::of(owner, false),
            EphemeralKind::Session(owner)
        );
        assert_eq!(
            EphemeralKind::of(CONTAINER_OWNER, true),
            EphemeralKind::Container
        );
        assert_eq!(EphemeralKind::of(0, true), EphemeralKind::Persistent);
        assert_eq!(
            EphemeralKind::of(0x1234, true),
            EphemeralKind::Session(0x1234)
        );
    }
}
