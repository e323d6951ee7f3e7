//! The Bus: delivery to the node that holds a device's connection, and presence.
//!
//! Single node: [`LocalBus`] hands straight to the [`Hub`]. The cluster implementation (NATS)
//! keeps the same contract: `send` is at most once and never blocks on a slow device.

use std::sync::Arc;

use async_trait::async_trait;
use openpush_core::Username;

use crate::hub::{Delivered, Hub, Outbound};

pub use crate::hub::Delivered as SendOutcome;

#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug + 'static {
    /// The connected devices of each user, for a page of users at once.
    async fn online(&self, app_id: i64, users: &[Username]) -> Vec<Vec<Arc<str>>>;
    /// Queues a frame for a connected device.
    async fn send(
        &self,
        app_id: i64,
        user: &Username,
        device_id: &str,
        item: Outbound,
    ) -> Delivered;
}

#[derive(Debug, Clone)]
pub struct LocalBus(pub Arc<Hub>);

#[async_trait]
impl Bus for LocalBus {
    async fn online(&self, app_id: i64, users: &[Username]) -> Vec<Vec<Arc<str>>> {
        users
            .iter()
            .map(|u| self.0.online_devices(app_id, u.as_str()))
            .collect()
    }

    async fn send(
        &self,
        app_id: i64,
        user: &Username,
        device_id: &str,
        item: Outbound,
    ) -> Delivered {
        self.0.send(app_id, user.as_str(), device_id, item)
    }
}
