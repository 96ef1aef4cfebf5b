//! The on-disk format: segment file names, the segment header and record
//! framing. Pure functions over byte slices; no I/O, so every decoding rule is
//! unit-tested here and recovery (`recovery.rs`) only decides what to do.
//!
//! A segment file is `wal-<first index, 20 digits>.seg`:
//!
//! ```text
//! header (32 bytes): magic "rzk-wal\0" | version u32 | reserved u32 (0)
//!                    | first_index u64 | crc32c of the previous 24 bytes u32
//!                    | reserved u32 (0)
//! record:            payload_len u32 | crc32c u32 | index u64 | term u64 | payload
//! ```
//!
//! All integers are little-endian. A record's checksum covers index, term and
//! payload; the length is covered indirectly (a wrong length makes the
//! checksum run over the wrong bytes). The first index is in both the name
//! (so a directory listing orders segments without opening them) and the
//! header (so a renamed or misplaced file is caught).

use std::ops::Range;

/// The first 8 bytes of every segment file.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"rzk-wal\0";
/// Bumped on any incompatible change to the header or record layout.
pub(crate) const SEGMENT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_BYTES: usize = 32;
/// `payload_len | crc | index | term`.
pub const RECORD_HEADER_BYTES: usize = 24;

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".seg";
const INDEX_DIGITS: usize = 20;

const _: () = assert!(SEGMENT_HEADER_BYTES == 8 + 4 + 4 + 8 + 4 + 4);
const _: () = assert!(RECORD_HEADER_BYTES == 4 + 4 + 8 + 8);
// u64::MAX has 20 decimal digits, so every index fits the fixed-width name
// and names sort in index order.
const _: () = assert!(u64::MAX / 10_u64.pow(INDEX_DIGITS as u32 - 1) >= 1);

/// The file name of the segment whose first record has `first_index`.
pub(crate) fn segment_file_name(first_index: u64) -> String {
    format!(
        "{SEGMENT_PREFIX}{first_index:0width$}{SEGMENT_SUFFIX}",
        width = INDEX_DIGITS
    )
}

/// The first index encoded in a segment file name, or `None` if the name is
/// not a segment's.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != INDEX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn encode_segment_header(first_index: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&first_index.to_le_bytes());
    let crc = crc32c::crc32c(&header[0..24]);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Decodes a segment header and returns its first index, or why it is bad.
pub(crate) fn decode_segment_header(bytes: &[u8]) -> Result<u64, String> {
    let Some(header) = bytes.get(..SEGMENT_HEADER_BYTES) else {
        return Err(format!(
            "segment header is incomplete: {} of {SEGMENT_HEADER_BYTES} bytes",
            bytes.len()
        ));
    };
    if header[0..8] != SEGMENT_MAGIC {
        return Err("segment header has the wrong magic (not an rzk WAL segment)".into());
    }
    let stored_crc = read_u32(header, 24);
    let computed_crc = crc32c::crc32c(&header[0..24]);
    if stored_crc != computed_crc {
        return Err(format!(
            "segment header checksum mismatch (stored {stored_crc:#010x}, computed {computed_crc:#010x})"
        ));
    }
    if read_u32(header, 28) != 0 {
        return Err("segment header's reserved bytes are not zero".into());
    }
    let version = read_u32(header, 8);
    if version != SEGMENT_VERSION {
        return Err(format!(
            "segment format version {version} is not supported (this build reads {SEGMENT_VERSION})"
        ));
    }
    Ok(read_u64(header, 16))
}

/// Appends one framed record to `out`.
pub(crate) fn encode_record(out: &mut Vec<u8>, index: u64, term: u64, payload: &[u8]) {
    // Callers check the payload against `max_record_payload_bytes`, which is a u32.
    let payload_len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.reserve(RECORD_HEADER_BYTES + payload.len());
    let start = out.len();
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&term.to_le_bytes());
    out.extend_from_slice(payload);
    // index, term and payload lie side by side: one checksum call over them
    // (three calls, one per part, cost twice the instructions per record).
    let crc = record_crc(&out[start + CRC_START..]);
    out[start + 4..start + CRC_START].copy_from_slice(&crc.to_le_bytes());
}

pub(crate) fn record_frame_bytes(payload_len: usize) -> usize {
    RECORD_HEADER_BYTES + payload_len
}

/// Where a record's checksummed bytes (index, term, payload) begin.
const CRC_START: usize = 8;

/// The checksum of a record whose index, term and payload are `covered`.
fn record_crc(covered: &[u8]) -> u32 {
    crc32c::crc32c(covered)
}

/// A record that decoded and whose checksum matched, located in a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordView {
    pub index: u64,
    pub term: u64,
    /// Where the payload lies in the buffer that was decoded.
    pub payload: Range<usize>,
    /// Offset just past this record in that buffer.
    pub end: usize,
}

/// Why the bytes at an offset are not a whole, intact record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadRecord {
    /// Fewer than `RECORD_HEADER_BYTES` bytes remain.
    ShortHeader { available_bytes: usize },
    /// The length field is over the configured limit.
    TooLong { payload_bytes: u32 },
    /// The length field points past the end of the data.
    ShortPayload {
        payload_bytes: u32,
        available_bytes: usize,
    },
    /// Everything is there but the checksum does not match.
    Checksum { stored: u32, computed: u32 },
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadRecord::ShortHeader { available_bytes } => write!(
                f,
                "incomplete record header ({available_bytes} of {RECORD_HEADER_BYTES} bytes)"
            ),
            BadRecord::TooLong { payload_bytes } => {
                write!(f, "record length {payload_bytes} bytes is over the payload limit")
            }
            BadRecord::ShortPayload {
                payload_bytes,
                available_bytes,
            } => write!(
                f,
                "incomplete record: payload of {payload_bytes} bytes but only {available_bytes} bytes follow"
            ),
            BadRecord::Checksum { stored, computed } => write!(
                f,
                "record checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
        }
    }
}

