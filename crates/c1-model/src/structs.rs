//! [`Struct`]: `google.protobuf.Struct` as the generated messages hold it, with a direct encoder.
//!
//! A user's profile is a `Struct` written twice per user (`UserTrait.profile` and
//! `Resource.profile`), and encoding it was the largest single cost of mapping a user:
//! `prost_types::Struct` goes through prost's generic map code, which compares every value with
//! the default and works each entry's length out again at every level of nesting. This type has
//! the same field, the same wire format and byte for byte the same encoding (tests compare it with
//! `prost_types::Struct`'s on arbitrary input), but sizes and writes string, number, boolean and
//! null values directly. Nested structs and lists inside a value still go through prost.

use std::collections::BTreeMap;

use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType, encode_varint, encoded_len_varint};
use prost_types::Value;
use prost_types::value::Kind;

/// `google.protobuf.Struct`: a map of field names to dynamically typed values.
///
/// Its field and its encoding are those of [`prost_types::Struct`], and the two convert into each
/// other without copying (`From` both ways).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Struct {
    /// The fields, ordered by name (so the encoding is deterministic).
    pub fields: BTreeMap<String, Value>,
}

impl From<prost_types::Struct> for Struct {
    fn from(value: prost_types::Struct) -> Self {
        Self {
            fields: value.fields,
        }
    }
}

impl From<Struct> for prost_types::Struct {
    fn from(value: Struct) -> Self {
        Self {
            fields: value.fields,
        }
    }
}

/// Field 1 (`fields`), length-delimited: each map entry's tag.
const ENTRY_TAG: u8 = 0x0a;
/// Within an entry: field 1 (`key`), length-delimited.
const KEY_TAG: u8 = 0x0a;
/// Within an entry: field 2 (`value`), length-delimited.
const VALUE_TAG: u8 = 0x12;

