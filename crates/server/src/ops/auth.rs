//! addauth and SASL.
//!
//! ZooKeeper answers addauth with xid and zxid 0 (not the last zxid): OK, or
//! AuthFailed followed by closing the connection. It sends no AuthFailed event;
//! the client library makes that itself from the reply.
//!
//! SASL: a ZooKeeper without SASL configured answers a SASL token with OK and
//! a null token (and logs a NullPointerException); the client's SASL layer then
//! fails on the null token and reports AuthFailed. rzk has no SASL and gives
//! the same answer, with a clear warning in its log (see `connection.rs`).

use crate::auth::{authenticate, AuthError};
use rzk_proto::records::AuthPacket;
use rzk_proto::Id;
use std::net::IpAddr;

/// What an addauth does to the connection.
#[derive(Debug)]
pub enum AuthOutcome {
    /// Identities to add; the reply is OK.
    Added(Vec<Id>),
    /// Reply AuthFailed, then close.
    Failed(String),
}

pub fn add_auth(packet: &AuthPacket, peer: IpAddr, super_digest: Option<&str>) -> AuthOutcome {
    match authenticate(&packet.scheme, &packet.auth, peer, super_digest) {
        Ok(ids) => AuthOutcome::Added(ids),
        Err(AuthError::UnknownScheme(s)) => {
            AuthOutcome::Failed(format!("no authentication provider for scheme {s:?}"))
        }
    }
}
