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
    /// Bytes read from the socket; those before `start` are consumed.
    buf: Vec<u8>,
    /// Where the unconsumed bytes begin. A frame is taken by moving it; the
    /// rest moves to the front of `buf` only when a read needs the room.
    /// Draining each frame off the front instead moved every frame still
    /// buffered behind it, once per frame: with a client's pipelined
    /// requests arriving in one read, the most copied bytes per request of
    /// the whole write path.
    start: usize,
    max_frame_bytes: usize,
}

impl FrameReader {
    pub fn new(socket: ReadHalf, max_frame_bytes: usize) -> Self {
        FrameReader {
            socket,
            buf: Vec::with_capacity(READ_CHUNK_BYTES),
            start: 0,
            max_frame_bytes,
        }
    }

    /// The bytes read and not consumed yet.
    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Consumes the first `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            // Everything consumed (the usual case after a burst): reuse
            // the buffer from its front, nothing to move.
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads until at least `n` bytes are buffered. `Ok(false)` on end of
    /// stream before that.
    async fn fill(&mut self, n: usize) -> Result<bool, ReadError> {
        while self.buffered().len() < n {
            if self.start > 0 {
                // Room for the read: the unconsumed tail (part of one
                // frame, usually) moves to the front once.
                self.buf.copy_within(self.start.., 0);
                self.buf.truncate(self.buf.len() - self.start);
                self.start = 0;
            }
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
        let b = self.buffered();
        Ok(Some([b[0], b[1], b[2], b[3]]))
    }

    /// Drops `n` already-buffered bytes (a four-letter word) and returns them.
    pub async fn take_exact(&mut self, n: usize) -> Result<Option<Vec<u8>>, ReadError> {
        if !self.fill(n).await? {
            return Ok(None);
        }
        let taken = self.buffered()[..n].to_vec();
        self.consume(n);
        Ok(Some(taken))
    }

    /// The next frame body (without its length prefix).
    pub async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        loop {
            if let Some(body) = self.buffered_frame()? {
                return Ok(Some(body));
            }
            let b = self.buffered();
            let need = if b.len() < LENGTH_PREFIX_BYTES {
                LENGTH_PREFIX_BYTES
            } else {
                // The length is known and within the limit here.
                let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                LENGTH_PREFIX_BYTES + len
            };
            if !self.fill(need).await? {
                return match self.buffered().len() {
                    0 => Ok(None),
                    n => Err(ReadError::Truncated { buffered_bytes: n }),
                };
            }
        }
    }

    /// The next frame body if it is buffered whole already, without reading
    /// the socket: a client's pipelined requests arrive in one read, and the
    /// connection takes them all before it waits on anything again.
    pub fn buffered_frame(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        match parse_frame_len(self.buffered(), self.max_frame_bytes) {
            Err(e) => Err(ReadError::TooLarge(e)),
            Ok(Some(len)) => {
                let end = LENGTH_PREFIX_BYTES + len;
                let body = self.buffered()[LENGTH_PREFIX_BYTES..end].to_vec();
                self.consume(end);
                Ok(Some(body))
            }
            Ok(None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    /// A reader over a pipe, and the pipe's writing end.
    fn reader(max_frame_bytes: usize) -> (FrameReader, tokio::io::DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        (FrameReader::new(Box::new(ours), max_frame_bytes), theirs)
    }

    #[tokio::test]
    async fn a_burst_of_frames_and_a_frame_split_across_reads_come_out_whole() {
        let (mut r, mut w) = reader(1 << 20);
        let bodies: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 10 + i as usize * 7]).collect();
        let burst: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
        w.write_all(&burst).await.unwrap();
        // A last frame whose prefix and body arrive in three pieces.
        let split = frame(&[0xab; 40_000]);
        w.write_all(&split[..2]).await.unwrap();
        for body in &bodies {
            assert_eq!(r.read_frame().await.unwrap().as_deref(), Some(&body[..]));
        }
        w.write_all(&split[2..30]).await.unwrap();
        let rest = split[30..].to_vec();
        let writer = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            w.write_all(&rest).await.unwrap();
            w
        });
        assert_eq!(r.read_frame().await.unwrap(), Some(vec![0xab; 40_000]));
        drop(writer.await.unwrap());
        assert!(
            r.read_frame().await.unwrap().is_none(),
            "clean end between frames"
        );
    }

    #[tokio::test]
    async fn four_letter_word_then_frames() {
        let (mut r, mut w) = reader(1 << 20);
        let mut bytes = b"ruok".to_vec();
        bytes.extend(frame(b"after"));
        w.write_all(&bytes).await.unwrap();
        assert_eq!(r.peek_prefix().await.unwrap(), Some(*b"ruok"));
        assert_eq!(r.take_exact(4).await.unwrap(), Some(b"ruok".to_vec()));
        assert_eq!(r.read_frame().await.unwrap(), Some(b"after".to_vec()));
    }

    #[tokio::test]
    async fn an_end_inside_a_frame_and_an_oversized_length_are_errors() {
        let (mut r, mut w) = reader(1 << 20);
        let f = frame(b"whole");
        w.write_all(&f).await.unwrap();
        w.write_all(&frame(b"cut short")[..7]).await.unwrap();
        drop(w);
        assert_eq!(r.read_frame().await.unwrap(), Some(b"whole".to_vec()));
        match r.read_frame().await {
            Err(ReadError::Truncated { buffered_bytes: 7 }) => {}
            other => panic!("expected Truncated with 7 bytes, got {other:?}"),
        }

        let (mut r, mut w) = reader(100);
        w.write_all(&frame(&[0; 101])).await.unwrap();
        assert!(matches!(r.read_frame().await, Err(ReadError::TooLarge(_))));
    }
}
