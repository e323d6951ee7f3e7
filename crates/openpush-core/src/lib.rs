//! Domain types of OpenPush. No I/O lives here.
//!
//! Parsing is validation: every newtype has private fields and is built only through
//! `parse`, so a value that exists is a valid value. Handlers turn request DTOs into these
//! types before anything touches the store.

pub mod clock;
pub mod id;
pub mod message;
pub mod names;
pub mod notifier;
pub mod settings;
pub mod strategy;

pub use clock::{Clock, ManualClock, SystemClock};
pub use id::IdGenerator;
pub use names::{
    AppName, DeviceId, DeviceToken, LabelName, Nickname, NotifierName, OrgName, Password, Username,
};
pub use strategy::Strategy;

/// Why a value was refused. The message names the field and the rule it broke; it is shown
/// to API callers as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}
