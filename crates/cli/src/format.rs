//! Text exactly as zkCli prints it: Stats (`StatPrinter`), dates (Java's
//! `Date.toString`, in UTC), ACL entries (jute's `toString` of an `Id`),
//! permission strings, watch events and the error messages of
//! `CliWrapperException`.

use rzk_proto::java_date::java_date;
use rzk_proto::{Acl, ErrorCode, EventType, KeeperState, Perms, Stat};

/// Java's `Long.toHexString`: lowercase, no padding, two's complement for
/// negative values.
pub fn hex(v: i64) -> String {
    format!("{:x}", v as u64)
}

/// zkCli's `StatPrinter.print`, one `name = value` line each.
pub fn stat(s: &Stat) -> String {
    format!(
        "cZxid = 0x{}\nctime = {}\nmZxid = 0x{}\nmtime = {}\npZxid = 0x{}\n\
         cversion = {}\ndataVersion = {}\naclVersion = {}\n\
         ephemeralOwner = 0x{}\ndataLength = {}\nnumChildren = {}\n",
        hex(s.czxid),
        java_date(s.ctime),
        hex(s.mzxid),
        java_date(s.mtime),
        hex(s.pzxid),
        s.cversion,
        s.version,
        s.aversion,
        hex(s.ephemeral_owner),
        s.data_length,
        s.num_children,
    )
}

