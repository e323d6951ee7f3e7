//! Vendor push channels. The engine hands a user's bindings and the message to a
//! [`VendorDispatch`] and gets one classified outcome per binding back.
//!
//! This crate holds the contract, one client per vendor — [`apns::ApnsClient`] (HTTP/2, ES256
//! provider tokens), [`fcm::FcmClient`] (FCM HTTP v1, OAuth2 JWT-bearer),
//! [`huawei::HuaweiClient`] and [`honor::HonorClient`] (OAuth2 client credentials, 1000 tokens
//! per request), [`xiaomi::XiaomiClient`] (`key=` AppSecret, comma lists), [`oppo::OppoClient`]
//! (sha256-signed `auth_token`, unicast or save + broadcast of 1000), [`vivo::VivoClient`]
//! (md5-signed `authToken`, send or saveListPayload + pushToList of 1000) and
//! [`meizu::MeizuClient`] (md5 signature over sorted parameters, 100 pushIds) — and
//! [`NotifierDispatch`], which sends each binding through the client of its notifier (the app's
//! push certificate). [`NoVendors`] refuses everything (for tests and tools).
//!
//! Every client: the real vendor's production host unless a base URL is given (the mocks), its
//! auth tokens cached and refreshed single-flight ([`token_cache`]), tokens batched as the
//! vendor allows, requests in flight bounded per client (`max_concurrency`), retries with
//! exponential backoff and jitter honouring `Retry-After` ([`retry`]), and every answer
//! classified: sent, token dead (unbound, `expireTokens`), rejected (`failTokens`), or error.

pub mod apns;
pub mod body;
pub mod error;
pub mod fcm;
pub mod h2pool;
pub mod honor;
pub mod huawei;
mod jwt;
pub mod meizu;
pub mod oppo;
mod registry;
pub mod retry;
pub mod token_cache;
pub mod vivo;
pub mod xiaomi;

pub use registry::NotifierDispatch;

use async_trait::async_trait;
use openpush_core::message::PushMessage;
use openpush_core::notifier::VendorKind;
use openpush_store::{App, Binding};
use serde_json::Value;

/// What became of one binding.
#[derive(Debug, Clone, PartialEq)]
pub enum VendorOutcome {
    /// The vendor accepted the push. `raw` is its answer, passed through to `/push/sync`.
    Sent { raw: Value },
    /// The vendor says the token is dead: it is unbound and reported in `expireTokens`.
    TokenDead { raw: Value },
    /// Refused for this message or token (bad token, payload, quota): final, `failTokens`.
    Rejected { raw: Value, reason: String },
    /// Could not be sent (vendor down, timeout, auth): a server-side error.
    Error { reason: String },
}

impl VendorOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Sent { .. })
    }

    /// The outcome with its reason cut to [`body::MAX_REASON_CHARS`] characters (a reason may
    /// quote what the vendor answered).
    pub fn clipped(self) -> Self {
        match self {
            Self::Rejected { raw, reason } => Self::Rejected {
                raw,
                reason: body::clip_reason(reason),
            },
            Self::Error { reason } => Self::Error {
                reason: body::clip_reason(reason),
            },
            other => other,
        }
    }
}

/// The HTTP/1.1 client of a vendor (all but APNs): TLS by rustls, bounded connect and request
/// times, and no redirects followed (a notifier's base URL is checked when it is stored; a
/// redirect must not take the app's credentials anywhere else).
pub(crate) fn http_client(
    timeout: std::time::Duration,
) -> Result<reqwest::Client, error::ClientError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .user_agent(concat!("openpush/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| error::ClientError::Http(e.to_string()))
}

/// The vendor's own id for an accepted push, read from its answer: APNs' `apns-id`, FCM's
/// message `name`, Huawei's `requestId`, Honor's `data.requestId`, Xiaomi's `data.id`, OPPO's
/// message (or broadcast task) id, vivo's `taskId` and Meizu's `msgId`.
pub fn vendor_request_id(vendor: VendorKind, raw: &Value) -> Option<&str> {
    let pointers: &[&str] = match vendor {
        VendorKind::Apns => &["/apns-id"],
        VendorKind::Fcm => &["/name"],
        VendorKind::Huawei => &["/requestId"],
        VendorKind::Honor => &["/data/requestId"],
        VendorKind::Xiaomi => &["/data/id", "/trace_id"],
        VendorKind::Oppo => &["/data/messageId", "/data/task_id", "/data/message_id"],
        VendorKind::Vivo => &["/taskId", "/requestId"],
        VendorKind::Meizu => &["/msgId"],
    };
    pointers
        .iter()
        .find_map(|p| raw.pointer(p).and_then(Value::as_str))
        .filter(|id| !id.is_empty())
}

/// One binding's outcome and the vendor that produced it (`None` when no vendor was reached
/// because the binding's notifier could not be used). Statistics count per vendor.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub vendor: Option<VendorKind>,
    pub outcome: VendorOutcome,
}

#[async_trait]
pub trait VendorDispatch: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `message` to each binding; the result has one delivery per binding, in order.
    /// `task_id` goes into the notification's `EPush` report data.
    async fn send(
        &self,
        app: &App,
        bindings: &[Binding],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<Delivery>;
}

/// No notifier is configured on this node.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoVendors;

#[async_trait]
impl VendorDispatch for NoVendors {
    async fn send(
        &self,
        _: &App,
        bindings: &[Binding],
        _: &PushMessage,
        _: Option<i64>,
    ) -> Vec<Delivery> {
        bindings
            .iter()
            .map(|b| Delivery {
                vendor: None,
                outcome: VendorOutcome::Rejected {
                    raw: Value::Null,
                    reason: format!("notifier {} is not configured", b.notifier_name),
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod http_client_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers every request with `answer`; counts the connections it got.
    async fn server(answer: String) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        (format!("http://{addr}"), hits)
    }

    #[tokio::test]
    async fn a_vendor_redirect_is_not_followed() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_owned();
        let (elsewhere, hits) = server(ok).await;
        let (vendor, _) = server(format!(
            "HTTP/1.1 302 Found\r\nlocation: {elsewhere}/steal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ))
        .await;
        let client = super::http_client(std::time::Duration::from_secs(5)).unwrap();
        let r = client
            .post(format!("{vendor}/v1/app/messages:send"))
            .header("authorization", "Bearer secret")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
    }
}
