//! Quotas as zkCli manages them: the limits of `/p` live in
//! `/zookeeper/quota/p/zookeeper_limits`, the usage (kept by the server) in
//! `/zookeeper/quota/p/zookeeper_stats`, both in `StatsTrack`'s text form
//! (`count=N,bytes=M`, then `=;key=value` pairs in key order when other keys
//! exist). `setquota`, `listquota` and `delquota` are client-side
//! procedures over plain znodes, written after `SetQuotaCommand`,
//! `ListQuotaCommand` and `DelQuotaCommand`.

use std::collections::BTreeMap;

/// `Quotas.quotaZookeeper`.
pub const QUOTA_ROOT: &str = "/zookeeper/quota";
/// `Quotas.procZookeeper`.
pub const PROC_ROOT: &str = "/zookeeper";
pub const LIMIT_NODE: &str = "zookeeper_limits";
pub const STAT_NODE: &str = "zookeeper_stats";

pub const COUNT: &str = "count";
pub const BYTES: &str = "bytes";
pub const COUNT_HARD: &str = "countHardLimit";
pub const BYTES_HARD: &str = "byteHardLimit";

/// `Quotas.quotaPath`.
pub fn quota_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}")
}

/// `Quotas.limitPath`.
pub fn limit_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{LIMIT_NODE}")
}

/// `Quotas.statPath`.
pub fn stat_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{STAT_NODE}")
}

/// ZooKeeper's `StatsTrack`: keys with long values; a missing key reads -1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    /// Parses node data as `StatsTrack(String)` does: pairs separated by runs
    /// of `,` and `;`, key and value by `=`, an empty value is -1. Text
    /// Java's parser would throw on gives an error.
    pub fn parse(data: &[u8]) -> Result<StatsTrack, String> {
        let text = String::from_utf8_lossy(data);
        let mut values = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut kv = pair.split('=');
            let key = kv.next().unwrap_or_default();
            let value = kv.next().ok_or_else(|| format!("no value in {pair:?}"))?;
            let value = if value.is_empty() {
                -1
            } else {
                value
                    .parse()
                    .map_err(|_| format!("For input string: \"{value}\""))?
            };
            values.insert(key.to_string(), value);
        }
        Ok(StatsTrack { values })
    }

    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_string(), value);
    }

    /// `StatsTrack.toString`.
    pub fn to_text(&self) -> String {
        let mut out = format!("{COUNT}={},{BYTES}={}", self.get(COUNT), self.get(BYTES));
        let mut rest = self
            .values
            .iter()
            .filter(|(k, _)| k.as_str() != COUNT && k.as_str() != BYTES)
            .peekable();
        if rest.peek().is_some() {
            out.push('=');
            for (k, v) in rest {
                out.push_str(&format!(";{k}={v}"));
            }
        }
        out
    }
}

/// `SetQuotaCommand.checkQuota`'s warnings (printed on stdout by zkCli).
pub fn below_usage_warnings(limits: &StatsTrack, usage: &StatsTrack) -> Vec<String> {
    let mut out = Vec::new();
    let under = |limit: i64, used: i64| limit > -1 && limit < used;
    if under(limits.get(COUNT), usage.get(COUNT)) || under(limits.get(COUNT_HARD), usage.get(COUNT))
    {
        out.push(format!(
            "[Warning]: the count quota you create is less than the existing count:{}",
            usage.get(COUNT)
        ));
    }
    if under(limits.get(BYTES), usage.get(BYTES)) || under(limits.get(BYTES_HARD), usage.get(BYTES))
    {
        out.push(format!(
            "[Warning]: the bytes quota you create is less than the existing bytes:{}",
            usage.get(BYTES)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_as_zookeeper_writes_it() {
        let mut t = StatsTrack::default();
        t.set(COUNT, 10);
        t.set(BYTES, -1);
        t.set(COUNT_HARD, -1);
        t.set(BYTES_HARD, -1);
        assert_eq!(
            t.to_text(),
            "count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        let back = StatsTrack::parse(t.to_text().as_bytes()).unwrap();
        assert_eq!(back, t);
        assert_eq!(
            StatsTrack::parse(b"count=0,bytes=0").unwrap().to_text(),
            "count=0,bytes=0"
        );
        assert_eq!(StatsTrack::default().to_text(), "count=-1,bytes=-1");
        assert!(StatsTrack::parse(b"count").is_err());
    }
}
