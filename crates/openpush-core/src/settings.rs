//! Per-user push settings: do-not-disturb and notification modes.

use serde::{Deserialize, Serialize};

use crate::InvalidValue;

/// Longest one-shot do-not-disturb, in ms (7 days).
pub const MAX_IGNORE_DURATION_MS: i64 = 604_800_000;

/// Notification mode of an app-level or conversation-level setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum NotifyType {
    Default,
    All,
    At,
    None,
}

impl NotifyType {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "DEFAULT" => Ok(Self::Default),
            "ALL" => Ok(Self::All),
            "AT" => Ok(Self::At),
            "NONE" => Ok(Self::None),
            other => Err(InvalidValue(format!(
                "type must be one of DEFAULT, ALL, AT, NONE, got {other:?}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "DEFAULT",
            Self::All => "ALL",
            Self::At => "AT",
            Self::None => "NONE",
        }
    }
}

/// Whether a setting is the user's app-wide one or one conversation's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatType {
    User,
    ChatGroup,
}

impl ChatType {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "user" => Ok(Self::User),
            "chatgroup" => Ok(Self::ChatGroup),
            other => Err(InvalidValue(format!(
                "chattype must be user or chatgroup, got {other:?}"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ChatGroup => "chatgroup",
        }
    }
}

/// A daily do-not-disturb window `HH:MM-HH:MM` (24 h; `H:M` accepted, shown as `HH:MM`). Equal ends mean all day; an end before
/// the start wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgnoreInterval {
    start_min: u16,
    end_min: u16,
}

impl IgnoreInterval {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bad = || {
            InvalidValue(format!(
                "ignoreInterval must look like HH:MM-HH:MM, got {s:?}"
            ))
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let hm = |t: &str| -> Result<u16, InvalidValue> {
            // Easemob's own client docs write `8:30-10:0`; accept one or two digits.
            let (h, m) = t.split_once(':').ok_or_else(bad)?;
            if !(1..=2).contains(&h.len()) || !(1..=2).contains(&m.len()) {
                return Err(bad());
            }
            if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let h: u16 = h.parse().map_err(|_| bad())?;
            let m: u16 = m.parse().map_err(|_| bad())?;
            if h > 23 || m > 59 {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        Ok(Self {
            start_min: hm(a)?,
            end_min: hm(b)?,
        })
    }

    /// Whether minute-of-day `m` falls in the window.
    pub fn contains(&self, m: u16) -> bool {
        let (s, e) = (self.start_min, self.end_min);
        match s.cmp(&e) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => m >= s && m < e,
            std::cmp::Ordering::Greater => m >= s || m < e,
        }
    }
}

impl std::fmt::Display for IgnoreInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start_min / 60,
            self.start_min % 60,
            self.end_min / 60,
            self.end_min % 60
        )
    }
}

/// A stored notification setting. `ignore_until_ms` is the absolute end of a one-shot DND
/// (0 = none); the API reports it as `ignoreDuration`, as Easemob's example does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSetting {
    #[serde(rename = "type")]
    pub notify_type: NotifyType,
    #[serde(rename = "ignoreInterval")]
    pub ignore_interval: String,
    #[serde(rename = "ignoreDuration")]
    pub ignore_until_ms: i64,
}

impl NotificationSetting {
    /// What a user has before setting anything: app level `ALL`, conversations `DEFAULT`.
    pub fn default_for(app_level: bool) -> Self {
        Self {
            notify_type: if app_level {
                NotifyType::All
            } else {
                NotifyType::Default
            },
            ignore_interval: String::new(),
            ignore_until_ms: 0,
        }
    }
}

/// A change to a notification setting: the fields that are `Some` replace the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationPatch {
    pub notify_type: Option<NotifyType>,
    pub ignore_interval: Option<String>,
    pub ignore_until_ms: Option<i64>,
}

impl NotificationPatch {
    pub fn apply(&self, s: &mut NotificationSetting) {
        if let Some(t) = self.notify_type {
            s.notify_type = t;
        }
        if let Some(i) = &self.ignore_interval {
            s.ignore_interval.clone_from(i);
        }
        if let Some(u) = self.ignore_until_ms {
            s.ignore_until_ms = u;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_and_wrap() {
        let i = IgnoreInterval::parse("21:30-08:00").unwrap();
        assert_eq!(i.to_string(), "21:30-08:00");
        assert!(i.contains(22 * 60));
        assert!(i.contains(7 * 60));
        assert!(!i.contains(12 * 60));
        let all = IgnoreInterval::parse("10:00-10:00").unwrap();
        assert!(all.contains(0) && all.contains(23 * 60 + 59));
        let day = IgnoreInterval::parse("08:00-18:00").unwrap();
        assert!(day.contains(8 * 60) && !day.contains(18 * 60));
        assert_eq!(
            IgnoreInterval::parse("8:30-10:0").unwrap().to_string(),
            "08:30-10:00"
        );
        for bad in [
            "",
            "800:00-9:00",
            "+1:00-02:00",
            "8-9",
            "24:00-01:00",
            "10:60-11:00",
            "10:00",
            "aa:bb-cc:dd",
        ] {
            assert!(IgnoreInterval::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn notify_types_are_strict() {
        assert_eq!(NotifyType::parse("AT").unwrap(), NotifyType::At);
        assert!(NotifyType::parse("all").is_err());
    }
}
