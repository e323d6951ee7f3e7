//! A cached access token with single-flight refresh, shared by the clients whose vendor hands out
//! a bearer token for a while: Huawei and Honor (OAuth2 client credentials), OPPO (`auth_token`,
//! 24 h) and vivo (`authToken`, 1 day). FCM keeps its own (it predates this module).
//!
//! However many sends need a token at once, one request goes to the vendor's auth endpoint; the
//! others wait for it. A token the vendor refused is passed back as `stale` and replaced even if
//! it has not expired yet. However long the vendor says a token lives, it is replaced within
//! [`crate::body::MAX_TOKEN_LIFE`].

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

#[derive(Debug, Clone)]
struct Cached {
    token: Arc<str>,
    refresh_at: Instant,
}

/// One vendor credential's token. Cheap to share behind the client's `Arc`.
#[derive(Debug)]
pub struct TokenCache {
    slot: Mutex<Option<Cached>>,
    flight: tokio::sync::Mutex<()>,
    fetched: AtomicU64,
    /// A token is replaced this long before the vendor says it expires.
    margin: Duration,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        Self {
            slot: Mutex::new(None),
            flight: tokio::sync::Mutex::new(()),
            fetched: AtomicU64::new(0),
            margin,
        }
    }

    /// Tokens fetched from the vendor so far.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    fn cached(&self) -> Option<Arc<str>> {
        self.slot
            .lock()
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// A valid token: the cached one, or one fetched by `fetch` (which returns the token and how
    /// long the vendor says it lives). `stale` is a token the vendor just refused.
    pub async fn get<F, Fut>(&self, stale: Option<&Arc<str>>, fetch: F) -> Result<Arc<str>, String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, Duration), String>>,
    {
        if let Some(stale) = stale {
            let mut g = self.slot.lock();
            if g.as_ref().is_some_and(|c| Arc::ptr_eq(&c.token, stale)) {
                *g = None;
            }
        }
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let _flight = self.flight.lock().await;
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let (token, life) = fetch().await?;
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let token: Arc<str> = token.into();
        let life = life.saturating_sub(self.margin).max(Duration::from_secs(1));
        *self.slot.lock() = Some(Cached {
            token: token.clone(),
            refresh_at: crate::body::refresh_deadline(Instant::now(), life),
        });
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_fetch_for_many_waiters_and_stale_tokens_are_replaced() {
        let cache = Arc::new(TokenCache::new(Duration::from_secs(60)));
        let calls = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::new();
        for _ in 0..20 {
            let cache = cache.clone();
            let calls = calls.clone();
            handles.push(tokio::spawn(async move {
                cache
                    .get(None, || async move {
                        let n = calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok((format!("t{n}"), Duration::from_secs(3600)))
                    })
                    .await
                    .unwrap()
            }));
        }
        let mut tokens = Vec::new();
        for h in handles {
            tokens.push(h.await.unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(tokens.iter().all(|t| &**t == "t0"));
        let t = cache
            .get(Some(&tokens[0]), || async {
                Ok(("t1".into(), Duration::from_secs(3600)))
            })
            .await
            .unwrap();
        assert_eq!(&*t, "t1");
        assert_eq!(cache.fetched(), 2);
        // A token refused before this one was fetched does not evict it.
        let t = cache
            .get(Some(&tokens[0]), || async { Err("must not fetch".into()) })
            .await
            .unwrap();
        assert_eq!(&*t, "t1");
        let e = TokenCache::new(Duration::ZERO)
            .get(None, || async { Err("auth failed".into()) })
            .await
            .unwrap_err();
        assert_eq!(e, "auth failed");
    }

    #[tokio::test]
    async fn a_vendor_saying_its_token_lives_forever_does_not_panic_the_task() {
        let cache = TokenCache::new(Duration::from_secs(60));
        let t = cache
            .get(None, || async {
                Ok(("forever".into(), Duration::from_secs(u64::MAX)))
            })
            .await
            .unwrap();
        assert_eq!(&*t, "forever");
        // Cached: the next call does not fetch.
        let again = cache
            .get(None, || async { Err("must not fetch".into()) })
            .await
            .unwrap();
        assert_eq!(&*again, "forever");
        let refresh_at = cache.slot.lock().as_ref().unwrap().refresh_at;
        assert!(refresh_at <= Instant::now() + crate::body::MAX_TOKEN_LIFE);
    }
}
