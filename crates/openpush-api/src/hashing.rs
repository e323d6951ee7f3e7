//! Bounded password hashing. Argon2 is slow and memory-hard on purpose (about 19 MiB and tens
//! of milliseconds of CPU per hash), so `POST /users` (up to 60 hashes) and the `password`
//! grant (one verification) run their hashes through one [`HashPool`]: at most `concurrency`
//! at once on the blocking pool, at most `queue` more waiting for a slot. Work that would not
//! fit is refused at once with 429 and `Retry-After`, instead of queueing without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Debug)]
pub struct HashPool {
    slots: Arc<Semaphore>,
    /// `concurrency + queue`: hashes admitted (running or waiting) at most.
    capacity: usize,
    /// Hashes admitted and not finished.
    pending: Arc<AtomicUsize>,
}

/// One admitted hash; gives its place back when dropped (finished, or its request was
/// cancelled before it ran).
#[derive(Debug)]
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashPool {
    /// `concurrency` hashes at once (0 = twice the CPU cores) and `queue` waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = if concurrency == 0 {
            2 * std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            concurrency
        };
        Self {
            slots: Arc::new(Semaphore::new(concurrency)),
            capacity: concurrency + queue,
            pending: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Hashes running or waiting now.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Admits `n` hashes together, or none. An idle pool admits any number (a batch bigger
    /// than the capacity still runs, alone).
    fn admit(&self, n: usize) -> Result<Vec<Admitted>, ApiError> {
        let mut cur = self.pending.load(Ordering::Acquire);
        loop {
            if cur != 0 && cur + n > self.capacity {
                return Err(ApiError::hashing_busy());
            }
            match self.pending.compare_exchange_weak(
                cur,
                cur + n,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        Ok((0..n).map(|_| Admitted(self.pending.clone())).collect())
    }

    /// Runs `jobs` on the blocking pool, at most `concurrency` of the server's at once, and
    /// returns their results in order; 429 if they do not fit in the queue.
    pub async fn run<T, F>(&self, jobs: Vec<F>) -> Result<Vec<T>, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let admitted = self.admit(jobs.len())?;
        let runs = jobs.into_iter().zip(admitted).map(|(job, place)| {
            let slots = self.slots.clone();
            async move {
                let slot = slots
                    .acquire_owned()
                    .await
                    .expect("the hashing semaphore is never closed");
                tokio::task::spawn_blocking(move || {
                    let out = job();
                    drop((slot, place));
                    out
                })
                .await
                .map_err(|e| ApiError::internal(&e))
            }
        });
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect()
    }

    /// [`HashPool::run`] for one job.
    pub async fn run_one<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let mut out = self.run(vec![job]).await?;
        Ok(out.pop().expect("one job, one result"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use axum::http::StatusCode;

    use super::*;

    /// A job that blocks until `release` sends, then answers `n`.
    fn gated(n: u32) -> (impl FnOnce() -> u32 + Send + 'static, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel::<()>();
        (
            move || {
                let _ = rx.recv();
                n
            },
            tx,
        )
    }

    async fn until(mut f: impl FnMut() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("condition not reached");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_up_when_work_ends() {
        let pool = Arc::new(HashPool::new(1, 1));
        let (a, release_a) = gated(1);
        let (b, release_b) = gated(2);
        let p = pool.clone();
        let first = tokio::spawn(async move { p.run_one(a).await });
        let p = pool.clone();
        let second = tokio::spawn(async move { p.run_one(b).await });
        until(|| pool.pending() == 2).await;
        // One running, one waiting: a third does not fit, nor does a batch.
        let e = pool.run_one(|| 3).await.unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.retry_after, Some(1));
        assert!(pool.run(vec![|| 4, || 5]).await.is_err());
        assert_eq!(pool.pending(), 2, "refused work takes no place");
        release_a.send(()).unwrap();
        release_b.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(second.await.unwrap().unwrap(), 2);
        assert_eq!(pool.pending(), 0);
        // Idle, a batch bigger than the capacity runs (alone), results in order.
        let out = pool.run((0..5u32).map(|i| move || i * 10).collect()).await;
        assert_eq!(out.unwrap(), vec![0, 10, 20, 30, 40]);
        assert_eq!(pool.pending(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_request_gives_its_places_back() {
        let pool = Arc::new(HashPool::new(1, 4));
        let (a, release_a) = gated(1);
        let p = pool.clone();
        let running = tokio::spawn(async move { p.run_one(a).await });
        until(|| pool.pending() == 1).await;
        let p = pool.clone();
        let waiting = tokio::spawn(async move { p.run(vec![|| 7, || 8, || 9]).await });
        until(|| pool.pending() == 4).await;
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(pool.pending(), 1, "the waiting batch left the queue");
        release_a.send(()).unwrap();
        assert_eq!(running.await.unwrap().unwrap(), 1);
        assert_eq!(pool.pending(), 0);
    }

    #[test]
    fn zero_concurrency_means_twice_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pool = HashPool::new(0, 3);
        assert_eq!(pool.capacity, 2 * cores + 3);
    }
}
