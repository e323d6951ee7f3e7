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
    #[error("app {0} does not exist")]
    NotFound(String),
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

/// A new client secret for an app, shown this once (only its hash is stored), and the time
/// from which the app's tokens count: every app token issued before it is refused.
pub struct RotatedSecret {
    pub app: App,
    pub client_secret: String,
}

impl std::fmt::Debug for RotatedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedSecret")
            .field("app", &self.app)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// Replaces an app's client secret and revokes every app token issued until now. The client
/// id stays. A running server refuses the old tokens from its next read of the app (at once on
/// a `/token` grant, within `token.app_cache_secs` otherwise).
pub async fn rotate_secret(
    store: &dyn Store,
    clock: &dyn Clock,
    org: &str,
    name: &str,
) -> Result<RotatedSecret, AdminError> {
    let found = store
        .app_by_name(org, name)
        .await
        .map_err(AdminError::Store)?
        .ok_or_else(|| AdminError::NotFound(format!("{org}#{name}")))?;
    let (_, client_secret) = auth::new_client_credentials();
    // Tokens issued in this very millisecond, before the rotation, are refused too; the token
    // grant never issues one older than this time.
    let valid_from = clock.now_ms().saturating_add(1);
    let app = store
        .rotate_app_secret(
            found.id,
            &auth::hash_client_secret(&client_secret),
            valid_from,
        )
        .await
        .map_err(AdminError::Store)?
        .ok_or_else(|| AdminError::NotFound(format!("{org}#{name}")))?;
    Ok(RotatedSecret { app, client_secret })
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

        let rotated = rotate_secret(&store, &clock, "o", "a").await.unwrap();
        assert_ne!(rotated.client_secret, created.client_secret);
        assert_eq!(rotated.app.client_id, created.app.client_id);
        assert!(auth::client_secret_matches(
            &rotated.client_secret,
            &rotated.app.secret_hash
        ));
        assert_eq!(rotated.app.app_tokens_valid_from, clock.now_ms() + 1);
        let shown = format!("{rotated:?}");
        assert!(!shown.contains(&rotated.client_secret), "{shown}");
        assert!(matches!(
            rotate_secret(&store, &clock, "o", "nope").await,
            Err(AdminError::NotFound(_))
        ));
        store.close().await;
    }
}
