//! Java's `Date.toString()` for a JVM whose zone is UTC, the way ZooKeeper
//! prints wall times to people: `dump`'s session deadlines and zkCli's
//! `ctime`/`mtime` (`Thu Jan 01 00:00:00 UTC 1970`). Both the server and
//! `rzk cli` print these, and both depend on this crate, so it lives here
//! although it is no part of the wire format.

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `EEE MMM dd HH:mm:ss zzz yyyy` in UTC for milliseconds since the epoch.
pub fn java_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        year
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::java_date;

    #[test]
    fn formats_like_java_in_utc() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-22T02:55:30Z, as printed by Apache ZooKeeper's `dump`.
        assert_eq!(java_date(1_795_316_130_000), "Sun Nov 22 02:55:30 UTC 2026");
        assert_eq!(java_date(1_709_211_909_123), "Thu Feb 29 13:05:09 UTC 2024");
        assert_eq!(java_date(1_000_000_000_000), "Sun Sep 09 01:46:40 UTC 2001");
        assert_eq!(java_date(-1000), "Wed Dec 31 23:59:59 UTC 1969");
    }
}
