//! Raft traffic between servers over TCP.
//!
//! - [`wire`]: frames, the Hello handshake, request/response messages (postcard).
//! - [`client`]: openraft's `RaftNetworkFactory`/`RaftNetworkV2`, dialling peers.
//! - [`listener`]: the peer port, answering peers through the local raft.

pub mod client;
pub mod listener;
pub mod wire;

pub use client::{PeerClient, PeerNetwork};
