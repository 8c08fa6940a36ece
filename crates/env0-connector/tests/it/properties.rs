//! Property test: whatever env0 sends that the wire types accept, building the directory and
//! mapping every principal never panics and always gives well-formed users.

use std::collections::BTreeSet;

use c1_model::pb;
use env0_api::{ApiKey, CustomRole, OrganizationUser};
use env0_connector::mapping::user_resource;
use env0_connector::{Directory, PrincipalKind};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value, json};

/// Strings env0 is known to send, plus the tricky ones.
const KNOWN: &[&str] = &[
    "Active",
    "active",
    "Invited",
    "INVITED",
    "pending",
    "Suspended",
    "Admin",
    "User",
    "r1",
    "r2",
    "k1",
    "u1",
    "u2",
    "",
    " ",
    "2024-01-02T03:04:05.000Z",
    "2024-01-02",
    "yesterday",
    "a@b.c",
    "José",
    "山田",
    "🚀",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(KNOWN).prop_map(|s| json!(s)),
    ]
}

/// Any JSON value, nested a little.
fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A field value: mostly what the wire types accept (text, numbers, null), rarely anything.
fn field() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => prop::sample::select(KNOWN).prop_map(|s| json!(s)),
        6 => "\\PC{0,12}".prop_map(Value::String),
        2 => Just(Value::Null),
        2 => any::<i64>().prop_map(|n| json!(n)),
        1 => value(),
    ]
}

/// A principal id from a small pool (so members repeat and keys collide with members), or
/// anything.
fn id() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => prop::sample::select(&["u1", "u2", "u3", "k1", "k2", "auth0|x", "google-oauth2|1"][..]).prop_map(|s| json!(s)),
        1 => "\\PC{1,12}".prop_map(Value::String),
        1 => field(),
    ]
}

/// An object with `id_key` set by [`id`] (rarely missing) and each of `keys` set by [`field`]
/// or missing.
fn object(id_key: &'static str, keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    (
        prop::option::weighted(0.95, id()),
        prop::collection::vec(prop::option::weighted(0.8, field()), keys.len()),
    )
        .prop_map(move |(id, values)| {
            let mut map = Map::new();
            if let Some(id) = id {
                map.insert(id_key.to_owned(), id);
            }
            for (key, v) in keys.iter().zip(values) {
                if let Some(v) = v {
                    map.insert((*key).to_owned(), v);
                }
            }
            Value::Object(map)
        })
}

const USER_KEYS: &[&str] = &[
    "email",
    "name",
    "given_name",
    "family_name",
    "created_at",
    "last_login",
];
const KEY_KEYS: &[&str] = &[
    "name",
    "apiKeyId",
    "organizationRole",
    "lastUsedAt",
    "createdAt",
    "createdBy",
];
const ROLE_KEYS: &[&str] = &["name", "permissions"];

fn member() -> impl Strategy<Value = Value> {
    let role = prop_oneof![
        prop::sample::select(&["Admin", "User", "r1", "r2", "r3"][..]).prop_map(|s| json!(s)),
        field(),
    ];
    (
        prop::option::of(role),
        prop::option::of(field()),
        object("user_id", USER_KEYS),
    )
        .prop_map(|(role, status, user)| {
            let mut map = Map::new();
            if let Some(role) = role {
                map.insert("role".into(), role);
            }
            if let Some(status) = status {
                map.insert("status".into(), status);
            }
            map.insert("user".into(), user);
            Value::Object(map)
        })
}

fn api_key() -> impl Strategy<Value = Value> {
    let creator = prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        object("user_id", USER_KEYS).prop_map(Some),
        field().prop_map(Some),
    ];
    (object("id", KEY_KEYS), creator).prop_map(|(mut key, creator)| {
        if let (Value::Object(map), Some(creator)) = (&mut key, creator) {
            map.insert("createdByUser".into(), creator);
        }
        key
    })
}

fn custom_role() -> impl Strategy<Value = Value> {
    let id = prop::sample::select(&["r1", "r2", "r4"][..]).prop_map(|s| json!(s));
    (id, object("id", ROLE_KEYS)).prop_map(|(id, mut role)| {
        if let Value::Object(map) = &mut role {
            map.insert("id".into(), id);
        }
        role
    })
}

