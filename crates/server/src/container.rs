//! The container/TTL checker: deletes empty containers and expired TTL nodes.
//!
//! As ZooKeeper's `ContainerManager`: every `znode.container.checkIntervalMs`
//! it asks the tree for candidates and proposes a `DeleteContainer` for each,
//! spacing the proposals so that at most `znode.container.maxPerMinute` go out
//! per minute. The tree re-checks each candidate when the entry applies, so a
//! node that gained a child in between is left alone.

use crate::shared::Shared;
use rzk_state::Txn;
use std::sync::Arc;
use std::time::Duration;

const MS_PER_MINUTE: u64 = 60_000;

/// Runs until the server shuts down (the log closes).
pub async fn run_container_checker(shared: Arc<Shared>) {
    let interval_ms = shared.config.container_check_interval_ms.max(1);
    let per_minute = u64::from(shared.config.container_max_per_minute.max(1));
    let spacing = Duration::from_millis(MS_PER_MINUTE / per_minute);
    let per_run =
        usize::try_from((per_minute * interval_ms / MS_PER_MINUTE).max(1)).unwrap_or(usize::MAX);
    let mut interval = tokio::time::interval(Duration::from_millis(interval_ms));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick completes at once; ZooKeeper waits one interval first.
    interval.tick().await;
    loop {
        interval.tick().await;
        let now_ms = shared.clock.wall_ms();
        let candidates = shared.core().tree.deletion_candidates(now_ms, per_run);
        for path in candidates {
            match shared
                .log
                .propose(Txn::DeleteContainer { path: path.clone() })
                .await
            {
                Err(_) => return,
                Ok(applied) if applied.reply.err == rzk_proto::ErrorCode::Ok => {
                    tracing::debug!("Deleted container or expired TTL node {path}");
                }
                Ok(_) => {}
            }
            if !spacing.is_zero() {
                tokio::time::sleep(spacing).await;
            }
        }
    }
}
