//! Direct encoders for the two messages written once per user: `UserTrait`, which every user
//! resource packs into an annotation, and `Resource`, the row the c1z store writes.
//!
//! prost's generated code sizes a message by walking it, then writes it, working every nested
//! message's length out again on the way (and varints through an out-of-line loop). These
//! messages are small but written once per user, so here each nested length is worked out once
//! and the bytes written straight into the buffer. The output is byte for byte prost's: proptests
//! compare the two on arbitrary messages, and every message's fields are destructured
//! exhaustively so that a field added to the `.proto` breaks the build here instead of being
//! left out.

use prost::Message;
use prost::encoding::encoded_len_varint;
use prost_types::Timestamp;

use crate::pb;
use crate::pb::user_trait::{Email, MfaStatus, SsoStatus, Status, StructuredName};
use crate::protobuf_struct::delimited;

/// The one-byte tag of field `number` (1–15) with wire type `wire`.
const fn tag(number: u8, wire: u8) -> u8 {
    (number << 3) | wire
}
const VARINT: u8 = 0;
const LEN: u8 = 2;

fn varint_len(value: u64) -> usize {
    encoded_len_varint(value)
}

/// prost's `encode_varint`, written for a `Vec` whose room is already reserved (prost's goes
/// through `BufMut` one byte and one capacity check at a time, out of line).
#[inline]
fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

fn put_delimited(buf: &mut Vec<u8>, tag: u8, len: usize) {
    buf.push(tag);
    put_varint(buf, len as u64);
}

/// A proto3 `string` field: nothing when empty.
fn string_len(value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        delimited(value.len())
    }
}

fn put_string(buf: &mut Vec<u8>, tag: u8, value: &str) {
    if !value.is_empty() {
        put_delimited(buf, tag, value.len());
        buf.extend_from_slice(value.as_bytes());
    }
}

/// A `repeated string` field: every element, empty ones too.
fn repeated_len(values: &[String]) -> usize {
    values.iter().map(|v| delimited(v.len())).sum()
}

fn put_repeated(buf: &mut Vec<u8>, tag: u8, values: &[String]) {
    for value in values {
        put_delimited(buf, tag, value.len());
        buf.extend_from_slice(value.as_bytes());
    }
}

/// An `int32` or enum field: nothing when 0; a negative value takes ten bytes.
fn int32_len(value: i32) -> usize {
    if value == 0 {
        0
    } else {
        1 + varint_len(i64::from(value) as u64)
    }
}

fn put_int32(buf: &mut Vec<u8>, tag: u8, value: i32) {
    if value != 0 {
        buf.push(tag);
        put_varint(buf, i64::from(value) as u64);
    }
}

fn bool_len(value: bool) -> usize {
    if value { 2 } else { 0 }
}

fn put_bool(buf: &mut Vec<u8>, tag: u8, value: bool) {
    if value {
        buf.push(tag);
        buf.push(1);
    }
}

fn email_len(email: &Email) -> usize {
    let Email {
        address,
        is_primary,
    } = email;
    string_len(address) + bool_len(*is_primary)
}

fn status_len(status: &Status) -> usize {
    let Status { status, details } = status;
    int32_len(*status) + string_len(details)
}

fn timestamp_len(time: &Timestamp) -> usize {
    let Timestamp { seconds, nanos } = time;
    let seconds = if *seconds == 0 {
        0
    } else {
        1 + varint_len(*seconds as u64)
    };
    seconds + int32_len(*nanos)
}

/// Writes `time` as field `field`, whose body is `body` ([`timestamp_len`]) bytes.
fn put_timestamp(buf: &mut Vec<u8>, field: u8, time: &Timestamp, body: usize) {
    put_delimited(buf, tag(field, LEN), body);
    if time.seconds != 0 {
        buf.push(tag(1, VARINT));
        put_varint(buf, time.seconds as u64);
    }
    put_int32(buf, tag(2, VARINT), time.nanos);
}

fn structured_name_len(name: &StructuredName) -> usize {
    let StructuredName {
        given_name,
        family_name,
        middle_names,
        prefix,
        suffix,
    } = name;
    string_len(given_name)
        + string_len(family_name)
        + repeated_len(middle_names)
        + string_len(prefix)
        + string_len(suffix)
}

