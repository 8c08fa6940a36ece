//! The directory against a plain model of its rules: principals in a `BTreeMap` by id, the
//! first of each id winning, members before API keys, a key listed as a member being that
//! key (with what it lacks from the member), over-long ids dropped first.

use c1_model::limits::MAX_ID_BYTES;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// A member or API key as generated: what the wire value carries.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    name: Option<String>,
    role: Option<&'static str>,
    created: Option<u8>,
}

fn created(day: Option<u8>) -> Value {
    day.map_or(Value::Null, |day| {
        json!(format!("2024-01-{:02}T00:00:00Z", day % 28 + 1))
    })
}

fn member_json(m: &Entry) -> Value {
    json!({
        "role": m.role,
        "status": "Active",
        "user": { "user_id": m.id, "name": m.name, "created_at": created(m.created) }
    })
}

fn key_json(k: &Entry) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "organizationRole": k.role,
        "createdAt": created(k.created)
    })
}

fn wire<T: serde::de::DeserializeOwned>(values: &[Value]) -> Vec<T> {
    values
        .iter()
        .map(|v| serde_json::from_value(v.clone()).unwrap())
        .collect()
}

/// What the directory should hold.
#[derive(Debug)]
struct Expected {
    principals: Vec<Principal>,
    warnings: Vec<Warning>,
    duplicates: usize,
    keys_listed_as_members: usize,
}

/// One list's principals by id: over-long ids dropped (a warning each, in list order),
/// then the first of each id kept (one warning per repeated id, in id order).
fn first_wins(
    list: Vec<Principal>,
    source: &'static str,
    warnings: &mut Vec<Warning>,
) -> (BTreeMap<String, Principal>, usize) {
    let mut kept = BTreeMap::new();
    let mut repeats: BTreeMap<String, usize> = BTreeMap::new();
    for p in list {
        if p.id.len() > MAX_ID_BYTES {
            warnings.push(Warning::IdTooLong {
                id: shorten(&p.id),
                bytes: p.id.len(),
                source,
            });
        } else if kept.contains_key(&p.id) {
            *repeats.entry(p.id.clone()).or_default() += 1;
        } else {
            kept.insert(p.id.clone(), p);
        }
    }
    let duplicates = repeats.values().sum();
    warnings.extend(
        repeats
            .into_keys()
            .map(|id| Warning::DuplicateId { id, source }),
    );
    (kept, duplicates)
}

fn expected(members: &[Value], keys: &[Value]) -> Expected {
    let mut warnings = Vec::new();
    let members: Vec<Principal> = wire(members)
        .into_iter()
        .map(|m| Principal::from_member(m, &mut warnings))
        .collect();
    let (mut all, member_duplicates) = first_wins(members, MEMBERS_SOURCE, &mut warnings);
    let keys: Vec<Principal> = wire(keys)
        .into_iter()
        .map(|k| Principal::from_api_key(k, &mut warnings))
        .collect();
    let (keys, key_duplicates) = first_wins(keys, API_KEYS_SOURCE, &mut warnings);
    let mut keys_listed_as_members = 0;
    for (id, mut key) in keys {
        if let Some(member) = all.remove(&id) {
            key.absorb_member(member);
            keys_listed_as_members += 1;
        }
        all.insert(id, key);
    }
    Expected {
        principals: all.into_values().collect(),
        warnings,
        duplicates: member_duplicates + key_duplicates,
        keys_listed_as_members,
    }
}

/// Builds the directory and holds it to the model, its listing paged `page` at a time.
fn check(members: &[Value], keys: &[Value], page: usize) -> Result<(), TestCaseError> {
    let want = expected(members, keys);
    let dir = Directory::from_wire(wire(members), wire(keys)).unwrap();
    prop_assert_eq!(&dir.principals(), &want.principals);
    prop_assert_eq!(dir.warnings(), want.warnings.as_slice());
    let summary = dir.summary();
    prop_assert_eq!(summary.duplicates_skipped, want.duplicates);
    prop_assert_eq!(
        summary.api_keys_listed_as_members,
        want.keys_listed_as_members
    );
    prop_assert_eq!(summary.humans + summary.api_keys, want.principals.len());
    let listing = dir.into_listing();
    prop_assert_eq!(listing.len(), want.principals.len());
    let mut paged = Vec::new();
    for start in (0..listing.len()).step_by(page.max(1)) {
        let end = (start + page.max(1)).min(listing.len());
        paged.extend(listing.range(start, end).map(PackedPrincipal::to_principal));
    }
    prop_assert_eq!(paged, want.principals);
    Ok(())
}

/// 32 bytes: ids that start with it tie on the whole sort prefix.
const SHARED: &str = "google-oauth2|0123456789abcdefgh";

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ab]{1,2}",
        3 => "[ab\\x00é]{0,2}".prop_map(|tail| format!("{SHARED}{tail}")),
        1 => "[ab]{1,2}\\x00?",
        1 => Just("y".repeat(MAX_ID_BYTES)),
        1 => Just("z".repeat(MAX_ID_BYTES + 1)),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        id(),
        proptest::option::of("[A-C]{0,2}"),
        proptest::option::of(prop_oneof![Just("Admin"), Just("User"), Just("r1")]),
        proptest::option::of(any::<u8>()),
    )
        .prop_map(|(id, name, role, created)| Entry {
            id,
            name,
            role,
            created,
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0d1e_c700),
        ..ProptestConfig::default()
    })]

    #[test]
    fn small_directories_follow_the_model(
        members in prop::collection::vec(entry(), 0..40),
        keys in prop::collection::vec(entry(), 0..12),
        page in 1_usize..7,
    ) {
        let members: Vec<Value> = members.iter().map(member_json).collect();
        let keys: Vec<Value> = keys.iter().map(key_json).collect();
        check(&members, &keys, page)?;
    }
}

/// `splitmix64`: spreads a seed and an index over 64 bits.
fn mix(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0d1e_c701),
        ..ProptestConfig::default()
    })]

    /// Large lists, with repeats, shared 32-byte prefixes and keys listed as members.
    #[test]
    fn large_directories_follow_the_model(
        seed in any::<u64>(),
        extra in 0_usize..2000,
    ) {
        let count = 16 * 1024 + extra;
        let pool = (count as u64) * 9 / 10;
        let member_id = |i: u64| {
            let n = mix(seed, i) % pool;
            if n.is_multiple_of(5) { format!("{SHARED}{n}") } else { format!("auth0|{n}") }
        };
        let members: Vec<Value> = (0..count as u64)
            .map(|i| member_json(&Entry {
                id: member_id(i),
                name: Some(format!("m{i}")),
                role: Some("User"),
                created: None,
            }))
            .collect();
        let keys: Vec<Value> = (0..60_u64)
            .map(|i| key_json(&Entry {
                id: if i.is_multiple_of(2) { member_id(mix(seed, i)) } else { format!("key-{}", mix(seed, i) % 40) },
                name: Some(format!("k{i}")),
                role: None,
                created: Some(i as u8),
            }))
            .collect();
        check(&members, &keys, 256)?;
    }
}
