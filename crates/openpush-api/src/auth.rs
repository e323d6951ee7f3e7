//! Credentials: signed access tokens, hashed client secrets, hashed user passwords.
//!
//! Tokens are self-contained and signed with HMAC-SHA256 under a key kept in the store (or
//! given by the operator: `token.signing_key`, `token.signing_key_file`), so they survive
//! restarts and every node of a cluster accepts them. A token can still be cut short: the app's
//! and each user's "tokens valid from" time refuses tokens issued before it (checked by the
//! callers of [`TokenSigner::verify`]).
//!
//! Wire form: unpadded base64url of
//! `version(1) | kind(1) | app_id(8) | issued_ms(8) | expires_ms(8) | [user uuid(16) | username]`
//! followed by the 32-byte MAC of everything before it. `expires_ms = 0` never expires.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::Unauthorized;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const KIND_APP: u8 = 1;
const KIND_USER: u8 = 2;
const HEADER: usize = 1 + 1 + 8 + 8 + 8;
const MAC_LEN: usize = 32;

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The app itself (`client_credentials`): app-level REST calls.
    App,
    /// One user (`password`): the device connection and the device's own reports.
    User { uuid: [u8; 16], username: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub app_id: i64,
    pub issued_ms: i64,
    /// 0 = never expires.
    pub expires_ms: i64,
    pub subject: Subject,
}

/// Signs and checks tokens. The keys never leave this struct, and `Debug` does not show them.
/// Tokens are signed with the current key; a previous key, while one is configured, is still
/// accepted when checking, so a key rotation can give tokens a grace period.
pub struct TokenSigner {
    key: [u8; 32],
    previous: Option<[u8; 32]>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key,
            previous: None,
        }
    }

    /// Signs with `key` and also accepts tokens signed with `previous`.
    pub fn with_previous(key: [u8; 32], previous: Option<[u8; 32]>) -> Self {
        Self { key, previous }
    }

    /// A fresh random key, for the store to keep if it has none yet.
    pub fn random_key() -> [u8; 32] {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        k
    }

    fn mac(&self) -> HmacSha256 {
        mac_of(&self.key)
    }

    pub fn sign(&self, c: &Claims) -> String {
        let mut buf = Vec::with_capacity(HEADER + 16 + 64 + MAC_LEN);
        buf.push(VERSION);
        buf.push(match c.subject {
            Subject::App => KIND_APP,
            Subject::User { .. } => KIND_USER,
        });
        buf.extend_from_slice(&c.app_id.to_be_bytes());
        buf.extend_from_slice(&c.issued_ms.to_be_bytes());
        buf.extend_from_slice(&c.expires_ms.to_be_bytes());
        if let Subject::User { uuid, username } = &c.subject {
            buf.extend_from_slice(uuid);
            buf.extend_from_slice(username.as_bytes());
        }
        let mut mac = self.mac();
        mac.update(&buf);
        buf.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// Checks a token's form, signature and age. Which app it may be used on is the caller's
    /// check.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<Claims, Unauthorized> {
        if token.len() > 512 {
            return Err(Unauthorized::Corrupt);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| Unauthorized::Corrupt)?;
        if raw.len() < HEADER + MAC_LEN || raw[0] != VERSION {
            return Err(Unauthorized::Corrupt);
        }
        let (body, tag) = raw.split_at(raw.len() - MAC_LEN);
        let signed_by = |key: &[u8; 32]| {
            let mut mac = mac_of(key);
            mac.update(body);
            mac.verify_slice(tag).is_ok()
        };
        if !signed_by(&self.key) && !self.previous.as_ref().is_some_and(signed_by) {
            return Err(Unauthorized::NotIssuedHere);
        }
        let int = |at: usize| i64::from_be_bytes(body[at..at + 8].try_into().expect("8 bytes"));
        let claims = Claims {
            app_id: int(2),
            issued_ms: int(10),
            expires_ms: int(18),
            subject: match body[1] {
                KIND_APP if body.len() == HEADER => Subject::App,
                KIND_USER if body.len() > HEADER + 16 => Subject::User {
                    uuid: body[HEADER..HEADER + 16].try_into().expect("16 bytes"),
                    username: String::from_utf8(body[HEADER + 16..].to_vec())
                        .map_err(|_| Unauthorized::Corrupt)?,
                },
                _ => return Err(Unauthorized::Corrupt),
            },
        };
        if claims.expires_ms != 0 && claims.expires_ms <= now_ms {
            return Err(Unauthorized::Expired);
        }
        Ok(claims)
    }
}

fn mac_of(key: &[u8; 32]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// A signing key as the operator gives it: base64 (standard or URL-safe alphabet, padded or
/// not) of exactly 32 bytes; whitespace around it is ignored.
pub fn parse_signing_key(text: &str) -> Result<[u8; 32], String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    let t = text.trim();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(t).ok())
        .ok_or("it is not base64")?;
    let n = bytes.len();
    bytes
        .try_into()
        .map_err(|_| format!("it is {n} bytes, not 32"))
}

