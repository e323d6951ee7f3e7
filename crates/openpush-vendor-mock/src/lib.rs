//! Faithful local stand-ins for the vendor push services, checking every request the way the
//! vendor does and answering with the vendor's codes, for tests, benchmarks and
//! `openpush mock-vendors`: APNs and FCM HTTP v1 (documented below), and [`huawei`],
//! [`honor`], [`xiaomi`], [`oppo`], [`vivo`] and [`meizu`] (each module documents its checks).
//! [`MockVendors`] runs all eight, each on its own port; [`MockServer`] serves one.
//!
//! # Decisions
//!
//! * **Transport.** APNs is served over **HTTP/2 only**, by default **cleartext with prior
//!   knowledge (h2c)** on 127.0.0.1. h2c is enough for tests (TLS with ALPN `h2` is the other
//!   choice, below) and it needs no certificate handling in the clients under
//!   test: a real client only swaps its base URL (`https://api.push.apple.com` →
//!   `http://127.0.0.1:port`) and keeps its HTTP/2 code. An HTTP/1.1 request is a connection
//!   error (the hyper HTTP/2 server sees a bad preface), just as APNs refuses HTTP/1.1.
//!   For clients that can only speak TLS (e.g. Python `aioapns`), the `tls` feature (on by
//!   default) adds `MockVendorsOptions::apns_tls`: a self-signed rcgen certificate for
//!   `localhost`/`127.0.0.1`, rustls with the `ring` provider (no aws-lc C build), ALPN `h2`
//!   only, so a client offering only `http/1.1` fails the handshake.
//!   [`MockVendors::apns_cert_pem`] is the certificate to trust. Not modelled: GOAWAY frames,
//!   "one stream until the first valid token", SETTINGS changes after errors.
//!   FCM is served over HTTP/1.1 **and** h2c on one port, as Google's front ends accept both.
//! * **Time** comes from an `openpush_core::Clock`, so JWT age, the 20-minute refresh rule,
//!   access-token expiry and the FCM quota minute are tested with a `ManualClock`, not sleeps.
//! * **Scripting.** Per-token outcomes, "the next N requests" faults, "every request" faults and
//!   added latency (global and per token). A scripted outcome applies only to a request that
//!   passed every check, so a fault never hides a malformed request. Latency applies to every
//!   answer. Every accepted push is counted and recorded for assertions (the newest
//!   `max_recorded`, default 100,000, are kept so long benchmarks stay bounded in memory).
//! * **Cost.** Each APNs provider token's signature is verified once and cached (clients reuse
//!   a token for up to an hour); age and refresh rules are still checked on every request.
//!
//! `cargo run -p openpush-vendor-mock --example mock_vendors [-- --apns-tls]` runs both mocks and
//! prints their URLs and test credentials as one JSON line (used to check the mocks against
//! independently written Python clients: `cryptography`-signed ES256/RS256 JWTs, `httpx` over
//! h2c and TLS, `requests` for FCM).
//!
//! # APNs (`POST /3/device/{token}`), checked in this order
//!
//! 1. Method POST, else 405 `MethodNotAllowed`; path `/3/device/…`, else 404 `BadPath`;
//!    empty token 400 `MissingDeviceToken`; an `authorization`/`apns-*` header given twice
//!    400 `DuplicateHeaders`; `apns-id` a canonical UUID, else 400 `BadMessageId`.
//! 2. `authorization: bearer <JWT>` (`bearer`/`Bearer`): missing 403 `MissingProviderToken`;
//!    not a JWT, `alg` ≠ ES256, unknown `kid`, `iss` ≠ the key's team, bad signature, or `iat`
//!    more than 60 s in the future (inferred) 403 `InvalidProviderToken`; `iat` older than 1 h
//!    403 `ExpiredProviderToken`; a *new* token (new `iat`) for a key sooner than 20 min after the
//!    previous new one 429 `TooManyProviderTokenUpdates` (tokens already in use stay valid, so
//!    connections may overlap old and new; `min_token_refresh = 0` disables the rule).
//! 3. Device token: hex, even length, 64..=200 digits (production and sandbox tokens are 64),
//!    else 400 `BadDeviceToken`.
//! 4. `apns-push-type` one of alert, background, location, voip, complication, fileprovider, mdm,
//!    liveactivity, pushtotalk (absent = alert), else 400 `InvalidPushType`. `apns-topic`
//!    required (400 `MissingTopic`); its bundle id must belong to the token's team
//!    (400 `TopicDisallowed`) and carry the push type's suffix (`.voip`, `.complication`,
//!    `.pushkit.fileprovider`, `.location-query`, `.push-type.liveactivity`, `.voip-ptt`),
//!    else 400 `BadTopic`.
//! 5. `apns-priority` ∈ {1, 5, 10} (absent = 10, or 5 for background; background with 10 is an
//!    error), else 400 `BadPriority`; `apns-expiration` a non-negative integer, else 400
//!    `BadExpirationDate`; `apns-collapse-id` ≤ 64 bytes, else 400 `BadCollapseId`.
//! 6. Body ≤ 4096 bytes (5120 for voip), else 413 `PayloadTooLarge`; empty 400 `PayloadEmpty`;
//!    not a JSON object with an `aps` object 400 `BadPayload` (Apple names no reason for this;
//!    our choice, inferred).
//! 7. A token bound to a topic with [`ApnsMock::register_device`] under another topic 400
//!    `DeviceTokenNotForTopic`.
//! 8. Scripted outcome ([`ApnsOutcome`]): 410 `Unregistered`/`ExpiredToken` with `timestamp` in
//!    ms, 400, 429 `TooManyRequests`, 500, 503 (`Retry-After` only if scripted: Apple documents
//!    none).
//! 9. Success: 200, empty body, `apns-id` echoed or generated (and `apns-unique-id` in sandbox
//!    mode). Error bodies are `{"reason": …}` and also carry `apns-id`.
//!
//! # FCM HTTP v1
//!
//! * `POST /token` (form, JWT-bearer grant): `grant_type` must be the JWT-bearer URN
//!   (`unsupported_grant_type`); the assertion must be RS256, `iss` a known `client_email`,
//!   `kid` (if present) its `private_key_id`, signed by its key (`invalid_grant` "Invalid JWT
//!   Signature."), `aud` the mock's token URL or Google's (`invalid_grant` audience check),
//!   `exp - iat ≤ 3600`, not expired, `iat` at most 5 min ahead (`invalid_grant`), a `scope`
//!   present (`invalid_scope`). Answers `{"access_token","expires_in":3599,"token_type":"Bearer"}`.
//!   OAuth errors are 400 `{"error","error_description"}` as Google sends them.
//! * `POST /v1/projects/{p}/messages:send`: `Authorization: Bearer` missing, unknown or expired
//!   401 UNAUTHENTICATED; token without the firebase.messaging/cloud-platform scope, or for another
//!   project, 403 PERMISSION_DENIED; over the per-project quota (rolling minute, default
//!   600,000) 429 RESOURCE_EXHAUSTED / QUOTA_EXCEEDED with `Retry-After`. Body: proto3-JSON rules
//!   (snake_case or lowerCamelCase; unknown field names are 400); exactly one of
//!   token/topic/condition; token `[A-Za-z0-9_:.-]{32,4096}` else "The registration token is not
//!   a valid FCM registration token"; topic `[A-Za-z0-9-_.~%]+`; condition with 1–5 topics;
//!   `data`, `android.data`, `apns.headers`, `webpush.headers/data` string→string maps; no
//!   reserved data keys (`from`, `message_type`, `notification`, `google*`, `gcm*`);
//!   `android.priority` normal|high, `android.ttl` `"<secs>[.frac]s"` ≤ 4 weeks,
//!   `android.notification.color` `#rrggbb`; payload (data + android.data keys and values +
//!   notification titles and bodies) ≤ 4096 bytes (2048 for topic messages). Errors use Google's
//!   envelope with an `FcmError` detail (and `BadRequest` field violations for 400s).
//!   `validate_only` answers `projects/{p}/messages/fake_message_id` and records nothing.
//! * Scripted outcomes ([`FcmOutcome`]): 404 UNREGISTERED, 400 invalid token, 403
//!   SENDER_ID_MISMATCH, 429 QUOTA_EXCEEDED + `Retry-After`, 503 (+ `Retry-After`), 500, 401
//!   THIRD_PARTY_AUTH_ERROR.