/// The length of a length-delimited field of `len` bytes with a one-byte tag.
fn delimited(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// The encoded length of `value`'s body (the `Value` message without its tag and length).
fn value_len(value: &Value) -> usize {
    match &value.kind {
        None => 0,
        // Fields 1–4, one-byte tags; a oneof member is written even when it holds its default.
        Some(Kind::NullValue(n)) => 1 + encoded_len_varint(i64::from(*n) as u64),
        Some(Kind::NumberValue(_)) => 1 + 8,
        Some(Kind::StringValue(s)) => delimited(s.len()),
        Some(Kind::BoolValue(_)) => 1 + 1,
        Some(Kind::StructValue(_) | Kind::ListValue(_)) => prost::Message::encoded_len(value),
    }
}

/// Writes a length as a varint; almost every length here fits in one byte, which prost's general
/// varint writer (an out-of-line loop) would spend thirty instructions on.
#[inline]
fn put_len(len: usize, buf: &mut impl BufMut) {
    match u8::try_from(len) {
        Ok(byte) if byte < 0x80 => buf.put_u8(byte),
        _ => encode_varint(len as u64, buf),
    }
}

/// Writes `value`'s body (see [`value_len`]).
fn encode_value(value: &Value, buf: &mut impl BufMut) {
    match &value.kind {
        None => {}
        Some(Kind::NullValue(n)) => {
            buf.put_u8(0x08);
            encode_varint(i64::from(*n) as u64, buf);
        }
        Some(Kind::NumberValue(n)) => {
            buf.put_u8(0x11);
            buf.put_f64_le(*n);
        }
        Some(Kind::StringValue(s)) => {
            buf.put_u8(0x1a);
            put_len(s.len(), buf);
            buf.put_slice(s.as_bytes());
        }
        Some(Kind::BoolValue(b)) => {
            buf.put_u8(0x20);
            buf.put_u8(u8::from(*b));
        }
        Some(Kind::StructValue(_) | Kind::ListValue(_)) => prost::Message::encode_raw(value, buf),
    }
}

/// The body length of one map entry, given its value's body length. As prost does, an empty key
/// and a value without a kind (both defaults) are left out of the entry.
fn entry_len(key: &str, value: &Value, value_len: usize) -> usize {
    let key = if key.is_empty() {
        0
    } else {
        delimited(key.len())
    };
    let value = if value.kind.is_none() {
        0
    } else {
        delimited(value_len)
    };
    key + value
}

impl prost::Message for Struct {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for (key, value) in &self.fields {
            let value_len = value_len(value);
            buf.put_u8(ENTRY_TAG);
            put_len(entry_len(key, value, value_len), buf);
            if !key.is_empty() {
                buf.put_u8(KEY_TAG);
                put_len(key.len(), buf);
                buf.put_slice(key.as_bytes());
            }
            if value.kind.is_some() {
                buf.put_u8(VALUE_TAG);
                put_len(value_len, buf);
                encode_value(value, buf);
            }
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        if tag == 1 {
            encoding::btree_map::merge(
                encoding::string::merge,
                encoding::message::merge,
                &mut self.fields,
                buf,
                ctx,
            )
            .map_err(|mut error| {
                error.push("Struct", "fields");
                error
            })
        } else {
            encoding::skip_field(wire_type, tag, buf, ctx)
        }
    }

    fn encoded_len(&self) -> usize {
        self.fields
            .iter()
            .map(|(key, value)| delimited(entry_len(key, value, value_len(value))))
            .sum()
    }

    fn clear(&mut self) {
        self.fields.clear();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message;

    use super::*;

    fn string(s: &str) -> Value {
        Value {
            kind: Some(Kind::StringValue(s.to_owned())),
        }
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value { kind: None }),
            any::<i32>().prop_map(|n| Value {
                kind: Some(Kind::NullValue(n))
            }),
            any::<f64>().prop_map(|n| Value {
                kind: Some(Kind::NumberValue(n))
            }),
            ".{0,200}".prop_map(|s| string(&s)),
            any::<bool>().prop_map(|b| Value {
                kind: Some(Kind::BoolValue(b))
            }),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::btree_map(".{0,8}", inner.clone(), 0..4).prop_map(|fields| {
                    Value {
                        kind: Some(Kind::StructValue(prost_types::Struct { fields })),
                    }
                }),
                prop::collection::vec(inner, 0..4).prop_map(|values| Value {
                    kind: Some(Kind::ListValue(prost_types::ListValue { values })),
                }),
            ]
        })
    }

    proptest! {
        /// Byte for byte prost's encoding, for any keys (the empty one too) and any values
        /// (without a kind, negative "null" numbers, NaN, nested structs and lists).
        #[test]
        fn encodes_exactly_as_prost_types(
            fields in prop::collection::btree_map(".{0,300}", value(), 0..12)
        ) {
            let ours = Struct { fields: fields.clone() };
            let theirs = prost_types::Struct { fields };
            let bytes = theirs.encode_to_vec();
            prop_assert_eq!(ours.encoded_len(), theirs.encoded_len());
            prop_assert_eq!(ours.encode_to_vec(), bytes.clone());
            let back = Struct::decode(bytes.as_slice()).unwrap();
            prop_assert_eq!(back.encode_to_vec(), bytes);
        }
    }

    #[test]
    fn decodes_what_prost_types_encodes() {
        let theirs = prost_types::Struct {
            fields: BTreeMap::from([
                ("email".to_owned(), string("ada@example.com")),
                (String::new(), string("empty key")),
                ("none".to_owned(), Value { kind: None }),
            ]),
        };
        let ours = Struct::decode(theirs.encode_to_vec().as_slice()).unwrap();
        assert_eq!(prost_types::Struct::from(ours), theirs);
    }

    #[test]
    fn a_long_string_gets_a_multi_byte_length() {
        let long = "x".repeat(300);
        let ours = Struct {
            fields: BTreeMap::from([("k".to_owned(), string(&long))]),
        };
        let bytes = ours.encode_to_vec();
        // entry tag, entry length 0x135 = 309 (2 bytes), key (3 bytes), value tag, value length
        // 303 (2 bytes), string tag, string length 300 (2 bytes), the string.
        assert_eq!(bytes.len(), 1 + 2 + 3 + 1 + 2 + 1 + 2 + 300);
        assert_eq!(&bytes[..3], &[0x0a, 0xb5, 0x02]);
    }

    #[test]
    fn an_unknown_field_is_skipped_and_a_broken_entry_is_an_error() {
        // Field 2 (varint 5), then one entry {key "a"}.
        let bytes = [0x10, 0x05, 0x0a, 0x03, 0x0a, 0x01, b'a'];
        let decoded = Struct::decode(&bytes[..]).unwrap();
        assert_eq!(
            decoded.fields.keys().collect::<Vec<_>>(),
            vec![&"a".to_owned()]
        );
        assert!(Struct::decode(&[0x0a, 0x05, 0x0a][..]).is_err());
    }
}
