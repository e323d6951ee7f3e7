//! The Easemob-compatible handlers, one module per resource.

pub mod binding;
pub mod connect;
pub mod labels;
pub mod notifiers;
pub mod push;
pub mod settings;
pub mod stats;
pub mod tasks;
pub mod token;
pub mod users;

use serde_json::Value;

use crate::error::ApiError;

/// A number given as a JSON number or a numeric string (SDKs send either).
pub fn lenient_i64(field: &str, v: &Value) -> Result<i64, ApiError> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| ApiError::illegal_argument(format!("{field} must be an integer, got {v}")))
}

/// A boolean given as `true`/`false`, `1`/`0` or their string forms (SDKs send each).
pub fn lenient_bool(field: &str, v: &Value) -> Result<bool, ApiError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(ApiError::illegal_argument(format!(
                "{field} must be true or false, got {v}"
            ))),
        },
        _ => Err(ApiError::illegal_argument(format!(
            "{field} must be true or false, got {v}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lenient_numbers_and_bools() {
        assert_eq!(lenient_i64("x", &json!(5)).unwrap(), 5);
        assert_eq!(lenient_i64("x", &json!(" 7 ")).unwrap(), 7);
        assert!(lenient_i64("x", &json!(1.5)).is_err());
        assert!(lenient_i64("x", &json!("a")).is_err());
        assert!(lenient_i64("x", &json!(null)).is_err());
        for (v, b) in [
            (json!(true), true),
            (json!(0), false),
            (json!("1"), true),
            (json!("false"), false),
        ] {
            assert_eq!(lenient_bool("f", &v).unwrap(), b);
        }
        assert!(lenient_bool("f", &json!(2)).is_err());
        assert!(lenient_bool("f", &json!("yes")).is_err());
    }
}
