//! The answering side: accepts peer connections on this server's peer port
//! (`server.N=host:peerPort:...`) and hands each request to the local raft.
//!
//! Besides raft's RPCs it takes what followers send their leader: forwarded
//! proposals, session activity and revalidations (see
//! [`crate::leader_link`]), handed to the [`Proposer`].
//!
//! One task per connection. A connection is closed, with a log line, on
//! anything unexpected (wrong magic or version, another cluster, a Hello meant
//! for another server id, an oversized or undecodable frame, a Forward that
//! does not come from the server that said Hello or breaks the batch limits):
//! the dialler reconnects, and nothing a peer sends can panic the server.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::alias::SnapshotOf;
use openraft::raft::AppendEntriesResponse;
use tokio::io::{BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::wire::{
    self, Hello, HelloAck, PeerRequest, PeerResponse, ACTIVITY_SESSIONS_MAX,
    FORWARD_BATCH_PROPOSALS_MAX, HELLO_FRAME_BYTES_MAX, PEER_FRAME_BYTES_MAX, PEER_MAGIC,
    PROTOCOL_VERSION, SNAPSHOT_BYTES_MAX, SNAPSHOT_CHUNK_BYTES,
};
use crate::leader_watch::LeaderWatch;
use crate::proposer::Proposer;
use crate::types::{ForwardedTxn, NodeId, Raft, SnapshotData, TypeConfig};

/// Time a new peer connection has to send its Hello.
pub const HELLO_TIMEOUT_MS: u64 = 10_000;
/// Pause after a failed accept (out of file descriptors and the like).
const ACCEPT_ERROR_BACKOFF_MS: u64 = 100;

/// What a connection handler needs.
#[derive(Clone)]
struct Ctx {
    raft: Raft,
    proposer: Proposer,
    me: NodeId,
    cluster_name: Arc<str>,
    leader_watch: LeaderWatch,
}

/// Accepts peer connections until `shutdown` turns true (or its sender goes).
/// Connection tasks end with it.
pub async fn serve(
    listener: TcpListener,
    raft: Raft,
    proposer: Proposer,
    me: NodeId,
    cluster_name: Arc<str>,
    leader_watch: LeaderWatch,
    mut shutdown: watch::Receiver<bool>,
) {
    let ctx = Ctx {
        raft,
        proposer,
        me,
        cluster_name,
        leader_watch,
    };
    let mut connections = JoinSet::new();
    // Runs until shutdown.
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(handle(ctx.clone(), stream, peer));
                }
                Err(e) => {
                    tracing::warn!("Error accepting a peer connection: {e}");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_BACKOFF_MS)).await;
                }
            },
        }
    }
    connections.abort_all();
}

async fn handle(ctx: Ctx, stream: TcpStream, peer: SocketAddr) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("peer {peer}: set_nodelay: {e}");
    }
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut writer = BufWriter::new(write);
    let from = match greet(&ctx, &mut reader, &mut writer).await {
        Ok(from) => from,
        // A connection closed before its Hello is most likely another
        // server's liveness probe (see `crate::leader_watch`).
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            tracing::debug!("peer connection from {peer} closed before its Hello: {e}");
            return;
        }
        Err(e) => {
            tracing::warn!("Closing peer connection from {peer}: {e}");
            return;
        }
    };
    tracing::debug!("peer connection from server {from} ({peer})");
    let _open = ctx.leader_watch.opened(from);
    if let Err(e) = serve_requests(&ctx, from, &mut reader, &mut writer).await {
        tracing::info!("Closing peer connection from server {from} ({peer}): {e}");
    }
}

/// Reads and checks the Hello, answers it. Returns the peer's server id.
async fn greet(
    ctx: &Ctx,
    reader: &mut BufReader<OwnedReadHalf>,
    writer: &mut BufWriter<OwnedWriteHalf>,
) -> io::Result<NodeId> {
    let hello: Hello = tokio::time::timeout(
        Duration::from_millis(HELLO_TIMEOUT_MS),
        wire::recv(reader, HELLO_FRAME_BYTES_MAX),
    )
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no hello in time"))??;
    let refusal = if hello.magic != PEER_MAGIC {
        Some(format!("not an rzk peer (magic {:#x})", hello.magic))
    } else if hello.version != PROTOCOL_VERSION {
        Some(format!(
            "peer protocol version {} (this server speaks {PROTOCOL_VERSION})",
            hello.version
        ))
    } else if *hello.cluster_name != *ctx.cluster_name {
        Some(format!(
            "cluster {:?} (this server is in {:?})",
            hello.cluster_name, ctx.cluster_name
        ))
    } else if hello.to != ctx.me {
        Some(format!(
            "server {} dialled server {} but this is server {}: check the server.N lines",
            hello.from, hello.to, ctx.me
        ))
    } else {
        None
    };
    match refusal {
        None => {
            wire::send(writer, &HelloAck::Accepted { node_id: ctx.me }).await?;
            Ok(hello.from)
        }
        Some(reason) => {
            // Best effort: tell the dialler why before closing.
            let _ = wire::send(
                writer,
                &HelloAck::Refused {
                    reason: reason.clone(),
                },
            )
            .await;
            Err(io::Error::new(io::ErrorKind::InvalidData, reason))
        }
    }
}

