//! Push certificates ("notifiers"): per app, a name (the `notifier_name` of a binding) → a
//! vendor, its credentials and environment, and an optional base URL (a mock, a proxy).
//! Parsing checks that the credentials hold what the vendor's client needs.

use serde_json::Value;

use crate::InvalidValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VendorKind {
    Apns,
    Fcm,
    Huawei,
    Honor,
    Xiaomi,
    Oppo,
    Vivo,
    Meizu,
}

impl VendorKind {
    pub const ALL: [Self; 8] = [
        Self::Apns,
        Self::Fcm,
        Self::Huawei,
        Self::Honor,
        Self::Xiaomi,
        Self::Oppo,
        Self::Vivo,
        Self::Meizu,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apns => "apns",
            Self::Fcm => "fcm",
            Self::Huawei => "huawei",
            Self::Honor => "honor",
            Self::Xiaomi => "xiaomi",
            Self::Oppo => "oppo",
            Self::Vivo => "vivo",
            Self::Meizu => "meizu",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                InvalidValue(format!(
                    "vendor must be one of {}, got {s:?}",
                    Self::ALL.map(Self::as_str).join(", ")
                ))
            })
    }

    /// The credential fields the vendor's client needs (all strings, except FCM's
    /// service account, an object).
    pub fn required_fields(self) -> &'static [&'static str] {
        match self {
            Self::Apns => &["key_p8", "key_id", "team_id", "bundle_id"],
            Self::Fcm => &["service_account"],
            Self::Huawei | Self::Honor => &["app_id", "client_id", "client_secret"],
            Self::Xiaomi => &["app_secret", "package"],
            Self::Oppo => &["app_key", "master_secret"],
            Self::Vivo => &["app_id", "app_key", "app_secret"],
            Self::Meizu => &["app_id", "app_secret"],
        }
    }
}

/// Production or sandbox (APNs distinguishes them; other vendors ignore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Production,
    Sandbox,
}

impl Environment {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s.to_ascii_lowercase().as_str() {
            "production" | "prod" => Ok(Self::Production),
            "sandbox" | "development" | "dev" => Ok(Self::Sandbox),
            _ => Err(InvalidValue(format!(
                "environment must be production or sandbox, got {s:?}"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Sandbox => "sandbox",
        }
    }
}

/// Checks a vendor's credentials: an object with every required field, non-empty.
pub fn check_credentials(vendor: VendorKind, credentials: &Value) -> Result<(), InvalidValue> {
    let obj = credentials
        .as_object()
        .ok_or_else(|| InvalidValue::new("credentials must be a JSON object"))?;
    for field in vendor.required_fields() {
        let ok = match (vendor, obj.get(*field)) {
            // The service account as Google issues it: an object, or that JSON as a string.
            (VendorKind::Fcm, Some(sa)) => {
                let parsed = match sa {
                    Value::String(text) => serde_json::from_str::<Value>(text).ok(),
                    other => Some(other.clone()),
                };
                parsed
                    .as_ref()
                    .and_then(Value::as_object)
                    .is_some_and(|sa| {
                        ["project_id", "private_key", "client_email"]
                            .iter()
                            .all(|k| {
                                sa.get(*k)
                                    .and_then(Value::as_str)
                                    .is_some_and(|v| !v.is_empty())
                            })
                    })
            }
            (_, Some(Value::String(s))) => !s.trim().is_empty(),
            _ => false,
        };
        if !ok {
            let what = if vendor == VendorKind::Fcm {
                "a service-account object with project_id, private_key and client_email"
            } else {
                "a non-empty string"
            };
            return Err(InvalidValue(format!(
                "credentials.{field} must be {what} for {} (needed: {})",
                vendor.as_str(),
                vendor.required_fields().join(", ")
            )));
        }
    }
    if vendor == VendorKind::Apns {
        let key = obj.get("key_p8").and_then(Value::as_str).unwrap_or("");
        if !key.contains("BEGIN PRIVATE KEY") {
            return Err(InvalidValue::new(
                "credentials.key_p8 must be the .p8 key in PEM form (-----BEGIN PRIVATE KEY-----)",
            ));
        }
    }
    Ok(())
}

/// A base URL override: `http://` or `https://`, no trailing path beyond what the vendor needs.
pub fn check_base_url(url: &str) -> Result<(), InvalidValue> {
    if (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 512
        && !url.contains(char::is_whitespace)
    {
        Ok(())
    } else {
        Err(InvalidValue(format!(
            "base_url must be an http:// or https:// URL, got {url:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn vendors_and_credentials() {
        assert_eq!(VendorKind::parse("APNs").unwrap(), VendorKind::Apns);
        assert!(VendorKind::parse("nokia").is_err());
        let apns = json!({"key_p8": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----", "key_id": "K", "team_id": "T", "bundle_id": "com.x"});
        assert!(check_credentials(VendorKind::Apns, &apns).is_ok());
        let e = check_credentials(VendorKind::Apns, &json!({"key_id": "K"})).unwrap_err();
        assert!(e.0.contains("credentials.key_p8"), "{e}");
        let fcm = json!({"service_account": {"project_id": "p", "private_key": "k", "client_email": "e@x"}});
        assert!(check_credentials(VendorKind::Fcm, &fcm).is_ok());
        assert!(check_credentials(VendorKind::Fcm, &json!({"service_account": "{}"})).is_err());
        let as_text = json!({"service_account": fcm["service_account"].to_string()});
        assert!(check_credentials(VendorKind::Fcm, &as_text).is_ok());
        assert!(check_credentials(
            VendorKind::Fcm,
            &json!({"service_account": {"project_id": "p"}})
        )
        .is_err());
        assert!(check_credentials(
            VendorKind::Vivo,
            &json!({"app_id": "1", "app_key": "k", "app_secret": " "})
        )
        .is_err());
        assert!(check_credentials(VendorKind::Meizu, &json!("x")).is_err());
        assert!(check_base_url("http://127.0.0.1:9000").is_ok());
        assert!(check_base_url("ftp://x").is_err());
        assert_eq!(Environment::parse("Sandbox").unwrap(), Environment::Sandbox);
        assert!(Environment::parse("staging").is_err());
    }
}
