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

use crate::types::{LogId, RaftEntry, TypeConfig};

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
    encode(entry)
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
