//! Opaque page cursors: unpadded base64url of `openpush:<kind>:<key>`, so they contain only
//! `[A-Za-z0-9_-]` and survive an unencoded query string (some SDKs append cursors raw), like
//! Easemob's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::ApiError;

pub fn encode(kind: &str, key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("openpush:{kind}:{key}"))
}

/// `None` for an absent cursor; 400 for one that is not ours.
pub fn decode(kind: &str, cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(c) = cursor else { return Ok(None) };
    let bad = || ApiError::illegal_argument(format!("cursor {c:?} is invalid"));
    let raw = URL_SAFE_NO_PAD
        .decode(c.trim_end_matches('='))
        .map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let rest = s
        .strip_prefix("openpush:")
        .and_then(|r| r.strip_prefix(kind))
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad)?;
    rest.parse::<i64>().map(Some).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_charset() {
        let c = encode("label", 959_153_003_884_138_027);
        assert!(c
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(
            decode("label", Some(&c)).unwrap(),
            Some(959_153_003_884_138_027)
        );
        assert_eq!(decode("label", None).unwrap(), None);
        assert!(decode("user", Some(&c)).is_err());
        assert!(decode("label", Some("!!")).is_err());
        assert!(decode("label", Some(&encode("label", 1)[..5])).is_err());
    }
}
