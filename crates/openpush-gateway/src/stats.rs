//! Per-app daily statistics, written behind: every push and every device report adds to an
//! in-memory tally keyed by (app, UTC day, channel), and one task writes the tally to the store
//! every [`FLUSH_EVERY`] in one transaction. Counters are fresh within that interval plus one
//! write; a crash loses at most the last interval's counts (statistics, never deliveries).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use openpush_core::clock::utc_day;
use openpush_core::Clock;
use openpush_store::{DailyStat, Store};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How often the tally is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What one event adds to a channel's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub success: i64,
    pub fail: i64,
    pub unknown: i64,
    pub arrived: i64,
    pub clicked: i64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.success += o.success;
        self.fail += o.fail;
        self.unknown += o.unknown;
        self.arrived += o.arrived;
        self.clicked += o.clicked;
    }
}

type Key = (i64, String, &'static str);

#[derive(Debug)]
pub struct DailyStats {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tally: Mutex<HashMap<Key, Counts>>,
    stopped: Notify,
    /// Held while a write is in progress, so [`DailyStats::flush`] waits for a running one.
    writing: tokio::sync::Mutex<()>,
}

impl DailyStats {
    /// Starts the writer; after `shutdown` it writes what is left once and stops.
    pub fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let this = Arc::new(Self {
            store,
            clock,
            tally: Mutex::new(HashMap::new()),
            stopped: Notify::new(),
            writing: tokio::sync::Mutex::new(()),
        });
        let w = this.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => w.flush().await,
                    () = shutdown.cancelled() => break,
                }
            }
            w.flush().await;
            w.stopped.notify_one();
        });
        this
    }

    /// Adds `counts` to today's counters of `app_id` on `channel`.
    pub fn add(&self, app_id: i64, channel: &'static str, counts: Counts) {
        self.add_many(app_id, std::iter::once((channel, counts)));
    }

    /// Adds several channels' counts of one app under one lock.
    pub fn add_many(&self, app_id: i64, items: impl IntoIterator<Item = (&'static str, Counts)>) {
        let day = utc_day(self.clock.now_ms());
        let mut g = self.tally.lock();
        for (channel, c) in items {
            if c != Counts::default() {
                g.entry((app_id, day.clone(), channel)).or_default().add(c);
            }
        }
    }

    /// Writes what has been tallied. A failed write puts the counts back for the next attempt.
    pub async fn flush(&self) {
        let _w = self.writing.lock().await;
        let taken = std::mem::take(&mut *self.tally.lock());
        if taken.is_empty() {
            return;
        }
        let rows: Vec<DailyStat> = taken
            .iter()
            .map(|((app_id, day, channel), c)| DailyStat {
                app_id: *app_id,
                day: day.clone(),
                channel: (*channel).to_owned(),
                success: c.success,
                fail: c.fail,
                unknown: c.unknown,
                arrived: c.arrived,
                clicked: c.clicked,
            })
            .collect();
        if let Err(e) = self.store.add_daily_stats(&rows).await {
            tracing::warn!(error = %e, rows = rows.len(), "writing daily statistics failed; kept for the next attempt");
            let mut g = self.tally.lock();
            for (k, c) in taken {
                g.entry(k).or_default().add(c);
            }
        }
    }

    /// Resolves once the writer has written its last tally after shutdown.
    pub async fn stopped(&self) {
        self.stopped.notified().await;
    }
}

/// A channel name that lives as long as the program: the names statistics use.
pub fn channel_name(s: &str) -> &'static str {
    const KNOWN: [&str; 10] = [
        "easemob", "apns", "fcm", "huawei", "honor", "xiaomi", "oppo", "vivo", "meizu", "harmony",
    ];
    KNOWN
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(s))
        .unwrap_or("vendor")
}

#[cfg(test)]
mod tests {
    use openpush_core::ManualClock;
    use openpush_store::sqlite::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn tallies_per_day_and_channel_and_writes_on_flush_and_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let clock = Arc::new(ManualClock::new(1_795_000_000_000)); // 2026-11-18
        let stop = CancellationToken::new();
        let s = DailyStats::start(store.clone(), clock.clone(), stop.clone());
        let ok = Counts {
            success: 1,
            ..Counts::default()
        };
        s.add(7, "apns", ok);
        s.add(7, "apns", ok);
        s.add_many(
            7,
            [
                (
                    "easemob",
                    Counts {
                        arrived: 3,
                        clicked: 1,
                        ..Counts::default()
                    },
                ),
                ("fcm", Counts::default()),
            ],
        );
        s.flush().await;
        clock.advance_ms(86_400_000);
        s.add(
            7,
            "apns",
            Counts {
                fail: 2,
                ..Counts::default()
            },
        );
        stop.cancel();
        s.stopped().await;
        let rows = store
            .daily_stats(7, "2026-11-18", "2026-11-19")
            .await
            .unwrap();
        let brief: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.day.as_str(),
                    r.channel.as_str(),
                    r.success,
                    r.fail,
                    r.arrived,
                    r.clicked,
                )
            })
            .collect();
        assert_eq!(
            brief,
            [
                ("2026-11-18", "apns", 2, 0, 0, 0),
                ("2026-11-18", "easemob", 0, 0, 3, 1),
                ("2026-11-19", "apns", 0, 2, 0, 0),
            ]
        );
        assert_eq!(channel_name("HUAWEI"), "huawei");
        assert_eq!(channel_name("nokia"), "vendor");
    }
}
