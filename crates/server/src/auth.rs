//! Connection identities: the `ip` identity every connection starts with, the
//! `digest` and `ip` authentication providers behind `addauth`, the `super`
//! identity from `superDigest`, and the READ check that filters watch events.
//!
//! The ACL rules and the digest function themselves live in the state crate
//! (`rzk_state::acl`), so replicated decisions and connection-local ones (which
//! events a session may see) cannot drift apart.

use rzk_proto::records::ClientInfo;
use rzk_proto::{Acl, Id};
use rzk_state::digest;
use std::net::IpAddr;

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

/// Whether `auth` may use `perm` on a node with `acl`: the state machine's
/// `checkACL` rules (one implementation for replicated and local decisions),
/// plus `skipACL`.
pub fn acl_allows(acl: &[Acl], perm: i32, auth: &[Id], skip_acl: bool) -> bool {
    skip_acl || rzk_state::acl::check(acl, perm, auth).is_ok()
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
