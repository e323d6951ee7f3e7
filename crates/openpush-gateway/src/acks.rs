//! Acks are many and small: sessions hand them to one batcher that removes them from the
//! offline queue in one transaction per batch.

use std::sync::Arc;

use openpush_store::{Ack, Store};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

/// Device frames per batch (each frame may ack several deliveries).
const BATCH: usize = 1024;

/// One device frame's acks, and who to tell once they are written.
type Item = (Vec<Ack>, oneshot::Sender<()>);

#[derive(Debug, Clone)]
pub struct AckBatcher {
    tx: mpsc::Sender<Item>,
    done: Arc<Notify>,
}

impl AckBatcher {
    pub fn start(store: Arc<dyn Store>, shutdown: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(16 * 1024);
        let done = Arc::new(Notify::new());
        tokio::spawn(run(store, rx, shutdown, done.clone()));
        Self { tx, done }
    }

    /// Removes the acked deliveries and returns once they are written (batched with every
    /// other connection's acks). A device that acks, then pings, knows at the pong that a
    /// reconnect will not replay what it acked.
    pub async fn ack(&self, acks: Vec<Ack>) {
        if acks.is_empty() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        if self.tx.send((acks, tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Resolves once the batcher has written everything queued before shutdown.
    pub async fn flushed(&self) {
        if self.tx.is_closed() {
            return;
        }
        self.done.notified().await;
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Item>,
    shutdown: CancellationToken,
    done: Arc<Notify>,
) {
    let mut batch: Vec<Item> = Vec::with_capacity(BATCH);
    loop {
        let n = tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => n,
            () = shutdown.cancelled() => {
                rx.close();
                while rx.recv_many(&mut batch, BATCH).await > 0 {
                    write(&*store, &mut batch).await;
                }
                done.notify_waiters();
                done.notify_one();
                return;
            }
        };
        if n == 0 {
            done.notify_one();
            return;
        }
        write(&*store, &mut batch).await;
    }
}

async fn write(store: &dyn Store, batch: &mut Vec<Item>) {
    let acks: Vec<Ack> = batch.iter().flat_map(|(a, _)| a.iter().cloned()).collect();
    if let Err(e) = store.ack(&acks).await {
        // The copies stay queued and replay on the next connect: at least once still holds.
        tracing::warn!(error = %e, count = acks.len(), "writing acks failed");
    }
    for (_, tell) in batch.drain(..) {
        let _ = tell.send(());
    }
}