pub mod apns;
pub mod creds;
pub mod fcm;
pub mod honor;
pub mod huawei;
pub mod jwt;
pub mod meizu;
pub mod oppo;
mod script;
mod serve;
#[cfg(feature = "tls")]
pub mod tls;
pub mod vivo;
pub mod xiaomi;

use std::net::SocketAddr;
use std::sync::Arc;

use openpush_core::{Clock, SystemClock};
use serde_json::Value;
use tokio::net::TcpListener;

pub use apns::{ApnsKey, ApnsMock, ApnsMockConfig, ApnsOutcome, ApnsPush};
pub use creds::{ApnsCredentials, FcmServiceAccount};
pub use fcm::{FcmAccount, FcmMessage, FcmMock, FcmMockConfig, FcmOutcome, FcmTarget};

/// How to start [`MockVendors`]. `Default` binds every mock to `127.0.0.1:0`, uses the system
/// clock and fresh test credentials.
#[derive(Debug)]
pub struct MockVendorsOptions {
    pub clock: Arc<dyn Clock>,
    pub apns_addr: SocketAddr,
    pub fcm_addr: SocketAddr,
    pub apns_credentials: ApnsCredentials,
    pub fcm_service_account: FcmServiceAccount,
    /// `None`: trust `apns_credentials` only, with Apple's limits.
    pub apns: Option<ApnsMockConfig>,
    /// `None`: trust `fcm_service_account` only, with Google's limits.
    pub fcm: Option<FcmMockConfig>,
    /// Serve APNs over TLS (ALPN `h2`) with this identity instead of h2c.
    #[cfg(feature = "tls")]
    pub apns_tls: Option<tls::TlsIdentity>,
    /// Ports `base`, `base + 1`, … for APNs, FCM, Huawei, Honor, Xiaomi, OPPO, vivo, Meizu on
    /// 127.0.0.1 (overrides `apns_addr` and `fcm_addr`); `None`: OS-chosen ports.
    pub base_port: Option<u16>,
    /// Overrides every mock's `max_recorded` (how many accepted pushes are kept for
    /// inspection; all are counted). Long benchmarks set it low.
    pub max_recorded: Option<usize>,
    /// `None`: one generated test app each, with the vendors' limits.
    pub huawei: Option<huawei::HuaweiMockConfig>,
    pub honor: Option<honor::HonorMockConfig>,
    pub xiaomi: Option<xiaomi::XiaomiMockConfig>,
    pub oppo: Option<oppo::OppoMockConfig>,
    pub vivo: Option<vivo::VivoMockConfig>,
    pub meizu: Option<meizu::MeizuMockConfig>,
}

