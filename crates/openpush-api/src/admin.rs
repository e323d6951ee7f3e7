//! Operations the binary performs directly on the store (`openpush app …`), with or without
//! a running server.

use openpush_core::{AppName, Clock, OrgName};
use openpush_store::{App, NewApp, Store, StoreError};

use crate::auth;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(#[from] openpush_core::InvalidValue),
    #[error("app {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Store(StoreError),
}

/// A created app and its client secret, which is shown this once and stored only hashed.
/// `Debug` does not show the secret (print the field itself where it must be shown).
pub struct CreatedApp {
    pub app: App,
    pub client_secret: String,
}

impl std::fmt::Debug for CreatedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApp")
            .field("app", &self.app)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

pub async fn create_app(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &str,
    name: &str,
) -> Result<CreatedApp, AdminError> {
    let org = OrgName::parse(org)?;
    let name = AppName::parse(name)?;
    let (client_id, client_secret) = auth::new_client_credentials();
    let app = store
        .create_app(NewApp {
            uuid: uuid::Uuid::new_v4().to_string(),
            org: org.into_string(),
            name: name.into_string(),
            client_id,
            secret_hash: auth::hash_client_secret(&client_secret),
            created: clock.now_ms(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(what) => AdminError::Exists(what),
            e => AdminError::Store(e),
        })?;
    Ok(CreatedApp { app, client_secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_never_shows_the_client_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = openpush_store::sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap();
        let clock = openpush_core::ManualClock::new(0);
        let created = create_app(&store, &clock, "o", "a").await.unwrap();
        let shown = format!("{created:?}");
        assert!(!shown.contains(&created.client_secret), "{shown}");
        assert!(shown.contains(&created.app.client_id), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        store.close().await;
    }
}
