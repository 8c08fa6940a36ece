//! Profile values: the scalar JSON values a resource profile (`google.protobuf.Struct`) holds,
//! and the profile the resource builders write them into.

use std::borrow::Cow;
use std::ops::Range;

use prost::encoding::{decode_varint, encoded_len_varint};
use prost_types::Value;
use prost_types::value::Kind;

use crate::Struct;
use crate::limits::{MAX_PROFILE_TEXT_BYTES, truncated};
use crate::protobuf_struct::{KEY_TAG, Scalar, encode_entry};

/// One value in a resource profile.
///
/// Build it with `From`: strings (borrowed or owned), booleans and numbers map to their JSON kind,
/// and an `Option` of a string gives [`ProfileValue::Null`] for `None`, so optional upstream fields
/// keep their key with an explicit null. A borrowed string is written into the profile without
/// being copied first.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProfileValue<'a> {
    /// A JSON string.
    String(Cow<'a, str>),
    /// A JSON boolean.
    Bool(bool),
    /// A JSON number (protobuf `Struct` numbers are doubles).
    Number(f64),
    /// JSON null.
    Null,
}

impl ProfileValue<'_> {
    /// This value as a `google.protobuf.Value`.
    pub fn to_value(&self) -> Value {
        self.clone().into_value()
    }

    /// This value as a `google.protobuf.Value`, moving an owned string instead of copying it.
    pub fn into_value(self) -> Value {
        let kind = match self {
            Self::String(s) => Kind::StringValue(s.into_owned()),
            Self::Bool(b) => Kind::BoolValue(b),
            Self::Number(n) => Kind::NumberValue(n),
            Self::Null => Kind::NullValue(prost_types::NullValue::NullValue as i32),
        };
        Value { kind: Some(kind) }
    }

    fn scalar(&self) -> Scalar<'_> {
        match self {
            Self::String(s) => Scalar::String(s),
            Self::Bool(b) => Scalar::Bool(*b),
            Self::Number(n) => Scalar::Number(*n),
            Self::Null => Scalar::Null(prost_types::NullValue::NullValue as i32),
        }
    }
}

impl<'a> From<&'a str> for ProfileValue<'a> {
    fn from(value: &'a str) -> Self {
        Self::String(Cow::Borrowed(value))
    }
}

impl From<String> for ProfileValue<'_> {
    fn from(value: String) -> Self {
        Self::String(Cow::Owned(value))
    }
}

impl<'a> From<&'a String> for ProfileValue<'a> {
    fn from(value: &'a String) -> Self {
        Self::String(Cow::Borrowed(value))
    }
}

impl<'a> From<Cow<'a, str>> for ProfileValue<'a> {
    fn from(value: Cow<'a, str>) -> Self {
        Self::String(value)
    }
}

impl From<bool> for ProfileValue<'_> {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<f64> for ProfileValue<'_> {
    fn from(value: f64) -> Self {
        Self::Number(value)
    }
}

impl From<i64> for ProfileValue<'_> {
    fn from(value: i64) -> Self {
        Self::Number(value as f64)
    }
}

impl From<u32> for ProfileValue<'_> {
    fn from(value: u32) -> Self {
        Self::Number(f64::from(value))
    }
}

impl From<Option<String>> for ProfileValue<'_> {
    fn from(value: Option<String>) -> Self {
        value.map_or(Self::Null, Self::from)
    }
}

impl<'a> From<Option<&'a str>> for ProfileValue<'a> {
    fn from(value: Option<&'a str>) -> Self {
        value.map_or(Self::Null, Self::from)
    }
}

/// A profile string value that was longer than [`MAX_PROFILE_TEXT_BYTES`] and was cut to it
/// (at a character boundary) as it was added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileCut {
    /// The profile key.
    pub key: String,
    /// The value's length before the cut, in bytes.
    pub bytes: usize,
}

