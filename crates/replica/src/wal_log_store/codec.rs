//! The bytes [`super::WalLogStore`] puts in rzk-wal: one record payload per
//! raft entry, one meta value per vote and purge point.
//!
//! Every payload is a one-byte format version followed by the postcard
//! encoding of the value. postcard is not self-describing: bytes written by a
//! later layout would decode into a wrong value rather than fail, so the
//! version byte is what lets a future format be told apart (and refused by
//! this one) instead of misread. Decoding never panics; any failure is an
//! error carrying what was being decoded.

use openraft::alias::VoteOf;
use serde::de::DeserializeOwned;
use serde::Serialize;

use openraft::EntryPayload;

use crate::types::{LogId, RaftEntry, Request, TypeConfig};

/// The version byte of every payload this module writes (2: members carry
/// their ZooKeeper spec, `crate::membership::Member`).
pub const FORMAT_VERSION: u8 = 2;

/// Why bytes could not be encoded or decoded, in words for an operator.
pub type CodecError = String;

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    // Room for a typical entry (a write with a small value, its origin and
    // log id), so the buffer does not regrow from one byte per entry.
    let mut out = Vec::with_capacity(256);
    out.push(FORMAT_VERSION);
    postcard::to_extend(value, out).map_err(|e| format!("postcard encode: {e}"))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let Some((&version, body)) = bytes.split_first() else {
        return Err("empty payload (no format version byte)".to_string());
    };
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version} is not supported (this build reads version {FORMAT_VERSION})"
        ));
    }
    let (value, rest) =
        postcard::take_from_bytes(body).map_err(|e| format!("postcard decode: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes left over after the value: not a payload this store wrote",
            rest.len()
        ));
    }
    Ok(value)
}

pub fn encode_entry(entry: &RaftEntry) -> Result<Vec<u8>, CodecError> {
    match &entry.payload {
        EntryPayload::Normal(request) => Ok(encode_normal(&entry.log_id, request)),
        EntryPayload::Blank | EntryPayload::Membership(_) => encode(entry),
    }
}

/// postcard's variant index of `EntryPayload::Normal` (declared second).
const NORMAL_VARIANT: u64 = 1;

/// Room for a typical client write's entry: the txn with a small value and
/// a dozen bytes of log id, time and origin.
const ENTRY_BYTES_TYPICAL: usize = 256;

/// A client write's entry, byte for byte what postcard writes for it (a
/// test holds the two equal, so `decode_entry` reads either), built without
/// serde: postcard took the txn as a byte string, which meant encoding it
/// into a buffer of its own and copying that in, about 600 instructions of
/// the 1,100 this took per write. Every write passes here once.
fn encode_normal(log_id: &LogId, request: &Request) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENTRY_BYTES_TYPICAL);
    out.push(FORMAT_VERSION);
    put_varint(&mut out, log_id.leader_id.term);
    put_varint(&mut out, log_id.index);
    put_varint(&mut out, NORMAL_VARIANT);
    put_varint(&mut out, zigzag(request.time_ms));
    match request.origin {
        None => out.push(0),
        Some(origin) => {
            out.push(1);
            put_varint(&mut out, origin.node_id);
            put_varint(&mut out, origin.incarnation);
            put_varint(&mut out, origin.seq);
        }
    }
    // A byte string is its length, then the bytes. The length is known once
    // the txn is written: one byte is kept for it, and the rare txn of 128
    // bytes or more moves over to make room for a longer varint.
    let length_at = out.len();
    out.push(0);
    request.txn.encode(&mut out);
    let (length, length_bytes) = varint((out.len() - length_at - 1) as u64);
    if length_bytes == 1 {
        out[length_at] = length[0];
    } else {
        out.splice(
            length_at..=length_at,
            length[..length_bytes].iter().copied(),
        );
    }
    out
}

/// A u64 in LEB128 takes at most this many bytes.
const VARINT_MAX_BYTES: usize = 10;

/// postcard's varint: seven bits a byte, low bits first, the high bit set
/// on every byte but the last. The bytes and how many of them are used.
fn varint(mut value: u64) -> ([u8; VARINT_MAX_BYTES], usize) {
    let mut bytes = [0u8; VARINT_MAX_BYTES];
    let mut used = 0;
    while value >= 0x80 {
        bytes[used] = (value as u8) | 0x80;
        value >>= 7;
        used += 1;
    }
    bytes[used] = value as u8;
    (bytes, used + 1)
}

/// [`varint`] straight onto `out` (the common one-byte case is one push).
#[inline]
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// postcard's signed integers: zigzag, so small negative numbers stay short.
fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub fn decode_entry(bytes: &[u8]) -> Result<RaftEntry, CodecError> {
    decode(bytes)
}

pub fn encode_vote(vote: &VoteOf<TypeConfig>) -> Result<Vec<u8>, CodecError> {
    encode(vote)
}

pub fn decode_vote(bytes: &[u8]) -> Result<VoteOf<TypeConfig>, CodecError> {
    decode(bytes)
}

pub fn encode_log_id(log_id: &LogId) -> Result<Vec<u8>, CodecError> {
    encode(log_id)
}

pub fn decode_log_id(bytes: &[u8]) -> Result<LogId, CodecError> {
    decode(bytes)
}

