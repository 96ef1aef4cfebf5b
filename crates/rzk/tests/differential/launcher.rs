//! Starting the servers under comparison.
//!
//! Apache ZooKeeper and rzk are started through `rzk-testkit` (`ApacheZk`,
//! `Rzk`); this module only chooses their zoo.cfg lines and wraps them in one
//! type so that the runner does not care which kind of server a side runs.

use std::path::Path;

/// zoo.cfg lines every server of the differential run gets, after the ones the
/// testkit always writes (`tickTime=2000`, `dataDir`, `clientPort`,
/// `clientPortAddress=127.0.0.1`, `4lw.commands.whitelist=*`,
/// `admin.enableServer=false`).
///
/// - `minSessionTimeout=1000` (the testkit writes `tickTime=2000`): the
///   session-expiry scenarios can ask for 1 s sessions, which ZooKeeper expires
///   at the next 2 s tick boundary after the timeout (1-3 s).
/// - `maxClientCnxns=0`: scenarios open many short connections from 127.0.0.1.
/// - `DigestAuthenticationProvider.superDigest`: ZooKeeper maps unknown zoo.cfg
///   keys to `zookeeper.<key>` system properties; this one makes `super:secret`
///   the super user.
/// - `enforceQuota=true` (→ `zookeeper.enforceQuota`): quota scenarios see
///   QuotaExceeded; no other scenario sets a quota.
pub fn base_lines() -> Vec<String> {
    vec![
        "minSessionTimeout=1000".into(),
        "maxClientCnxns=0".into(),
        format!(
            "DigestAuthenticationProvider.superDigest={}",
            rzk_client::digest_id("super", crate::dsl::SUPER_PASSWORD)
        ),
        "enforceQuota=true".into(),
    ]
}

/// Which configuration a scenario needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Config {
    /// `base_lines` + `extendedTypesEnabled=true` (TTL nodes).
    Main,
    /// `base_lines` only: TTL creates must fail with Unimplemented.
    NoExtendedTypes,
}

impl Config {
    pub fn lines(self) -> Vec<String> {
        let mut v = base_lines();
        if self == Config::Main {
            v.push("extendedTypesEnabled=true".into());
        }
        v
    }
}

/// One running server of either kind.
pub enum AnyServer {
    Zk(rzk_testkit::ApacheZk),
    Rzk(rzk_testkit::Rzk),
}

impl AnyServer {
    pub fn start_zk(config: Config) -> AnyServer {
        let lines = config.lines();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        AnyServer::Zk(rzk_testkit::ApacheZk::start_with(&refs).expect("start Apache ZooKeeper"))
    }

    pub fn start_rzk(bin: &Path, config: Config) -> AnyServer {
        let lines = config.lines();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        match rzk_testkit::Rzk::start_with(bin, &refs) {
            Ok(r) => AnyServer::Rzk(r),
            Err(e) => panic!(
                "cannot start rzk ({e}); to check the harness alone, run it with \
                 RZK_DIFF_TARGET=zk-vs-zk"
            ),
        }
    }

    pub fn addr(&self) -> String {
        match self {
            AnyServer::Zk(s) => s.addr(),
            AnyServer::Rzk(s) => s.addr(),
        }
    }
}
