//! Group commit: many concurrent callers hand small writes to one task, which writes whatever
//! has gathered in one store call (one transaction) and then answers each caller.
//!
//! Under load this turns thousands of tiny transactions into a few large ones; when idle a
//! write goes out at once (nothing waits for a batch to fill).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

type Reply<R> = oneshot::Sender<Result<R, Arc<str>>>;

/// Writes (or reads) items of type `T` in batches; each caller gets its item's `R` back.
#[derive(Debug)]
pub struct Batcher<T, R = ()> {
    tx: mpsc::Sender<(T, Reply<R>)>,
    done: Arc<Notify>,
}

impl<T, R> Clone for Batcher<T, R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            done: self.done.clone(),
        }
    }
}

impl<T: Send + 'static> Batcher<T, ()> {
    /// Starts a writer whose items have no individual answer (see [`Batcher::start_with`]).
    pub fn start<F, Fut>(max: usize, shutdown: CancellationToken, write: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Arc<str>>> + Send,
    {
        let write = Arc::new(write);
        Self::start_with(max, shutdown, move |items: Vec<T>| {
            let (write, n) = (write.clone(), items.len());
            async move { write(items).await.map(|()| vec![(); n]) }
        })
    }
}

impl<T: Send + 'static, R: Clone + Send + 'static> Batcher<T, R> {
    /// Starts the writer. `write` gets up to `max` items at a time and returns one `R` per
    /// item, in order. After `shutdown`, what is queued is still written, then it stops.
    pub fn start_with<F, Fut>(max: usize, shutdown: CancellationToken, write: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<R>, Arc<str>>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<(T, Reply<R>)>(max.max(1) * 16);
        let done = Arc::new(Notify::new());
        let finished = done.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(max);
            loop {
                let n = tokio::select! {
                    n = rx.recv_many(&mut batch, max) => n,
                    () = shutdown.cancelled() => {
                        rx.close();
                        while rx.recv_many(&mut batch, max).await > 0 {
                            flush(&write, &mut batch).await;
                        }
                        break;
                    }
                };
                if n == 0 {
                    break;
                }
                flush(&write, &mut batch).await;
            }
            finished.notify_one();
        });
        Self { tx, done }
    }

    /// Queues `item` and waits until the batch holding it is done; returns its answer.
    pub async fn submit(&self, item: T) -> Result<R, Arc<str>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((item, tx))
            .await
            .map_err(|_| Arc::<str>::from("the writer has stopped"))?;
        rx.await
            .unwrap_or_else(|_| Err(Arc::from("the writer has stopped")))
    }

    /// Resolves once the writer has stopped after shutdown, everything queued written.
    pub async fn stopped(&self) {
        self.done.notified().await;
    }
}

async fn flush<T, R: Clone, F, Fut>(write: &F, batch: &mut Vec<(T, Reply<R>)>)
where
    F: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<R>, Arc<str>>>,
{
    let (items, replies): (Vec<T>, Vec<Reply<R>>) = batch.drain(..).unzip();
    let n = replies.len();
    match write(items).await {
        Ok(answers) if answers.len() == n => {
            for (r, a) in replies.into_iter().zip(answers) {
                let _ = r.send(Ok(a));
            }
        }
        Ok(answers) => {
            let e: Arc<str> = Arc::from(format!(
                "batch gave {} answers for {n} items",
                answers.len()
            ));
            for r in replies {
                let _ = r.send(Err(e.clone()));
            }
        }
        Err(e) => {
            for r in replies {
                let _ = r.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_submits_share_writes_and_all_get_answers() {
        let calls = Arc::new(AtomicUsize::new(0));
        let items = Arc::new(AtomicUsize::new(0));
        let (c, i) = (calls.clone(), items.clone());
        let token = CancellationToken::new();
        let b = Batcher::start(64, token.clone(), move |v: Vec<u32>| {
            let (c, i) = (c.clone(), i.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                i.fetch_add(v.len(), Ordering::SeqCst);
                tokio::task::yield_now().await;
                if v.contains(&13) {
                    Err(Arc::from("unlucky"))
                } else {
                    Ok(())
                }
            }
        });
        let tasks: Vec<_> = (0..200u32)
            .map(|n| {
                let b = b.clone();
                tokio::spawn(async move { (n, b.submit(n).await) })
            })
            .collect();
        let mut failed = 0;
        for t in tasks {
            let (_, r) = t.await.unwrap();
            failed += usize::from(r.is_err());
        }
        assert_eq!(items.load(Ordering::SeqCst), 200);
        assert!(calls.load(Ordering::SeqCst) < 200, "writes were batched");
        // Everyone in the batch with 13 hears of the failure, nobody else does.
        assert!((1..=64).contains(&failed));
        token.cancel();
        b.stopped().await;
        assert!(b.submit(1).await.is_err());
    }

    #[tokio::test]
    async fn each_caller_gets_its_own_answer() {
        let b = Batcher::start_with(8, CancellationToken::new(), |v: Vec<u32>| async move {
            Ok(v.into_iter().map(|n| n * 10).collect())
        });
        let tasks: Vec<_> = (0..50u32)
            .map(|n| {
                let b = b.clone();
                tokio::spawn(async move { (n, b.submit(n).await.unwrap()) })
            })
            .collect();
        for t in tasks {
            let (n, got) = t.await.unwrap();
            assert_eq!(got, n * 10);
        }
    }
}
