//! ACLs: ZooKeeper's `checkACL`, `fixupACL`, the digest and ip authentication
//! providers, and the getACL redaction rule.
//!
//! Only the providers a default ZooKeeper 3.8 registers exist here: `ip` and
//! `digest` (plus the `world:anyone` and `auth` pseudo-schemes and the `super`
//! identity that bypasses every check). An ACL naming any other scheme is
//! rejected with InvalidACL, as ZooKeeper does when no provider is registered.

use std::borrow::Cow;

use base64::Engine;
use rzk_proto::{Acl, ErrorCode, Id};
use sha1::{Digest, Sha1};

/// `DigestAuthenticationProvider.generateDigest`: `user:base64(sha1("user:password"))`.
/// The server needs it for `addauth digest user:password`.
pub fn digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The authentication providers ZooKeeper registers by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Ip,
    Digest,
}

impl Provider {
    fn for_scheme(scheme: &str) -> Option<Provider> {
        match scheme {
            "ip" => Some(Provider::Ip),
            "digest" => Some(Provider::Digest),
            _ => None,
        }
    }

    /// `isAuthenticated`: whether an identity of this scheme may stand in for
    /// the `auth` pseudo-scheme. An ip address is not an authentication.
    fn is_authenticated(self) -> bool {
        matches!(self, Provider::Digest)
    }

    /// `isValid` for an ACL's id.
    fn is_valid(self, id: &str) -> bool {
        match self {
            // Java `id.split(":").length == 2` (trailing empty parts dropped).
            Provider::Digest => java_split_len(id, ':') == 2,
            Provider::Ip => ip_acl_is_valid(id),
        }
    }

    /// `matches(authId, aclId)`.
    fn matches(self, auth_id: &str, acl_id: &str) -> bool {
        match self {
            Provider::Digest => auth_id == acl_id,
            Provider::Ip => ip_matches(auth_id, acl_id),
        }
    }
}

/// `ZooKeeperServer.checkACL` (without `skipACL`, which the caller handles).
pub fn check(acl: &[Acl], perm: i32, auth: &[Id]) -> Result<(), ErrorCode> {
    if acl.is_empty() || auth.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        if let Some(provider) = Provider::for_scheme(&a.id.scheme) {
            let matched = auth
                .iter()
                .filter(|id| id.scheme == a.id.scheme)
                .any(|id| provider.matches(&id.id, &a.id.id));
            if matched {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// `PrepRequestProcessor.fixupACL`: rejects empty or malformed ACLs, drops exact
/// duplicates (first occurrence wins) and expands `auth` into the requester's
/// authenticated identities.
///
/// Most lists come back as they went in (no duplicates, no `auth`): those
/// are validated and borrowed, not copied, since a create runs this for
/// every node.
pub fn fixup<'a>(acl: &'a [Acl], auth: &[Id]) -> Result<Cow<'a, [Acl]>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let as_is = acl
        .iter()
        .enumerate()
        .all(|(i, a)| a.id.scheme != "auth" && !acl[..i].contains(a));
    if as_is {
        for a in acl {
            if !is_valid_as_is(a) {
                return Err(ErrorCode::InvalidAcl);
            }
        }
        return Ok(Cow::Borrowed(acl));
    }
    fixup_owned(acl, auth).map(Cow::Owned)
}

/// Whether an entry other than `auth` is kept: `world:anyone`, or an id its
/// scheme's provider accepts.
fn is_valid_as_is(a: &Acl) -> bool {
    (a.id.scheme == "world" && a.id.id == "anyone")
        || Provider::for_scheme(&a.id.scheme).is_some_and(|p| p.is_valid(&a.id.id))
}

/// [`fixup`] for a non-empty list that changes: duplicates dropped, `auth`
/// expanded.
fn fixup_owned(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        if a.id.scheme == "auth" {
            let before = out.len();
            for id in auth {
                if Provider::for_scheme(&id.scheme).is_some_and(Provider::is_authenticated) {
                    out.push(Acl::new(a.perms, id.clone()));
                }
            }
            if out.len() == before {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_as_is(a) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// getACL for a client with READ but not ADMIN: digest ids lose their hash
/// (`id.replaceAll(":.*", ":x")`), so the password hash is not handed out.
pub fn redact(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                Acl::new(a.perms, Id::new("digest", redact_digest_id(&a.id.id)))
            } else {
                a.clone()
            }
        })
        .collect()
}

/// Java's `s.replaceAll(":.*", ":x")`: `.` stops at line terminators, so every
/// line is handled on its own.
fn redact_digest_id(id: &str) -> String {
    let is_terminator = |c: char| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
    let mut out = String::with_capacity(id.len());
    let mut rest = id;
    while !rest.is_empty() {
        let line_end = rest.find(is_terminator).unwrap_or(rest.len());
        let line = &rest[..line_end];
        match line.find(':') {
            Some(colon) => {
                out.push_str(&line[..colon]);
                out.push_str(":x");
            }
            None => out.push_str(line),
        }
        // Copy the terminator itself (if any) and continue after it.
        let mut after = rest[line_end..].chars();
        if let Some(t) = after.next() {
            out.push(t);
        }
        rest = after.as_str();
    }
    out
}

/// Number of parts of Java's `s.split(sep)` (regex split with trailing empty
/// strings removed; an empty input yields one part).
fn java_split_len(s: &str, sep: char) -> usize {
    if s.is_empty() {
        return 1;
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts.len()
}

/// Java's `Integer.parseInt` for ASCII input: optional sign, at least one digit,
/// within i32.
pub(crate) fn java_parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i32>().ok()
}

/// `IPAuthenticationProvider.v4addr2Bytes` as a big-endian u32.
fn ipv4(addr: &str) -> Option<u32> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut value = 0u32;
    for part in parts {
        let octet = java_parse_int(part)?;
        let octet = u8::try_from(octet).ok()?;
        value = (value << 8) | u32::from(octet);
    }
    Some(value)
}

