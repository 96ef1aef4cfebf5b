//! zoo.cfg timing to openraft timing.
//!
//! ZooKeeper counts in ticks (`tickTime` ms): the leader pings followers every
//! half tick, a follower that hears nothing from its leader for `syncLimit`
//! ticks gives up on it and starts an election, and a follower has `initLimit`
//! ticks to connect and download the state when it joins. rzk keeps those
//! meanings:
//!
//! | zoo.cfg | openraft | why |
//! |---|---|---|
//! | `tickTime / 2` | `heartbeat_interval` | ZooKeeper's leader pings every half tick |
//! | `syncLimit × tickTime` | `election_timeout_min` | silence a follower tolerates before it stops following |
//! | `(syncLimit + 1) × tickTime` | `election_timeout_max` | one tick of randomisation keeps two followers from splitting the vote |
//! | `initLimit × tickTime` | `install_snapshot_timeout` | the time a joining server gets to receive and load the state |
//! | `snapCount` | `snapshot_policy = LogsSinceLast(snapCount/2 + roll)` | ZooKeeper snapshots after `snapCount/2 + roll` transactions, roll random in `[0, snapCount/2)` |
//!
//! The roll keeps the members of an ensemble from all taking a snapshot at
//! the same moment (each replays and writes a whole tree). ZooKeeper draws a
//! new roll after every snapshot; openraft's policy is fixed for the life of a
//! raft instance, so rzk draws it once per start, from the start time's
//! nanoseconds (no randomness dependency for one number).
//!
//! With ZooKeeper's sample config (`tickTime=2000`, `syncLimit=5`) a leader
//! that dies is replaced after 10–12 s plus one election round, as in
//! ZooKeeper; test configs use a short tick.

use openraft::{Config, SnapshotPolicy};

/// ZooKeeper's default `snapCount` (`zookeeper.snapCount`).
pub const SNAP_COUNT_DEFAULT: u64 = 100_000;

/// The smallest `snapCount` used (ZooKeeper raises smaller values to 2); 0
/// still means "never snapshot".
pub const SNAP_COUNT_MIN: u64 = 2;

/// Entries already in a snapshot that are kept in the log anyway (at most;
/// never more than `snapCount`), so a follower that is only a little behind
/// gets entries rather than a snapshot.
pub const LOG_KEPT_AFTER_SNAPSHOT_ENTRIES: u64 = 1_000;

/// Entries per AppendEntries RPC (also bounds a peer frame, see `network`).
pub const APPEND_ENTRIES_PER_RPC_MAX: u64 = 512;

/// The zoo.cfg settings the replica depends on, in zoo.cfg's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub tick_time_ms: u32,
    pub init_limit_ticks: u32,
    pub sync_limit_ticks: u32,
    /// `snapCount`: entries between snapshots (0 = never snapshot).
    pub snap_count: u64,
}

impl Default for Timing {
    /// ZooKeeper's sample zoo.cfg.
    fn default() -> Self {
        Timing {
            tick_time_ms: 2000,
            init_limit_ticks: 10,
            sync_limit_ticks: 5,
            snap_count: SNAP_COUNT_DEFAULT,
        }
    }
}

/// Why a [`Timing`] cannot drive raft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimingError(pub String);

impl std::fmt::Display for TimingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimingError {}

/// The number of entries after which a snapshot is taken: `snapCount/2 +
/// roll`, roll in `[0, snapCount/2)` drawn from `roll_seed`; `None` for
/// `snapCount = 0` (never).
pub fn snapshot_threshold(snap_count: u64, roll_seed: u64) -> Option<u64> {
    if snap_count == 0 {
        return None;
    }
    let half = snap_count.max(SNAP_COUNT_MIN) / 2;
    Some(half + roll_seed % half)
}

/// Nanoseconds of the wall clock now: differs between starts and between the
/// servers of an ensemble, which is all the roll needs.
fn start_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()) ^ d.as_secs())
        .unwrap_or(0)
}

impl Timing {
    /// openraft's config for this timing (see the module doc for the
    /// mapping), with a snapshot roll drawn from the clock.
    pub fn raft_config(&self, cluster_name: &str) -> Result<Config, TimingError> {
        self.raft_config_rolled(cluster_name, start_nanos())
    }