/// Decodes the record starting at `at` in `buf`, checking its length against
/// `max_payload_bytes` before looking at the payload, and its checksum.
pub(crate) fn decode_record(
    buf: &[u8],
    at: usize,
    max_payload_bytes: u32,
) -> Result<RecordView, BadRecord> {
    let rest = buf.get(at..).unwrap_or(&[]);
    if rest.len() < RECORD_HEADER_BYTES {
        return Err(BadRecord::ShortHeader {
            available_bytes: rest.len(),
        });
    }
    let payload_bytes = read_u32(rest, 0);
    if payload_bytes > max_payload_bytes {
        return Err(BadRecord::TooLong { payload_bytes });
    }
    let available_bytes = rest.len() - RECORD_HEADER_BYTES;
    // `payload_bytes` fits in usize on every platform rzk supports (>= 32 bit).
    let payload_len = payload_bytes as usize;
    if payload_len > available_bytes {
        return Err(BadRecord::ShortPayload {
            payload_bytes,
            available_bytes,
        });
    }
    let stored = read_u32(rest, 4);
    let index = read_u64(rest, 8);
    let term = read_u64(rest, 16);
    let payload_start = at + RECORD_HEADER_BYTES;
    let payload = payload_start..payload_start + payload_len;
    let computed = record_crc(&buf[at + CRC_START..payload.end]);
    if stored != computed {
        return Err(BadRecord::Checksum { stored, computed });
    }
    Ok(RecordView {
        index,
        term,
        end: payload.end,
        payload,
    })
}

/// Reads a little-endian u32 at `at`; the caller has checked the length.
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// Reads a little-endian u64 at `at`; the caller has checked the length.
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip_and_sort_by_index() {
        assert_eq!(segment_file_name(7), "wal-00000000000000000007.seg");
        assert_eq!(
            parse_segment_file_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert!(segment_file_name(9) < segment_file_name(10));
        assert_eq!(parse_segment_file_name("wal-7.seg"), None);
        assert_eq!(
            parse_segment_file_name("wal-0000000000000000000x.seg"),
            None
        );
        assert_eq!(
            parse_segment_file_name("wal-00000000000000000007.seg.tmp"),
            None
        );
    }

    #[test]
    fn segment_header_round_trips_and_rejects_damage() {
        let header = encode_segment_header(42);
        assert_eq!(decode_segment_header(&header), Ok(42));
        assert!(decode_segment_header(&header[..31]).is_err());
        for at in 0..SEGMENT_HEADER_BYTES {
            let mut damaged = header;
            damaged[at] ^= 0x01;
            assert!(
                decode_segment_header(&damaged).is_err(),
                "flip at {at} accepted"
            );
        }
        assert!(decode_segment_header(&[0u8; SEGMENT_HEADER_BYTES]).is_err());
    }

    #[test]
    fn record_round_trips() {
        let mut buf = vec![0xAA; 3];
        encode_record(&mut buf, 5, 2, b"hello");
        let view = decode_record(&buf, 3, 1024).expect("intact record");
        assert_eq!((view.index, view.term), (5, 2));
        assert_eq!(&buf[view.payload.clone()], b"hello");
        assert_eq!(view.end, buf.len());
    }

    /// The one-call checksum is the format's: crc32c of index, then term,
    /// then payload, as records written before it were checksummed (WAL
    /// files on disk must keep reading).
    #[test]
    fn checksum_is_index_then_term_then_payload() {
        let (index, term, payload) = (0x0102_0304_0506_0708_u64, 77_u64, b"some payload");
        let mut buf = Vec::new();
        encode_record(&mut buf, index, term, payload);
        let parts = crc32c::crc32c(&index.to_le_bytes());
        let parts = crc32c::crc32c_append(parts, &term.to_le_bytes());
        let parts = crc32c::crc32c_append(parts, payload);
        assert_eq!(read_u32(&buf, 4), parts);
        assert_eq!(read_u32(&buf, 0), payload.len() as u32);
        assert_eq!(read_u64(&buf, 8), index);
        assert_eq!(read_u64(&buf, 16), term);
        assert_eq!(&buf[RECORD_HEADER_BYTES..], payload);
    }

    #[test]
    fn every_truncation_and_flip_of_a_record_is_rejected() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 9, 3, b"payload bytes");
        for len in 0..buf.len() {
            assert!(
                decode_record(&buf[..len], 0, 1024).is_err(),
                "truncated to {len}"
            );
        }
        for at in 0..buf.len() {
            let mut damaged = buf.clone();
            damaged[at] ^= 0x10;
            assert!(decode_record(&damaged, 0, 1024).is_err(), "flip at {at}");
        }
    }

    #[test]
    fn zero_bytes_are_never_a_record() {
        // A zero-filled tail (blocks allocated, data never written) must not
        // decode as an empty record at index 0, term 0.
        let zeros = [0u8; 64];
        assert!(matches!(
            decode_record(&zeros, 0, 1024),
            Err(BadRecord::Checksum { .. })
        ));
        assert_ne!(record_crc(&[0u8; 16]), 0);
    }

    #[test]
    fn length_is_checked_against_the_limit_before_the_payload() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 1, 1, &[7u8; 100]);
        assert_eq!(
            decode_record(&buf, 0, 99),
            Err(BadRecord::TooLong { payload_bytes: 100 })
        );
    }
}
