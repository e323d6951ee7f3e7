//! The task runner: starts scheduled tasks when they are due (at most `max_running` per app),
//! pages through each task's targets, pushes each page through the strategy router, and
//! checkpoints the cursor and counters after every page. A page's vendor legs go to the send
//! queue, so the cursor moves on without waiting for the slowest vendor; a task finishes when
//! its last page is out and its last queued leg has ended. Tasks found running at start (a
//! crash or a stop) resume from their last checkpoint: no target is skipped, and at most the
//! page in flight at the crash is sent twice.

use std::sync::Arc;
use std::time::Duration;

use openpush_core::message::PushMessage;
use openpush_core::{LabelName, Strategy, Username};
use openpush_store::{Task, TaskKind, TaskStatus};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::router::{Engine, Mode, Origin, TargetResult, TargetStatus};

#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    /// Tasks running at once per app.
    pub max_running: u32,
    /// Targets pushed per page (and per checkpoint).
    pub page_size: u32,
    /// How often due tasks are looked for when nothing wakes the runner.
    pub poll: Duration,
}

#[derive(Debug)]
pub struct TaskRunner {
    engine: Arc<Engine>,
    config: RunnerConfig,
    wake: Notify,
    /// The loop and every task it runs; [`TaskRunner::stop`] waits for them.
    tasks: TaskTracker,
    stop: CancellationToken,
}

/// Why a task's run ended early.
enum Stopped {
    /// The server is stopping: the task stays running and resumes at the next start.
    Shutdown,
    Failed(String),
}

impl From<String> for Stopped {
    fn from(e: String) -> Self {
        Self::Failed(e)
    }
}

impl TaskRunner {
    /// Resumes tasks left running, then starts due tasks until [`TaskRunner::stop`].
    pub fn start(engine: Arc<Engine>, config: RunnerConfig) -> Arc<Self> {
        let runner = Arc::new(Self {
            engine,
            config,
            wake: Notify::new(),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        });
        runner.tasks.spawn(runner.clone().run());
        runner
    }

