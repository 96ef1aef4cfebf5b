//! The ensemble a zoo.cfg describes: its `server.N` lines, parsed.
//!
//! ZooKeeper's format (`QuorumPeer.QuorumServer`), kept unchanged so an
//! existing zoo.cfg works:
//!
//! ```text
//! server.N=host:peerPort:electionPort[:participant|:observer][;[clientAddress:]clientPort[;[secureClientAddress:]secureClientPort]]
//! ```
//!
//! The third part, the secure client port, is ZooKeeper 3.9's; rzk takes this
//! server's own from it when `secureClientPort` is not set, and does not
//! carry it into `/zookeeper/config` (its membership records the plain
//! client address only).
//!
//! `host` may be an IPv6 literal in brackets. rzk uses `peerPort` for all
//! server-to-server traffic (raft's RPCs, forwarded writes, session
//! activity); `electionPort` is accepted and checked but unused, because
//! elections are raft messages on the same connection. Participants are raft
//! voters; observers are raft learners: they receive every entry and serve
//! clients, but never vote and never count towards a quorum, which is exactly
//! what a ZooKeeper observer is.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use rzk_replica::Member;

/// A server's role in the ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Participant,
    Observer,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Participant => "participant",
            Role::Observer => "observer",
        })
    }
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    pub id: u64,
    /// As written (brackets removed from IPv6 literals).
    pub host: String,
    pub peer_port: u16,
    pub election_port: u16,
    pub role: Role,
    /// The client address from the `;[address:]port` suffix, if any.
    pub client: Option<SocketAddr>,
    /// The secure client address from a second `;[address:]port` suffix.
    pub secure_client: Option<SocketAddr>,
}

impl ServerSpec {
    /// `host:peerPort`, the address peers dial (brackets restored for IPv6).
    pub fn peer_address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.peer_port)
        } else {
            format!("{}:{}", self.host, self.peer_port)
        }
    }
}

/// Why a `server.N` line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// Parses the value of `server.<id>`.
pub fn parse_server(id: u64, value: &str) -> Result<ServerSpec, SpecError> {
    let bad = |why: &str| {
        SpecError(format!(
            "server.{id}={value}: {why} (expected host:peerPort:electionPort[:participant|:observer][;[clientAddress:]clientPort])"
        ))
    };
    let mut parts = value.split(';');
    let spec = parts.next().unwrap_or("").trim();
    let client = parts.next().map(str::trim);
    let secure_client = parts.next().map(str::trim);
    if parts.next().is_some() {
        return Err(bad("too many ';' parts"));
    }
    let (host, rest) = split_host(spec).ok_or_else(|| bad("no host"))?;
    let mut parts = rest.split(':');
    let port = |p: Option<&str>, what: &str| -> Result<u16, SpecError> {
        p.and_then(|p| p.trim().parse::<u16>().ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(&format!("bad {what}")))
    };
    let peer_port = port(parts.next(), "peer port")?;
    let election_port = port(parts.next(), "election port")?;
    let role = match parts.next().map(str::trim) {
        None | Some("participant") => Role::Participant,
        Some("observer") => Role::Observer,
        Some(other) => return Err(bad(&format!("unknown role {other:?}"))),
    };
    if parts.next().is_some() {
        return Err(bad("too many fields"));
    }
    let client = match client {
        None | Some("") => None,
        Some(c) => Some(parse_client(c).ok_or_else(|| bad("bad client address"))?),
    };
    let secure_client = match secure_client {
        None | Some("") => None,
        Some(c) => Some(parse_client(c).ok_or_else(|| bad("bad secure client address"))?),
    };
    Ok(ServerSpec {
        id,
        host: host.to_string(),
        peer_port,
        election_port,
        role,
        client,
        secure_client,
    })
}

/// Splits `host:rest` where host may be `[v6]`.
fn split_host(spec: &str) -> Option<(&str, &str)> {
    if let Some(after) = spec.strip_prefix('[') {
        let (host, rest) = after.split_once(']')?;
        Some((host, rest.strip_prefix(':')?))
    } else {
        let (host, rest) = spec.split_once(':')?;
        (!host.is_empty()).then_some((host, rest))
    }
}