fn parse<T: serde::de::DeserializeOwned>(values: Vec<Value>) -> Vec<T> {
    values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(0x005e_ede0), ..ProptestConfig::default() })]

    #[test]
    fn mapping_never_panics_and_gives_well_formed_users(
        members in prop::collection::vec(member(), 0..12),
        keys in prop::collection::vec(api_key(), 0..6),
        roles in prop::option::of(prop::collection::vec(custom_role(), 0..4)),
    ) {
        let members: Vec<OrganizationUser> = parse(members);
        let keys: Vec<ApiKey> = parse(keys);
        let mut directory = Directory::from_wire(members, keys).unwrap();
        match roles {
            Some(roles) => directory.resolve_custom_roles(parse::<CustomRole>(roles)),
            None => directory.custom_roles_unavailable(403),
        }
        let summary = directory.summary();
        let messages = directory.warning_messages();
        prop_assert_eq!(summary.warnings, messages.len());
        prop_assert_eq!(summary.humans + summary.api_keys, directory.principals().len());

        let mut seen = BTreeSet::new();
        let mut previous: Option<String> = None;
        for principal in &directory.principals() {
            prop_assert!(seen.insert(principal.id.clone()), "duplicate id {}", principal.id);
            if let Some(previous) = &previous {
                prop_assert!(previous < &principal.id, "not sorted");
            }
            previous = Some(principal.id.clone());

            let resource = user_resource(principal);
            let id = resource.id.as_ref().expect("id");
            prop_assert_eq!(id.resource_type.as_str(), "user");
            prop_assert_eq!(&id.resource, &principal.id);
            prop_assert!(!resource.display_name.is_empty());
            prop_assert!(resource.display_name.len() <= 1024);
            let user_trait: pb::UserTrait = c1_model::annotations::find(&resource.annotations).expect("UserTrait");
            prop_assert!(user_trait.status.as_ref().is_some_and(|s| s.details.len() <= 1024));
            let keys: Vec<&str> = resource.profile.as_ref().expect("profile").fields().keys().map(String::as_str).collect();
            if principal.kind == PrincipalKind::Human {
                    prop_assert_eq!(user_trait.account_type, pb::user_trait::AccountType::Human as i32);
                    prop_assert_eq!(keys, ["account_type", "display_name", "email", "first_name", "invite_pending", "last_name", "role", "role_name", "status", "user_id"]);
                    prop_assert!(!user_trait.login.is_empty());
                    prop_assert!(user_trait.emails.len() <= 1);
            } else {
                    prop_assert_eq!(user_trait.account_type, pb::user_trait::AccountType::Service as i32);
                    prop_assert_eq!(keys, ["account_type", "api_key_id", "created_by", "first_name", "last_name", "role", "role_name", "user_id"]);
                    prop_assert!(user_trait.emails.is_empty());
                    prop_assert_eq!(user_trait.status.map(|s| s.status), Some(pb::user_trait::status::Status::Enabled as i32));
            }
        }
    }
}

#[test]
fn the_generator_reaches_valid_wire_values_and_the_tricky_merges() {
    // Guards the property above against testing nothing: the strategies produce members and keys
    // the wire types accept, with repeated ids and keys that are also members.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut members, mut keys, mut merged, mut duplicates, mut pending) = (0, 0, 0, 0, 0);
    for _ in 0..200 {
        let m: Vec<OrganizationUser> = parse(
            prop::collection::vec(member(), 0..12)
                .new_tree(&mut runner)
                .expect("tree")
                .current(),
        );
        let k: Vec<ApiKey> = parse(
            prop::collection::vec(api_key(), 0..6)
                .new_tree(&mut runner)
                .expect("tree")
                .current(),
        );
        members += m.len();
        keys += k.len();
        let summary = Directory::from_wire(m, k).unwrap().summary();
        merged += summary.api_keys_listed_as_members;
        duplicates += summary.duplicates_skipped;
        pending += summary.pending_invites;
    }
    assert!(members > 200, "only {members} generated members parse");
    assert!(keys > 100, "only {keys} generated keys parse");
    assert!(merged > 10, "only {merged} keys were also members");
    assert!(duplicates > 10, "only {duplicates} duplicates");
    assert!(pending > 10, "only {pending} pending invites");
}
