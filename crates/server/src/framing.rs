//! Reading length-prefixed frames from a socket.
//!
//! A clean end of stream between frames is `Ok(None)`; a stream that ends
//! inside a frame, or announces a length outside `0..=jute.maxbuffer`, is an
//! error (the connection closes, as ZooKeeper's does). Everything read so far
//! lives in the reader's own buffer, so `read_frame` is cancel safe: it can sit
//! in a `select!` next to other branches without losing bytes.

use crate::transport::ReadHalf;
use rzk_proto::frame::{parse_frame_len, FrameError, LENGTH_PREFIX_BYTES};
use tokio::io::AsyncReadExt;

/// Bytes asked of the socket per read when the frame length is not known yet.
const READ_CHUNK_BYTES: usize = 16 * 1024;

#[derive(Debug)]
pub enum ReadError {
    TooLarge(FrameError),
    /// The stream ended inside a frame.
    Truncated {
        buffered_bytes: usize,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge(e) => e.fmt(f),
            ReadError::Truncated { buffered_bytes } => write!(
                f,
                "stream ended inside a frame ({buffered_bytes} bytes buffered)"
            ),
            ReadError::Io(e) => e.fmt(f),
        }
    }
}

pub struct FrameReader {
    socket: ReadHalf,
    buf: Vec<u8>,
    max_frame_bytes: usize,
}

impl FrameReader {
    pub fn new(socket: ReadHalf, max_frame_bytes: usize) -> Self {
        FrameReader {
            socket,
            buf: Vec::with_capacity(READ_CHUNK_BYTES),
            max_frame_bytes,
        }
    }

    /// Reads until at least `n` bytes are buffered. `Ok(false)` on end of
    /// stream before that.
    async fn fill(&mut self, n: usize) -> Result<bool, ReadError> {
        while self.buf.len() < n {
            let want = (n - self.buf.len()).max(READ_CHUNK_BYTES);
            self.buf.reserve(want);
            let read = match self.socket.read_buf(&mut self.buf).await {
                Ok(read) => read,
                // A TLS peer that closes its socket without a close_notify
                // alert (Java's and most clients do) has simply gone, as a
                // TCP peer whose read returns 0.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(ReadError::Io(e)),
            };
            if read == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The first four bytes of the stream, without consuming them: ZooKeeper
    /// tells a four-letter word from a length by them. `None` if the client
    /// closed before sending four bytes.
    pub async fn peek_prefix(&mut self) -> Result<Option<[u8; 4]>, ReadError> {
        if !self.fill(LENGTH_PREFIX_BYTES).await? {
            return Ok(None);
        }
        Ok(Some([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]))
    }

    /// Drops `n` already-buffered bytes (a four-letter word) and returns them.
    pub async fn take_exact(&mut self, n: usize) -> Result<Option<Vec<u8>>, ReadError> {
        if !self.fill(n).await? {
            return Ok(None);
        }
        Ok(Some(self.buf.drain(..n).collect()))
    }

    /// The next frame body (without its length prefix).
    pub async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        loop {
            match parse_frame_len(&self.buf, self.max_frame_bytes) {
                Err(e) => return Err(ReadError::TooLarge(e)),
                Ok(Some(len)) => {
                    let end = LENGTH_PREFIX_BYTES + len;
                    let body = self.buf[LENGTH_PREFIX_BYTES..end].to_vec();
                    self.buf.drain(..end);
                    return Ok(Some(body));
                }
                Ok(None) => {
                    let need = if self.buf.len() < LENGTH_PREFIX_BYTES {
                        LENGTH_PREFIX_BYTES
                    } else {
                        // The length is known and within the limit here.
                        let len = u32::from_be_bytes([
                            self.buf[0],
                            self.buf[1],
                            self.buf[2],
                            self.buf[3],
                        ]) as usize;
                        LENGTH_PREFIX_BYTES + len
                    };
                    if !self.fill(need).await? {
                        return match self.buf.len() {
                            0 => Ok(None),
                            n => Err(ReadError::Truncated { buffered_bytes: n }),
                        };
                    }
                }
            }
        }
    }
}
