//! Profile values: the scalar JSON values a resource profile (`google.protobuf.Struct`) holds.

use std::collections::BTreeMap;

use prost_types::Value;
use prost_types::value::Kind;

use crate::Struct;

/// One value in a resource profile.
///
/// Build it with `From`: strings, booleans and numbers map to their JSON kind, and
/// `Option<String>` gives [`ProfileValue::Null`] for `None`, so optional upstream fields keep their
/// key with an explicit null.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProfileValue {
    /// A JSON string.
    String(String),
    /// A JSON boolean.
    Bool(bool),
    /// A JSON number (protobuf `Struct` numbers are doubles).
    Number(f64),
    /// JSON null.
    Null,
}

impl ProfileValue {
    /// This value as a `google.protobuf.Value`.
    pub fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    /// This value as a `google.protobuf.Value`, moving a string instead of copying it.
    pub fn into_value(self) -> Value {
        let kind = match self {
            Self::String(s) => Kind::StringValue(s),
            Self::Bool(b) => Kind::BoolValue(b),
            Self::Number(n) => Kind::NumberValue(n),
            Self::Null => Kind::NullValue(prost_types::NullValue::NullValue as i32),
        };
        Value { kind: Some(kind) }
    }
}

impl From<&str> for ProfileValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<String> for ProfileValue {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

impl From<&String> for ProfileValue {
    fn from(value: &String) -> Self {
        Self::String(value.clone())
    }
}

impl From<bool> for ProfileValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<f64> for ProfileValue {
    fn from(value: f64) -> Self {
        Self::Number(value)
    }
}

impl From<i64> for ProfileValue {
    fn from(value: i64) -> Self {
        Self::Number(value as f64)
    }
}

impl From<u32> for ProfileValue {
    fn from(value: u32) -> Self {
        Self::Number(f64::from(value))
    }
}

impl From<Option<String>> for ProfileValue {
    fn from(value: Option<String>) -> Self {
        value.map_or(Self::Null, Self::String)
    }
}

impl From<Option<&str>> for ProfileValue {
    fn from(value: Option<&str>) -> Self {
        value.map_or(Self::Null, Self::from)
    }
}

/// An ordered key → value profile, kept as the `google.protobuf.Struct` fields it becomes (a
/// `BTreeMap`, so its encoding does not depend on insertion order).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Profile(BTreeMap<String, Value>);

impl Profile {
    pub(crate) fn insert(&mut self, key: String, value: ProfileValue) {
        self.0.insert(key, value.into_value());
    }

    /// The profile as a `Struct`, without copying its entries.
    pub(crate) fn into_struct(self) -> Struct {
        Struct { fields: self.0 }
    }

    #[cfg(test)]
    pub(crate) fn to_struct(&self) -> Struct {
        self.clone().into_struct()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_pick_the_json_kind() {
        assert_eq!(ProfileValue::from("a"), ProfileValue::String("a".into()));
        assert_eq!(
            ProfileValue::from(String::from("b")),
            ProfileValue::String("b".into())
        );
        assert_eq!(ProfileValue::from(true), ProfileValue::Bool(true));
        assert_eq!(ProfileValue::from(3_i64), ProfileValue::Number(3.0));
        assert_eq!(ProfileValue::from(4_u32), ProfileValue::Number(4.0));
        assert_eq!(ProfileValue::from(None::<String>), ProfileValue::Null);
        assert_eq!(
            ProfileValue::from(Some("x".to_owned())),
            ProfileValue::String("x".into())
        );
        assert_eq!(ProfileValue::from(None::<&str>), ProfileValue::Null);
    }

    #[test]
    fn values_map_to_struct_kinds() {
        assert_eq!(ProfileValue::Null.to_value().kind, Some(Kind::NullValue(0)));
        assert_eq!(
            ProfileValue::Number(1.5).to_value().kind,
            Some(Kind::NumberValue(1.5))
        );
        assert_eq!(
            ProfileValue::Bool(false).to_value().kind,
            Some(Kind::BoolValue(false))
        );
        assert_eq!(
            ProfileValue::from("s").to_value().kind,
            Some(Kind::StringValue("s".into()))
        );
    }

    #[test]
    fn later_insert_of_a_key_wins() {
        let mut profile = Profile::default();
        profile.insert("k".into(), "first".into());
        profile.insert("k".into(), "second".into());
        let s = profile.to_struct();
        assert_eq!(s.fields.len(), 1);
        assert_eq!(s.fields["k"].kind, Some(Kind::StringValue("second".into())));
    }
}