    /// As [`Timing::raft_config`] with the snapshot roll drawn from
    /// `roll_seed` (deterministic, for tests).
    pub fn raft_config_rolled(
        &self,
        cluster_name: &str,
        roll_seed: u64,
    ) -> Result<Config, TimingError> {
        let tick_ms = u64::from(self.tick_time_ms);
        if tick_ms < 2 {
            return Err(TimingError(format!(
                "tickTime={} is too small for replication (at least 2 ms)",
                self.tick_time_ms
            )));
        }
        if self.sync_limit_ticks == 0 || self.init_limit_ticks == 0 {
            return Err(TimingError(format!(
                "initLimit={} and syncLimit={} must be at least 1",
                self.init_limit_ticks, self.sync_limit_ticks
            )));
        }
        let election_timeout_min = tick_ms * u64::from(self.sync_limit_ticks);
        let snapshot_policy = match snapshot_threshold(self.snap_count, roll_seed) {
            None => SnapshotPolicy::Never,
            Some(n) => SnapshotPolicy::LogsSinceLast(n),
        };
        let config = Config {
            cluster_name: cluster_name.to_string(),
            heartbeat_interval: tick_ms / 2,
            election_timeout_min,
            election_timeout_max: election_timeout_min + tick_ms,
            install_snapshot_timeout: tick_ms * u64::from(self.init_limit_ticks),
            snapshot_policy,
            max_in_snapshot_log_to_keep: self.snap_count.min(LOG_KEPT_AFTER_SNAPSHOT_ENTRIES),
            // A follower further behind than a snapshot's worth gets the snapshot.
            replication_lag_threshold: self.snap_count.max(LOG_KEPT_AFTER_SNAPSHOT_ENTRIES),
            max_payload_entries: APPEND_ENTRIES_PER_RPC_MAX,
            enable_pre_vote: Some(true),
            ..Config::default()
        };
        config
            .validate()
            .map_err(|e| TimingError(format!("raft timing from zoo.cfg: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_zoo_cfg_maps_to_zookeeper_timeouts() {
        let c = Timing::default().raft_config("rzk").expect("valid");
        assert_eq!(c.heartbeat_interval, 1000);
        assert_eq!(c.election_timeout_min, 10_000);
        assert_eq!(c.election_timeout_max, 12_000);
        assert_eq!(c.install_snapshot_timeout, 20_000);
        let SnapshotPolicy::LogsSinceLast(n) = c.snapshot_policy else {
            panic!("snapshots are taken: {:?}", c.snapshot_policy);
        };
        assert!((50_000..100_000).contains(&n), "snapCount/2 + roll: {n}");
        let c = Timing::default()
            .raft_config_rolled("rzk", 12_345)
            .expect("valid");
        assert_eq!(c.snapshot_policy, SnapshotPolicy::LogsSinceLast(62_345));
    }

    #[test]
    fn snapshot_threshold_is_half_plus_a_roll_below_half() {
        assert_eq!(snapshot_threshold(0, 7), None, "snapCount 0: never");
        assert_eq!(snapshot_threshold(100, 0), Some(50));
        assert_eq!(snapshot_threshold(100, 49), Some(99));
        assert_eq!(snapshot_threshold(100, 50), Some(50), "the roll wraps");
        // Raised to ZooKeeper's minimum of 2: a snapshot after every entry.
        assert_eq!(snapshot_threshold(1, 5), Some(1));
        assert_eq!(snapshot_threshold(2, 5), Some(1));
        let seen: std::collections::BTreeSet<u64> = (0..1000)
            .filter_map(|seed| snapshot_threshold(20, seed))
            .collect();
        assert_eq!(
            seen,
            (10..20).collect(),
            "every value in [snapCount/2, snapCount)"
        );
    }

    #[test]
    fn degenerate_timing_is_refused_with_a_reason() {
        let t = Timing {
            sync_limit_ticks: 0,
            ..Timing::default()
        };
        assert!(t.raft_config("rzk").is_err());
        let t = Timing {
            tick_time_ms: 1,
            ..Timing::default()
        };
        assert!(t.raft_config("rzk").is_err());
    }
}