/// `port` or `address:port` (ZooKeeper's default address is all interfaces).
fn parse_client(text: &str) -> Option<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Some(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    let (host, port) = text.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let ip = match host {
        "localhost" => std::net::IpAddr::from([127, 0, 0, 1]),
        _ => host.trim_matches(['[', ']']).parse().ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// The whole ensemble: every `server.N`, checked together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ensemble {
    pub servers: BTreeMap<u64, ServerSpec>,
}

impl Ensemble {
    /// Parses every line; at least one participant is needed when there are
    /// any lines at all (a quorum of observers cannot exist).
    pub fn parse(lines: &BTreeMap<u64, String>) -> Result<Ensemble, SpecError> {
        let mut servers = BTreeMap::new();
        for (id, value) in lines {
            servers.insert(*id, parse_server(*id, value)?);
        }
        let ensemble = Ensemble { servers };
        if !ensemble.servers.is_empty() && ensemble.voters().is_empty() {
            return Err(SpecError(
                "every server.N line is an observer: an ensemble needs at least one participant"
                    .to_string(),
            ));
        }
        Ok(ensemble)
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Participants: server id → its raft member.
    pub fn voters(&self) -> BTreeMap<u64, Member> {
        self.with_role(Role::Participant)
    }

    /// Observers: server id → its raft member.
    pub fn observers(&self) -> BTreeMap<u64, Member> {
        self.with_role(Role::Observer)
    }

    fn with_role(&self, role: Role) -> BTreeMap<u64, Member> {
        self.servers
            .values()
            .filter(|s| s.role == role)
            .map(|s| (s.id, crate::reconfig::member_of(s)))
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<&ServerSpec> {
        self.servers.get(&id)
    }

    /// ZooKeeper's `/zookeeper/config` text for this membership: one
    /// `server.N=...` line each, then `version=<hex>`.
    pub fn config_text(&self, version: i64) -> String {
        let mut out = String::new();
        for s in self.servers.values() {
            out.push_str(&format!(
                "server.{}={}:{}:{}:{}",
                s.id,
                bracket(&s.host),
                s.peer_port,
                s.election_port,
                s.role
            ));
            if let Some(c) = s.client {
                out.push_str(&format!(";{}:{}", c.ip(), c.port()));
            }
            out.push('\n');
        }
        out.push_str(&format!("version={version:x}"));
        out
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zookeeper_server_lines() {
        let s = parse_server(1, "zk1:2888:3888").unwrap();
        assert_eq!(s.peer_address(), "zk1:2888");
        assert_eq!(
            (s.election_port, s.role, s.client),
            (3888, Role::Participant, None)
        );

        let s = parse_server(2, "10.0.0.2:2888:3888:observer;2181").unwrap();
        assert_eq!(s.role, Role::Observer);
        assert_eq!(s.client, Some("0.0.0.0:2181".parse().unwrap()));

        let s = parse_server(3, "[::1]:2888:3888:participant;127.0.0.1:2182").unwrap();
        assert_eq!(s.peer_address(), "[::1]:2888");
        assert_eq!(s.client, Some("127.0.0.1:2182".parse().unwrap()));
    }

    #[test]
    fn bad_lines_say_why() {
        for bad in [
            "zk1",
            "zk1:x:3888",
            "zk1:2888",
            "zk1:2888:3888:leader",
            ":2888:3888",
            "zk1:0:3888",
        ] {
            let e = parse_server(1, bad).unwrap_err();
            assert!(e.0.starts_with("server.1="), "{e}");
        }
    }

    #[test]
    fn an_ensemble_needs_a_participant() {
        let lines = BTreeMap::from([(1, "a:1:2:observer".to_string())]);
        assert!(Ensemble::parse(&lines).is_err());
        let lines = BTreeMap::from([
            (1, "a:1:2".to_string()),
            (2, "b:1:2".to_string()),
            (3, "c:1:2:observer".to_string()),
        ]);
        let e = Ensemble::parse(&lines).unwrap();
        assert_eq!(e.voters().len(), 2);
        assert_eq!(e.observers().keys().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(
            e.config_text(0x100000000),
            "server.1=a:1:2:participant\nserver.2=b:1:2:participant\nserver.3=c:1:2:observer\nversion=100000000"
        );
    }
}
