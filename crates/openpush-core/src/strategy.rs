//! Easemob's push strategy: which channel a push takes, per user (0–4).

use crate::InvalidValue;

/// Which channel a push takes, per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// 0: vendor first; if that fails, the Easemob channel.
    VendorThenEasemob,
    /// 1: Easemob channel only; offline users get it when they reconnect.
    Easemob,
    /// 2 (default): vendor only; a failure is final.
    Vendor,
    /// 3: online users on the Easemob channel, offline users by vendor; a vendor failure is
    /// kept for the Easemob channel.
    OnlineEasemobElseVendor,
    /// 4: Easemob channel, online users only.
    OnlineOnly,
}

impl Strategy {
    pub const DEFAULT: Self = Self::Vendor;

    pub fn from_code(code: i64) -> Result<Self, InvalidValue> {
        Ok(match code {
            0 => Self::VendorThenEasemob,
            1 => Self::Easemob,
            2 => Self::Vendor,
            3 => Self::OnlineEasemobElseVendor,
            4 => Self::OnlineOnly,
            other => {
                return Err(InvalidValue(format!(
                    "strategy must be 0, 1, 2, 3 or 4, got {other}"
                )))
            }
        })
    }

    pub fn code(self) -> i64 {
        match self {
            Self::VendorThenEasemob => 0,
            Self::Easemob => 1,
            Self::Vendor => 2,
            Self::OnlineEasemobElseVendor => 3,
            Self::OnlineOnly => 4,
        }
    }
}

impl Default for Strategy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in 0..=4 {
            assert_eq!(Strategy::from_code(c).unwrap().code(), c);
        }
        assert!(Strategy::from_code(5).is_err());
        assert!(Strategy::from_code(-1).is_err());
        assert_eq!(Strategy::default().code(), 2);
    }
}