/// A notifier (push certificate) that the mocks accept: what a server stores to push through
/// one of them.
#[derive(Debug, Clone)]
pub struct MockNotifier {
    /// `apns`, `fcm`, `huawei`, `honor`, `xiaomi`, `oppo`, `vivo` or `meizu`.
    pub vendor: &'static str,
    pub base_url: String,
    /// The credentials object, with the fields `openpush notifier add` takes for the vendor.
    pub credentials: Value,
}

impl Default for MockVendorsOptions {
    fn default() -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            clock: Arc::new(SystemClock),
            apns_addr: loopback,
            fcm_addr: loopback,
            apns_credentials: ApnsCredentials::generate(
                "TEAMID1234",
                "KEYID12345",
                "com.example.openpush",
            ),
            fcm_service_account: FcmServiceAccount::for_tests("openpush-test"),
            apns: None,
            fcm: None,
            #[cfg(feature = "tls")]
            apns_tls: None,
            base_port: None,
            max_recorded: None,
            huawei: None,
            honor: None,
            xiaomi: None,
            oppo: None,
            vivo: None,
            meizu: None,
        }
    }
}

/// One mock served on its own port (HTTP/1.1 and h2c, as the Chinese vendors' and Google's
/// front ends accept both), for tests that need a single vendor. [`MockServer::shutdown`] stops it.
#[derive(Debug)]
pub struct MockServer {
    server: serve::ServerHandle,
}