/// Parses `addr[/bits]` as the ip provider does; `None` if it would not match
/// anything.
fn ip_acl(acl_id: &str) -> Option<(u32, u32)> {
    let (addr, bits) = match acl_id.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits)),
        None => (acl_id, None),
    };
    let addr = ipv4(addr)?;
    let bits = match bits {
        Some(b) => {
            let b = java_parse_int(b)?;
            u32::try_from(b).ok().filter(|b| *b <= 32)?
        }
        None => 32,
    };
    Some((addr, bits))
}

fn ip_acl_is_valid(acl_id: &str) -> bool {
    ip_acl(acl_id).is_some()
}

fn ip_matches(client_addr: &str, acl_id: &str) -> bool {
    let Some((acl_addr, bits)) = ip_acl(acl_id) else {
        return false;
    };
    let Some(client) = ipv4(client_addr) else {
        return false; // IPv6 clients never match (ZooKeeper has no v6 parsing)
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    client & mask == acl_addr & mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::Perms;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl::new(perms, Id::new(scheme, id))
    }

    #[test]
    fn digest_matches_zookeeper() {
        // Values from `DigestAuthenticationProvider.generateDigest` (ZooKeeper docs
        // and a real 3.8.0 server).
        assert_eq!(digest("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
        assert_eq!(digest("user:pass"), "user:smGaoVKd/cQkjm7b88GyorAUz20=");
    }

    #[test]
    fn world_anyone_and_super() {
        let open = vec![acl(Perms::ALL, "world", "anyone")];
        assert!(check(&open, Perms::READ, &[]).is_ok());
        let read_only = vec![acl(Perms::READ, "world", "anyone")];
        assert_eq!(check(&read_only, Perms::WRITE, &[]), Err(ErrorCode::NoAuth));
        assert!(check(&read_only, Perms::WRITE, &[Id::new("super", "")]).is_ok());
        assert!(check(&[], Perms::ADMIN, &[]).is_ok());
    }

    #[test]
    fn digest_and_ip_matching() {
        let d = digest("u:p");
        let a = vec![
            acl(Perms::READ, "digest", &d),
            acl(Perms::WRITE, "ip", "10.0.0.0/8"),
        ];
        assert!(check(&a, Perms::READ, &[Id::new("digest", &d)]).is_ok());
        assert_eq!(
            check(&a, Perms::WRITE, &[Id::new("digest", &d)]),
            Err(ErrorCode::NoAuth)
        );
        assert!(check(&a, Perms::WRITE, &[Id::new("ip", "10.1.2.3")]).is_ok());
        assert_eq!(
            check(&a, Perms::WRITE, &[Id::new("ip", "11.1.2.3")]),
            Err(ErrorCode::NoAuth)
        );
        let exact = vec![acl(Perms::ALL, "ip", "127.0.0.1")];
        assert!(check(&exact, Perms::READ, &[Id::new("ip", "127.0.0.1")]).is_ok());
        assert!(check(&exact, Perms::READ, &[Id::new("ip", "127.0.0.2")]).is_err());
        let all = vec![acl(Perms::ALL, "ip", "1.2.3.4/0")];
        assert!(check(&all, Perms::READ, &[Id::new("ip", "9.9.9.9")]).is_ok());
        assert!(check(&all, Perms::READ, &[Id::new("ip", "0:0:0:0:0:0:0:1")]).is_err());
    }

    #[test]
    fn fixup_validates_and_expands() {
        let anyone = acl(Perms::ALL, "world", "anyone");
        assert_eq!(fixup(&[], &[]), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup(&[anyone.clone(), anyone.clone()], &[]).map(Cow::into_owned),
            Ok(vec![anyone.clone()])
        );
        // A list kept as it is comes back borrowed, in its order.
        let kept = [acl(1, "ip", "10.0.0.1"), anyone.clone()];
        assert!(matches!(fixup(&kept, &[]), Ok(Cow::Borrowed(b)) if b == kept));
        // One invalid entry anywhere refuses the list, on either path.
        assert_eq!(
            fixup(&[anyone.clone(), acl(31, "ip", "10.0.0")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[anyone.clone(), anyone.clone(), acl(31, "ip", "x")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "world", "nobody")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "foo", "bar")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "digest", "nohash")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "digest", "a:b:c")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert!(fixup(&[acl(31, "digest", "a:b:")], &[]).is_ok());
        assert_eq!(
            fixup(&[acl(31, "digest", "a:")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert!(fixup(&[acl(31, "ip", "10.0.0.1")], &[]).is_ok());
        assert!(fixup(&[acl(31, "ip", "10.0.0.0/8")], &[]).is_ok());
        assert_eq!(
            fixup(&[acl(31, "ip", "10.0.0.0/33")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "ip", "10.0.0")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[acl(31, "ip", "256.0.0.1")], &[]),
            Err(ErrorCode::InvalidAcl)
        );
        // auth expands to authenticated ids only (ip and super are not).
        let ip = Id::new("ip", "127.0.0.1");
        assert_eq!(
            fixup(&[acl(31, "auth", "")], std::slice::from_ref(&ip)),
            Err(ErrorCode::InvalidAcl)
        );
        let d = Id::new("digest", digest("u:p"));
        let d2 = Id::new("digest", digest("v:q"));
        assert_eq!(
            fixup(
                &[acl(5, "auth", "whatever")],
                &[ip, d.clone(), Id::new("super", ""), d2.clone()]
            )
            .map(Cow::into_owned),
            Ok(vec![Acl::new(5, d), Acl::new(5, d2)])
        );
    }

    #[test]
    fn redaction_hides_digest_hashes() {
        let a = vec![
            acl(31, "digest", "user:hash=="),
            acl(1, "ip", "1.2.3.4"),
            acl(1, "digest", "nocolon"),
        ];
        assert_eq!(
            redact(&a),
            vec![
                acl(31, "digest", "user:x"),
                acl(1, "ip", "1.2.3.4"),
                acl(1, "digest", "nocolon")
            ]
        );
        assert_eq!(redact_digest_id("a:b\nc:d"), "a:x\nc:x");
    }
}