/// A new client id and secret in Easemob's look (`YXA6…`), URL-safe.
pub fn new_client_credentials() -> (String, String) {
    let mut id = [0u8; 16];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    (
        format!("YXA6{}", URL_SAFE_NO_PAD.encode(id)),
        format!("YXA6{}", URL_SAFE_NO_PAD.encode(secret)),
    )
}

/// Client secrets are random and long, so one SHA-256 is the right hash: the cost that
/// protects low-entropy passwords buys nothing here and would be paid on every token call.
pub fn hash_client_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time comparison of a presented secret with the stored hash.
pub fn client_secret_matches(presented: &str, stored_hash: &[u8]) -> bool {
    hash_client_secret(presented).ct_eq(stored_hash).into()
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes). Call from a blocking thread.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// Checks a password against a stored hash. With `None` (no such user) it still does the
/// work of one verification, so timing does not tell which usernames exist.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("openpush-timing-equaliser"));
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (dummy.as_str(), false),
    };
    let ok = PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        TokenSigner::new([7; 32])
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let s = signer();
        let c = Claims {
            app_id: 42,
            issued_ms: 1_000,
            expires_ms: 5_000,
            subject: Subject::User {
                uuid: [9; 16],
                username: "u1".into(),
            },
        };
        let t = s.sign(&c);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(s.verify(&t, 4_999).unwrap(), c);
        assert_eq!(s.verify(&t, 5_000), Err(Unauthorized::Expired));
        let never = Claims {
            expires_ms: 0,
            subject: Subject::App,
            ..c
        };
        assert_eq!(s.verify(&s.sign(&never), i64::MAX).unwrap(), never);
    }

    #[test]
    fn tampered_and_foreign_tokens_are_refused() {
        let s = signer();
        let c = Claims {
            app_id: 1,
            issued_ms: 0,
            expires_ms: 0,
            subject: Subject::App,
        };
        let t = s.sign(&c);
        // Another server's key: well-formed, not issued here.
        assert_eq!(
            TokenSigner::new([8; 32]).verify(&t, 0),
            Err(Unauthorized::NotIssuedHere)
        );
        // Flip the app id.
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        raw[9] ^= 1;
        assert_eq!(
            s.verify(&URL_SAFE_NO_PAD.encode(&raw), 0),
            Err(Unauthorized::NotIssuedHere)
        );
        for junk in ["", "abc", "!!!!", &"A".repeat(600)] {
            assert_eq!(s.verify(junk, 0), Err(Unauthorized::Corrupt), "{junk}");
        }
    }

    #[test]
    fn a_previous_key_is_accepted_but_never_signs() {
        let c = Claims {
            app_id: 1,
            issued_ms: 0,
            expires_ms: 0,
            subject: Subject::App,
        };
        let old = TokenSigner::new([1; 32]).sign(&c);
        let rotated = TokenSigner::with_previous([2; 32], Some([1; 32]));
        assert_eq!(rotated.verify(&old, 0).unwrap(), c);
        // New tokens are signed with the new key only.
        let new = rotated.sign(&c);
        assert_eq!(
            TokenSigner::new([1; 32]).verify(&new, 0),
            Err(Unauthorized::NotIssuedHere)
        );
        assert_eq!(TokenSigner::new([2; 32]).verify(&new, 0).unwrap(), c);
        // Without the previous key, the old token is refused.
        assert_eq!(
            TokenSigner::new([2; 32]).verify(&old, 0),
            Err(Unauthorized::NotIssuedHere)
        );
        assert!(!format!("{rotated:?}").contains("1, 1"));
    }

    #[test]
    fn signing_keys_parse_from_base64_of_32_bytes() {
        use base64::engine::general_purpose::STANDARD;
        let k = [0xfb; 32];
        assert_eq!(parse_signing_key(&STANDARD.encode(k)).unwrap(), k);
        assert_eq!(
            parse_signing_key(&format!("  {}\n", URL_SAFE_NO_PAD.encode(k))).unwrap(),
            k
        );
        assert!(parse_signing_key(&STANDARD.encode([1; 16]))
            .unwrap_err()
            .contains("16 bytes"));
        assert!(parse_signing_key("not base64!")
            .unwrap_err()
            .contains("base64"));
    }

    #[test]
    fn secrets_hash_and_compare() {
        let (id, secret) = new_client_credentials();
        assert!(id.starts_with("YXA6") && secret.starts_with("YXA6"));
        let h = hash_client_secret(&secret);
        assert!(client_secret_matches(&secret, &h));
        assert!(!client_secret_matches("YXA6wrong", &h));
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("pw");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("pw", Some(&h)));
        assert!(!verify_password("nope", Some(&h)));
        assert!(!verify_password("pw", None));
    }
}