/// A profile being built: its entries are encoded as they are added, and sorted (one per key,
/// the last value added winning) into a [`Struct`] at the end, so a profile costs one buffer and
/// its entries are never copied into maps and strings. Entries added in strictly increasing key
/// order, as callers that care about speed add them, are already the encoding: nothing about
/// them is kept but the last key.
///
/// A string value longer than [`MAX_PROFILE_TEXT_BYTES`] is cut to that many bytes (at a
/// character boundary) before it is written, so a profile stays small whatever it is given; the
/// cuts are listed in [`Profile::cuts`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Profile {
    /// The encoded entries, in the order they were added.
    buf: Vec<u8>,
    /// Where the last key added is in `buf`.
    last_key: Range<usize>,
    /// Whether every key so far was greater than the one before.
    in_order: bool,
    /// The values cut to [`MAX_PROFILE_TEXT_BYTES`], in the order they were added.
    cuts: Vec<ProfileCut>,
}

/// One encoded entry in a profile's buffer.
#[derive(Debug, Clone)]
struct Entry {
    whole: Range<usize>,
    key: Range<usize>,
}

/// Initial capacity of a profile's buffer, in bytes.
const PROFILE_BYTES: usize = 384;

impl Profile {
    /// Adds `key` = `value`; a later value for the same key replaces it.
    pub(crate) fn insert(&mut self, key: &str, value: &ProfileValue<'_>) {
        let mut scalar = value.scalar();
        if let Scalar::String(text) = &mut scalar
            && text.len() > MAX_PROFILE_TEXT_BYTES
        {
            self.cuts.push(ProfileCut {
                key: key.to_owned(),
                bytes: text.len(),
            });
            *text = truncated(text, MAX_PROFILE_TEXT_BYTES);
        }
        let body_len = scalar.body_len();
        let first = self.buf.is_empty();
        if self.buf.capacity() == 0 {
            // Most profiles are a dozen short entries: one allocation for all of them.
            self.buf.reserve(PROFILE_BYTES);
        }
        // Room for the entry: three tags and three lengths of at most five bytes each.
        self.buf.reserve(key.len() + body_len + 18);
        let in_order =
            first || self.in_order && self.buf.get(self.last_key.clone()) < Some(key.as_bytes());
        encode_entry(key, Some(body_len), &mut self.buf, |buf| {
            scalar.encode_body(buf);
        });
        // The key's bytes end where the value field (tag, length, body) begins.
        let key_end = self.buf.len() - (1 + encoded_len_varint(body_len as u64) + body_len);
        self.last_key = key_end - key.len()..key_end;
        self.in_order = in_order;
    }

    /// The string values cut to [`MAX_PROFILE_TEXT_BYTES`] so far, in the order they were added.
    pub(crate) fn cuts(&self) -> &[ProfileCut] {
        &self.cuts
    }

    /// The profile as a `Struct`: the entries sorted by key, the last one added per key.
    pub(crate) fn into_struct(self) -> Struct {
        let Profile { buf, in_order, .. } = self;
        if buf.is_empty() {
            return Struct::default();
        }
        if in_order {
            return Struct::from_entries(buf);
        }
        let mut entries = entries(&buf);
        let key = |entry: &Entry| buf.get(entry.key.clone()).unwrap_or_default();
        // Stable: entries of one key stay in the order they were added, so the last one wins.
        entries.sort_by(|a, b| key(a).cmp(key(b)));
        let mut out = Vec::with_capacity(buf.len());
        for (i, entry) in entries.iter().enumerate() {
            let replaced = entries
                .get(i + 1)
                .is_some_and(|next| key(next) == key(entry));
            if !replaced {
                out.extend_from_slice(buf.get(entry.whole.clone()).unwrap_or_default());
            }
        }
        Struct::from_entries(out)
    }

    #[cfg(test)]
    pub(crate) fn to_struct(&self) -> Struct {
        self.clone().into_struct()
    }
}

