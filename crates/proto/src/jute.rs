//! Jute, ZooKeeper's record encoding: big-endian fixed-width integers, a one-byte
//! boolean, and length-prefixed buffers, strings and vectors where length -1 means
//! null.
//!
//! The [`Reader`] works over a borrowed frame. Every length read from the wire is
//! checked against the bytes that remain before anything is allocated, so a hostile
//! length can never make us allocate more than the frame itself (which the framing
//! layer has already bounded by `jute.maxbuffer`).

use std::fmt;

/// Why a record could not be decoded. Every variant closes the connection upstream,
/// as Apache ZooKeeper does for a frame it cannot deserialize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame ended before the record did.
    Truncated { needed: usize, remaining: usize },
    /// A length prefix was negative (other than -1 for null) or larger than the frame.
    BadLength(i32),
    /// A string was not valid UTF-8.
    BadUtf8,
    /// A null appeared where the protocol requires a value.
    UnexpectedNull,
    /// Bytes were left over after the record.
    TrailingBytes(usize),
    /// An opcode this server does not know.
    UnknownOpCode(i32),
    /// A value out of its domain (for example a multi header type).
    BadValue(&'static str, i64),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { needed, remaining } => {
                write!(
                    f,
                    "truncated record: needed {needed} bytes, {remaining} remain"
                )
            }
            DecodeError::BadLength(n) => write!(f, "bad length prefix {n}"),
            DecodeError::BadUtf8 => write!(f, "string is not valid UTF-8"),
            DecodeError::UnexpectedNull => write!(f, "unexpected null"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} trailing bytes after record"),
            DecodeError::UnknownOpCode(op) => write!(f, "unknown opcode {op}"),
            DecodeError::BadValue(what, v) => write!(f, "bad {what}: {v}"),
        }
    }
}

impl std::error::Error for DecodeError {}

pub type Result<T> = std::result::Result<T, DecodeError>;

/// A cursor over one frame's bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(DecodeError::Truncated {
                needed: n,
                remaining,
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn read_i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn read_i64(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// Jute booleans are one byte; any non-zero value is true (as Java's
    /// `DataInput.readBoolean`).
    pub fn read_bool(&mut self) -> Result<bool> {
        Ok(self.take(1)?[0] != 0)
    }

    /// A length prefix: -1 is null, other negatives and lengths beyond the frame
    /// are errors. `elem_min_bytes` is the smallest encoding of one element, used to
    /// bound vector counts by the remaining bytes.
    fn read_len(&mut self, elem_min_bytes: usize) -> Result<Option<usize>> {
        let n = self.read_i32()?;
        if n == -1 {
            return Ok(None);
        }
        if n < 0 {
            return Err(DecodeError::BadLength(n));
        }
        let n_usize = n as usize;
        if n_usize.saturating_mul(elem_min_bytes.max(1)) > self.remaining() && elem_min_bytes > 0 {
            return Err(DecodeError::BadLength(n));
        }
        Ok(Some(n_usize))
    }

    pub fn read_buffer_opt(&mut self) -> Result<Option<Vec<u8>>> {
        match self.read_len(1)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?.to_vec())),
        }
    }

    /// A buffer where null is read as empty (ZooKeeper treats a null data buffer
    /// in create/setData as empty data).
    pub fn read_buffer(&mut self) -> Result<Vec<u8>> {
        Ok(self.read_buffer_opt()?.unwrap_or_default())
    }

    pub fn read_string_opt(&mut self) -> Result<Option<String>> {
        match self.read_buffer_opt()? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| DecodeError::BadUtf8),
        }
    }

    /// A string where null is an error: paths and schemes must be present.
    pub fn read_string(&mut self) -> Result<String> {
        self.read_string_opt()?.ok_or(DecodeError::UnexpectedNull)
    }

    /// A vector where null decodes as empty.
    pub fn read_vec<T: Decode>(&mut self) -> Result<Vec<T>> {
        Ok(self.read_vec_opt()?.unwrap_or_default())
    }

    pub fn read_vec_opt<T: Decode>(&mut self) -> Result<Option<Vec<T>>> {
        match self.read_len(T::MIN_ENCODED_BYTES)? {
            None => Ok(None),
            Some(n) => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(T::decode(self)?);
                }
                Ok(Some(v))
            }
        }
    }
}

/// A jute record that can be read from a frame.
pub trait Decode: Sized {
    /// The fewest bytes one value can occupy; bounds vector counts before allocation.
    const MIN_ENCODED_BYTES: usize;
    fn decode(r: &mut Reader<'_>) -> Result<Self>;

    /// Decodes a whole buffer, rejecting trailing bytes.
    fn decode_all(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

/// A jute record that can be appended to an output buffer.
pub trait Encode {
    fn encode(&self, out: &mut Vec<u8>);

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

pub fn write_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.push(u8::from(v));
}

pub fn write_buffer(out: &mut Vec<u8>, v: &[u8]) {
    write_i32(out, v.len() as i32);
    out.extend_from_slice(v);
}

pub fn write_buffer_opt(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => write_i32(out, -1),
        Some(b) => write_buffer(out, b),
    }
}

pub fn write_string(out: &mut Vec<u8>, v: &str) {
    write_buffer(out, v.as_bytes());
}

pub fn write_string_opt(out: &mut Vec<u8>, v: Option<&str>) {
    write_buffer_opt(out, v.map(str::as_bytes));
}

pub fn write_vec<T: Encode>(out: &mut Vec<u8>, v: &[T]) {
    write_i32(out, v.len() as i32);
    for item in v {
        item.encode(out);
    }
}

impl Decode for String {
    const MIN_ENCODED_BYTES: usize = 4;
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        r.read_string()
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        write_string(out, self);
    }
}

impl Encode for &str {
    fn encode(&self, out: &mut Vec<u8>) {
        write_string(out, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_buffer_reads_as_none() {
        let mut out = Vec::new();
        write_buffer_opt(&mut out, None);
        let mut r = Reader::new(&out);
        assert_eq!(r.read_buffer_opt().unwrap(), None);
        assert!(r.finish().is_ok());
    }

    #[test]
    fn huge_length_is_rejected_without_allocating() {
        let mut out = Vec::new();
        write_i32(&mut out, i32::MAX);
        out.extend_from_slice(b"abc");
        assert_eq!(
            Reader::new(&out).read_buffer_opt(),
            Err(DecodeError::BadLength(i32::MAX))
        );
        assert_eq!(
            Reader::new(&out).read_vec::<String>(),
            Err(DecodeError::BadLength(i32::MAX))
        );
    }

    #[test]
    fn negative_length_other_than_null_is_rejected() {
        let mut out = Vec::new();
        write_i32(&mut out, -2);
        assert_eq!(
            Reader::new(&out).read_string_opt(),
            Err(DecodeError::BadLength(-2))
        );
    }

    #[test]
    fn truncated_int_is_an_error() {
        assert!(matches!(
            Reader::new(&[0, 1]).read_i32(),
            Err(DecodeError::Truncated {
                needed: 4,
                remaining: 2
            })
        ));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let mut out = Vec::new();
        write_buffer(&mut out, &[0xff, 0xfe]);
        assert_eq!(Reader::new(&out).read_string(), Err(DecodeError::BadUtf8));
    }
}
