//! Compact JWS signing for the vendor credentials: ES256 (APNs provider tokens) and RS256
//! (Google service-account assertions).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// ES256: the signature is the fixed 64-byte `r || s` (RFC 7518 §3.4), not DER.
pub(crate) fn sign_es256(header: &Value, claims: &Value, key: &p256::ecdsa::SigningKey) -> String {
    use p256::ecdsa::signature::Signer;
    let input = signing_input(header, claims);
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// RS256: RSASSA-PKCS1-v1_5 with SHA-256.
pub(crate) fn sign_rs256(header: &Value, claims: &Value, key: &rsa::RsaPrivateKey) -> String {
    use rsa::signature::{SignatureEncoding, Signer};
    let input = signing_input(header, claims);
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let sig = signer.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
