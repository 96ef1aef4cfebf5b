//! Prometheus' `/metrics`, scraped over a real socket and read by a strict
//! parser of the text format (0.0.4): every sample belongs to a declared
//! family, names and labels are well formed, values are numbers, histogram
//! buckets are cumulative and end at `+Inf` = `_count`. Then the values are
//! checked against reality: znodes created, connections open, requests
//! answered, and every numeric `mntr` key is a gauge of the same name.

mod common;

use common::http::get;
use common::{req, Client};
use rzk_proto::{CreateMode, OpCode};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: family name → type, and the samples in order.
#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
            })
            .map(|s| s.value)
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `{k="v",...}` → labels; strict about quoting and escapes.
fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").ok_or(format!("label in {text}"))?;
        if !valid_name(key) {
            return Err(format!("label name {key:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => return Err(format!("escape {other:?} in {text}")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value in {text}")),
            }
        };
        if labels.insert(key.to_string(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    Ok(labels)
}

fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| {
            types
                .get(*base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        })
}

fn parse(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), _) if valid_name(name) => {}
                (Some("TYPE"), Some(name), Some(kind)) if valid_name(name) => {
                    let known = ["counter", "gauge", "histogram", "summary", "untyped"];
                    if !known.contains(&kind) {
                        return Err(format!("type {kind}"));
                    }
                    if out
                        .types
                        .insert(name.to_string(), kind.to_string())
                        .is_some()
                    {
                        return Err(format!("{name} typed twice"));
                    }
                }
                _ => return Err(format!("comment line {line:?}")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("sample {line:?}"))?;
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .ok_or(format!("labels in {line:?}"))?;
                (name, parse_labels(inner)?)
            }
            None => (series, BTreeMap::new()),
        };
        if !valid_name(name) || family_of(name, &out.types).is_none() {
            return Err(format!("sample {name} of no declared family"));
        }
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| format!("value {v:?} in {line:?}"))?,
        };
        out.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    check_histograms(&out)?;
    Ok(out)
}

/// A series' labels other than `le`, in order.
type Labels = Vec<(String, String)>;

/// Buckets of each series are cumulative and end at `+Inf` == `_count`.
fn check_histograms(e: &Exposition) -> Result<(), String> {
    for (family, _) in e.types.iter().filter(|(_, t)| *t == "histogram") {
        let bucket_name = format!("{family}_bucket");
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for s in e.samples.iter().filter(|s| s.name == bucket_name) {
            let le = s.labels.get("le").ok_or("bucket without le")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().map_err(|_| format!("le {le}"))?
            };
            let key: Labels = s
                .labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            series.entry(key).or_default().push((bound, s.value));
        }
        for (key, buckets) in series {
            let sorted = buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
            if !sorted || buckets.last().map(|b| b.0) != Some(f64::INFINITY) {
                return Err(format!("{family}{key:?}: buckets {buckets:?}"));
            }
            let labels: Vec<(&str, &str)> =
                key.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let count = e.value(&format!("{family}_count"), &labels);
            if count != buckets.last().map(|b| b.1) {
                return Err(format!("{family}{key:?}: +Inf bucket != count {count:?}"));
            }
        }
    }
    Ok(())
}

async fn scrape(addr: SocketAddr) -> Exposition {
    let reply = tokio::task::spawn_blocking(move || get(addr, "/metrics"))
        .await
        .expect("scrape");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&reply.body).unwrap_or_else(|e| panic!("bad exposition: {e}\n{}", reply.body))
}

#[test]
fn parser_is_strict() {
    assert!(parse("# TYPE a gauge\na 1\n").is_ok());
    assert!(parse("a 1\n").is_err(), "undeclared family");
    assert!(parse("# TYPE a gauge\na x\n").is_err(), "not a number");
    assert!(
        parse("# TYPE a gauge\na{b=\"c} 1\n").is_err(),
        "unterminated"
    );
    let bad_hist =
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n";
    assert!(parse(bad_hist).is_err(), "not cumulative");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_reflect_the_server() {
    let server = common::start(|c| {
        c.metrics.prometheus_enabled = true;
        c.metrics.http_host = "127.0.0.1".to_string();
        c.metrics.http_port = 0;
        c.admin.enable_server = true;
        c.admin.server_address = "127.0.0.1".to_string();
        c.admin.server_port = 0;
    })
    .await;
    let metrics = server.metrics_addr.expect("metrics endpoint running");
    let admin = server.admin_addr.expect("admin server running");

    let before = scrape(metrics).await;
    assert_eq!(
        before.types.get("znode_count").map(String::as_str),
        Some("gauge")
    );
    assert_eq!(before.value("znode_count", &[]), Some(5.0));
    assert_eq!(before.value("num_alive_connections", &[]), Some(0.0));

    const CREATED: usize = 9;
    let mut first = Client::connect(server.addr).await;
    let _second = Client::connect(server.addr).await;
    for i in 0..CREATED {
        let path = format!("/m{i}");
        first
            .call(
                OpCode::Create,
                req::create(&path, b"abc", CreateMode::Persistent),
            )
            .await;
    }
    first
        .call(OpCode::GetData, req::get_data("/m0", true))
        .await;

    let after = scrape(metrics).await;
    assert_eq!(after.value("znode_count", &[]), Some(5.0 + CREATED as f64));
    assert_eq!(after.value("num_alive_connections", &[]), Some(2.0));
    assert_eq!(after.value("watch_count", &[]), Some(1.0));
    assert_eq!(after.value("global_sessions", &[]), Some(2.0));
    let creates = after.value("request_latency_ms_count", &[("op", "CREA")]);
    assert_eq!(creates, Some(CREATED as f64));
    assert_eq!(
        after.value(
            "request_latency_ms_bucket",
            &[("op", "GETD"), ("le", "+Inf")]
        ),
        Some(1.0)
    );
    assert!(after.value("approximate_data_size", &[]) > before.value("approximate_data_size", &[]));

    // Every numeric mntr value is a gauge of the same name.
    let monitor = tokio::task::spawn_blocking(move || get(admin, "/commands/monitor"))
        .await
        .expect("monitor");
    let monitor: serde_json::Value = serde_json::from_str(&monitor.body).expect("JSON");
    let numeric: Vec<&String> = monitor
        .as_object()
        .expect("object")
        .iter()
        .filter(|(_, v)| v.is_number())
        .map(|(k, _)| k)
        .collect();
    assert!(numeric.len() >= 20, "{monitor}");
    for key in numeric {
        assert_eq!(
            after.types.get(key).map(String::as_str),
            Some("gauge"),
            "{key}"
        );
    }

    let other = tokio::task::spawn_blocking(move || get(metrics, "/"))
        .await
        .expect("get");
    assert_eq!(other.status, 404);
    server.stop().await;
}
