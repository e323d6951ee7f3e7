//! The limits pass: runs on a message whose JSON types are already right and checks the
//! documented lengths, counts, ranges and code sets, naming each field by its path.

use super::error::MessageError;
use super::text::Counting;

/// A block that checks its own limits; `at` is its path (e.g. `pushMessage.vivo`).
pub(crate) trait Check {
    fn check(&self, at: &str) -> Result<(), MessageError>;
}

fn path(at: &str, key: &str) -> String {
    format!("{at}.{key}")
}

/// A nested block, if present.
pub(crate) fn nested<T: Check>(at: &str, key: &str, v: &Option<T>) -> Result<(), MessageError> {
    match v {
        Some(v) => v.check(&path(at, key)),
        None => Ok(()),
    }
}

/// Each item of a list of blocks, if present.
pub(crate) fn each<T: Check>(at: &str, key: &str, v: &Option<Vec<T>>) -> Result<(), MessageError> {
    for (i, item) in v.iter().flatten().enumerate() {
        item.check(&format!("{at}.{key}[{i}]"))?;
    }
    Ok(())
}

/// A text of at most `max` under `counting`, if present.
pub(crate) fn max_len(
    at: &str,
    key: &str,
    v: &Option<String>,
    max: usize,
    counting: Counting,
) -> Result<(), MessageError> {
    match v {
        Some(s) => max_len_of(&path(at, key), s, max, counting),
        None => Ok(()),
    }
}

pub(crate) fn max_len_of(
    field: &str,
    s: &str,
    max: usize,
    counting: Counting,
) -> Result<(), MessageError> {
    // Each character takes at least as many UTF-8 bytes as it counts (a wide one, U+1100 and up,
    // takes 3 or 4 and counts 2): a text of at most `max` bytes is within the limit.
    if s.len() <= max {
        return Ok(());
    }
    let got = counting.measure(s);
    if got > max {
        return Err(MessageError::TooLong {
            field: field.to_owned(),
            max,
            counting,
            got,
        });
    }
    Ok(())
}

/// A list of at most `max` items, if present.
pub(crate) fn max_items<T>(
    at: &str,
    key: &str,
    v: &Option<Vec<T>>,
    max: usize,
    items: &'static str,
) -> Result<(), MessageError> {
    match v {
        Some(list) if list.len() > max => Err(MessageError::TooMany {
            field: path(at, key),
            max,
            items,
            got: list.len(),
        }),
        _ => Ok(()),
    }
}

/// An integer code from a documented set, if present.
pub(crate) fn one_of<T>(
    at: &str,
    key: &str,
    v: Option<T>,
    allowed: &[T],
) -> Result<(), MessageError>
where
    T: Copy + PartialEq + std::fmt::Display,
{
    match v {
        Some(v) if !allowed.contains(&v) => Err(MessageError::Invalid {
            field: path(at, key),
            reason: format!("expected one of {}, got {v}", join(allowed)),
        }),
        _ => Ok(()),
    }
}

/// A string code from a documented set, if present.
pub(crate) fn str_one_of(
    at: &str,
    key: &str,
    v: &Option<String>,
    allowed: &[&str],
) -> Result<(), MessageError> {
    match v {
        Some(v) if !allowed.contains(&v.as_str()) => Err(MessageError::Invalid {
            field: path(at, key),
            reason: format!("expected one of {}, got {v:?}", allowed.join(", ")),
        }),
        _ => Ok(()),
    }
}

/// A number within `lo..=hi`, if present.
pub(crate) fn in_range<T>(
    at: &str,
    key: &str,
    v: Option<T>,
    lo: T,
    hi: T,
) -> Result<(), MessageError>
where
    T: Copy + PartialOrd + std::fmt::Display,
{
    match v {
        Some(v) if v < lo || v > hi => Err(MessageError::Invalid {
            field: path(at, key),
            reason: format!("expected {lo} to {hi}, got {v}"),
        }),
        _ => Ok(()),
    }
}

/// A field that must be present (and non-empty) because another field asks for it.
pub(crate) fn required_because(
    at: &str,
    key: &str,
    v: &Option<String>,
    because: &str,
) -> Result<(), MessageError> {
    match v {
        Some(s) if !s.is_empty() => Ok(()),
        _ => Err(MessageError::RequiredWhen {
            field: path(at, key),
            condition: because.to_owned(),
        }),
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
