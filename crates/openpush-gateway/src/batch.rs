//! Group commit: many concurrent callers hand small writes to one task, which writes whatever
//! has gathered in one store call (one transaction) and then answers each caller.
//!
//! Under load this turns thousands of tiny transactions into a few large ones; when idle a
//! write goes out at once (nothing waits for a batch to fill).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

type Reply = oneshot::Sender<Result<(), Arc<str>>>;

#[derive(Debug)]
pub struct Batcher<T> {
    tx: mpsc::Sender<(T, Reply)>,
    done: Arc<Notify>,
}

impl<T> Clone for Batcher<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            done: self.done.clone(),
        }
    }
}

impl<T: Send + 'static> Batcher<T> {
    /// Starts the writer. `write` gets up to `max` items at a time. After `shutdown`, what is
    /// queued is still written, then the writer stops.
    pub fn start<F, Fut>(max: usize, shutdown: CancellationToken, write: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Arc<str>>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<(T, Reply)>(max.max(1) * 16);
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

    /// Queues `item` and waits until the batch holding it is written.
    pub async fn submit(&self, item: T) -> Result<(), Arc<str>> {
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

async fn flush<T, F, Fut>(write: &F, batch: &mut Vec<(T, Reply)>)
where
    F: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = Result<(), Arc<str>>>,
{
    let (items, replies): (Vec<T>, Vec<Reply>) = batch.drain(..).unzip();
    let result = write(items).await;
    for r in replies {
        let _ = r.send(result.clone());
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
}
