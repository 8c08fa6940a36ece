//! The encoding of one user resource, checked against bytes worked out by hand from the field
//! numbers in docs/c1z-format.md §2. Tag byte = (field number << 3) | wire type, where wire type 0
//! is a varint and 2 is length-delimited (strings, bytes, embedded messages, packed repeats).

use c1_model::{AccountType, UserBuilder, UserStatus, encode};
use chrono::DateTime;

/// 1_700_000_000 as a protobuf varint: 7-bit groups, least significant first, high bit = "more".
/// 1_700_000_000 = 6·2^28 + 42·2^21 + 79·2^14 + 98·2^7 + 0.
const SECONDS_1_700_000_000: [u8; 5] = [0x80, 0xE2, 0xCF, 0xAA, 0x06];

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn user_resource_matches_hand_worked_bytes() {
    let user = UserBuilder::new("user", "u1", "Ada")
        .email("a@x.io", true)
        .status(UserStatus::Enabled, None)
        .account_type(AccountType::Human)
        .login("ada")
        .created_at(DateTime::from_timestamp(1_700_000_000, 0).unwrap())
        .profile("k", "v")
        .build();

    // google.protobuf.Timestamp { seconds = 1 (varint) }: tag (1<<3)|0 = 0x08.
    let timestamp = concat(&[&[0x08], &SECONDS_1_700_000_000]);
    assert_eq!(timestamp.len(), 6);

    // google.protobuf.Struct { fields = 1: map entry { key = 1, value = 2 } }, value is
    // google.protobuf.Value { string_value = 3 }.
    let profile = concat(&[
        &[0x0A, 0x08],       // Struct.fields (1<<3)|2, entry length 8
        &[0x0A, 0x01, b'k'], // entry.key (1<<3)|2, "k"
        &[0x12, 0x03],       // entry.value (2<<3)|2, length 3
        &[0x1A, 0x01, b'v'], // Value.string_value (3<<3)|2, "v"
    ]);
    assert_eq!(profile.len(), 10);

    // c1.connector.v2.UserTrait
    let user_trait = concat(&[
        &[0x0A, 0x0A],             // 1 emails (1<<3)|2 = 0x0A, Email length 10
        &[0x0A, 0x06],             //   Email.address (1<<3)|2, length 6
        b"a@x.io",                 //
        &[0x10, 0x01],             //   Email.is_primary (2<<3)|0 = 0x10, true
        &[0x12, 0x02, 0x08, 0x01], // 2 status (2<<3)|2 = 0x12, Status { status (1<<3)|0 = ENABLED 1 }
        &[0x1A, 0x0A],             // 3 profile (3<<3)|2 = 0x1A, length 10
        &profile,                  //
        &[0x28, 0x01],             // 5 account_type (5<<3)|0 = 0x28, HUMAN 1
        &[0x32, 0x03],             // 6 login (6<<3)|2 = 0x32, length 3
        b"ada",                    //
        &[0x42, 0x06],             // 8 created_at (8<<3)|2 = 0x42, length 6
        &timestamp,                //
    ]);
    assert_eq!(user_trait.len(), 43);

    // google.protobuf.Any { type_url = 1, value = 2 }
    let type_url = b"type.googleapis.com/c1.connector.v2.UserTrait";
    assert_eq!(type_url.len(), 45);
    let any = concat(&[
        &[0x0A, 45], // 1 type_url (1<<3)|2, length 45
        type_url,    //
        &[0x12, 43], // 2 value (2<<3)|2, length 43
        &user_trait, //
    ]);
    assert_eq!(any.len(), 92);

    // c1.connector.v2.Resource
    let expected = concat(&[
        &[0x0A, 0x0A],             // 1 id (1<<3)|2, ResourceId length 10
        &[0x0A, 0x04],             //   ResourceId.resource_type (1<<3)|2, length 4
        b"user",                   //
        &[0x12, 0x02],             //   ResourceId.resource (2<<3)|2, length 2
        b"u1",                     //
        &[0x1A, 0x03],             // 3 display_name (3<<3)|2, length 3
        b"Ada",                    //
        &[0x22, 92],               // 4 annotations (4<<3)|2 = 0x22, Any length 92
        &any,                      //
        &[0x4A, 0x0A],             // 9 profile (9<<3)|2 = 0x4A, length 10
        &profile,                  //
        &[0x5A, 0x02, 0x08, 0x01], // 11 status (11<<3)|2 = 0x5A, Status { status = ENABLED 1 }
        &[0x62, 0x06],             // 12 created_at (12<<3)|2 = 0x62, length 6
        &timestamp,                //
    ]);
    assert_eq!(expected.len(), 135);

    assert_eq!(encode(&user), expected);
}

#[test]
fn empty_profile_is_still_written() {
    let user = UserBuilder::new("user", "u", "").build();
    let bytes = encode(&user);
    // Resource.profile (9<<3)|2 = 0x4A with length 0 sits right before Resource.status.
    let tail = [0x4A, 0x00, 0x5A, 0x02, 0x08, 0x01];
    assert!(bytes.ends_with(&tail), "{bytes:02X?}");
}

#[test]
fn resource_type_traits_are_packed() {
    let rt = c1_model::ResourceTypeBuilder::new("user", "User")
        .with_trait(c1_model::pb::resource_type::Trait::User)
        .build();
    // 1 id "user", 2 display_name "User", 3 traits packed: (3<<3)|2 = 0x1A, length 1, USER 1
    // (the SDK's fixture shows the same `1A 01 01`).
    let expected = concat(&[
        &[0x0A, 0x04],
        b"user",
        &[0x12, 0x04],
        b"User",
        &[0x1A, 0x01, 0x01],
    ]);
    assert_eq!(encode(&rt), expected);
}