/// The entries of a buffer [`Profile::insert`] wrote: each is the entry tag, the entry's length,
/// then the key field (absent for the empty key) and the value field.
fn entries(buf: &[u8]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut at = 0;
    while let Some(entry) = buf.get(at..) {
        let Some((body, len)) = entry.get(1..).and_then(|rest| {
            let mut cursor = rest;
            let len = usize::try_from(decode_varint(&mut cursor).ok()?).ok()?;
            Some((at + 1 + (rest.len() - cursor.len()), len))
        }) else {
            break;
        };
        let end = body + len;
        let key = match buf.get(body..end) {
            Some([tag, rest @ ..]) if *tag == KEY_TAG => {
                let mut cursor = rest;
                let key_len = decode_varint(&mut cursor).map_or(0, |n| n as usize);
                let start = body + 1 + (rest.len() - cursor.len());
                start..start + key_len
            }
            _ => body..body,
        };
        entries.push(Entry {
            whole: at..end,
            key,
        });
        at = end;
    }
    entries
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use prost::Message;

    use super::*;

    fn profile_value() -> impl Strategy<Value = ProfileValue<'static>> {
        prop_oneof![
            ".{0,150}".prop_map(ProfileValue::from),
            any::<bool>().prop_map(ProfileValue::from),
            any::<f64>().prop_map(ProfileValue::from),
            Just(ProfileValue::Null),
        ]
    }

    /// Keys from a small alphabet (so that keys repeat, and the empty key occurs) or any text.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof!["[ab]{0,2}", ".{0,140}"]
    }

    proptest! {
        /// A profile encodes byte for byte as `prost_types::Struct` does the map that inserting
        /// the same entries into a `BTreeMap` gives, whatever the order of the entries and however
        /// often a key repeats; and its fields are that map.
        #[test]
        fn encodes_as_the_map_of_its_entries(
            entries in prop::collection::vec((key(), profile_value()), 0..24),
            presorted in any::<bool>(),
        ) {
            let mut entries = entries;
            if presorted {
                // Also the path for entries added in key order, one per key.
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries.dedup_by(|a, b| a.0 == b.0);
            }
            let mut profile = Profile::default();
            let mut map = BTreeMap::new();
            for (key, value) in &entries {
                profile.insert(key, value);
                map.insert(key.clone(), value.to_value());
            }
            let ours = profile.into_struct();
            let theirs = prost_types::Struct { fields: map.clone() };
            prop_assert_eq!(ours.encoded_len(), theirs.encoded_len());
            prop_assert_eq!(ours.encode_to_vec(), theirs.encode_to_vec());
            // NaN is not equal to itself: compare the fields through their encoding.
            let fields = Struct::from(ours.fields().clone());
            prop_assert_eq!(fields.encode_to_vec(), theirs.encode_to_vec());
            prop_assert_eq!(ours.fields().keys().collect::<Vec<_>>(), map.keys().collect::<Vec<_>>());
        }
    }

    #[test]
    fn an_encoded_profile_reads_changes_and_compares_as_its_fields() {
        let mut profile = Profile::default();
        profile.insert("role", &"Admin".into());
        profile.insert("email", &None::<&str>.into());
        let encoded = profile.into_struct();
        let map = BTreeMap::from([
            ("email".to_owned(), ProfileValue::Null.to_value()),
            ("role".to_owned(), ProfileValue::from("Admin").to_value()),
        ]);
        assert_eq!(encoded.fields(), &map);
        assert_eq!(encoded, Struct::from(map.clone()));
        assert_eq!(
            format!("{encoded:?}"),
            format!("{:?}", Struct::from(map.clone()))
        );
        assert_eq!(encoded.clone().into_fields(), map);

        let mut changed = encoded.clone();
        changed
            .fields_mut()
            .insert("active".to_owned(), ProfileValue::from(true).to_value());
        let mut expected = map.clone();
        expected.insert("active".to_owned(), ProfileValue::from(true).to_value());
        assert_eq!(
            changed.encode_to_vec(),
            prost_types::Struct { fields: expected }.encode_to_vec()
        );
        assert_ne!(changed, encoded);

        let mut cleared = encoded;
        cleared.clear();
        assert!(cleared.fields().is_empty());
        assert_eq!(cleared.encoded_len(), 0);
    }

    #[test]
    fn borrowed_and_owned_strings_make_the_same_value() {
        let owned = String::from("x");
        assert_eq!(ProfileValue::from(&owned), ProfileValue::from("x"));
        assert_eq!(ProfileValue::from(owned.clone()), ProfileValue::from("x"));
        assert_eq!(
            ProfileValue::from(Cow::Borrowed("x")),
            ProfileValue::from("x")
        );
        assert_eq!(ProfileValue::from(Some("x")), ProfileValue::from("x"));
    }

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
        profile.insert("k", &"first".into());
        profile.insert("k", &"second".into());
        let s = profile.to_struct();
        assert_eq!(s.fields().len(), 1);
        assert_eq!(
            s.fields()["k"].kind,
            Some(Kind::StringValue("second".into()))
        );
    }
}