/// The term a WAL record carries for `log_id`: rzk uses openraft's standard
/// leader id, whose committed form is the term alone.
pub fn term_of(log_id: &LogId) -> u64 {
    log_id.leader_id.term
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Origin, Request};
    use openraft::alias::CommittedLeaderIdOf;
    use openraft::{Entry, EntryPayload};
    use rzk_state::Txn;

    fn log_id(term: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderIdOf::<TypeConfig>::new(term), index)
    }

    fn entry() -> RaftEntry {
        Entry {
            log_id: log_id(3, 17),
            payload: EntryPayload::Normal(Request {
                time_ms: 1_700_000_000_000,
                origin: Some(Origin {
                    node_id: 2,
                    incarnation: 9,
                    seq: 4,
                }),
                txn: Box::new(Txn::CloseSession { session_id: 5 }),
            }),
        }
    }

    #[test]
    fn entries_round_trip_and_damage_is_an_error_not_a_panic() {
        let bytes = encode_entry(&entry()).expect("encode");
        assert_eq!(bytes[0], FORMAT_VERSION);
        let back = decode_entry(&bytes).expect("decode");
        assert_eq!(back.log_id, log_id(3, 17));
        assert_eq!(
            format!("{:?}", back.payload),
            format!("{:?}", entry().payload)
        );
        // Every truncation and a wrong version byte are refused.
        for len in 0..bytes.len() {
            assert!(
                decode_entry(&bytes[..len]).is_err(),
                "cut at {len} accepted"
            );
        }
        let mut other_version = bytes.clone();
        other_version[0] = FORMAT_VERSION + 1;
        assert!(decode_entry(&other_version)
            .expect_err("version")
            .contains("version"));
        let mut trailing = bytes;
        trailing.push(0);
        assert!(decode_entry(&trailing).is_err());
    }

    fn write_entry(
        term: u64,
        index: u64,
        time_ms: i64,
        origin: Option<Origin>,
        value_bytes: usize,
    ) -> RaftEntry {
        use rzk_proto::records::SetDataRequest;
        use rzk_proto::Id;
        use rzk_state::WriteOp;
        Entry {
            log_id: log_id(term, index),
            payload: EntryPayload::Normal(Request {
                time_ms,
                origin,
                txn: Box::new(Txn::Write {
                    session_id: 0x1234_5678_9abc,
                    auth: vec![Id::new("ip", "127.0.0.1")].into(),
                    op: WriteOp::SetData(SetDataRequest {
                        path: "/bench/key-0000000042".to_string(),
                        data: (0..value_bytes).map(|i| i as u8).collect(),
                        version: -1,
                    }),
                }),
            }),
        }
    }

    /// The hand-built encoding of a client write is postcard's, so either
    /// reads back through `decode_entry`: across varint widths of every
    /// field (terms, indexes and times at their boundaries, negative times,
    /// with and without an origin) and txn lengths either side of the
    /// one-byte length prefix.
    #[test]
    fn a_write_is_encoded_as_postcard_encodes_it() {
        let origins = [
            None,
            Some(Origin {
                node_id: 1,
                incarnation: 0,
                seq: 0,
            }),
            Some(Origin {
                node_id: u64::MAX,
                incarnation: 1 << 40,
                seq: 127,
            }),
        ];
        let numbers = [0u64, 1, 127, 128, 16_383, 16_384, 1 << 35, u64::MAX];
        let times = [0i64, -1, 63, 64, -65, 1_700_000_000_000, i64::MIN, i64::MAX];
        let mut cases = 0;
        for (i, &number) in numbers.iter().enumerate() {
            for origin in origins {
                for value_bytes in [0usize, 40, 60, 100, 200, 20_000] {
                    let time_ms = times[(i + value_bytes) % times.len()];
                    let entry = write_entry(number, number / 3, time_ms, origin, value_bytes);
                    let by_hand = encode_entry(&entry).expect("encode");
                    let by_serde = encode(&entry).expect("postcard");
                    assert_eq!(by_hand, by_serde, "term {number} value {value_bytes}");
                    let back = decode_entry(&by_hand).expect("decode");
                    assert_eq!(back.log_id, entry.log_id);
                    assert_eq!(
                        format!("{:?}", back.payload),
                        format!("{:?}", entry.payload)
                    );
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, numbers.len() * origins.len() * 6);
    }

    #[test]
    fn varints_are_leb128() {
        assert_eq!(varint(0), ([0; 10], 1));
        let (bytes, used) = varint(300);
        assert_eq!(&bytes[..used], &[0xac, 0x02]);
        let (bytes, used) = varint(u64::MAX);
        assert_eq!(used, VARINT_MAX_BYTES);
        assert_eq!(bytes[9], 0x01);
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
    }

    #[test]
    fn vote_and_log_id_round_trip() {
        let vote = VoteOf::<TypeConfig>::new_committed(7, 3);
        let back = decode_vote(&encode_vote(&vote).expect("encode")).expect("decode");
        assert_eq!(back, vote);
        let id = log_id(4, 100);
        assert_eq!(
            decode_log_id(&encode_log_id(&id).expect("encode")).expect("decode"),
            id
        );
        assert_eq!(term_of(&id), 4);
    }
}
