//! Push certificates ("notifiers"): per app, a name (the `notifier_name` of a binding) → a
//! vendor, its credentials and environment, and an optional base URL (a mock, a proxy).
//! Parsing checks that the credentials hold what the vendor's client needs.

use std::net::IpAddr;

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

/// Which hosts a notifier's base URL may name. The server calls the URL with the app's
/// credentials, so a base URL pointing into the server's own network would let an app make it
/// reach internal services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseUrlPolicy {
    /// Literal private (10/8, 172.16/12, 192.168/16), link-local (169.254/16, fe80::/10),
    /// unique-local (fc00::/7) and unspecified (0.0.0.0, ::) addresses are allowed.
    pub allow_private: bool,
    /// Loopback (127/8, ::1, `localhost`) is allowed: the vendor stand-ins run there.
    pub allow_loopback: bool,
}

impl Default for BaseUrlPolicy {
    /// Public hosts and loopback.
    fn default() -> Self {
        Self {
            allow_private: false,
            allow_loopback: true,
        }
    }
}

/// The range a literal address falls in, when it is one a base URL may be refused for.
fn restricted_range(ip: IpAddr) -> Option<(&'static str, &'static str)> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            if a.is_unspecified() {
                Some(("unspecified", "0.0.0.0"))
            } else if a.is_loopback() {
                Some(("loopback", "127.0.0.0/8"))
            } else if o[0] == 10 {
                Some(("private", "10.0.0.0/8"))
            } else if o[0] == 172 && (16..=31).contains(&o[1]) {
                Some(("private", "172.16.0.0/12"))
            } else if o[0] == 192 && o[1] == 168 {
                Some(("private", "192.168.0.0/16"))
            } else if a.is_link_local() {
                Some(("link-local", "169.254.0.0/16"))
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            let first = a.segments()[0];
            if a.is_unspecified() {
                Some(("unspecified", "::"))
            } else if a.is_loopback() {
                Some(("loopback", "::1"))
            } else if first & 0xffc0 == 0xfe80 {
                Some(("link-local", "fe80::/10"))
            } else if first & 0xfe00 == 0xfc00 {
                Some(("unique-local", "fc00::/7"))
            } else {
                None
            }
        }
    }
}

/// A base URL override: an `http://` or `https://` URL of at most 512 characters whose host
/// the policy allows. Host names are not resolved here (only `localhost` is known to be
/// loopback); literal addresses in any form the URL standard reads (`http://10.1/`,
/// `http://0x7f.1/`, `[::ffff:10.0.0.1]`) are checked as the address they mean.
pub fn check_base_url(raw: &str, policy: BaseUrlPolicy) -> Result<(), InvalidValue> {
    let bad = || {
        InvalidValue(format!(
            "base_url must be an http:// or https:// URL, got {raw:?}"
        ))
    };
    if !(raw.starts_with("http://") || raw.starts_with("https://"))
        || raw.len() > 512
        || raw.contains(char::is_whitespace)
    {
        return Err(bad());
    }
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    let (shown, range) = match url.host().ok_or_else(bad)? {
        url::Host::Ipv4(a) => (a.to_string(), restricted_range(IpAddr::V4(a))),
        url::Host::Ipv6(a) => (a.to_string(), restricted_range(IpAddr::V6(a))),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let loopback = d == "localhost" || d.ends_with(".localhost");
            (d, loopback.then_some(("loopback", "localhost")))
        }
    };
    match range {
        Some(("loopback", r)) if !policy.allow_loopback => Err(InvalidValue(format!(
            "base_url host {shown} is a loopback address ({r}); loopback vendor hosts are \
             refused unless the server sets vendors.allow_loopback_base_url"
        ))),
        Some((kind, r)) if kind != "loopback" && !policy.allow_private => {
            Err(InvalidValue(format!(
                "base_url host {shown} is a {kind} address ({r}); private, link-local, \
                 unique-local and unspecified vendor hosts are refused unless the server sets \
                 vendors.allow_private_base_url"
            )))
        }
        _ => Ok(()),
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
        let policy = BaseUrlPolicy::default();
        assert!(check_base_url("http://127.0.0.1:9000", policy).is_ok());
        assert!(check_base_url("ftp://x", policy).is_err());
        assert_eq!(Environment::parse("Sandbox").unwrap(), Environment::Sandbox);
        assert!(Environment::parse("staging").is_err());
    }

    #[test]
    fn base_urls_in_private_ranges_are_refused_unless_allowed() {
        let default = BaseUrlPolicy::default();
        for (url, kind, range) in [
            ("http://10.0.0.5:8080/x", "private", "10.0.0.0/8"),
            ("https://172.16.3.4", "private", "172.16.0.0/12"),
            ("https://172.31.255.1", "private", "172.16.0.0/12"),
            ("http://192.168.1.1", "private", "192.168.0.0/16"),
            (
                "http://169.254.169.254/latest/meta-data",
                "link-local",
                "169.254.0.0/16",
            ),
            ("http://[fe80::1]:80", "link-local", "fe80::/10"),
            ("http://[fd12:3456::1]", "unique-local", "fc00::/7"),
            ("http://[fc00::1]", "unique-local", "fc00::/7"),
            ("http://0.0.0.0:9000", "unspecified", "0.0.0.0"),
            ("http://[::]:9000", "unspecified", "::"),
            // Other spellings of the same addresses.
            ("http://[::ffff:10.0.0.1]", "private", "10.0.0.0/8"),
            ("http://10.1/", "private", "10.0.0.0/8"),
            ("http://167772161/", "private", "10.0.0.0/8"),
            ("http://0xa9.254.169.254/", "link-local", "169.254.0.0/16"),
        ] {
            let e = check_base_url(url, default).unwrap_err();
            assert!(e.0.contains(kind) && e.0.contains(range), "{url}: {e}");
            assert!(e.0.contains("vendors.allow_private_base_url"), "{url}: {e}");
            let open = BaseUrlPolicy {
                allow_private: true,
                ..default
            };
            assert!(check_base_url(url, open).is_ok(), "{url}");
        }
        // Public hosts, names, and the neighbours of the private ranges pass.
        for url in [
            "https://push-api.cloud.huawei.com",
            "https://api.push.apple.com:443",
            "http://8.8.8.8",
            "http://172.32.0.1",
            "http://172.15.0.1",
            "http://192.169.0.1",
            "http://[2001:db8::1]",
            "http://11.0.0.1",
        ] {
            assert!(check_base_url(url, default).is_ok(), "{url}");
        }
        // Loopback: allowed by default (the stand-ins), refused when its switch is off.
        let no_loopback = BaseUrlPolicy {
            allow_loopback: false,
            ..default
        };
        for url in [
            "http://127.0.0.1:9000",
            "http://127.9.9.9",
            "http://[::1]:9000",
            "http://localhost:9000",
            "http://api.localhost",
            "http://0x7f.1/",
        ] {
            assert!(check_base_url(url, default).is_ok(), "{url}");
            let e = check_base_url(url, no_loopback).unwrap_err();
            assert!(e.0.contains("loopback"), "{url}: {e}");
            assert!(
                e.0.contains("vendors.allow_loopback_base_url"),
                "{url}: {e}"
            );
        }
        assert!(check_base_url("http://", default).is_err());
        assert!(check_base_url("http://exa mple.com", default).is_err());
    }
}