    /// Stops starting tasks; running ones stop at their next page (checkpointed, they resume
    /// at the next start). Returns when all have stopped, or after `grace`.
    pub async fn stop(&self, grace: std::time::Duration) {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("tasks still running after {grace:?}; they resume at the next start");
        }
    }

    /// Looks for due tasks now (after a task was created or ended).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    async fn run(self: Arc<Self>) {
        match self.engine.store.running_tasks().await {
            Ok(tasks) => {
                for t in tasks {
                    tracing::info!(task = t.id, "resuming a task from its checkpoint");
                    self.tasks.spawn(self.clone().execute(t));
                }
            }
            Err(e) => tracing::error!(error = %e, "reading running tasks failed"),
        }
        loop {
            match self
                .engine
                .store
                .start_due_tasks(self.engine.clock.now_ms(), self.config.max_running)
                .await
            {
                Ok(started) => {
                    for t in started {
                        self.tasks.spawn(self.clone().execute(t));
                    }
                }
                Err(e) => tracing::error!(error = %e, "starting due tasks failed"),
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }

    async fn execute(self: Arc<Self>, task: Task) {
        let id = task.id;
        match self.clone().push_all(task).await {
            Ok(ended) => {
                if ended {
                    tracing::info!(task = id, "task finished");
                }
            }
            Err(Stopped::Shutdown) => {
                tracing::info!(
                    task = id,
                    "task paused for the stop; it resumes at the next start"
                )
            }
            Err(Stopped::Failed(e)) => {
                tracing::error!(task = id, error = %e, "task stopped; it resumes at the next start")
            }
        }
        self.wake();
    }

    /// Returns whether the task ended here (it may have been cancelled meanwhile).
    async fn push_all(self: Arc<Self>, task: Task) -> Result<bool, Stopped> {
        let store = &self.engine.store;
        let app = store
            .app_by_id(task.app_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the task's app is gone".to_owned())?;
        let message = serde_json::from_str::<Value>(&task.message)
            .map_err(|e| e.to_string())
            .and_then(|v| PushMessage::parse(v).map_err(|e| e.to_string()))?;
        let strategy = Strategy::from_code(task.strategy).map_err(|e| e.0)?;
        let labels: Vec<LabelName> = match task.kind {
            TaskKind::Label => task
                .targets
                .iter()
                .filter_map(|l| LabelName::parse(l).ok())
                .collect(),
            _ => Vec::new(),
        };
        let origin = Origin {
            task_id: Some(task.id),
            push_msg_id: task.push_msg_id,
        };
        let mut stats = task.stats.clone();
        let mut cursor: Option<i64> = task.cursor.as_deref().and_then(|c| c.parse().ok());
        // With a rate, pages are small (a tenth of a second's worth) and leave on schedule.
        let rate = task.rate.filter(|r| *r > 0);
        let page = match rate {
            Some(r) => self
                .config
                .page_size
                .clamp(1, u32::try_from((r / 10).max(1)).unwrap_or(u32::MAX)),
            None => self.config.page_size.max(1),
        };
        let paced_from = tokio::time::Instant::now();
        let mut sent: u64 = 0;
        loop {
            if self.stop.is_cancelled() {
                return Err(Stopped::Shutdown);
            }
            // A cancelled task stops at the next page.
            if !self.still_running(&task).await? {
                return Ok(false);
            }
            let (users, next): (Vec<Username>, Option<i64>) = match task.kind {
                TaskKind::Broadcast => {
                    let p = store
                        .user_page(app.id, cursor, page)
                        .await
                        .map_err(|e| e.to_string())?;
                    let last = p.last().map(|(k, _)| *k);
                    (p.into_iter().map(|(_, u)| u).collect(), last)
                }
                TaskKind::Label => match store
                    .label_intersection_page(app.id, &labels, cursor, page)
                    .await
                {
                    Ok(p) => {
                        let last = p.last().map(|(k, _)| *k);
                        (p.into_iter().map(|(_, u)| u).collect(), last)
                    }
                    // A label deleted while the task runs ends the task.
                    Err(openpush_store::StoreError::NotFound(_)) => (Vec::new(), None),
                    Err(e) => return Err(e.to_string().into()),
                },
                TaskKind::List => {
                    let from = cursor.unwrap_or(0).max(0) as usize;
                    let to = (from + page as usize).min(task.targets.len());
                    let users = task.targets[from.min(to)..to]
                        .iter()
                        .filter_map(|u| Username::parse(u).ok())
                        .collect();
                    (users, (to > from).then_some(to as i64))
                }
            };
            let Some(next) = next else { break };
            if let Some(r) = rate {
                tokio::time::sleep_until(paced_from + due_after(sent, r)).await;
            }
            sent += users.len() as u64;
            if !users.is_empty() {
                let results = self
                    .engine
                    .push_users(&app, &users, strategy, &message, Mode::Accept, origin)
                    .await
                    .map_err(|e| e.to_string())?;
                count(&mut stats, &results);
            }
            cursor = Some(next);
            store
                .checkpoint_task(task.id, Some(&next.to_string()), &stats)
                .await
                .map_err(|e| e.to_string())?;
        }
        // Every page is out; the task ends when its last queued vendor leg has.
        while store
            .queued_sends_of_task(task.id)
            .await
            .map_err(|e| e.to_string())?
            > 0
        {
            tokio::select! {
                () = self.stop.cancelled() => return Err(Stopped::Shutdown),
                () = tokio::time::sleep(self.config.poll) => {}
            }
            if !self.still_running(&task).await? {
                return Ok(false);
            }
        }
        Ok(store
            .end_task(
                task.app_id,
                task.id,
                TaskStatus::Finished,
                self.engine.clock.now_ms(),
            )
            .await
            .map_err(|e| e.to_string())?)
    }
}

impl TaskRunner {
    /// Whether the task is still running (not cancelled meanwhile).
    async fn still_running(&self, task: &Task) -> Result<bool, Stopped> {
        let now = self
            .engine
            .store
            .task(task.app_id, task.id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(now.is_some_and(|t| t.status == TaskStatus::Running))
    }
}

/// When the notification after the first `sent` may leave, at `rate` per second.
pub fn due_after(sent: u64, rate: i64) -> Duration {
    Duration::from_secs_f64(sent as f64 / rate.max(1) as f64)
}

/// Adds a page's results to a task's counters: per target (`success`, `fail`, `unknown`) and
/// per channel leg (`channels.easemob`, `channels.apns`, `channels.huawei`, …; `channels.vendor`
/// for bindings whose notifier could not be used). Legs still in the send queue, and targets
/// that have one, are counted by the queue when they end there.
pub fn count(stats: &mut Value, results: &[TargetResult]) {
    if !stats.is_object() {
        *stats = json!({});
    }
    let bump = |v: &mut Value, key: &str| {
        let n = v.get(key).and_then(Value::as_i64).unwrap_or(0);
        v[key] = json!(n + 1);
    };
    let key = |s: TargetStatus| match s {
        TargetStatus::Success | TargetStatus::AsyncSuccess => "success",
        TargetStatus::Fail => "fail",
        TargetStatus::Error => "unknown",
    };
    for r in results {
        if !r.legs.iter().any(|l| l.queued) {
            bump(stats, key(r.status()));
        }
        for l in r.legs.iter().filter(|l| !l.queued) {
            let channel = l.channel;
            if !stats["channels"].is_object() {
                stats["channels"] = json!({});
            }
            if !stats["channels"][channel].is_object() {
                stats["channels"][channel] = json!({});
            }
            bump(&mut stats["channels"][channel], key(l.status));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_spreads_evenly() {
        assert_eq!(due_after(0, 100), Duration::ZERO);
        assert_eq!(due_after(50, 100), Duration::from_millis(500));
        assert_eq!(due_after(6000, 100), Duration::from_secs(60));
        // Whatever the page sizes, a minute holds rate × 60 notifications.
        assert_eq!(due_after(1200, 20), Duration::from_secs(60));
    }
}
