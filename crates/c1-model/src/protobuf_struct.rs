//! [`Struct`]: `google.protobuf.Struct` as the generated messages hold it, with a direct encoder.
//!
//! A user's profile is a `Struct` written twice per user (`UserTrait.profile` and
//! `Resource.profile`), and building and encoding it was the largest single cost of mapping a
//! user. This type has the wire format and byte for byte the encoding of `prost_types::Struct`
//! (tests compare the two on arbitrary input), and holds its fields in one of two forms:
//!
//! - **a map** (`BTreeMap<String, Value>`), as decoded or as built from a map: string, number,
//!   boolean and null values are sized and written directly; nested structs and lists go through
//!   prost;
//! - **encoded entries**, as the resource builders' profiles produce them: the entries are written
//!   once, sorted by key, so encoding the struct copies bytes. The map is decoded from them on
//!   first use of [`Struct::fields`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType, encode_varint, encoded_len_varint};
use prost_types::Value;
use prost_types::value::Kind;

/// `google.protobuf.Struct`: a map of field names to dynamically typed values.
///
/// Its encoding is that of [`prost_types::Struct`], and the two convert into each other (`From`
/// both ways). Read the fields with [`fields`](Struct::fields), change them with
/// [`fields_mut`](Struct::fields_mut). Equality compares the fields, whatever the form.
#[derive(Clone, Default)]
pub struct Struct {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Fields(BTreeMap<String, Value>),
    /// The struct's encoding (its entries, sorted by key, one per key), and the map decoded from
    /// it once asked for.
    Encoded {
        entries: Vec<u8>,
        fields: OnceLock<BTreeMap<String, Value>>,
    },
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Fields(BTreeMap::new())
    }
}

impl Struct {
    /// An empty struct.
    pub fn new() -> Self {
        Self::default()
    }

    /// The fields, ordered by name.
    pub fn fields(&self) -> &BTreeMap<String, Value> {
        match &self.repr {
            Repr::Fields(fields) => fields,
            Repr::Encoded { entries, fields } => fields.get_or_init(|| decode_entries(entries)),
        }
    }

    /// The fields, to change them.
    pub fn fields_mut(&mut self) -> &mut BTreeMap<String, Value> {
        if let Repr::Encoded { entries, fields } = &mut self.repr {
            let decoded = fields.take().unwrap_or_else(|| decode_entries(entries));
            self.repr = Repr::Fields(decoded);
        }
        match &mut self.repr {
            Repr::Fields(fields) => fields,
            // Replaced just above.
            Repr::Encoded { .. } => unreachable!("an encoded struct was just decoded"),
        }
    }

    /// The fields, by value.
    pub fn into_fields(self) -> BTreeMap<String, Value> {
        match self.repr {
            Repr::Fields(fields) => fields,
            Repr::Encoded {
                entries,
                mut fields,
            } => fields.take().unwrap_or_else(|| decode_entries(&entries)),
        }
    }

    /// A struct of already encoded entries: each a complete map entry (tag, length, key, value),
    /// sorted by key with one entry per key, as [`crate::profile`] writes them.
    pub(crate) fn from_entries(entries: Vec<u8>) -> Self {
        Self {
            repr: Repr::Encoded {
                entries,
                fields: OnceLock::new(),
            },
        }
    }
}

/// The map of a struct encoded by this crate. Such bytes always decode; if they ever did not,
/// the struct would read as empty rather than fail the caller.
fn decode_entries(entries: &[u8]) -> BTreeMap<String, Value> {
    let decoded = <Struct as prost::Message>::decode(entries);
    debug_assert!(
        decoded.is_ok(),
        "a struct this crate encoded does not decode"
    );
    decoded.map(Struct::into_fields).unwrap_or_default()
}

impl fmt::Debug for Struct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Struct")
            .field("fields", self.fields())
            .finish()
    }
}

impl PartialEq for Struct {
    fn eq(&self, other: &Self) -> bool {
        self.fields() == other.fields()
    }
}

impl From<BTreeMap<String, Value>> for Struct {
    fn from(fields: BTreeMap<String, Value>) -> Self {
        Self {
            repr: Repr::Fields(fields),
        }
    }
}

impl From<prost_types::Struct> for Struct {
    fn from(value: prost_types::Struct) -> Self {
        Self::from(value.fields)
    }
}

impl From<Struct> for prost_types::Struct {
    fn from(value: Struct) -> Self {
        Self {
            fields: value.into_fields(),
        }
    }
}

/// Field 1 (`fields`), length-delimited: each map entry's tag.
const ENTRY_TAG: u8 = 0x0a;
/// Within an entry: field 1 (`key`), length-delimited.
pub(crate) const KEY_TAG: u8 = 0x0a;
/// Within an entry: field 2 (`value`), length-delimited.
const VALUE_TAG: u8 = 0x12;

