//! `/metrics` in Prometheus' text format (version 0.0.4), ZooKeeper's
//! `PrometheusMetricsProvider` contract: on when zoo.cfg names that class
//! in `metricsProvider.className` (off otherwise, as in ZooKeeper), served
//! on `metricsProvider.httpHost`:`metricsProvider.httpPort` (0.0.0.0:7000).
//!
//! Nothing is counted for Prometheus on the request path except the
//! per-request-kind latency histogram (three relaxed atomic adds in
//! [`crate::stats::LatencyHistogram`]). Everything else is read at scrape
//! time from what `mntr` reports ([`crate::report::monitor`]): every
//! numeric `mntr` value becomes a gauge of the same name, the name
//! ZooKeeper registers it under (`znode_count`, `num_alive_connections`,
//! `avg_latency`, `quorum_size`, `synced_followers`, ...).
//!
//! The exposition is encoded by `prometheus-client` from a collector that
//! is asked on every scrape; rzk keeps no second copy of the values.

use crate::http::{Handler, Request, Response};
use crate::shared::Shared;
use crate::stats::LATENCY_BUCKETS_MS;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// The class name that turns the endpoint on, as ZooKeeper's.
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// Reads the server's values on each scrape.
#[derive(Debug)]
struct ServerCollector {
    shared: Arc<Shared>,
}

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, value) in crate::report::monitor(&self.shared) {
            let Some(number) = value.as_f64() else {
                continue;
            };
            let help = format!("mntr's zk_{name}");
            let mut metric = encoder.encode_descriptor(name, &help, None, MetricType::Gauge)?;
            metric.encode_gauge(&number)?;
        }
        self.encode_latencies(&mut encoder)
    }
}

impl ServerCollector {
    /// `request_latency_ms{op="GETD"}`: time from reading a request to
    /// queueing its reply, by request kind (`cons`' `lop` names); kinds
    /// never seen are left out.
    fn encode_latencies(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "request_latency_ms",
            "Request latency in milliseconds by request kind",
            None,
            MetricType::Histogram,
        )?;
        for (op, histogram) in self.shared.stats.op_latencies() {
            let (counts, sum_ms, count) = histogram.read();
            if count == 0 {
                continue;
            }
            let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS_MS
                .iter()
                .map(|&bound| bound as f64)
                .chain([f64::INFINITY])
                .zip(counts)
                .collect();
            let labels = [("op", op)];
            let mut family = metric.encode_family(&labels)?;
            family.encode_histogram::<NoLabelSet>(sum_ms as f64, count, &buckets, None)?;
        }
        Ok(())
    }
}

/// The exposition text of every metric, as a scrape gets it.
pub fn render(shared: &Arc<Shared>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ServerCollector {
        shared: shared.clone(),
    }));
    let mut out = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).is_err() {
        tracing::warn!("Cannot encode the metrics");
    }
    out
}

/// The request handler for the metrics port: `/metrics`, else 404.
pub fn handler(shared: Arc<Shared>) -> Handler {
    Arc::new(move |request: &Request| {
        if request.path != "/metrics" {
            return Response::error(404);
        }
        Response::new(
            200,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            render(&shared),
        )
    })
}
