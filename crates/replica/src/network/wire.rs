//! The peer protocol: frames and messages between rzk servers.
//!
//! A frame is a 4-byte big-endian length and that many bytes. A connection
//! opens with a [`Hello`] from the dialling server (checked before any other
//! frame is accepted, and with a tiny size limit, so a stray client on the
//! peer port costs nothing), answered by a [`HelloAck`]. After that the dialler
//! sends [`PeerRequest`]s and reads one [`PeerResponse`] for each, in lockstep
//! (openraft sends one RPC at a time per replication stream, and opens one
//! client per stream).
//!
//! A snapshot travels as a `SnapshotBegin` request followed by raw chunk
//! frames of at most [`SNAPSHOT_CHUNK_BYTES`] each, so no single frame has to
//! hold a whole tree.
//!
//! Messages are encoded with postcard (serde): a compact, non-self-describing
//! format with a documented, stable wire specification (1.x), no unsafe code in
//! the decoder, and bounds-checked decoding that fails on truncated or
//! malformed input rather than panicking. bincode was the alternative; it is
//! unmaintained (RUSTSEC-2025-0141). Both peers run the same rzk build, so
//! serde's field order is the schema; [`PROTOCOL_VERSION`] changes whenever a
//! message does.

use std::io;

use openraft::alias::{SnapshotMetaOf, VoteOf};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::types::{ForwardedTxn, NodeId, TypeConfig};

/// "rzkR": the first bytes of every Hello, so a non-rzk peer is told apart at once.
pub const PEER_MAGIC: u32 = 0x727a_6b52;
/// Bumped whenever a message's shape changes.
pub const PROTOCOL_VERSION: u32 = 4;
/// The largest Hello accepted (it is the first frame, before we know the peer).
pub const HELLO_FRAME_BYTES_MAX: usize = 1024;
/// The largest frame accepted after the Hello. AppendEntries carries up to
/// `config::APPEND_ENTRIES_PER_RPC_MAX` entries of up to ZooKeeper's 1 MiB
/// request limit each, so this has to be generous; memory is only committed as
/// bytes actually arrive (see [`read_frame`]).
pub const PEER_FRAME_BYTES_MAX: usize = 1 << 30;
/// Bytes of snapshot per chunk frame.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;
/// The largest snapshot a server accepts.
pub const SNAPSHOT_BYTES_MAX: u64 = 64 << 30;
/// Proposals in one `Forward` request. Each txn is at most ZooKeeper's 1 MiB
/// request, so a full batch stays far below [`PEER_FRAME_BYTES_MAX`].
pub const FORWARD_BATCH_PROPOSALS_MAX: usize = 128;
/// Session ids in one `SessionActivity` request (8 bytes each at most).
pub const ACTIVITY_SESSIONS_MAX: usize = 1 << 16;
/// Bytes a frame buffer grows by at most before more data has arrived.
const READ_STEP_BYTES: usize = 64 * 1024;

const _: () = assert!(SNAPSHOT_CHUNK_BYTES <= PEER_FRAME_BYTES_MAX);
const _: () = assert!(HELLO_FRAME_BYTES_MAX < PEER_FRAME_BYTES_MAX);

