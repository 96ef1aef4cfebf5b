//! Connection identities: the `ip` identity every connection starts with, the
//! `digest` and `ip` authentication providers behind `addauth`, the `super`
//! identity from `superDigest`, and the READ check that filters watch events.
//!
//! The state machine has its own ACL code for the decisions that are replicated;
//! the server needs the same rules for what is local to a connection (which
//! identities it holds, which events it may see), so they are restated here in
//! the few lines they take.

use base64::Engine;
use rzk_proto::records::ClientInfo;
use rzk_proto::{Acl, Id};
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// `DigestAuthenticationProvider.generateDigest`: `user:base64(sha1(user:password))`,
/// where `user` is everything before the first colon (the whole text if none).
pub fn digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The identity a connection has before any `addauth`: `ip:<client address>`.
pub fn ip_identity(peer: IpAddr) -> Id {
    let ip = match peer {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    Id::new("ip", ip.to_string())
}

/// Why an `addauth` failed; the connection answers AuthFailed and closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No provider for this scheme (ZooKeeper registers `ip` and `digest`).
    UnknownScheme(String),
}

/// Runs an auth packet through its provider and returns the identities to add.
/// Digest authentication never fails, as in ZooKeeper: the digest of whatever
/// was sent becomes the identity, and matching `superDigest` adds `super:`.
pub fn authenticate(
    scheme: &str,
    data: &[u8],
    peer: IpAddr,
    super_digest: Option<&str>,
) -> Result<Vec<Id>, AuthError> {
    match scheme {
        "digest" => {
            let text = String::from_utf8_lossy(data);
            let id = digest(&text);
            let mut ids = Vec::with_capacity(2);
            if super_digest == Some(id.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", id));
            Ok(ids)
        }
        "ip" => Ok(vec![ip_identity(peer)]),
        other => Err(AuthError::UnknownScheme(other.to_string())),
    }
}

/// Adds identities to a connection's list, skipping ones it already holds.
pub fn add_identities(auth: &mut Vec<Id>, ids: Vec<Id>) {
    for id in ids {
        if !auth.contains(&id) {
            auth.push(id);
        }
    }
}

/// `AuthUtil.getClientInfos`: what `whoAmI` reports for each identity.
pub fn client_infos(auth: &[Id]) -> Vec<ClientInfo> {
    auth.iter()
        .map(|id| ClientInfo {
            auth_scheme: id.scheme.clone(),
            user: match id.scheme.as_str() {
                "digest" => id.id.split(':').next().unwrap_or("").to_string(),
                "ip" => id.id.clone(),
                _ => String::new(),
            },
        })
        .collect()
}

/// `ZooKeeperServer.checkACL` for one permission: an empty ACL, `super`, or
/// `skipACL` allow everything; otherwise an entry granting `perm` must match.
pub fn acl_allows(acl: &[Acl], perm: i32, auth: &[Id], skip_acl: bool) -> bool {
    if skip_acl || acl.is_empty() || auth.iter().any(|id| id.scheme == "super") {
        return true;
    }
    acl.iter().filter(|a| a.perms & perm != 0).any(|a| {
        let acl_id = &a.id;
        if acl_id.scheme == "world" && acl_id.id == "anyone" {
            return true;
        }
        auth.iter()
            .filter(|id| id.scheme == acl_id.scheme)
            .any(|id| match acl_id.scheme.as_str() {
                "digest" => id.id == acl_id.id,
                "ip" => ip_matches(&id.id, &acl_id.id),
                _ => false,
            })
    })
}

/// `IPAuthenticationProvider.matches`: `addr` or `addr/bits`, IPv4 only (as
/// ZooKeeper 3.8, whose IPv6 support is a TODO).
fn ip_matches(client: &str, acl_expr: &str) -> bool {
    let (addr, bits) = match acl_expr.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(bits) if bits <= 32 => (a, bits),
            _ => return false,
        },
        None => (acl_expr, 32),
    };
    let (Some(acl_addr), Some(client_addr)) = (ipv4_bits(addr), ipv4_bits(client)) else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    acl_addr & mask == client_addr & mask
}

/// Java's lenient dotted quad: four decimal parts, each 0..=255.
fn ipv4_bits(text: &str) -> Option<u32> {
    let mut value: u32 = 0;
    let mut parts = 0;
    for part in text.split('.') {
        let byte: u8 = part.parse().ok()?;
        value = (value << 8) | u32::from(byte);
        parts += 1;
    }
    (parts == 4).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::Perms;

    #[test]
    fn digest_matches_zookeeper() {
        // `DigestAuthenticationProvider super:test` prints this value.
        assert_eq!(digest("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
        assert!(digest("nocolon").starts_with("nocolon:"));
    }

    #[test]
    fn super_digest_adds_super() {
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        let ids = authenticate("digest", b"super:test", ip, Some(&digest("super:test")))
            .expect("digest never fails");
        assert_eq!(ids[0], Id::new("super", ""));
        assert!(authenticate("kerberos", b"x", ip, None).is_err());
    }

    #[test]
    fn acl_rules() {
        let ip = vec![Id::new("ip", "10.1.2.3")];
        let net = vec![Acl::new(Perms::READ, Id::new("ip", "10.1.0.0/16"))];
        assert!(acl_allows(&net, Perms::READ, &ip, false));
        assert!(!acl_allows(&net, Perms::WRITE, &ip, false));
        let other = vec![Acl::new(Perms::ALL, Id::new("digest", "a:b"))];
        assert!(!acl_allows(&other, Perms::READ, &ip, false));
        assert!(acl_allows(&other, Perms::READ, &ip, true));
        assert!(acl_allows(
            &other,
            Perms::READ,
            &[Id::new("super", "")],
            false
        ));
        assert!(acl_allows(&[], Perms::READ, &ip, false));
        assert!(acl_allows(&Acl::open_unsafe(), Perms::READ, &[], false));
    }

    #[test]
    fn who_am_i_names() {
        let infos = client_infos(&[Id::new("ip", "127.0.0.1"), Id::new("digest", "bob:xyz")]);
        assert_eq!(infos[0].user, "127.0.0.1");
        assert_eq!(infos[1].user, "bob");
    }
}
