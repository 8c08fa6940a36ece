//! The few pieces of the protobuf wire format grant expansion needs, on raw bytes.
//!
//! Expansion reads every grant of every source entitlement, but needs only two fields of each:
//! the principal (copied as it is into the grants it creates) and the `sources` map (is the
//! grant direct?). Reading those straight from the stored bytes avoids decoding the embedded
//! entitlement and allocating for every field. When it rewrites a stored grant it replaces only
//! the `sources` field and keeps every other byte, fields this crate does not know included.
//!
//! The encodings written here are exactly prost's (fields in number order, a map entry without
//! its default value), so a grant made here has the bytes `c1_model::encode` gives for the same
//! message; unit tests hold the two together.

use std::fmt;

/// `Grant` field numbers (`c1.connector.v2.Grant`).
const GRANT_ENTITLEMENT: u32 = 1;
const GRANT_PRINCIPAL: u32 = 2;
const GRANT_ID: u32 = 3;
const GRANT_ANNOTATIONS: u32 = 4;
const GRANT_SOURCES: u32 = 5;

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// The type URL of an empty `GrantImmutable` annotation, as `c1_model::annotations::pack` writes it.
pub(crate) const GRANT_IMMUTABLE_URL: &str = "type.googleapis.com/c1.connector.v2.GrantImmutable";

/// Bytes that are not a well-formed protobuf message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One field of a message: its number, wire type, payload (the content of a length-delimited
/// field, the value bytes otherwise) and the whole field's bytes, key included.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field<'a> {
    pub(crate) number: u32,
    pub(crate) wire_type: u8,
    pub(crate) payload: &'a [u8],
    pub(crate) raw: &'a [u8],
}

/// The fields of a message, in the order they are stored.
pub(crate) struct Fields<'a> {
    rest: &'a [u8],
}

pub(crate) fn fields(message: &[u8]) -> Fields<'_> {
    Fields { rest: message }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = next_field(self.rest);
        match result {
            Ok((field, rest)) => {
                self.rest = rest;
                Some(Ok(field))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

fn next_field(buf: &[u8]) -> Result<(Field<'_>, &[u8]), Malformed> {
    let (key, after_key) = varint(buf)?;
    let number = u32::try_from(key >> 3).map_err(|_| Malformed("field number out of range"))?;
    if number == 0 {
        return Err(Malformed("field number 0"));
    }
    let wire_type = (key & 7) as u8;
    let (payload, rest) = match wire_type {
        VARINT => {
            let (_, rest) = varint(after_key)?;
            (&after_key[..after_key.len() - rest.len()], rest)
        }
        FIXED64 => split(after_key, 8)?,
        FIXED32 => split(after_key, 4)?,
        LEN => {
            let (len, after_len) = varint(after_key)?;
            let len = usize::try_from(len).map_err(|_| Malformed("length out of range"))?;
            split(after_len, len)?
        }
        _ => return Err(Malformed("unsupported wire type")),
    };
    let raw = &buf[..buf.len() - rest.len()];
    Ok((
        Field {
            number,
            wire_type,
            payload,
            raw,
        },
        rest,
    ))
}

fn split(buf: &[u8], len: usize) -> Result<(&[u8], &[u8]), Malformed> {
    if buf.len() < len {
        return Err(Malformed("truncated field"));
    }
    Ok(buf.split_at(len))
}

/// Reads a varint; returns it and the bytes after it.
fn varint(buf: &[u8]) -> Result<(u64, &[u8]), Malformed> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok((value, &buf[i + 1..]));
        }
    }
    Err(Malformed("truncated or overlong varint"))
}

/// Appends `value` as a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_len(value: u64) -> usize {
    // 1 byte per 7 bits, at least one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends a length-delimited field.
fn put_len_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_key(out, number, LEN);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn put_key(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

fn len_field_len(number: u32, payload_len: usize) -> usize {
    varint_len(u64::from(number) << 3) + varint_len(payload_len as u64) + payload_len
}

/// The parts of a stored grant expansion reads.
#[derive(Debug, Default)]
pub(crate) struct GrantView<'a> {
    /// The encoded principal (`Resource`), empty if absent.
    pub(crate) principal: &'a [u8],
    /// Every occurrence of the `sources` field (normally at most one).
    sources: Vec<&'a [u8]>,
}

impl<'a> GrantView<'a> {
    /// Reads a stored `Grant`.
    pub(crate) fn parse(grant: &'a [u8]) -> Result<Self, Malformed> {
        let mut view = GrantView::default();
        for field in fields(grant) {
            let field = field?;
            match (field.number, field.wire_type) {
                (GRANT_PRINCIPAL, LEN) => view.principal = field.payload,
                (GRANT_SOURCES, LEN) => view.sources.push(field.payload),
                _ => {}
            }
        }
        Ok(view)
    }