/// The length of a length-delimited field of `len` bytes with a one-byte tag.
pub(crate) fn delimited(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// A scalar `Value` kind, borrowed: what a profile entry holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// `null_value` with this number (0, `NULL_VALUE`, unless decoded otherwise).
    Null(i32),
    Number(f64),
    String(&'a str),
    Bool(bool),
}

impl Scalar<'_> {
    /// The encoded length of a `Value` message body holding this kind.
    #[inline]
    pub(crate) fn body_len(self) -> usize {
        // Fields 1–4, one-byte tags; a oneof member is written even when it holds its default.
        match self {
            Scalar::Null(n) => 1 + encoded_len_varint(i64::from(n) as u64),
            Scalar::Number(_) => 1 + 8,
            Scalar::String(s) => delimited(s.len()),
            Scalar::Bool(_) => 1 + 1,
        }
    }

    /// Writes a `Value` message body holding this kind.
    #[inline]
    pub(crate) fn encode_body(self, buf: &mut impl BufMut) {
        match self {
            Scalar::Null(n) => {
                buf.put_u8(0x08);
                encode_varint(i64::from(n) as u64, buf);
            }
            Scalar::Number(n) => {
                buf.put_u8(0x11);
                buf.put_f64_le(n);
            }
            Scalar::String(s) => {
                buf.put_u8(0x1a);
                put_len(s.len(), buf);
                buf.put_slice(s.as_bytes());
            }
            Scalar::Bool(b) => {
                buf.put_u8(0x20);
                buf.put_u8(u8::from(b));
            }
        }
    }
}

/// `kind` as a [`Scalar`], when it is one.
fn scalar(kind: &Kind) -> Option<Scalar<'_>> {
    match kind {
        Kind::NullValue(n) => Some(Scalar::Null(*n)),
        Kind::NumberValue(n) => Some(Scalar::Number(*n)),
        Kind::StringValue(s) => Some(Scalar::String(s)),
        Kind::BoolValue(b) => Some(Scalar::Bool(*b)),
        Kind::StructValue(_) | Kind::ListValue(_) => None,
    }
}

/// The encoded length of `value`'s body (the `Value` message without its tag and length).
fn value_len(value: &Value) -> usize {
    match value.kind.as_ref() {
        None => 0,
        Some(kind) => {
            scalar(kind).map_or_else(|| prost::Message::encoded_len(value), Scalar::body_len)
        }
    }
}

/// Writes a length as a varint; almost every length here fits in one byte, which prost's general
/// varint writer (an out-of-line loop) handles with far more work.
#[inline]
fn put_len(len: usize, buf: &mut impl BufMut) {
    match u8::try_from(len) {
        Ok(byte) if byte < 0x80 => buf.put_u8(byte),
        _ => encode_varint(len as u64, buf),
    }
}

/// Writes `value`'s body (see [`value_len`]).
fn encode_value(value: &Value, buf: &mut impl BufMut) {
    match value.kind.as_ref() {
        None => {}
        Some(kind) => match scalar(kind) {
            Some(scalar) => scalar.encode_body(buf),
            None => prost::Message::encode_raw(value, buf),
        },
    }
}

/// Writes one map entry (field 1 of the struct): its tag, its length, the key and the value
/// whose body is `value_len` bytes, written by `value`. As prost does, an empty key and a value
/// without a kind (both defaults) are left out of the entry.
#[inline]
pub(crate) fn encode_entry<B: BufMut>(
    key: &str,
    value_len: Option<usize>,
    buf: &mut B,
    value: impl FnOnce(&mut B),
) {
    let key_len = if key.is_empty() {
        0
    } else {
        delimited(key.len())
    };
    buf.put_u8(ENTRY_TAG);
    put_len(key_len + value_len.map_or(0, delimited), buf);
    if !key.is_empty() {
        buf.put_u8(KEY_TAG);
        put_len(key.len(), buf);
        buf.put_slice(key.as_bytes());
    }
    if let Some(len) = value_len {
        buf.put_u8(VALUE_TAG);
        put_len(len, buf);
        value(buf);
    }
}

/// The length of the entry [`encode_entry`] writes.
fn entry_len(key: &str, value_len: Option<usize>) -> usize {
    let key = if key.is_empty() {
        0
    } else {
        delimited(key.len())
    };
    delimited(key + value_len.map_or(0, delimited))
}

/// A value's body length, or `None` for a value without a kind (left out of its entry).
fn present_len(value: &Value) -> Option<usize> {
    value.kind.is_some().then(|| value_len(value))
}

impl prost::Message for Struct {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match &self.repr {
            Repr::Encoded { entries, .. } => buf.put_slice(entries),
            Repr::Fields(fields) => {
                for (key, value) in fields {
                    encode_entry(key, present_len(value), buf, |buf| encode_value(value, buf));
                }
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
                self.fields_mut(),
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
        match &self.repr {
            Repr::Encoded { entries, .. } => entries.len(),
            Repr::Fields(fields) => fields
                .iter()
                .map(|(key, value)| entry_len(key, present_len(value)))
                .sum(),
        }
    }

    fn clear(&mut self) {
        self.repr = Repr::default();
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
            let ours = Struct::from(fields.clone());
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
        let ours = Struct::from(BTreeMap::from([("k".to_owned(), string(&long))]));
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
            decoded.fields().keys().collect::<Vec<_>>(),
            vec![&"a".to_owned()]
        );
        assert!(Struct::decode(&[0x0a, 0x05, 0x0a][..]).is_err());
    }
}
