//! The result as a table for people or one JSON object for scripts.

use std::fmt::Write as _;

use crate::options::BenchArgs;
use crate::run::{error_name, Outcome};

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Latency {
    pub fn of(outcome: &Outcome) -> Latency {
        let h = &outcome.tally.latency_us;
        if h.is_empty() {
            return Latency {
                p50: 0,
                p90: 0,
                p99: 0,
                p999: 0,
                max: 0,
                mean: 0.0,
            };
        }
        Latency {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

fn ops_per_second(outcome: &Outcome) -> f64 {
    if outcome.seconds > 0.0 {
        outcome.tally.ops as f64 / outcome.seconds
    } else {
        0.0
    }
}

/// CPU microseconds per operation.
fn cpu_us_per_op(cpu_seconds: f64, ops: u64) -> f64 {
    if ops == 0 {
        0.0
    } else {
        cpu_seconds * 1e6 / ops as f64
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub fn table(args: &BenchArgs, outcome: &Outcome) -> String {
    let mut out = String::new();
    let t = &outcome.tally;
    let l = Latency::of(outcome);
    let _ = writeln!(
        out,
        "workload   {} on {} ({} sessions x {} in flight, {}-byte values, {} keys)",
        args.workload.name(),
        args.hosts,
        args.sessions,
        args.inflight,
        args.value_size,
        args.keys
    );
    let _ = writeln!(
        out,
        "ops        {} in {:.2} s = {:.0} ops/s",
        t.ops,
        outcome.seconds,
        ops_per_second(outcome)
    );
    let errors = if t.errors.is_empty() {
        "none".to_string()
    } else {
        t.errors
            .iter()
            .map(|(code, n)| format!("{} {n}", error_name(*code)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "errors     {errors}");
    let _ = writeln!(
        out,
        "latency us p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {:.0}",
        l.p50, l.p90, l.p99, l.p999, l.max, l.mean
    );
    let _ = writeln!(
        out,
        "bench cpu  {:.2} s = {:.2} us/op",
        outcome.bench_cpu_seconds,
        cpu_us_per_op(outcome.bench_cpu_seconds, t.ops)
    );
    for s in &outcome.servers {
        let _ = writeln!(
            out,
            "server {}  cpu {:.2} s = {:.2} us/op, {:.3} cpu-s per 1000 ops; rss {:.0} MiB, peak {:.0} MiB",
            s.pid,
            s.cpu_seconds,
            cpu_us_per_op(s.cpu_seconds, t.ops),
            s.cpu_seconds * 1000.0 / (t.ops.max(1) as f64),
            mib(s.rss_bytes),
            mib(s.peak_rss_bytes)
        );
    }
    if let Some(failure) = &t.failure {
        let _ = writeln!(out, "failure    {failure}");
    }
    out
}

/// Escapes a string for JSON.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A finite number for JSON (NaN and infinities are not JSON).
fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "0".to_string()
    }
}

pub fn json(args: &BenchArgs, outcome: &Outcome) -> String {
    let t = &outcome.tally;
    let l = Latency::of(outcome);
    let errors: Vec<String> = t
        .errors
        .iter()
        .map(|(code, n)| format!("{}:{n}", json_string(&error_name(*code))))
        .collect();
    let servers: Vec<String> = outcome
        .servers
        .iter()
        .map(|s| {
            format!(
                "{{\"pid\":{},\"cpu_seconds\":{},\"cpu_us_per_op\":{},\"rss_bytes\":{},\"peak_rss_bytes\":{}}}",
                s.pid,
                json_number(s.cpu_seconds),
                json_number(cpu_us_per_op(s.cpu_seconds, t.ops)),
                s.rss_bytes,
                s.peak_rss_bytes
            )
        })
        .collect();
    format!(
        "{{\"workload\":{},\"hosts\":{},\"sessions\":{},\"inflight\":{},\"value_size\":{},\"keys\":{},\
\"ops\":{},\"seconds\":{},\"ops_per_sec\":{},\"errors\":{{{}}},\
\"latency_us\":{{\"p50\":{},\"p90\":{},\"p99\":{},\"p999\":{},\"max\":{},\"mean\":{}}},\
\"bench_cpu_seconds\":{},\"bench_cpu_us_per_op\":{},\"servers\":[{}],\"failure\":{}}}",
        json_string(args.workload.name()),
        json_string(&args.hosts),
        args.sessions,
        args.inflight,
        args.value_size,
        args.keys,
        t.ops,
        json_number(outcome.seconds),
        json_number(ops_per_second(outcome)),
        errors.join(","),
        l.p50,
        l.p90,
        l.p99,
        l.p999,
        l.max,
        json_number(l.mean),
        json_number(outcome.bench_cpu_seconds),
        json_number(cpu_us_per_op(outcome.bench_cpu_seconds, t.ops)),
        servers.join(","),
        t.failure
            .as_deref()
            .map_or_else(|| "null".to_string(), json_string),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        assert_eq!(json_number(f64::NAN), "0");
        assert_eq!(json_number(1.5), "1.500");
    }
}
