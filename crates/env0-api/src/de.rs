//! Lenient serde helpers for env0's wire format.
//!
//! env0 (through Go structs with plain `string` fields) sends missing, `null` and `""` for "no
//! value"; these helpers turn all three into `None` (or an empty list) and never fail on them.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::models::{ProjectRole, Role, Timestamp, User, UserWire};

/// Optional text: missing, `null`, `""` and whitespace-only become `None`; numbers and booleans
/// are kept as their text; objects and arrays are a decode error.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(OptStringVisitor)
}

/// Whether `text` holds anything but whitespace (`!text.trim().is_empty()`), answered from the
/// first byte when it is visible ASCII, as it nearly always is: `trim` decodes characters from
/// both ends, a tenth of decoding a member's strings.
pub(crate) fn has_text(text: &str) -> bool {
    match text.as_bytes().first() {
        Some(&b) if b.is_ascii() && !char::from(b).is_whitespace() => true,
        _ => !text.trim().is_empty(),
    }
}

struct OptStringVisitor;

impl<'de> Visitor<'de> for OptStringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(has_text(v).then(|| v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(has_text(&v).then_some(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Optional id newtype, with the same rules as [`opt_string`].
pub(crate) fn opt_id<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    Ok(opt_string(d)?.map(T::from))
}

/// Optional organization role: `"Admin"`, `"User"`, or a custom role id.
pub(crate) fn opt_role<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Role>, D::Error> {
    Ok(opt_string(d)?.map(Role::from_wire))
}

/// Optional project or environment role.
pub(crate) fn opt_project_role<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<ProjectRole>, D::Error> {
    Ok(opt_string(d)?.map(ProjectRole::from_wire))
}

/// Optional timestamp. Unparseable text is kept as [`Timestamp::Raw`] (and noticed), never an
/// error. Integers are read as Unix epoch milliseconds (or seconds when small enough).
pub(crate) fn opt_timestamp<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Timestamp>, D::Error> {
    d.deserialize_any(OptTimestampVisitor)
}

struct OptTimestampVisitor;

impl<'de> Visitor<'de> for OptTimestampVisitor {
    type Value = Option<Timestamp>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timestamp string, an epoch number or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Timestamp::from_wire(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Timestamp::from_epoch(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match i64::try_from(v) {
            Ok(v) => Ok(Some(Timestamp::from_epoch(v))),
            Err(_) => Ok(Timestamp::from_wire(&v.to_string())),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Timestamp::from_wire(&v.to_string()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Optional boolean: accepts `true`/`false`, `"true"`/`"false"`, `0`/`1`; missing, `null` and
/// `""` become `None`.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_any(OptBoolVisitor)
}

struct OptBoolVisitor;

impl<'de> Visitor<'de> for OptBoolVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean or null")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.trim() {
            "" => Ok(None),
            t if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
            t if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match v {
            0 => Ok(Some(false)),
            1 => Ok(Some(true)),
            _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match v {
            0 => Ok(Some(false)),
            1 => Ok(Some(true)),
            _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A list of strings: `null` or missing is empty; `null` and `""` items are dropped.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items: Option<Vec<OptString>> = Option::deserialize(d)?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.0)
        .collect())
}

/// A list of embedded users (team members). Entries without a `user_id` cannot be identified and
/// are skipped, and noticed (the client warns once per response), instead of failing the whole
/// response.
pub(crate) fn user_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<User>>, D::Error> {
    let Some(items) = Option::<Vec<UserWire>>::deserialize(d)? else {
        return Ok(None);
    };
    let total = items.len();
    let users: Vec<User> = items
        .into_iter()
        .filter_map(|w| User::try_from(w).ok())
        .collect();
    if users.len() < total {
        crate::notice::skipped_users(total - users.len());
    }
    Ok(Some(users))
}

/// An optional embedded user (`createdByUser`): `null`, `{}` or an object without `user_id`
/// become `None`.
pub(crate) fn opt_user<'de, D: Deserializer<'de>>(d: D) -> Result<Option<User>, D::Error> {
    let wire: Option<UserWire> = Option::deserialize(d)?;
    Ok(wire.and_then(|w| User::try_from(w).ok()))
}

/// A JSON list (`null` means empty) whose items are converted by `convert` one by one as they
/// are read, so the list of wire values never exists at once.
pub(crate) struct MappedList<'a, E, F> {
    pub(crate) convert: &'a mut F,
    pub(crate) item: std::marker::PhantomData<fn() -> E>,
}

impl<'de, E, T, F> de::DeserializeSeed<'de> for MappedList<'_, E, F>
where
    E: Deserialize<'de>,
    F: FnMut(E) -> T,
{
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, E, T, F> Visitor<'de> for MappedList<'_, E, F>
where
    E: Deserialize<'de>,
    F: FnMut(E) -> T,
{
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence or null")
    }

    fn visit_none<Er: de::Error>(self) -> Result<Vec<T>, Er> {
        Ok(Vec::new())
    }

    fn visit_unit<Er: de::Error>(self) -> Result<Vec<T>, Er> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element::<E>()? {
            items.push((self.convert)(item));
        }
        Ok(items)
    }
}

/// A value with [`opt_string`] semantics, for hand-written visitors.
pub(crate) struct OptString(pub(crate) Option<String>);

impl<'de> Deserialize<'de> for OptString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_string(d).map(OptString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_text_is_trim_then_non_empty() {
        for text in [
            "",
            " ",
            "\t\n",
            "\u{b}",
            "\u{c}x",
            "\u{a0}",
            "\u{2003}a",
            " a",
            "a",
            "é",
            "\u{a0}\u{2003}",
            "x ",
        ] {
            assert_eq!(has_text(text), !text.trim().is_empty(), "{text:?}");
        }
    }
}