impl MockServer {
    /// Serves `router` (a mock's `router()`) on 127.0.0.1 with an OS-chosen port.
    pub async fn start(router: axum::Router) -> std::io::Result<Self> {
        Self::start_on(router, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(router: axum::Router, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            server: serve::spawn(listener, router, serve::Protocol::Auto, None),
        })
    }

    /// `http://127.0.0.1:port`: the base URL a client uses instead of the vendor's.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The running mocks. Call [`MockVendors::shutdown`] to stop them.
#[derive(Debug)]
pub struct MockVendors {
    apns: ApnsMock,
    fcm: FcmMock,
    huawei: huawei::HuaweiMock,
    honor: honor::HonorMock,
    xiaomi: xiaomi::XiaomiMock,
    oppo: oppo::OppoMock,
    vivo: vivo::VivoMock,
    meizu: meizu::MeizuMock,
    apns_server: serve::ServerHandle,
    fcm_server: serve::ServerHandle,
    /// Huawei, Honor, Xiaomi, OPPO, vivo, Meizu, in that order.
    servers: Vec<MockServer>,
    apns_credentials: ApnsCredentials,
    apns_cert_pem: Option<String>,
    fcm_service_account: FcmServiceAccount,
}

impl MockVendors {
    /// Starts every mock on 127.0.0.1 with an OS-chosen port and fresh test credentials.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(MockVendorsOptions::default()).await
    }

