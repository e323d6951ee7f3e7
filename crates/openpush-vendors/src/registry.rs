//! [`NotifierDispatch`]: the [`VendorDispatch`] of a running server. Each binding goes to the
//! client of its notifier; clients are built once per notifier and rebuilt when the notifier
//! changes. Dead tokens are unbound, so the next push does not try them again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use openpush_core::message::PushMessage;
use openpush_core::notifier::VendorKind;
use openpush_store::{App, Binding, Notifier, Store};
use parking_lot::RwLock;
use serde_json::Value;

use crate::apns::{ApnsClient, ApnsCredentials};
use crate::fcm::{FcmClient, FcmCredentials};
use crate::honor::HonorClient;
use crate::huawei::HuaweiClient;
use crate::meizu::MeizuClient;
use crate::oppo::OppoClient;
use crate::vivo::VivoClient;
use crate::xiaomi::XiaomiClient;
use crate::{Delivery, VendorDispatch, VendorOutcome};

#[derive(Clone)]
enum Client {
    Apns(ApnsClient),
    Fcm(FcmClient),
    Huawei(HuaweiClient),
    Honor(HonorClient),
    Xiaomi(XiaomiClient),
    Oppo(OppoClient),
    Vivo(VivoClient),
    Meizu(MeizuClient),
}

impl Client {
    fn kind(&self) -> VendorKind {
        match self {
            Self::Apns(_) => VendorKind::Apns,
            Self::Fcm(_) => VendorKind::Fcm,
            Self::Huawei(_) => VendorKind::Huawei,
            Self::Honor(_) => VendorKind::Honor,
            Self::Xiaomi(_) => VendorKind::Xiaomi,
            Self::Oppo(_) => VendorKind::Oppo,
            Self::Vivo(_) => VendorKind::Vivo,
            Self::Meizu(_) => VendorKind::Meizu,
        }
    }

    async fn send_many(
        &self,
        tokens: &[&str],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<VendorOutcome> {
        match self {
            Self::Apns(c) => c.send_many(tokens, message, task_id).await,
            Self::Fcm(c) => c.send_many(tokens, message, task_id).await,
            Self::Huawei(c) => c.send_many(tokens, message, task_id).await,
            Self::Honor(c) => c.send_many(tokens, message, task_id).await,
            Self::Xiaomi(c) => c.send_many(tokens, message, task_id).await,
            Self::Oppo(c) => c.send_many(tokens, message, task_id).await,
            Self::Vivo(c) => c.send_many(tokens, message, task_id).await,
            Self::Meizu(c) => c.send_many(tokens, message, task_id).await,
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client::{:?}", self.kind())
    }
}

/// A built client and the fingerprint of the notifier it was built from.
type Cached = (u64, Client);

#[derive(Debug)]
pub struct NotifierDispatch {
    store: Arc<dyn Store>,
    clients: RwLock<HashMap<(i64, String), Cached>>,
}

fn fingerprint(n: &Notifier) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    n.vendor.hash(&mut h);
    n.environment.hash(&mut h);
    n.credentials.to_string().hash(&mut h);
    n.base_url.hash(&mut h);
    h.finish()
}

fn text(v: &Value, field: &str) -> String {
    v.get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn build(n: &Notifier) -> Result<Client, String> {
    match n.vendor.as_str() {
        "apns" => ApnsClient::new(ApnsCredentials {
            key_p8_pem: text(&n.credentials, "key_p8"),
            key_id: text(&n.credentials, "key_id"),
            team_id: text(&n.credentials, "team_id"),
            bundle_id: text(&n.credentials, "bundle_id"),
            production: n.environment == "production",
            base_url: n.base_url.clone(),
        })
        .map(Client::Apns)
        .map_err(|e| e.to_string()),
        "fcm" => {
            let sa = match n.credentials.get("service_account") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            FcmClient::new(FcmCredentials {
                service_account_json: sa,
                base_url: n.base_url.clone(),
                token_url: None,
            })
            .map(Client::Fcm)
            .map_err(|e| e.to_string())
        }
        "huawei" => HuaweiClient::from_notifier(&n.credentials, n.base_url.clone())
            .map(Client::Huawei)
            .map_err(|e| e.to_string()),
        "honor" => HonorClient::from_notifier(&n.credentials, n.base_url.clone())
            .map(Client::Honor)
            .map_err(|e| e.to_string()),
        "xiaomi" => XiaomiClient::from_notifier(&n.credentials, n.base_url.clone())
            .map(Client::Xiaomi)
            .map_err(|e| e.to_string()),
        "oppo" => OppoClient::from_notifier(&n.credentials, n.base_url.clone())
            .map(Client::Oppo)
            .map_err(|e| e.to_string()),
        "vivo" => VivoClient::from_notifier(&n.credentials, n.base_url.clone())
            .map(Client::Vivo)
            .map_err(|e| e.to_string()),
        "meizu" => MeizuClient::from_notifier(&n.credentials, n.base_url.clone())
            .map(Client::Meizu)
            .map_err(|e| e.to_string()),
        other => Err(format!("vendor {other} is not supported")),
    }
}

impl NotifierDispatch {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            clients: RwLock::new(HashMap::new()),
        }
    }