/// Answers requests until the peer closes the connection or sends garbage.
async fn serve_requests(
    ctx: &Ctx,
    from: NodeId,
    reader: &mut BufReader<OwnedReadHalf>,
    writer: &mut BufWriter<OwnedWriteHalf>,
) -> io::Result<()> {
    // Runs for the connection's lifetime; each round reads one request.
    while let Some(frame) = wire::read_frame(reader, PEER_FRAME_BYTES_MAX).await? {
        let request: PeerRequest = wire::decode(&frame)?;
        drop(frame);
        let response = dispatch(ctx, from, request, reader).await?;
        wire::send(writer, &response).await?;
    }
    Ok(())
}

async fn dispatch(
    ctx: &Ctx,
    peer: NodeId,
    request: PeerRequest,
    reader: &mut BufReader<OwnedReadHalf>,
) -> io::Result<PeerResponse> {
    let failed = |e: &dyn std::fmt::Display| PeerResponse::Failed(e.to_string());
    Ok(match request {
        PeerRequest::AppendEntries(rpc) => match ctx.raft.append_entries(rpc).await {
            Ok(r) => {
                if !matches!(r, AppendEntriesResponse::HigherVote(_)) {
                    ctx.proposer.leader_contact.touch();
                }
                PeerResponse::AppendEntries(r)
            }
            Err(e) => failed(&e),
        },
        PeerRequest::Vote(rpc) => match ctx.raft.vote(rpc).await {
            Ok(r) => PeerResponse::Vote(r),
            Err(e) => failed(&e),
        },
        PeerRequest::PreVote(rpc) => match ctx.raft.pre_vote(rpc).await {
            Ok(r) => PeerResponse::Vote(r),
            Err(e) => failed(&e),
        },
        PeerRequest::TransferLeader(req) => match ctx.raft.handle_transfer_leader(req).await {
            Ok(r) => PeerResponse::TransferLeader(r),
            Err(e) => failed(&e),
        },
        PeerRequest::SnapshotBegin {
            vote,
            meta,
            size_bytes,
        } => {
            let bytes = read_snapshot(reader, size_bytes).await?;
            let snapshot = SnapshotOf::<TypeConfig, _> {
                meta,
                snapshot: SnapshotData::Bytes(bytes.into()),
            };
            match ctx.raft.install_full_snapshot(vote, snapshot).await {
                Ok(r) => PeerResponse::Snapshot(r),
                Err(e) => failed(&e),
            }
        }
        PeerRequest::Forward {
            from,
            incarnation,
            batch,
            requests,
        } => {
            check_forward(peer, from, incarnation, &requests)?;
            ctx.proposer
                .accept_forwarded(from, incarnation, batch, requests)
                .await
        }
        PeerRequest::SessionActivity { from, sessions } => {
            check_sender(peer, from)?;
            if sessions.len() > ACTIVITY_SESSIONS_MAX {
                return Err(invalid(format!(
                    "activity of {} sessions (at most {ACTIVITY_SESSIONS_MAX})",
                    sessions.len()
                )));
            }
            ctx.proposer.accept_activity(from, &sessions)
        }
        PeerRequest::Revalidate {
            from,
            session_id,
            timeout_ms,
        } => {
            check_sender(peer, from)?;
            ctx.proposer.accept_revalidate(from, session_id, timeout_ms)
        }
        PeerRequest::ReadIndex { from } => {
            check_sender(peer, from)?;
            ctx.proposer.accept_read_index().await
        }
    })
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// A follower speaks only for itself: the server id in a request must be the
/// one it said Hello as.
fn check_sender(peer: NodeId, from: NodeId) -> io::Result<()> {
    if from != peer {
        return Err(invalid(format!(
            "server {peer} sent a request as server {from}"
        )));
    }
    Ok(())
}

/// A Forward is a non-empty batch within the limit, every proposal carrying
/// the sender's own origin (its run and server id): anything else is a broken
/// or hostile peer, and closes the connection.
fn check_forward(
    peer: NodeId,
    from: NodeId,
    incarnation: u64,
    requests: &[ForwardedTxn],
) -> io::Result<()> {
    check_sender(peer, from)?;
    if requests.is_empty() || requests.len() > FORWARD_BATCH_PROPOSALS_MAX {
        return Err(invalid(format!(
            "a Forward of {} proposals (1 to {FORWARD_BATCH_PROPOSALS_MAX})",
            requests.len()
        )));
    }
    if let Some(bad) = requests
        .iter()
        .find(|r| r.origin.node_id != from || r.origin.incarnation != incarnation)
    {
        return Err(invalid(format!(
            "server {from} forwarded a proposal with origin {:?}",
            bad.origin
        )));
    }
    Ok(())
}

/// Reads the chunk frames of a snapshot of `size_bytes`.
async fn read_snapshot(
    reader: &mut BufReader<OwnedReadHalf>,
    size_bytes: u64,
) -> io::Result<Vec<u8>> {
    if size_bytes > SNAPSHOT_BYTES_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("snapshot of {size_bytes} bytes is over the limit of {SNAPSHOT_BYTES_MAX}"),
        ));
    }
    let size = usize::try_from(size_bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "snapshot too large"))?;
    let mut bytes = Vec::new();
    // Bounded by `size`: every chunk frame is non-empty.
    while bytes.len() < size {
        let chunk = wire::read_frame(reader, SNAPSHOT_CHUNK_BYTES)
            .await?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "snapshot cut short"))?;
        if chunk.is_empty() || chunk.len() > size - bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "snapshot chunk does not fit the announced size",
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