    pub async fn start_with(opts: MockVendorsOptions) -> std::io::Result<Self> {
        let addr = |i: u16, given: SocketAddr| match opts.base_port {
            Some(base) => SocketAddr::from(([127, 0, 0, 1], base + i)),
            None => given,
        };
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let apns_listener = TcpListener::bind(addr(0, opts.apns_addr)).await?;
        let fcm_listener = TcpListener::bind(addr(1, opts.fcm_addr)).await?;
        let fcm_base = format!("http://{}", fcm_listener.local_addr()?);

        let recorded = opts.max_recorded;
        let mut apns_config = opts
            .apns
            .unwrap_or_else(|| ApnsMockConfig::for_credentials(&opts.apns_credentials));
        apns_config.max_recorded = recorded.unwrap_or(apns_config.max_recorded);
        let apns = ApnsMock::new(apns_config, opts.clock.clone());
        #[cfg(feature = "tls")]
        let (apns_tls, apns_cert_pem) = match opts.apns_tls {
            Some(id) => (Some(id.acceptor), Some(id.cert_pem)),
            None => (None, None),
        };
        #[cfg(not(feature = "tls"))]
        let (apns_tls, apns_cert_pem): (serve::Tls, Option<String>) = (None, None);
        let apns_server = serve::spawn(
            apns_listener,
            apns.router(),
            serve::Protocol::Http2Only {
                max_concurrent_streams: apns.max_concurrent_streams(),
            },
            apns_tls,
        );

        let mut fcm_config = opts
            .fcm
            .unwrap_or_else(|| FcmMockConfig::for_service_account(&opts.fcm_service_account));
        fcm_config.max_recorded = recorded.unwrap_or(fcm_config.max_recorded);
        let fcm = FcmMock::new(fcm_config, opts.clock.clone(), &fcm_base);
        let fcm_server = serve::spawn(fcm_listener, fcm.router(), serve::Protocol::Auto, None);

        macro_rules! mock {
            ($m:ident, $cfg:ty, $mock:ty) => {{
                let mut c = opts.$m.unwrap_or_else(<$cfg>::for_tests);
                c.max_recorded = recorded.unwrap_or(c.max_recorded);
                <$mock>::new(c, opts.clock.clone())
            }};
        }
        let huawei = mock!(huawei, huawei::HuaweiMockConfig, huawei::HuaweiMock);
        let honor = mock!(honor, honor::HonorMockConfig, honor::HonorMock);
        let xiaomi = mock!(xiaomi, xiaomi::XiaomiMockConfig, xiaomi::XiaomiMock);
        let oppo = mock!(oppo, oppo::OppoMockConfig, oppo::OppoMock);
        let vivo = mock!(vivo, vivo::VivoMockConfig, vivo::VivoMock);
        let meizu = mock!(meizu, meizu::MeizuMockConfig, meizu::MeizuMock);
        let mut servers = Vec::new();
        for (i, router) in [
            huawei.router(),
            honor.router(),
            xiaomi.router(),
            oppo.router(),
            vivo.router(),
            meizu.router(),
        ]
        .into_iter()
        .enumerate()
        {
            servers.push(MockServer::start_on(router, addr(2 + i as u16, loopback)).await?);
        }

        tracing::info!(
            apns = %apns_server.addr,
            fcm = %fcm_server.addr,
            huawei = %servers[0].addr(),
            honor = %servers[1].addr(),
            xiaomi = %servers[2].addr(),
            oppo = %servers[3].addr(),
            vivo = %servers[4].addr(),
            meizu = %servers[5].addr(),
            "vendor mocks listening"
        );
        Ok(Self {
            apns,
            fcm,
            huawei,
            honor,
            xiaomi,
            oppo,
            vivo,
            meizu,
            apns_server,
            fcm_server,
            servers,
            apns_credentials: opts.apns_credentials,
            apns_cert_pem,
            fcm_service_account: opts.fcm_service_account,
        })
    }