/// First frame on a peer connection, from the dialling server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: u32,
    pub version: u32,
    pub cluster_name: String,
    pub from: NodeId,
    /// The id the dialler believes it is talking to: catches swapped
    /// `server.N` lines, which would otherwise mix two servers' votes.
    pub to: NodeId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloAck {
    Accepted { node_id: NodeId },
    Refused { reason: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    PreVote(VoteRequest<TypeConfig>),
    /// Followed by chunk frames holding `size_bytes` bytes in all.
    SnapshotBegin {
        vote: VoteOf<TypeConfig>,
        meta: SnapshotMetaOf<TypeConfig>,
        size_bytes: u64,
    },
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// Proposals a follower forwards to the leader, to enter the log in this
    /// order. `batch` increases with every Forward a follower run sends
    /// (`incarnation` is that run's): the leader refuses a batch that is not
    /// newer than the last one it took from the same follower run, so a stale
    /// batch still in flight on a connection the follower gave up on can never
    /// be logged after a newer one.
    Forward {
        from: NodeId,
        incarnation: u64,
        batch: u64,
        requests: Vec<ForwardedTxn>,
    },
    /// Sessions connected to server `from` showed activity.
    SessionActivity {
        from: NodeId,
        sessions: Vec<i64>,
    },
    /// A client reconnected to server `from` with `session_id`.
    Revalidate {
        from: NodeId,
        session_id: i64,
        timeout_ms: i32,
    },
    /// A client on server `from` asked for `sync`: the leader confirms it
    /// still leads (a quorum round) and answers its commit index, which
    /// `from` applies before it answers the client.
    ReadIndex {
        from: NodeId,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum PeerResponse {
    AppendEntries(AppendEntriesResponse<TypeConfig>),
    Vote(VoteResponse<TypeConfig>),
    Snapshot(SnapshotResponse<TypeConfig>),
    TransferLeader(TransferLeaderResponse<TypeConfig>),
    /// Every proposal of the Forward went to the leader's raft, in order.
    Forwarded,
    /// This server is not the leader (`leader` is the one it knows of): the
    /// Forward, activity or revalidation was not acted on (a Forward may have
    /// been in part, if leadership was lost in the middle of it).
    NotLeader {
        leader: Option<NodeId>,
    },
    /// The activity was passed to the leader's session tracker.
    ActivityNoted,
    /// The leader's session tracker's answer to a Revalidate.
    Revalidated(bool),
    /// The log index a `sync` must see applied.
    ReadIndex(u64),
    /// The remote raft could not handle the request (it is shutting down or
    /// stopped); the text says why. Treated as "unreachable" by the caller.
    Failed(String),
}

/// Encodes `msg` (postcard).
pub fn encode<T: Serialize>(msg: &T) -> io::Result<Vec<u8>> {
    postcard::to_stdvec(msg).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Decodes a whole frame as one `T`; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(frame: &[u8]) -> io::Result<T> {
    let (msg, rest) = postcard::take_from_bytes(frame)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if !rest.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} bytes after the message", rest.len()),
        ));
    }
    Ok(msg)
}

/// Writes one frame (length prefix and body). Does not flush.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len())
        .ok()
        .filter(|n| *n as usize <= PEER_FRAME_BYTES_MAX)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("peer frame of {} bytes is over the limit", body.len()),
            )
        })?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(body).await
}

/// Reads one frame of at most `max_bytes`. `Ok(None)` is a clean end of stream
/// before a frame started; a stream that ends inside a frame is an error.
///
/// The buffer grows as bytes arrive, [`READ_STEP_BYTES`] at a time, so a
/// length prefix alone never makes us allocate: a corrupt or hostile length
/// costs only what the sender actually sends.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_bytes: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("peer frame of {len} bytes is over the limit of {max_bytes}"),
        ));
    }
    let mut body = Vec::with_capacity(len.min(READ_STEP_BYTES));
    // Bounded by `len`: each round reads at least one byte or fails.
    while body.len() < len {
        let want = (len - body.len()).min(READ_STEP_BYTES);
        let start = body.len();
        body.resize(start + want, 0);
        r.read_exact(&mut body[start..]).await?;
    }
    Ok(Some(body))
}

/// Writes one message as a frame and flushes.
pub async fn send<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, msg: &T) -> io::Result<()> {
    let body = encode(msg)?;
    write_frame(w, &body).await?;
    w.flush().await
}

/// Reads one message; a clean end of stream here is an error (a reply was due).
pub async fn recv<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    max_bytes: usize,
) -> io::Result<T> {
    match read_frame(r, max_bytes).await? {
        Some(frame) => decode(&frame),
        None => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed the connection",
        )),
    }
}
