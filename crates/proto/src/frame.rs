//! Framing: every message on the client port is a 4-byte big-endian length and
//! then that many bytes. Apache ZooKeeper closes the connection when a client
//! announces a frame longer than `jute.maxbuffer` (default 0xfffff bytes), and so
//! do we, before reading or allocating any of it.

/// Apache ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes (1 MiB - 1).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 0xfffff;

/// Bytes of the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Why a frame cannot be taken from the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The announced length exceeds the limit (or is negative).
    TooLarge { announced: i64, limit_bytes: usize },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLarge {
                announced,
                limit_bytes,
            } => write!(
                f,
                "frame length {announced} is outside 0..={limit_bytes} (jute.maxbuffer)"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Looks for one whole frame at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some(len))` when
/// `buf[4..4 + len]` is a whole frame body, and an error when the announced length
/// is not acceptable (the caller closes the connection).
pub fn parse_frame_len(buf: &[u8], limit_bytes: usize) -> Result<Option<usize>, FrameError> {
    if buf.len() < LENGTH_PREFIX_BYTES {
        return Ok(None);
    }
    let announced = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if announced < 0 || announced as usize > limit_bytes {
        return Err(FrameError::TooLarge {
            announced: i64::from(announced),
            limit_bytes,
        });
    }
    let len = announced as usize;
    if buf.len() < LENGTH_PREFIX_BYTES + len {
        return Ok(None);
    }
    Ok(Some(len))
}

/// Prefixes `body` with its length.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(LENGTH_PREFIX_BYTES + body.len());
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Reserves the length prefix at the start of `out`; call [`finish_frame`] once the
/// body has been appended. Lets encoders write straight into one buffer.
pub fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    start
}

/// Fills in the length reserved by [`begin_frame`].
pub fn finish_frame(out: &mut [u8], start: usize) {
    let len = (out.len() - start - LENGTH_PREFIX_BYTES) as i32;
    out[start..start + LENGTH_PREFIX_BYTES].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_then_complete() {
        let f = frame(b"hello");
        assert_eq!(parse_frame_len(&f[..3], 100), Ok(None));
        assert_eq!(parse_frame_len(&f[..6], 100), Ok(None));
        assert_eq!(parse_frame_len(&f, 100), Ok(Some(5)));
    }

    #[test]
    fn oversized_and_negative_lengths_are_refused() {
        let big = (DEFAULT_MAX_FRAME_BYTES as i32 + 1).to_be_bytes();
        assert!(parse_frame_len(&big, DEFAULT_MAX_FRAME_BYTES).is_err());
        assert!(parse_frame_len(&(-5i32).to_be_bytes(), DEFAULT_MAX_FRAME_BYTES).is_err());
        let exact = (DEFAULT_MAX_FRAME_BYTES as i32).to_be_bytes();
        assert_eq!(parse_frame_len(&exact, DEFAULT_MAX_FRAME_BYTES), Ok(None));
    }

    #[test]
    fn begin_finish_matches_frame() {
        let mut out = Vec::new();
        let start = begin_frame(&mut out);
        out.extend_from_slice(b"abc");
        finish_frame(&mut out, start);
        assert_eq!(out, frame(b"abc"));
    }
}
