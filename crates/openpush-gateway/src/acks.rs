//! Acks and clicks are many and small: sessions hand them to one [`Batcher`] that removes the
//! acked copies from the offline queue in one transaction per batch, and adds the arrivals and
//! clicks of task deliveries to the task counters.

use std::collections::HashMap;
use std::sync::Arc;

use openpush_store::{Ack, Store, TaskCounter};
use tokio_util::sync::CancellationToken;

use crate::batch::Batcher;
use crate::stats::{Counts, DailyStats};

/// Device frames per batch.
const BATCH: usize = 1024;

/// What one device frame reported, checked against what the server sent that device.
#[derive(Debug, Default)]
pub struct Report {
    /// The device's app (for the daily counters).
    pub app_id: i64,
    /// Stored deliveries acked. Only those the store removes (the device's own, still queued)
    /// count, for the task their message belongs to.
    pub acks: Vec<Ack>,
    /// Online-only deliveries acked that this connection sent and that had not been acked on
    /// it, with their task if any.
    pub arrived: Vec<Option<i64>>,
    /// Deliveries clicked that this connection sent and that had not been clicked on it, with
    /// their task if any.
    pub clicked: Vec<Option<i64>>,
}

impl Report {
    fn is_empty(&self) -> bool {
        self.acks.is_empty() && self.arrived.is_empty() && self.clicked.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct AckBatcher(Batcher<Report>);

async fn write(
    store: &dyn Store,
    stats: &DailyStats,
    reports: Vec<Report>,
) -> Result<(), Arc<str>> {
    let mut counts: HashMap<i64, (i64, i64)> = HashMap::new();
    let acks: Vec<Ack> = reports
        .iter()
        .flat_map(|r| r.acks.iter().cloned())
        .collect();
    // A stored delivery arrives once: only the ack that removed it counts, for its message's
    // task.
    let mut removed: HashMap<i64, Option<i64>> = store
        .ack(&acks)
        .await
        .map_err(|e| {
            // The copies stay queued and replay on the next connect: at least once still holds.
            tracing::warn!(error = %e, count = acks.len(), "writing acks failed");
            Arc::<str>::from(e.to_string())
        })?
        .into_iter()
        .map(|a| (a.id, a.task_id))
        .collect();
    for r in &reports {
        let mut daily = Counts::default();
        // Taken out as counted: the same id acked twice in one batch counts once.
        let stored: Vec<Option<i64>> = r
            .acks
            .iter()
            .filter_map(|a| removed.remove(&a.id))
            .collect();
        for t in stored.iter().chain(&r.arrived) {
            daily.arrived += 1;
            if let Some(t) = t {
                counts.entry(*t).or_default().0 += 1;
            }
        }
        for t in &r.clicked {
            daily.clicked += 1;
            if let Some(t) = t {
                counts.entry(*t).or_default().1 += 1;
            }
        }
        stats.add(r.app_id, "easemob", daily);
    }
    let counters: Vec<TaskCounter> = counts
        .into_iter()
        .map(|(task_id, (arrived, clicked))| TaskCounter {
            task_id,
            channel: "easemob".into(),
            arrived,
            clicked,
            ..TaskCounter::default()
        })
        .collect();
    store.add_task_counters(&counters).await.map_err(|e| {
        tracing::warn!(error = %e, "writing task counters failed");
        Arc::<str>::from(e.to_string())
    })
}

impl AckBatcher {
    pub fn start(
        store: Arc<dyn Store>,
        stats: Arc<DailyStats>,
        shutdown: CancellationToken,
    ) -> Self {
        Self(Batcher::start(
            BATCH,
            shutdown,
            move |reports: Vec<Report>| {
                let (store, stats) = (store.clone(), stats.clone());
                async move { write(&*store, &stats, reports).await }
            },
        ))
    }

    /// Records a device frame's acks and clicks and returns once they are written (batched
    /// with every other connection's). A device that acks, then pings, knows at the pong that
    /// a reconnect will not replay what it acked.
    pub async fn report(&self, report: Report) {
        if !report.is_empty() {
            let _ = self.0.submit(report).await;
        }
    }

    /// Resolves once everything queued before shutdown is written.
    pub async fn flushed(&self) {
        self.0.stopped().await;
    }
}