    /// The client of a notifier, built on first use and rebuilt if the notifier changed.
    async fn client(&self, app_id: i64, name: &str) -> Result<Client, String> {
        let notifier = self
            .store
            .notifier(app_id, name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("notifier {name} does not exist"))?;
        let fp = fingerprint(&notifier);
        let key = (app_id, name.to_owned());
        if let Some((f, c)) = self.clients.read().get(&key) {
            if *f == fp {
                return Ok(c.clone());
            }
        }
        let client = build(&notifier).map_err(|e| format!("notifier {name}: {e}"))?;
        self.clients.write().insert(key, (fp, client.clone()));
        Ok(client)
    }
}

#[async_trait]
impl VendorDispatch for NotifierDispatch {
    async fn send(
        &self,
        app: &App,
        bindings: &[Binding],
        message: &PushMessage,
        task_id: Option<i64>,
    ) -> Vec<Delivery> {
        let mut out: Vec<Option<Delivery>> = vec![None; bindings.len()];
        // One client call per notifier, however many bindings use it.
        let mut by_notifier: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, b) in bindings.iter().enumerate() {
            by_notifier
                .entry(b.notifier_name.as_str())
                .or_default()
                .push(i);
        }
        for (name, idx) in by_notifier {
            let tokens: Vec<&str> = idx
                .iter()
                .map(|i| bindings[*i].device_token.as_str())
                .collect();
            let (vendor, outcomes) = match self.client(app.id, name).await {
                Ok(c) => (Some(c.kind()), c.send_many(&tokens, message, task_id).await),
                Err(reason) => (
                    None,
                    tokens
                        .iter()
                        .map(|_| VendorOutcome::Rejected {
                            raw: Value::Null,
                            reason: reason.clone(),
                        })
                        .collect(),
                ),
            };
            for (i, o) in idx.into_iter().zip(outcomes) {
                if matches!(o, VendorOutcome::TokenDead { .. }) {
                    let b = &bindings[i];
                    match self
                        .store
                        .unbind_token(app.id, &b.notifier_name, &b.device_token)
                        .await
                    {
                        Ok(n) => {
                            tracing::info!(app = app.id, notifier = %b.notifier_name, removed = n, "dead device token unbound")
                        }
                        Err(e) => tracing::warn!(error = %e, "unbinding a dead token failed"),
                    }
                }
                out[i] = Some(Delivery {
                    vendor,
                    outcome: o.clipped(),
                });
            }
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or(Delivery {
                    vendor: None,
                    outcome: VendorOutcome::Error {
                        reason: "not sent".into(),
                    },
                })
            })
            .collect()
    }
}