    /// The entries of the `sources` map: `(entitlement id, is_direct)`, in stored order.
    pub(crate) fn sources(&self) -> impl Iterator<Item = Result<(&'a [u8], bool), Malformed>> {
        self.sources
            .iter()
            .flat_map(|sources| fields(sources))
            .filter_map(|field| match field {
                Ok(f) if f.number == 1 && f.wire_type == LEN => Some(map_entry(f.payload)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
    }

    /// Whether the grant is direct with respect to `entitlement_id`, the SDK's test: its
    /// `sources` map is empty, or holds `entitlement_id` itself.
    pub(crate) fn is_direct_for(&self, entitlement_id: &str) -> Result<bool, Malformed> {
        let mut empty = true;
        for entry in self.sources() {
            let (key, _) = entry?;
            if key == entitlement_id.as_bytes() {
                return Ok(true);
            }
            empty = false;
        }
        Ok(empty)
    }
}

/// One `map<string, GrantSource>` entry: key (field 1) and `GrantSource.is_direct` (field 2, its
/// field 1). A missing key is the empty string, a missing value `is_direct = false`.
fn map_entry(entry: &[u8]) -> Result<(&[u8], bool), Malformed> {
    let mut key: &[u8] = &[];
    let mut is_direct = false;
    for field in fields(entry) {
        let field = field?;
        match (field.number, field.wire_type) {
            (1, LEN) => key = field.payload,
            (2, LEN) => {
                for inner in fields(field.payload) {
                    let inner = inner?;
                    if inner.number == 1 && inner.wire_type == VARINT {
                        let (value, _) = varint(inner.payload)?;
                        is_direct = value != 0;
                    }
                }
            }
            _ => {}
        }
    }
    Ok((key, is_direct))
}

/// Appends the encoded `GrantSources` message holding `entries`, which must be sorted by key
/// and unique (deterministic map order).
///
/// Each map entry is laid out as Go's protobuf marshals one, which is how ConductorOne's SDK
/// writes these blobs: the key and the value always, even when empty, so
/// `GrantSource { is_direct: false }` is `12 00` (prost leaves a default value out; both
/// decode alike).
pub(crate) fn put_sources(out: &mut Vec<u8>, entries: &[(&str, bool)]) {
    for (key, is_direct) in entries {
        let value: &[u8] = if *is_direct { &[0x08, 0x01] } else { &[] };
        put_key(out, 1, LEN);
        put_varint(
            out,
            (len_field_len(1, key.len()) + len_field_len(2, value.len())) as u64,
        );
        put_len_field(out, 1, key.as_bytes());
        put_len_field(out, 2, value);
    }
}

/// Appends a new expanded grant: `entitlement` and `principal` as stored (encoded), the grant
/// id, one empty `GrantImmutable` annotation and `sources` (sorted, unique). `scratch` is
/// reused between calls.
pub(crate) fn put_expanded_grant(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    entitlement: &[u8],
    principal: &[u8],
    id: &str,
    sources: &[(&str, bool)],
) {
    put_len_field(out, GRANT_ENTITLEMENT, entitlement);
    put_len_field(out, GRANT_PRINCIPAL, principal);
    if !id.is_empty() {
        put_len_field(out, GRANT_ID, id.as_bytes());
    }
    scratch.clear();
    put_len_field(scratch, 1, GRANT_IMMUTABLE_URL.as_bytes());
    put_len_field(out, GRANT_ANNOTATIONS, scratch);
    scratch.clear();
    put_sources(scratch, sources);
    put_len_field(out, GRANT_SOURCES, scratch);
}

/// Appends `grant` with its `sources` replaced by `sources` (sorted, unique): every other field
/// is copied byte for byte and the new `sources` goes where field 5 belongs in number order.
pub(crate) fn put_with_sources(
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    grant: &[u8],
    sources: &[(&str, bool)],
) -> Result<(), Malformed> {
    scratch.clear();
    put_sources(scratch, sources);
    let mut placed = false;
    for field in fields(grant) {
        let field = field?;
        if field.number == GRANT_SOURCES {
            continue;
        }
        if !placed && field.number > GRANT_SOURCES {
            put_len_field(out, GRANT_SOURCES, scratch);
            placed = true;
        }
        out.extend_from_slice(field.raw);
    }
    if !placed {
        put_len_field(out, GRANT_SOURCES, scratch);
    }
    Ok(())
}

/// A grant's bytes without its `GrantExpandable` annotation, and that annotation's value.
pub(crate) type Split = (Vec<u8>, Vec<u8>);

/// For a stored grant that still carries `GrantExpandable` inside its annotations (files
/// written before the `expansion` column existed): the grant without it, and the annotation's
/// value. `None` when the grant has no such annotation.
pub(crate) fn split_expandable(grant: &[u8]) -> Result<Option<Split>, Malformed> {
    let mut found: Option<&[u8]> = None;
    let mut keep = Vec::with_capacity(grant.len());
    for field in fields(grant) {
        let field = field?;
        if field.number == GRANT_ANNOTATIONS && field.wire_type == LEN {
            let (type_url, value) = any_parts(field.payload)?;
            if type_url_names(type_url, "c1.connector.v2.GrantExpandable") {
                found.get_or_insert(value);
                continue;
            }
        }
        keep.extend_from_slice(field.raw);
    }
    Ok(found.map(|value| (keep, value.to_vec())))
}

/// `(type_url, value)` of an encoded `google.protobuf.Any`.
fn any_parts(any: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let mut type_url: &[u8] = &[];
    let mut value: &[u8] = &[];
    for field in fields(any) {
        let field = field?;
        match (field.number, field.wire_type) {
            (1, LEN) => type_url = field.payload,
            (2, LEN) => value = field.payload,
            _ => {}
        }
    }
    Ok((type_url, value))
}

/// Whether a type URL names `full_name` (the part after the last `/`), as baton matches them.
fn type_url_names(type_url: &[u8], full_name: &str) -> bool {
    let name = match type_url.iter().rposition(|&b| b == b'/') {
        Some(slash) => &type_url[slash + 1..],
        None => type_url,
    };
    name == full_name.as_bytes()
}

#[cfg(test)]
mod tests;