    /// The APNs base URL: `http://127.0.0.1:port` (h2c prior knowledge), or
    /// `https://127.0.0.1:port` when started with TLS.
    pub fn apns_url(&self) -> String {
        let scheme = if self.apns_cert_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.apns_server.addr)
    }

    /// With TLS: the self-signed certificate (PEM) a client must trust.
    pub fn apns_cert_pem(&self) -> Option<&str> {
        self.apns_cert_pem.as_deref()
    }

    /// `http://127.0.0.1:port` — the FCM base URL (replaces `https://fcm.googleapis.com`).
    pub fn fcm_url(&self) -> String {
        format!("http://{}", self.fcm_server.addr)
    }

    /// The FCM mock's OAuth token endpoint (the service account's `token_uri`).
    pub fn fcm_token_uri(&self) -> String {
        self.fcm.token_uri().to_owned()
    }

    pub fn apns(&self) -> &ApnsMock {
        &self.apns
    }

    pub fn fcm(&self) -> &FcmMock {
        &self.fcm
    }

    pub fn apns_credentials(&self) -> &ApnsCredentials {
        &self.apns_credentials
    }

    pub fn fcm_service_account(&self) -> &FcmServiceAccount {
        &self.fcm_service_account
    }

    /// The service-account JSON a client loads, with `token_uri` pointing at this mock.
    pub fn fcm_service_account_json(&self) -> Value {
        self.fcm_service_account.to_json(&self.fcm_token_uri())
    }

    pub fn huawei(&self) -> &huawei::HuaweiMock {
        &self.huawei
    }

    pub fn honor(&self) -> &honor::HonorMock {
        &self.honor
    }

    pub fn xiaomi(&self) -> &xiaomi::XiaomiMock {
        &self.xiaomi
    }

    pub fn oppo(&self) -> &oppo::OppoMock {
        &self.oppo
    }

    pub fn vivo(&self) -> &vivo::VivoMock {
        &self.vivo
    }

    pub fn meizu(&self) -> &meizu::MeizuMock {
        &self.meizu
    }

    /// The base URL of a vendor's mock (`apns`, `fcm`, `huawei`, `honor`, `xiaomi`, `oppo`,
    /// `vivo`, `meizu`).
    pub fn url(&self, vendor: &str) -> Option<String> {
        let i = match vendor {
            "apns" => return Some(self.apns_url()),
            "fcm" => return Some(self.fcm_url()),
            "huawei" => 0,
            "honor" => 1,
            "xiaomi" => 2,
            "oppo" => 3,
            "vivo" => 4,
            "meizu" => 5,
            _ => return None,
        };
        Some(self.servers[i].url())
    }

    /// One notifier per vendor that the mocks accept: base URL and credentials.
    pub fn notifiers(&self) -> Vec<MockNotifier> {
        let c = &self.apns_credentials;
        let creds = [
            (
                "apns",
                serde_json::json!({"key_p8": c.p8_pem(), "key_id": c.key_id, "team_id": c.team_id, "bundle_id": c.bundle_id}),
            ),
            (
                "fcm",
                serde_json::json!({"service_account": self.fcm_service_account_json()}),
            ),
            ("huawei", self.huawei.notifier_credentials()),
            ("honor", self.honor.notifier_credentials()),
            ("xiaomi", self.xiaomi.config().notifier_credentials()),
            ("oppo", self.oppo.notifier_credentials()),
            ("vivo", self.vivo.notifier_credentials()),
            ("meizu", self.meizu.config().notifier_credentials()),
        ];
        creds
            .into_iter()
            .map(|(vendor, credentials)| MockNotifier {
                vendor,
                base_url: self.url(vendor).unwrap_or_default(),
                credentials,
            })
            .collect()
    }

    /// Pushes each mock has accepted (one per device token), by vendor.
    pub fn push_counts(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("apns", self.apns.push_count() as u64),
            ("fcm", self.fcm.message_count() as u64),
            ("huawei", self.huawei.push_count()),
            ("honor", self.honor.push_count()),
            ("xiaomi", self.xiaomi.push_count() as u64),
            ("oppo", self.oppo.push_count()),
            ("vivo", self.vivo.push_count()),
            ("meizu", self.meizu.push_count() as u64),
        ]
    }

    /// Adds `d` to every answer of every mock (a slower network, a slower vendor).
    /// HTTP/2 connections the APNs stand-in has accepted.
    pub fn apns_connections(&self) -> u64 {
        self.apns_server.connections_accepted()
    }

    pub fn set_latency(&self, d: std::time::Duration) {
        self.apns.set_latency(d);
        self.fcm.set_latency(d);
        self.huawei.set_latency(d);
        self.honor.set_latency(d);
        self.xiaomi.set_latency(d);
        self.oppo.set_latency(d);
        self.vivo.set_latency(d);
        self.meizu.set_latency(d);
    }

    /// Stops accepting connections and drains in-flight requests.
    pub async fn shutdown(self) {
        tokio::join!(
            self.apns_server.shutdown(),
            self.fcm_server.shutdown(),
            shutdown_all(self.servers)
        );
    }
}

/// Stops the single-vendor servers together; each drains its own connections for at most a
/// few seconds.
async fn shutdown_all(servers: Vec<MockServer>) {
    let mut stopping = tokio::task::JoinSet::new();
    for s in servers {
        stopping.spawn(s.shutdown());
    }
    while stopping.join_next().await.is_some() {}
}
