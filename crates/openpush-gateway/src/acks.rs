//! Acks are many and small: sessions hand them to one [`Batcher`] that removes them from
//! the offline queue in one transaction per batch.

use std::sync::Arc;

use openpush_store::{Ack, Store};
use tokio_util::sync::CancellationToken;

use crate::batch::Batcher;

/// Device frames per batch (each frame may ack several deliveries).
const BATCH: usize = 1024;

#[derive(Debug, Clone)]
pub struct AckBatcher(Batcher<Vec<Ack>>);

impl AckBatcher {
    pub fn start(store: Arc<dyn Store>, shutdown: CancellationToken) -> Self {
        Self(Batcher::start(
            BATCH,
            shutdown,
            move |frames: Vec<Vec<Ack>>| {
                let store = store.clone();
                async move {
                    let acks: Vec<Ack> = frames.into_iter().flatten().collect();
                    store.ack(&acks).await.map(|_| ()).map_err(|e| {
                        // The copies stay queued and replay on the next connect: at least once
                        // still holds.
                        tracing::warn!(error = %e, count = acks.len(), "writing acks failed");
                        Arc::from(e.to_string())
                    })
                }
            },
        ))
    }

    /// Removes the acked deliveries and returns once they are written (batched with every
    /// other connection's acks). A device that acks, then pings, knows at the pong that a
    /// reconnect will not replay what it acked.
    pub async fn ack(&self, acks: Vec<Ack>) {
        if !acks.is_empty() {
            let _ = self.0.submit(acks).await;
        }
    }

    /// Resolves once everything queued before shutdown is written.
    pub async fn flushed(&self) {
        self.0.stopped().await;
    }
}