/// `trait_`, encoded as prost's `encode_to_vec` encodes it.
pub(crate) fn user_trait(trait_: &pb::UserTrait) -> Vec<u8> {
    let pb::UserTrait {
        emails,
        status,
        profile,
        icon,
        account_type,
        login,
        login_aliases,
        created_at,
        last_login,
        mfa_status,
        sso_status,
        structured_name,
        employee_ids,
    } = trait_;
    let status_body = status.as_ref().map(status_len);
    let profile_body = profile.as_ref().map(Message::encoded_len);
    let icon_body = icon.as_ref().map(Message::encoded_len);
    let name_body = structured_name.as_ref().map(structured_name_len);
    let created_body = created_at.as_ref().map(timestamp_len);
    let last_login_body = last_login.as_ref().map(timestamp_len);
    let mfa = mfa_status
        .as_ref()
        .map(|MfaStatus { mfa_enabled }| *mfa_enabled);
    let sso = sso_status
        .as_ref()
        .map(|SsoStatus { sso_enabled }| *sso_enabled);
    let len = emails
        .iter()
        .map(|e| delimited(email_len(e)))
        .sum::<usize>()
        + status_body.map_or(0, delimited)
        + profile_body.map_or(0, delimited)
        + icon_body.map_or(0, delimited)
        + int32_len(*account_type)
        + string_len(login)
        + repeated_len(login_aliases)
        + created_body.map_or(0, delimited)
        + last_login_body.map_or(0, delimited)
        + mfa.map_or(0, |on| delimited(bool_len(on)))
        + sso.map_or(0, |on| delimited(bool_len(on)))
        + name_body.map_or(0, delimited)
        + repeated_len(employee_ids);

    let mut buf = Vec::with_capacity(len);
    for email in emails {
        put_delimited(&mut buf, tag(1, LEN), email_len(email));
        put_string(&mut buf, tag(1, LEN), &email.address);
        put_bool(&mut buf, tag(2, VARINT), email.is_primary);
    }
    if let (Some(status), Some(body)) = (status, status_body) {
        put_delimited(&mut buf, tag(2, LEN), body);
        put_int32(&mut buf, tag(1, VARINT), status.status);
        put_string(&mut buf, tag(2, LEN), &status.details);
    }
    if let (Some(profile), Some(body)) = (profile, profile_body) {
        put_delimited(&mut buf, tag(3, LEN), body);
        profile.encode_raw(&mut buf);
    }
    if let (Some(icon), Some(body)) = (icon, icon_body) {
        put_delimited(&mut buf, tag(4, LEN), body);
        icon.encode_raw(&mut buf);
    }
    put_int32(&mut buf, tag(5, VARINT), *account_type);
    put_string(&mut buf, tag(6, LEN), login);
    put_repeated(&mut buf, tag(7, LEN), login_aliases);
    if let (Some(time), Some(body)) = (created_at, created_body) {
        put_timestamp(&mut buf, 8, time, body);
    }
    if let (Some(time), Some(body)) = (last_login, last_login_body) {
        put_timestamp(&mut buf, 9, time, body);
    }
    if let Some(on) = mfa {
        put_delimited(&mut buf, tag(10, LEN), bool_len(on));
        put_bool(&mut buf, tag(1, VARINT), on);
    }
    if let Some(on) = sso {
        put_delimited(&mut buf, tag(11, LEN), bool_len(on));
        put_bool(&mut buf, tag(1, VARINT), on);
    }
    if let (Some(name), Some(body)) = (structured_name, name_body) {
        put_delimited(&mut buf, tag(12, LEN), body);
        put_string(&mut buf, tag(1, LEN), &name.given_name);
        put_string(&mut buf, tag(2, LEN), &name.family_name);
        put_repeated(&mut buf, tag(3, LEN), &name.middle_names);
        put_string(&mut buf, tag(4, LEN), &name.prefix);
        put_string(&mut buf, tag(5, LEN), &name.suffix);
    }
    put_repeated(&mut buf, tag(13, LEN), employee_ids);
    debug_assert_eq!(buf.len(), len, "the trait's length was worked out wrong");
    buf
}

fn resource_id_len(id: &pb::ResourceId) -> usize {
    let pb::ResourceId {
        resource_type,
        resource,
        baton_resource,
    } = id;
    string_len(resource_type) + string_len(resource) + bool_len(*baton_resource)
}

fn put_resource_id(buf: &mut Vec<u8>, field: u8, id: &pb::ResourceId) {
    put_delimited(buf, tag(field, LEN), resource_id_len(id));
    put_string(buf, tag(1, LEN), &id.resource_type);
    put_string(buf, tag(2, LEN), &id.resource);
    put_bool(buf, tag(3, VARINT), id.baton_resource);
}

