//! What a client connection runs over: a plain TCP stream (`clientPort`) or
//! TLS over TCP (`secureClientPort`, see [`crate::tls`]).
//!
//! The connection task reads frames on one half and its writer task writes
//! on the other, concurrently, so a stream is split in two. Everything after
//! the split works on the boxed halves: one connection, four-letter-word and
//! session code path for both ports, not a copy per stream type. A virtual
//! call per socket read or write costs nothing next to the system call.
//!
//! A TCP stream splits without a lock (`into_split`). A TLS stream is one
//! state machine (records, keys, buffers) for both directions, so its halves
//! share it through tokio's `split`, which locks it only for the duration of
//! each poll.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// The half the connection reads frames from.
pub type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The half the connection's writer (or a four-letter word's answer) writes
/// to. Writers must `flush` after writing: a TLS half may hold the bytes
/// until then.
pub type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// A client stream the server can serve.
pub trait ClientStream: Send + 'static {
    /// The two halves; see the module comment.
    fn into_halves(self) -> (ReadHalf, WriteHalf);
}

impl ClientStream for TcpStream {
    fn into_halves(self) -> (ReadHalf, WriteHalf) {
        let _ = self.set_nodelay(true);
        let (read, write) = self.into_split();
        (Box::new(read), Box::new(write))
    }
}

impl ClientStream for TlsStream<TcpStream> {
    fn into_halves(self) -> (ReadHalf, WriteHalf) {
        let _ = self.get_ref().0.set_nodelay(true);
        let (read, write) = tokio::io::split(self);
        (Box::new(read), Box::new(write))
    }
}

/// Which listener a connection came in on, for `cons` and the admin
/// server's `connections` / `secure_connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Plain,
    Secure,
}
