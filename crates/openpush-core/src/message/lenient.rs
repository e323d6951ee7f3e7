//! Lenient readers for fields that Easemob's SDKs send in more than one JSON form.
//!
//! The Java push SDK types every vendor block as `Map<String, Object>`, so callers put in whatever
//! their code holds: `"1"` or `1` for an Int, `"true"`, `true` or `1` for a Bool.
//! Each reader here accepts the forms listed on it and yields the documented type, which is what
//! the message serialises back to. `null` reads as absent everywhere.
//!
//! Also here: the macros that declare the wire structs and the enumerated codes.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Unexpected, Visitor};
use serde::{Serialize, Serializer};

/// Declares a wire struct: camelCase keys, every field optional and omitted when absent, and an
/// `other` map that keeps every key the struct does not model, so the struct serialises back to
/// what was sent.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase", default, expecting = "a JSON object")]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: $ty,
            )*
            /// Keys this struct does not model, kept as sent.
            #[serde(flatten)]
            pub other: serde_json::Map<String, serde_json::Value>,
        }
    };
}

/// Declares an enumeration carried as a string. Reading is case-insensitive; writing uses the
/// documented spelling.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in documented order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The documented spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// Parses the documented spelling, ignoring ASCII case.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    let all: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    serde::de::Error::custom(format!(
                        "expected one of {}, got {s:?}",
                        all.join(", ")
                    ))
                })
            }
        }
    };
}

/// Declares an enumeration carried as an integer (a numeric string is accepted too).
macro_rules! int_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in documented order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The documented code.
            pub fn code(self) -> i32 {
                match self {
                    $( $name::$variant => $code, )+
                }
            }

            /// The value with this code.
            pub fn from_code(code: i64) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| i64::from(v.code()) == code)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i32(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = $crate::message::lenient::read_int(d)?;
                Self::from_code(code).ok_or_else(|| {
                    let all: Vec<String> = Self::ALL.iter().map(|v| v.code().to_string()).collect();
                    serde::de::Error::custom(format!(
                        "expected one of {}, got {code}",
                        all.join(", ")
                    ))
                })
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Integers

struct IntVisitor {
    accept_bool: bool,
}

impl<'de> Visitor<'de> for IntVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.accept_bool {
            f.write_str("0 or 1 (or true/false, or a string of either)")
        } else {
            f.write_str("an integer (or a string holding one)")
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // PHP and JavaScript callers can produce `1.0` for an integer.
        const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53: every integer below is exact
        if v.fract() == 0.0 && v.abs() < LIMIT {
            Ok(v as i64)
        } else {
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<i64, E> {
        if self.accept_bool {
            Ok(i64::from(v))
        } else {
            Err(E::invalid_type(Unexpected::Bool(v), &self))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        if let Ok(n) = v.parse::<i64>() {
            return Ok(n);
        }
        if self.accept_bool {
            if v.eq_ignore_ascii_case("true") {
                return Ok(1);
            }
            if v.eq_ignore_ascii_case("false") {
                return Ok(0);
            }
        }
        Err(E::invalid_value(Unexpected::Str(v), &self))
    }
}

/// Reads an integer given as a JSON number (integral) or a numeric string.
pub(crate) fn read_int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(IntVisitor { accept_bool: false })
}

struct Int64(i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read_int(d).map(Int64)
    }
}

struct Int32(i32);

impl<'de> Deserialize<'de> for Int32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = read_int(d)?;
        i32::try_from(v)
            .map(Int32)
            .map_err(|_| de::Error::invalid_value(Unexpected::Signed(v), &"a 32-bit integer"))
    }
}

struct Flag(i32);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let visitor = IntVisitor { accept_bool: true };
        match d.deserialize_any(visitor)? {
            0 => Ok(Flag(0)),
            1 => Ok(Flag(1)),
            v => Err(de::Error::invalid_value(
                Unexpected::Signed(v),
                &IntVisitor { accept_bool: true },
            )),
        }
    }
}

/// An Int: a JSON integer or a numeric string, within `i32`.
pub(crate) fn int32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    Ok(Option::<Int32>::deserialize(d)?.map(|v| v.0))
}

/// A Long: a JSON integer or a numeric string, within `i64`.
pub(crate) fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<Int64>::deserialize(d)?.map(|v| v.0))
}

/// An Int that is 0 or 1; `true`/`false` (and their strings) read as 1/0.
pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    Ok(Option::<Flag>::deserialize(d)?.map(|v| v.0))
}

// ---------------------------------------------------------------------------------------------
// Booleans

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean (true/false, 1/0, or a string of either)")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        if v.eq_ignore_ascii_case("true") || v == "1" {
            Ok(true)
        } else if v.eq_ignore_ascii_case("false") || v == "0" {
            Ok(false)
        } else {
            Err(E::invalid_value(Unexpected::Str(v), &self))
        }
    }
}

struct LenientBool(bool);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor).map(LenientBool)
    }
}

/// A Bool: `true`/`false`, `1`/`0`, or a string of any of these.
pub(crate) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Option::<LenientBool>::deserialize(d)?.map(|v| v.0))
}

// ---------------------------------------------------------------------------------------------
// Floats

struct FloatVisitor;

impl<'de> Visitor<'de> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number (or a string holding one)")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(n),
            _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
        }
    }
}

struct Float(f64);

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FloatVisitor).map(Float)
    }
}

/// A Float: a JSON number or a numeric string.
///
/// Written back as an integer when it is a whole number, so `1` comes back as `1` (and `1.0`
/// also as `1`: the same JSON number).
pub(crate) fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Option::<Float>::deserialize(d)?.map(|v| v.0))
}

/// Writes a Float read by [`float`]: whole numbers as integers.
pub(crate) fn write_float<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    // Below 2^53 every whole f64 converts to i64 exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match *v {
        Some(f) if f.fract() == 0.0 && f.abs() < EXACT => s.serialize_i64(f as i64),
        Some(f) => s.serialize_f64(f),
        None => s.serialize_none(),
    }
}

// ---------------------------------------------------------------------------------------------
// Codes: strings that are often numbers

struct CodeVisitor;

impl<'de> Visitor<'de> for CodeVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string (or a number)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

struct Code(String);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CodeVisitor).map(Code)
    }
}

/// A String that callers often send as a number (ids, TTLs, numeric codes such as Xiaomi's
/// `notifyEffect`): a number is kept as its decimal text.
pub(crate) fn code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Code>::deserialize(d)?.map(|v| v.0))
}

/// A String[] whose items may be numbers (localisation arguments, vibration patterns).
pub(crate) fn code_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(Option::<Vec<Code>>::deserialize(d)?.map(|v| v.into_iter().map(|c| c.0).collect()))
}

// ---------------------------------------------------------------------------------------------
// One string or a list of strings

/// A field documented without a type that callers send either as one (comma-separated) string
/// or as a list of strings. Serialises in the form it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringOrList {
    One(String),
    List(Vec<String>),
}

impl StringOrList {
    /// The items: a single string is split on commas, and each item is trimmed.
    pub fn items(&self) -> Vec<&str> {
        match self {
            StringOrList::One(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect(),
            StringOrList::List(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

impl Serialize for StringOrList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StringOrList::One(v) => s.serialize_str(v),
            StringOrList::List(v) => v.serialize(s),
        }
    }
}

struct StringOrListVisitor;

impl<'de> Visitor<'de> for StringOrListVisitor {
    type Value = StringOrList;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<StringOrList, E> {
        Ok(StringOrList::One(v.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringOrList, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(StringOrList::List(items))
    }
}

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StringOrListVisitor)
    }
}
