//! Validated names and identifiers.

use std::fmt;

use serde::Serialize;

use crate::InvalidValue;

fn check_charset(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    allowed: impl Fn(char) -> bool,
    charset: &str,
) -> Result<(), InvalidValue> {
    if value.is_empty() && min > 0 {
        return Err(InvalidValue(format!("{field} must be provided")));
    }
    let len = value.chars().count();
    if len < min || len > max {
        return Err(InvalidValue(format!(
            "{field} must be {min} to {max} characters, got {len}"
        )));
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(InvalidValue(format!(
            "{field} may only contain {charset}, found {bad:?}"
        )));
    }
    Ok(())
}

/// `.` and `..` (and longer runs of dots) are refused: clients normalise them out of URLs,
/// so such a name could be created but never addressed again.
fn not_only_dots(field: &str, value: &str) -> Result<(), InvalidValue> {
    if value.chars().all(|c| c == '.') {
        return Err(InvalidValue(format!(
            "{field} must not consist of dots only"
        )));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// An organisation name: 1–64 characters of `[A-Za-z0-9_-]`, case-sensitive.
    #[derive(Debug)]
    OrgName
);
string_newtype!(
    /// An app name: 1–64 characters of `[A-Za-z0-9_-]`, case-sensitive.
    #[derive(Debug)]
    AppName
);
string_newtype!(
    /// A user ID (Easemob `username`): 1–64 bytes of `[a-zA-Z0-9_.-]`, case-insensitive,
    /// stored lower-case.
    #[derive(Debug)]
    Username
);
string_newtype!(
    /// A push label name: 1–64 characters of `[a-zA-Z0-9_.-]`, case-sensitive.
    #[derive(Debug)]
    LabelName
);
string_newtype!(
    /// A device id: 1–64 characters of `[A-Za-z0-9_.:-]`, stable across a device's reconnects.
    #[derive(Debug)]
    DeviceId
);
string_newtype!(
    /// The name of a push certificate ("notifier"): 1–128 printable characters, no `/`.
    #[derive(Debug)]
    NotifierName
);
string_newtype!(
    /// A vendor device token: 1–1024 printable ASCII characters. Masked in `Debug`.
    DeviceToken
);
string_newtype!(
    /// A user's login password: 1–64 characters. Never printed.
    Password
);
string_newtype!(
    /// A (push) nickname: at most 100 characters.
    #[derive(Debug)]
    Nickname
);

impl OrgName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        check_charset(
            "org",
            s,
            1,
            64,
            |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
            "letters, digits, '_' and '-'",
        )?;
        Ok(Self(s.to_owned()))
    }
}

impl AppName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        check_charset(
            "app",
            s,
            1,
            64,
            |c| c.is_ascii_alphanumeric() || c == '_' || c == '-',
            "letters, digits, '_' and '-'",
        )?;
        Ok(Self(s.to_owned()))
    }
}

impl Username {
    /// Parses and lower-cases a user ID.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        check_charset(
            "username",
            s,
            1,
            64,
            is_name_char,
            "letters, digits, '_', '-' and '.'",
        )?;
        not_only_dots("username", s)?;
        Ok(Self(s.to_ascii_lowercase()))
    }
}

impl LabelName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        check_charset(
            "label name",
            s,
            1,
            64,
            is_name_char,
            "letters, digits, '_', '-' and '.'",
        )?;
        not_only_dots("label name", s)?;
        Ok(Self(s.to_owned()))
    }
}

impl DeviceId {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        check_charset(
            "device_id",
            s,
            1,
            64,
            |c| is_name_char(c) || c == ':',
            "letters, digits, '_', '-', '.' and ':'",
        )?;
        Ok(Self(s.to_owned()))
    }
}

impl NotifierName {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        check_charset(
            "notifier_name",
            s,
            1,
            128,
            |c| !c.is_control() && !c.is_whitespace() && c != '/',
            "printable characters other than '/' and spaces",
        )?;
        Ok(Self(s.to_owned()))
    }
}

impl DeviceToken {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        check_charset(
            "device_token",
            s,
            1,
            1024,
            |c| c.is_ascii_graphic(),
            "printable ASCII characters",
        )?;
        Ok(Self(s.to_owned()))
    }

    /// The token for logs: first and last four characters only.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks a secret-ish string for logs: `abcd…wxyz`, or `…` when it is short.
pub fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 12 {
        return "…".to_owned();
    }
    let head: String = s.chars().take(4).collect();
    let tail: String = s.chars().skip(n - 4).collect();
    format!("{head}…{tail}")
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceToken({})", self.masked())
    }
}

impl Password {
    /// The longest password, in characters.
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let len = s.chars().count();
        if len == 0 {
            return Err(InvalidValue::new("password must be provided"));
        }
        if len > Self::MAX_CHARS {
            return Err(InvalidValue(format!(
                "password must be at most {} characters, got {len}",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Nickname {
    /// At most `max` characters; control characters are refused. Empty clears the nickname.
    pub fn parse(field: &str, s: &str, max: usize) -> Result<Self, InvalidValue> {
        let len = s.chars().count();
        if len > max {
            return Err(InvalidValue(format!(
                "{field} length exceeds the limit: at most {max} characters, got {len}"
            )));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(InvalidValue(format!(
                "{field} must not contain control characters"
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse("Hx_1.a-B").unwrap().as_str(), "hx_1.a-b");
        assert!(Username::parse("").is_err());
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        let e = Username::parse(&"a".repeat(65)).unwrap_err();
        assert!(e.0.contains("1 to 64"), "{e}");
        let e = Username::parse("bad name").unwrap_err();
        assert!(e.0.contains("' '"), "{e}");
        assert!(Username::parse("用户").is_err());
        assert!(Username::parse("..").is_err());
        assert!(Username::parse("a.b").is_ok());
    }

    #[test]
    fn label_names_keep_case() {
        assert_eq!(LabelName::parse("Post-90s").unwrap().as_str(), "Post-90s");
        assert_ne!(
            LabelName::parse("Aa").unwrap(),
            LabelName::parse("aa").unwrap()
        );
        assert!(LabelName::parse("a/b").is_err());
        assert!(LabelName::parse(".").is_err());
        assert!(LabelName::parse("...").is_err());
        assert!(LabelName::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn device_ids_allow_colons() {
        assert!(DeviceId::parse("8ce08cad-1:2.x_y").is_ok());
        assert!(DeviceId::parse("a b").is_err());
        assert!(DeviceId::parse("").is_err());
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let t = DeviceToken::parse("BAEAAAAAB1234567890abcdef").unwrap();
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("1234567890"), "{dbg}");
        assert!(dbg.contains("BAEA"));
        let p = Password::parse("hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn nickname_limit_counts_characters() {
        assert!(Nickname::parse("nickname", &"昵".repeat(100), 100).is_ok());
        assert!(Nickname::parse("nickname", &"昵".repeat(101), 100).is_err());
        assert!(Nickname::parse("nickname", "", 100).is_ok());
    }
}
