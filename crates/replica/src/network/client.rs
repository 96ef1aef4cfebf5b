//! The dialling side: openraft's `RaftNetworkFactory` and `RaftNetworkV2` over
//! one TCP connection per replication stream.
//!
//! Failures are classified the way openraft uses them: a peer we cannot
//! connect to is `Unreachable` (openraft backs off before retrying), a
//! connection that breaks mid-RPC is a `Network` error (retry at once, on a new
//! connection), and an RPC that outlives its deadline is a `Timeout`. After any
//! failure the connection is dropped, so a half-read reply can never be taken
//! for the answer to the next request.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::alias::{SnapshotOf, VoteOf};
use openraft::errors::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::wire::{
    self, Hello, HelloAck, PeerRequest, PeerResponse, HELLO_FRAME_BYTES_MAX, PEER_FRAME_BYTES_MAX,
    PEER_MAGIC, PROTOCOL_VERSION, SNAPSHOT_CHUNK_BYTES,
};
use crate::membership::Member;
use crate::types::{NodeId, SnapshotData, TypeConfig};

/// Creates one [`PeerClient`] per (target, stream) for openraft.
#[derive(Debug, Clone)]
pub struct PeerNetwork {
    me: NodeId,
    cluster_name: Arc<str>,
}

impl PeerNetwork {
    pub fn new(me: NodeId, cluster_name: &str) -> Self {
        PeerNetwork {
            me,
            cluster_name: cluster_name.into(),
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Member) -> PeerClient {
        PeerClient {
            me: self.me,
            target,
            addr: node.addr.clone(),
            cluster_name: self.cluster_name.clone(),
            conn: None,
        }
    }
}

/// One dialled, greeted peer connection, used in lockstep (one request, then
/// its response). Shared by raft's replication streams and the leader link.
pub(crate) struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
}

impl Conn {
    /// Connects to server `target` at `addr` and does the Hello handshake.
    pub(crate) async fn dial(
        addr: &str,
        me: NodeId,
        target: NodeId,
        cluster_name: &str,
    ) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        // Peer messages are small and latency-bound.
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        let mut conn = Conn {
            reader: BufReader::new(read),
            writer: BufWriter::new(write),
        };
        let hello = Hello {
            magic: PEER_MAGIC,
            version: PROTOCOL_VERSION,
            cluster_name: cluster_name.to_string(),
            from: me,
            to: target,
        };
        wire::send(&mut conn.writer, &hello).await?;
        match wire::recv(&mut conn.reader, HELLO_FRAME_BYTES_MAX).await? {
            HelloAck::Accepted { node_id } if node_id == target => Ok(conn),
            HelloAck::Accepted { node_id } => Err(io::Error::other(format!(
                "{addr} answered as server {node_id}, expected {target}"
            ))),
            HelloAck::Refused { reason } => Err(io::Error::other(format!(
                "{addr} refused the connection: {reason}"
            ))),
        }
    }

    /// Sends `request` and reads its response. The caller bounds the time
    /// and drops the connection on any error (a half-read reply must never
    /// be taken for the next one).
    pub(crate) async fn call(&mut self, request: &PeerRequest) -> io::Result<PeerResponse> {
        wire::send(&mut self.writer, request).await?;
        wire::recv(&mut self.reader, PEER_FRAME_BYTES_MAX).await
    }
}

/// The slowest transfer rate a peer exchange is allowed before it times
/// out, in bytes per millisecond (10 MB/s: the peer must receive, fdatasync
/// and answer). openraft gives an AppendEntries only the heartbeat interval
/// (half a tick: 50 ms with `tickTime=100`, 1 s with 2000), which a batch of
/// large entries (up to `APPEND_ENTRIES_PER_RPC_MAX` values of up to
/// `jute.maxbuffer` each) cannot meet: without this allowance such a batch
/// timed out, the connection was dropped and the same batch re-sent forever,
/// and the follower never advanced.
pub const PEER_TRANSFER_BYTES_PER_MS_MIN: usize = 10 * 1024;

/// Extra time an exchange of `bytes` gets on top of raft's RPC timeout.
fn transfer_allowance(bytes: usize) -> Duration {
    Duration::from_millis((bytes / PEER_TRANSFER_BYTES_PER_MS_MIN) as u64)
}

/// Why an exchange with a peer failed.
enum Failure {
    /// Could not connect or the handshake was refused: back off.
    Connect(io::Error),
    /// The connection broke or the peer answered nonsense: retry.
    Io(io::Error),
    /// The peer's raft could not handle the request.
    Remote(String),
    Deadline(Duration),
}

/// One replication stream's connection to one peer.
pub struct PeerClient {
    me: NodeId,
    target: NodeId,
    addr: String,
    cluster_name: Arc<str>,
    conn: Option<Conn>,
}

impl PeerClient {
    async fn connect(&self) -> io::Result<Conn> {
        Conn::dial(&self.addr, self.me, self.target, &self.cluster_name).await
    }

    /// Sends `request` (and, for a snapshot, the chunks of `payload`) and reads
    /// the response, within `deadline` plus the time the bytes may take (see
    /// [`transfer_allowance`]). Drops the connection on any failure.
    async fn exchange(
        &mut self,
        request: &PeerRequest,
        payload: Option<&[u8]>,
        deadline: Duration,
    ) -> Result<PeerResponse, Failure> {
        let result = match wire::encode(request) {
            Ok(body) => {
                let bytes = body.len() + payload.map_or(0, <[u8]>::len);
                let deadline = deadline + transfer_allowance(bytes);
                tokio::time::timeout(deadline, self.exchange_inner(&body, payload))
                    .await
                    .unwrap_or(Err(Failure::Deadline(deadline)))
            }
            Err(e) => Err(Failure::Io(e)),
        };
        match result {
            Ok(PeerResponse::Failed(reason)) => Err(Failure::Remote(reason)),
            Ok(response) => Ok(response),
            Err(failure) => {
                self.conn = None;
                Err(failure)
            }
        }
    }

