//! Compact JWS parsing and the two signature schemes the vendors use (ES256 for APNs provider
//! tokens, RS256 for Google service-account assertions). Signing lives here too so the tests and
//! the real clients produce tokens exactly the way the mocks check them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// A JWT split into its parts; nothing is verified yet.
#[derive(Debug, Clone)]
pub struct ParsedJwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(claims)`, the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl ParsedJwt {
    /// Splits and decodes a compact JWS. `None` when it is not three base64url parts holding two
    /// JSON objects.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header = decode_object(h)?;
        let claims = decode_object(c)?;
        let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
        Some(Self {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature,
        })
    }

    pub fn header_str(&self, key: &str) -> Option<&str> {
        self.header.get(key).and_then(Value::as_str)
    }

    pub fn claim_str(&self, key: &str) -> Option<&str> {
        self.claims.get(key).and_then(Value::as_str)
    }

    /// A numeric claim in whole seconds (`iat`, `exp`); floats are truncated as Google does.
    pub fn claim_secs(&self, key: &str) -> Option<i64> {
        let v = self.claims.get(key)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }

    /// Verifies an ES256 signature (raw `r || s`, 64 bytes). High-S signatures are accepted, as
    /// any standard verifier does (clients such as Python `cryptography` emit both forms).
    pub fn verify_es256(&self, key: &p256::ecdsa::VerifyingKey) -> bool {
        use p256::ecdsa::signature::Verifier;
        let Ok(sig) = p256::ecdsa::Signature::from_slice(&self.signature) else {
            return false;
        };
        let sig = sig.normalize_s().unwrap_or(sig);
        key.verify(self.signing_input.as_bytes(), &sig).is_ok()
    }

    /// Verifies an RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature.
    pub fn verify_rs256(&self, key: &rsa::RsaPublicKey) -> bool {
        use rsa::signature::Verifier;
        let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key.clone());
        let Ok(sig) = rsa::pkcs1v15::Signature::try_from(self.signature.as_slice()) else {
            return false;
        };
        vk.verify(self.signing_input.as_bytes(), &sig).is_ok()
    }
}

fn decode_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

fn encode_part(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("a JSON value serialises"))
}

/// Signs `header.claims` with ES256. `header` should carry `alg: ES256` (and `kid` for APNs).
pub fn sign_es256(header: &Value, claims: &Value, key: &p256::ecdsa::SigningKey) -> String {
    use p256::ecdsa::signature::Signer;
    let input = format!("{}.{}", encode_part(header), encode_part(claims));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

/// Signs `header.claims` with RS256.
pub fn sign_rs256(header: &Value, claims: &Value, key: &rsa::RsaPrivateKey) -> String {
    use rsa::signature::{SignatureEncoding, Signer};
    let input = format!("{}.{}", encode_part(header), encode_part(claims));
    let sk = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let sig = sk.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}
