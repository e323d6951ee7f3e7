//! Test credentials in the exact shapes the vendors issue them, so that the mocks, the tests and
//! the real clients all use the same keys: an APNs `.p8` (PKCS#8 PEM, P-256) with its key id and
//! team id, and a Google service-account JSON (RSA-2048 PKCS#8 PEM) whose `token_uri` points at
//! the FCM mock.
//!
//! `Debug` never prints private keys.

use std::fmt;
use std::sync::OnceLock;

use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rand::rngs::OsRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::jwt;

/// The canonical Google token endpoint; accepted as `aud` besides the mock's own URL.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The OAuth scope FCM HTTP v1 needs.
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The broad scope that also grants FCM.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("invalid private key: {0}")]
    Key(String),
    #[error("service-account JSON: missing or invalid field `{0}`")]
    Field(&'static str),
}

/// An APNs token-auth signing key (`AuthKey_<kid>.p8`) with its ids and the app's bundle id.
#[derive(Clone)]
pub struct ApnsCredentials {
    pub team_id: String,
    pub key_id: String,
    pub bundle_id: String,
    key: p256::SecretKey,
}

impl fmt::Debug for ApnsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsCredentials")
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("bundle_id", &self.bundle_id)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl ApnsCredentials {
    /// A fresh P-256 key. Apple's key ids and team ids are 10 upper-case alphanumerics.
    pub fn generate(team_id: &str, key_id: &str, bundle_id: &str) -> Self {
        Self {
            team_id: team_id.to_owned(),
            key_id: key_id.to_owned(),
            bundle_id: bundle_id.to_owned(),
            key: p256::SecretKey::random(&mut OsRng),
        }
    }

    /// Loads a `.p8` file's contents (PKCS#8 PEM, `-----BEGIN PRIVATE KEY-----`).
    pub fn from_p8(
        team_id: &str,
        key_id: &str,
        bundle_id: &str,
        p8_pem: &str,
    ) -> Result<Self, CredentialError> {
        let key = p256::SecretKey::from_pkcs8_pem(p8_pem)
            .map_err(|e| CredentialError::Key(e.to_string()))?;
        Ok(Self {
            team_id: team_id.to_owned(),
            key_id: key_id.to_owned(),
            bundle_id: bundle_id.to_owned(),
            key,
        })
    }

    /// The `.p8` file contents as Apple hands them out.
    pub fn p8_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a P-256 key encodes as PKCS#8")
            .to_string()
    }

    /// The public half (SPKI PEM), which is what the mock is configured with.
    pub fn public_key_pem(&self) -> String {
        self.key
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 public key encodes as SPKI")
    }

    pub fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        p256::ecdsa::VerifyingKey::from(self.key.public_key())
    }

    /// A provider token: header `{"alg":"ES256","kid":…}`, claims `{"iss":team,"iat":iat}`.
    pub fn provider_token(&self, iat_secs: i64) -> String {
        let header = json!({"alg": "ES256", "kid": self.key_id});
        let claims = json!({"iss": self.team_id, "iat": iat_secs});
        jwt::sign_es256(&header, &claims, &p256::ecdsa::SigningKey::from(&self.key))
    }
}

/// A Google service account (the JSON key file's contents).
#[derive(Clone)]
pub struct FcmServiceAccount {
    pub project_id: String,
    pub private_key_id: String,
    pub client_email: String,
    pub client_id: String,
    key: rsa::RsaPrivateKey,
}

impl fmt::Debug for FcmServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmServiceAccount")
            .field("project_id", &self.project_id)
            .field("private_key_id", &self.private_key_id)
            .field("client_email", &self.client_email)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn shared_test_rsa_key() -> rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA-2048 keygen"))
        .clone()
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

impl FcmServiceAccount {
    /// A service account with a fresh RSA-2048 key (slow-ish: ~0.1–1 s).
    pub fn generate(project_id: &str) -> Self {
        let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA-2048 keygen");
        Self::with_key(project_id, key)
    }

    /// Like [`generate`](Self::generate) but reusing one RSA key per process, so test suites that
    /// start many mocks do not pay for key generation each time. Ids still differ per call.
    pub fn for_tests(project_id: &str) -> Self {
        Self::with_key(project_id, shared_test_rsa_key())
    }

    fn with_key(project_id: &str, key: rsa::RsaPrivateKey) -> Self {
        let mut rng = rand::thread_rng();
        let client_id: String = (0..21)
            .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
            .collect();
        Self {
            project_id: project_id.to_owned(),
            private_key_id: random_hex(20),
            client_email: format!(
                "firebase-adminsdk-{}@{project_id}.iam.gserviceaccount.com",
                &random_hex(3)[..5]
            ),
            client_id,
            key,
        }
    }

    /// Parses a Google service-account JSON key.
    pub fn from_json(v: &Value) -> Result<Self, CredentialError> {
        let field = |name: &'static str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(CredentialError::Field(name))
        };
        if field("type")? != "service_account" {
            return Err(CredentialError::Field("type"));
        }
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&field("private_key")?)
            .map_err(|e| CredentialError::Key(e.to_string()))?;
        Ok(Self {
            project_id: field("project_id")?,
            private_key_id: field("private_key_id")?,
            client_email: field("client_email")?,
            client_id: field("client_id").unwrap_or_default(),
            key,
        })
    }

    pub fn private_key_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an RSA key encodes as PKCS#8")
            .to_string()
    }

    pub fn public_key(&self) -> rsa::RsaPublicKey {
        rsa::RsaPublicKey::from(&self.key)
    }

    /// The JSON key file exactly as Google issues it, with `token_uri` set to `token_uri`
    /// (the mock's token endpoint in tests, [`GOOGLE_TOKEN_URI`] in production).
    pub fn to_json(&self, token_uri: &str) -> Value {
        let email_enc = self.client_email.replace('@', "%40");
        json!({
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem(),
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!("https://www.googleapis.com/robot/v1/metadata/x509/{email_enc}"),
            "universe_domain": "googleapis.com"
        })
    }

    /// A JWT-bearer assertion: header `{"alg":"RS256","typ":"JWT","kid":private_key_id}`, claims
    /// `{iss, scope, aud, iat, exp: iat + 3600}` — what google-auth libraries send.
    pub fn assertion(&self, aud: &str, scope: &str, iat_secs: i64) -> String {
        self.assertion_with(json!({"iss": self.client_email, "scope": scope, "aud": aud,
                   "iat": iat_secs, "exp": iat_secs + 3600}))
    }

    /// Signs arbitrary claims with this account's key (for tests of malformed assertions).
    pub fn assertion_with(&self, claims: Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.private_key_id});
        jwt::sign_rs256(&header, &claims, &self.key)
    }
}