    async fn exchange_inner(
        &mut self,
        body: &[u8],
        payload: Option<&[u8]>,
    ) -> Result<PeerResponse, Failure> {
        if self.conn.is_none() {
            self.conn = Some(self.connect().await.map_err(Failure::Connect)?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::Io(io::Error::other("no connection")));
        };
        wire::write_frame(&mut conn.writer, body)
            .await
            .map_err(Failure::Io)?;
        // Bounded by the payload length: one frame per chunk.
        for chunk in payload.unwrap_or_default().chunks(SNAPSHOT_CHUNK_BYTES) {
            wire::write_frame(&mut conn.writer, chunk)
                .await
                .map_err(Failure::Io)?;
        }
        conn.writer.flush().await.map_err(Failure::Io)?;
        wire::recv(&mut conn.reader, PEER_FRAME_BYTES_MAX)
            .await
            .map_err(Failure::Io)
    }

    fn rpc_error(&self, failure: Failure, action: RPCTypes) -> RPCError<TypeConfig> {
        match failure {
            Failure::Connect(e) => RPCError::Unreachable(Unreachable::new(&e)),
            Failure::Remote(reason) => RPCError::Unreachable(Unreachable::from_string(reason)),
            Failure::Io(e) => RPCError::Network(NetworkError::new(&e)),
            Failure::Deadline(timeout) => RPCError::Timeout(Timeout {
                action,
                id: self.me,
                target: self.target,
                timeout,
            }),
        }
    }

    fn unexpected(&self, what: &str, got: &PeerResponse) -> RPCError<TypeConfig> {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            format!("server {} answered {what} with {got:?}", self.target),
        );
        RPCError::Network(NetworkError::new(&e))
    }
}

/// A one-shot RPC's error as the error of a streaming one (openraft's
/// snapshot stream); a remote error counts as unreachable.
pub fn streaming_error(e: RPCError<TypeConfig>) -> StreamingError<TypeConfig> {
    match e {
        RPCError::Timeout(t) => StreamingError::Timeout(t),
        RPCError::Unreachable(u) => StreamingError::Unreachable(u),
        RPCError::Network(n) => StreamingError::Network(n),
        RPCError::RemoteError(r) => {
            StreamingError::Unreachable(Unreachable::from_string(r.to_string()))
        }
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let request = PeerRequest::AppendEntries(rpc);
        match self.exchange(&request, None, option.hard_ttl()).await {
            Ok(PeerResponse::AppendEntries(r)) => Ok(r),
            Ok(other) => Err(self.unexpected("AppendEntries", &other)),
            Err(f) => Err(self.rpc_error(f, RPCTypes::AppendEntries)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let request = PeerRequest::Vote(rpc);
        match self.exchange(&request, None, option.hard_ttl()).await {
            Ok(PeerResponse::Vote(r)) => Ok(r),
            Ok(other) => Err(self.unexpected("Vote", &other)),
            Err(f) => Err(self.rpc_error(f, RPCTypes::Vote)),
        }
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let request = PeerRequest::PreVote(rpc);
        match self.exchange(&request, None, option.hard_ttl()).await {
            Ok(PeerResponse::Vote(r)) => Ok(r),
            Ok(other) => Err(self.unexpected("PreVote", &other)),
            Err(f) => Err(self.rpc_error(f, RPCTypes::Vote)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, SnapshotData>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        // The state is read from its file only now that it is sent.
        let data = snapshot.snapshot;
        let bytes = match tokio::task::spawn_blocking(move || data.load()).await {
            Ok(Ok(bytes)) => bytes,
            // A purged file: openraft asks for the current snapshot again.
            Ok(Err(e)) => return Err(StreamingError::Network(NetworkError::new(&e))),
            Err(e) => {
                return Err(StreamingError::Network(NetworkError::new(
                    &io::Error::other(e),
                )))
            }
        };
        let request = PeerRequest::SnapshotBegin {
            vote,
            meta: snapshot.meta,
            size_bytes: bytes.len() as u64,
        };
        let send = self.exchange(&request, Some(&bytes), option.hard_ttl());
        let outcome = tokio::select! {
            closed = cancel => Err(closed),
            outcome = send => Ok(outcome),
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(closed) => {
                // A half-sent snapshot leaves the stream unusable.
                self.conn = None;
                return Err(StreamingError::Closed(closed));
            }
        };
        match outcome {
            Ok(PeerResponse::Snapshot(r)) => Ok(r),
            Ok(other) => Err(streaming_error(self.unexpected("Snapshot", &other))),
            Err(f) => Err(streaming_error(
                self.rpc_error(f, RPCTypes::InstallSnapshot),
            )),
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        let request = PeerRequest::TransferLeader(req);
        match self.exchange(&request, None, option.hard_ttl()).await {
            Ok(PeerResponse::TransferLeader(r)) => Ok(r),
            Ok(other) => Err(self.unexpected("TransferLeader", &other)),
            Err(f) => Err(self.rpc_error(f, RPCTypes::TransferLeader)),
        }
    }
}
