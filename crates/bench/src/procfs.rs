//! CPU time and memory of processes, from Linux's /proc.

/// Clock ticks per second of /proc's CPU times (`sysconf(_SC_CLK_TCK)`,
/// 100 on every Linux this runs on).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of a process (`self` for this one).
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, utime field 14, stime field 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS_PER_SECOND)
}

/// A `/proc/<pid>/status` size field (VmRSS, VmHWM) in bytes.
pub fn status_bytes(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds("self").is_some_and(|s| s >= 0.0));
        assert!(status_bytes("self", "VmRSS").is_some_and(|b| b > 0));
        assert!(status_bytes("self", "VmHWM").is_some_and(|b| b > 0));
        assert_eq!(cpu_seconds("0"), None);
    }
}
