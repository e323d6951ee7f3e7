//! Why a `pushMessage` was refused.

use std::fmt::Write as _;

use super::text::Counting;

/// Why a `pushMessage` was refused. Every variant names the offending field by its JSON path from
/// `pushMessage` (e.g. `pushMessage.huawei.message.android.notification.buttons[3]`), as the caller
/// spelled it. The API layer renders it as HTTP 400 `MessageException` with `Display` as the
/// description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The field has the wrong JSON type or a value outside its documented set or range.
    #[error("{field} is invalid: {reason}")]
    Invalid { field: String, reason: String },
    /// A required field is absent (or `null`).
    #[error("{field} is required")]
    Required { field: String },
    /// A field that another field's value makes required is absent or empty.
    #[error("{field} is required when {condition}")]
    RequiredWhen { field: String, condition: String },
    /// A field that must have content is the empty string.
    #[error("{field} must not be empty")]
    Empty { field: String },
    /// A text is longer than its limit.
    #[error("{field} exceeds {max} {}: got {got}", counting.unit())]
    TooLong {
        field: String,
        max: usize,
        counting: Counting,
        got: usize,
    },
    /// `ext` serialises to more JSON than allowed.
    #[error("{field} exceeds {max} characters as JSON: got {got}")]
    TooLarge {
        field: String,
        max: usize,
        got: usize,
    },
    /// An object or list has more entries than allowed.
    #[error("{field} has more than {max} {items}: got {got}")]
    TooMany {
        field: String,
        max: usize,
        items: &'static str,
        got: usize,
    },
}

impl MessageError {
    /// The JSON path of the offending field, starting with `pushMessage`.
    pub fn field(&self) -> &str {
        match self {
            MessageError::Invalid { field, .. }
            | MessageError::Required { field }
            | MessageError::RequiredWhen { field, .. }
            | MessageError::Empty { field }
            | MessageError::TooLong { field, .. }
            | MessageError::TooLarge { field, .. }
            | MessageError::TooMany { field, .. } => field,
        }
    }

    /// A JSON type error (or a value refused while deserialising) at `prefix` + the error's path.
    pub(crate) fn from_serde(
        prefix: &str,
        err: serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let mut field = prefix.to_owned();
        for segment in err.path().iter() {
            // Writing to a String cannot fail.
            let _ = match segment {
                serde_path_to_error::Segment::Seq { index } => write!(field, "[{index}]"),
                serde_path_to_error::Segment::Map { key } => write!(field, ".{key}"),
                serde_path_to_error::Segment::Enum { variant } => write!(field, ".{variant}"),
                serde_path_to_error::Segment::Unknown => Ok(()),
            };
        }
        MessageError::Invalid {
            field,
            reason: err.into_inner().to_string(),
        }
    }
}