/// `ZKUtil.getPermString`: the letters of the granted permissions in the
/// order c, d, r, w, a.
pub fn perms(p: i32) -> String {
    [
        (Perms::CREATE, 'c'),
        (Perms::DELETE, 'd'),
        (Perms::READ, 'r'),
        (Perms::WRITE, 'w'),
        (Perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| p & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

/// `AclParser.getPermFromString`; unknown letters are reported as zkCli
/// reports them and otherwise ignored.
pub fn parse_perms(s: &str, warnings: &mut Vec<String>) -> i32 {
    s.chars().fold(0, |acc, c| {
        acc | match c {
            'r' => Perms::READ,
            'w' => Perms::WRITE,
            'c' => Perms::CREATE,
            'd' => Perms::DELETE,
            'a' => Perms::ADMIN,
            other => {
                warnings.push(format!("Unknown perm type: {other}"));
                0
            }
        }
    })
}

/// `AclParser.parse`: `scheme:id:perms[,scheme:id:perms...]`; the id is
/// what lies between the first and the last colon.
pub fn parse_acl(s: &str, warnings: &mut Vec<String>) -> Vec<Acl> {
    let mut acl = Vec::new();
    for entry in s.split(',') {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            warnings.push(format!("{entry} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            warnings.push(format!("{entry} does not have the form scheme:id:perm"));
            continue;
        }
        acl.push(Acl::new(
            parse_perms(&entry[last + 1..], warnings),
            rzk_proto::Id::new(&entry[..first], &entry[first + 1..last]),
        ));
    }
    acl
}

/// One entry as zkCli's `getAcl` prints it: jute's `Id.toString()` (both
/// strings quoted with `'` and escaped, then a newline) then `: perms`.
pub fn acl_entry(a: &Acl) -> String {
    format!(
        "{},{}\n: {}\n",
        jute_string(&a.id.scheme),
        jute_string(&a.id.id),
        perms(a.perms)
    )
}

/// A string as jute's `ToStringOutputArchive` writes it.
fn jute_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// Java's `List.toString()` of strings: `[a, b]`.
pub fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

/// A watch event as the Java client hands it to zkCli's watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    pub state: KeeperState,
    pub event_type: EventType,
    /// `None` for connection state changes (Java prints `null`).
    pub path: Option<String>,
}

impl WatchedEvent {
    pub fn state_change(state: KeeperState) -> Self {
        WatchedEvent {
            state,
            event_type: EventType::None,
            path: None,
        }
    }
}

/// What zkCli's watcher prints for an event: `printMessage` puts a newline
/// before each of its two lines.
pub fn watcher_lines(e: &WatchedEvent) -> String {
    format!(
        "\nWATCHER::\n\nWatchedEvent state:{} type:{} path:{}\n",
        e.state.name(),
        e.event_type.name(),
        e.path.as_deref().unwrap_or("null")
    )
}

/// `KeeperException.getCodeMessage`.
pub fn code_message(code: ErrorCode) -> &'static str {
    use ErrorCode::*;
    match code {
        Ok => "ok",
        NotEmpty => "Directory not empty",
        SessionExpired => "Session expired",
        InvalidCallback => "Invalid callback",
        SessionMoved => "Session moved",
        NotReadOnly => "Not a read-only call",
        EphemeralOnLocalSession => "Ephemeral node on local session",
        NoWatcher => "No such watcher",
        ReconfigDisabled => "Reconfig is disabled",
        SessionClosedRequireSasl => "Session closed because client failed to authenticate",
        QuotaExceeded => "Quota has exceeded",
        Throttled => "Op throttled due to high load",
        ApiError => "APIError",
        InvalidAcl => "InvalidACL",
        RequestTimeout => "RequestTimeout",
        other => other.name(),
    }
}

/// `KeeperException.getMessage()`: `KeeperErrorCode = NoNode for /x`.
pub fn keeper_message(code: ErrorCode, path: &str) -> String {
    if path.is_empty() {
        format!("KeeperErrorCode = {}", code_message(code))
    } else {
        format!("KeeperErrorCode = {} for {path}", code_message(code))
    }
}

/// What zkCli prints (on stderr) when a command fails with `code` on `path`
/// (`CliWrapperException.getMessage`).
pub fn error_message(code: ErrorCode, path: &str) -> String {
    use ErrorCode::*;
    match code {
        NoNode => format!("Node does not exist: {path}"),
        NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        NodeExists => format!("Node already exists: {path}"),
        NotEmpty => format!("Node not empty: {path}"),
        NotReadOnly => format!("Not a read-only call: {path}"),
        InvalidAcl => format!("Acl is not valid : {path}"),
        NoAuth => format!("Insufficient permission : {path}"),
        BadArguments => format!("Arguments are not valid : {path}"),
        BadVersion => format!("version No is not valid : {path}"),
        ReconfigInProgress => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .to_string()
        }
        NewConfigNoQuorum => "No quorum of new config is connected and up-to-date with the \
             leader of last commmitted config - try invoking reconfiguration after new \
             servers are connected and synced"
            .to_string(),
        QuotaExceeded => format!("Quota has exceeded : {path}"),
        other => keeper_message(other, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rzk_proto::Id;

    #[test]
    fn stat_lines_as_statprinter() {
        let s = Stat {
            czxid: 0x10,
            mzxid: 0x1a,
            ctime: 0,
            mtime: 0,
            version: 2,
            cversion: 1,
            aversion: 0,
            ephemeral_owner: -1,
            data_length: 5,
            num_children: 1,
            pzxid: 0x11,
        };
        let text = stat(&s);
        assert!(text.starts_with("cZxid = 0x10\nctime = Thu Jan 01 00:00:00 UTC 1970\n"));
        assert!(text.contains("\nephemeralOwner = 0xffffffffffffffff\n"));
        assert!(text.ends_with("dataLength = 5\nnumChildren = 1\n"));
    }

    #[test]
    fn acl_text_round_trip() {
        assert_eq!(
            acl_entry(&Acl::new(Perms::ALL, Id::anyone())),
            "'world,'anyone\n: cdrwa\n"
        );
        assert_eq!(
            acl_entry(&Acl::new(Perms::READ, Id::new("digest", "u:a,b%"))),
            "'digest,'u:a%2Cb%25\n: r\n"
        );
        let mut warnings = Vec::new();
        let acl = parse_acl("world:anyone:cdrwa,digest:u:h=:rx,bad", &mut warnings);
        assert_eq!(acl.len(), 2);
        assert_eq!(acl[1].id, Id::new("digest", "u:h="));
        assert_eq!(acl[1].perms, Perms::READ);
        assert_eq!(
            warnings,
            [
                "Unknown perm type: x",
                "bad does not have the form scheme:id:perm"
            ]
        );
    }

    #[test]
    fn messages_as_zkcli() {
        assert_eq!(
            error_message(ErrorCode::BadVersion, "/x"),
            "version No is not valid : /x"
        );
        assert_eq!(
            error_message(ErrorCode::NoWatcher, "/x"),
            "KeeperErrorCode = No such watcher for /x"
        );
        let e = WatchedEvent {
            state: KeeperState::SyncConnected,
            event_type: EventType::NodeDataChanged,
            path: Some("/x".into()),
        };
        assert_eq!(
            watcher_lines(&e),
            "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/x\n"
        );
    }
}