fn any_len(any: &prost_types::Any) -> usize {
    let prost_types::Any { type_url, value } = any;
    string_len(type_url)
        + if value.is_empty() {
            0
        } else {
            delimited(value.len())
        }
}

/// Appends `resource`'s encoding (prost's `encode_raw`, byte for byte) to `buf`.
#[expect(
    deprecated,
    reason = "deprecated fields are written too, as prost writes them"
)]
pub fn resource_into(resource: &pb::Resource, buf: &mut Vec<u8>) {
    let pb::Resource {
        id,
        parent_resource_id,
        display_name,
        annotations,
        description,
        baton_resource,
        external_id,
        creation_source,
        profile,
        icon,
        status,
        created_at,
    } = resource;
    if let Some(id) = id {
        put_resource_id(buf, 1, id);
    }
    if let Some(parent) = parent_resource_id {
        put_resource_id(buf, 2, parent);
    }
    put_string(buf, tag(3, LEN), display_name);
    for any in annotations {
        put_delimited(buf, tag(4, LEN), any_len(any));
        put_string(buf, tag(1, LEN), &any.type_url);
        if !any.value.is_empty() {
            put_delimited(buf, tag(2, LEN), any.value.len());
            buf.extend_from_slice(&any.value);
        }
    }
    put_string(buf, tag(5, LEN), description);
    put_bool(buf, tag(6, VARINT), *baton_resource);
    if let Some(external_id) = external_id {
        put_delimited(buf, tag(7, LEN), external_id.encoded_len());
        external_id.encode_raw(buf);
    }
    put_int32(buf, tag(8, VARINT), *creation_source);
    if let Some(profile) = profile {
        put_delimited(buf, tag(9, LEN), profile.encoded_len());
        profile.encode_raw(buf);
    }
    if let Some(icon) = icon {
        put_delimited(buf, tag(10, LEN), icon.encoded_len());
        icon.encode_raw(buf);
    }
    if let Some(pb::Status { status, details }) = status {
        put_delimited(buf, tag(11, LEN), int32_len(*status) + string_len(details));
        put_int32(buf, tag(1, VARINT), *status);
        put_string(buf, tag(2, LEN), details);
    }
    if let Some(time) = created_at {
        put_timestamp(buf, 12, time, timestamp_len(time));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::pb::AssetRef;

    fn text() -> impl Strategy<Value = String> {
        // Mostly short, sometimes over 127 bytes (a two-byte length).
        prop_oneof![".{0,12}", ".{120,200}"]
    }

    fn timestamp() -> impl Strategy<Value = Option<Timestamp>> {
        proptest::option::of(
            (any::<i64>(), any::<i32>()).prop_map(|(seconds, nanos)| Timestamp { seconds, nanos }),
        )
    }

    fn user_trait_strategy() -> impl Strategy<Value = pb::UserTrait> {
        let emails = prop::collection::vec(
            (text(), any::<bool>()).prop_map(|(address, is_primary)| Email {
                address,
                is_primary,
            }),
            0..3,
        );
        let status = proptest::option::of(
            (any::<i32>(), text()).prop_map(|(status, details)| Status { status, details }),
        );
        let profile = proptest::option::of(
            prop::collection::btree_map(text(), text(), 0..5).prop_map(|map| {
                let fields: BTreeMap<String, prost_types::Value> = map
                    .into_iter()
                    .map(|(k, v)| {
                        let value = prost_types::Value {
                            kind: Some(prost_types::value::Kind::StringValue(v)),
                        };
                        (k, value)
                    })
                    .collect();
                crate::Struct::from(fields)
            }),
        );
        let icon = proptest::option::of(text().prop_map(|id| AssetRef { id }));
        let name = proptest::option::of(
            (
                text(),
                text(),
                prop::collection::vec(text(), 0..3),
                text(),
                text(),
            )
                .prop_map(|(given_name, family_name, middle_names, prefix, suffix)| {
                    StructuredName {
                        given_name,
                        family_name,
                        middle_names,
                        prefix,
                        suffix,
                    }
                }),
        );
        let strings = || prop::collection::vec(text(), 0..3);
        (
            (
                emails,
                status,
                profile,
                icon,
                any::<i32>(),
                text(),
                strings(),
            ),
            (
                timestamp(),
                timestamp(),
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<bool>()),
                name,
                strings(),
            ),
        )
            .prop_map(
                |(
                    (emails, status, profile, icon, account_type, login, login_aliases),
                    (created_at, last_login, mfa, sso, structured_name, employee_ids),
                )| pb::UserTrait {
                    emails,
                    status,
                    profile,
                    icon,
                    account_type,
                    login,
                    login_aliases,
                    created_at,
                    last_login,
                    mfa_status: mfa.map(|mfa_enabled| MfaStatus { mfa_enabled }),
                    sso_status: sso.map(|sso_enabled| SsoStatus { sso_enabled }),
                    structured_name,
                    employee_ids,
                },
            )
    }

    fn resource_id() -> impl Strategy<Value = pb::ResourceId> {
        (text(), text(), any::<bool>()).prop_map(|(resource_type, resource, baton_resource)| {
            pb::ResourceId {
                resource_type,
                resource,
                baton_resource,
            }
        })
    }

    #[expect(
        deprecated,
        reason = "deprecated fields are generated too, to test they are encoded"
    )]
    fn resource_strategy() -> impl Strategy<Value = pb::Resource> {
        let annotations = prop::collection::vec(
            (text(), prop::collection::vec(any::<u8>(), 0..200))
                .prop_map(|(type_url, value)| prost_types::Any { type_url, value }),
            0..3,
        );
        let external_id = proptest::option::of((text(), text(), text()).prop_map(
            |(id, link, description)| pb::ExternalId {
                id,
                link,
                description,
            },
        ));
        let profile =
            proptest::option::of(user_trait_strategy().prop_map(|t| t.profile.unwrap_or_default()));
        (
            (
                proptest::option::of(resource_id()),
                proptest::option::of(resource_id()),
                text(),
                annotations,
                text(),
                any::<bool>(),
            ),
            (
                external_id,
                any::<i32>(),
                profile,
                proptest::option::of(text().prop_map(|id| AssetRef { id })),
                proptest::option::of(
                    (any::<i32>(), text())
                        .prop_map(|(status, details)| pb::Status { status, details }),
                ),
                timestamp(),
            ),
        )
            .prop_map(
                |(
                    (
                        id,
                        parent_resource_id,
                        display_name,
                        annotations,
                        description,
                        baton_resource,
                    ),
                    (external_id, creation_source, profile, icon, status, created_at),
                )| pb::Resource {
                    id,
                    parent_resource_id,
                    display_name,
                    annotations,
                    description,
                    baton_resource,
                    external_id,
                    creation_source,
                    profile,
                    icon,
                    status,
                    created_at,
                },
            )
    }

    proptest! {
        /// Byte for byte prost's encoding, for any resource, after whatever the buffer held.
        #[test]
        fn resources_encode_exactly_as_prost(
            resource in resource_strategy(),
            before in prop::collection::vec(any::<u8>(), 0..4),
        ) {
            let mut ours = before.clone();
            resource_into(&resource, &mut ours);
            let mut theirs = before;
            resource.encode_raw(&mut theirs);
            prop_assert_eq!(ours, theirs);
        }

        /// Byte for byte prost's encoding, for any trait: empty and long strings, negative enums
        /// and nanos, zero and extreme timestamps, defaults inside present messages.
        #[test]
        fn encodes_exactly_as_prost(trait_ in user_trait_strategy()) {
            prop_assert_eq!(user_trait(&trait_), trait_.encode_to_vec());
        }
    }

    #[test]
    fn varints_are_prosts() {
        for value in [
            0,
            1,
            0x7f,
            0x80,
            0x3fff,
            0x4000,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut ours = Vec::new();
            put_varint(&mut ours, value);
            let mut theirs = Vec::new();
            prost::encoding::encode_varint(value, &mut theirs);
            assert_eq!(ours, theirs, "{value:#x}");
            assert_eq!(ours.len(), varint_len(value));
        }
    }

    #[test]
    fn an_empty_trait_is_empty_and_present_defaults_are_written() {
        assert!(user_trait(&pb::UserTrait::default()).is_empty());
        let present = pb::UserTrait {
            status: Some(Status::default()),
            created_at: Some(Timestamp::default()),
            mfa_status: Some(MfaStatus::default()),
            ..pb::UserTrait::default()
        };
        assert_eq!(user_trait(&present), present.encode_to_vec());
        assert_eq!(user_trait(&present), [0x12, 0, 0x42, 0, 0x52, 0]);
    }
}
