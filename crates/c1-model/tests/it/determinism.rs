//! Same value → same bytes, whatever order maps were filled in.

use std::collections::BTreeMap;

use c1_model::pb;
use c1_model::{ProfileValue, UserBuilder, encode, entitlement, grant, resource_id};

fn user_with_profile(entries: &[(&str, ProfileValue)]) -> pb::Resource {
    entries
        .iter()
        .fold(
            UserBuilder::new("user", "u1", "U").email("u@example.com", true),
            |b, (k, v)| b.profile(*k, v.clone()),
        )
        .build()
}

#[test]
fn building_twice_gives_identical_bytes() {
    let entries = [
        ("a", ProfileValue::from("x")),
        ("b", ProfileValue::from(true)),
    ];
    assert_eq!(
        encode(&user_with_profile(&entries)),
        encode(&user_with_profile(&entries))
    );
}

#[test]
fn profile_insertion_order_does_not_change_bytes() {
    let forward = [
        ("alpha", ProfileValue::from("1")),
        ("beta", ProfileValue::from(false)),
        ("gamma", ProfileValue::Null),
        ("delta", ProfileValue::from(2.5)),
    ];
    let mut backward = forward.clone();
    backward.reverse();
    let a = encode(&user_with_profile(&forward));
    let b = encode(&user_with_profile(&backward));
    assert_eq!(a, b);
    // And the order on the wire is key order: "alpha" < "beta" < "delta" < "gamma".
    let positions: Vec<usize> = ["alpha", "beta", "delta", "gamma"]
        .iter()
        .map(|k| a.windows(k.len()).position(|w| w == k.as_bytes()).unwrap())
        .collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "{positions:?}");
}

#[test]
fn grant_sources_insertion_order_does_not_change_bytes() {
    let team = c1_model::ResourceBuilder::new("team", "t", "T").build_group();
    let mut g1 = grant::new(
        &entitlement::assignment(&team, "member"),
        &resource_id("user", "u"),
    );
    let mut g2 = g1.clone();
    let source = pb::grant_sources::GrantSource { is_direct: true };
    let mut m1 = BTreeMap::new();
    m1.insert("z".to_owned(), source);
    m1.insert("a".to_owned(), source);
    let mut m2 = BTreeMap::new();
    m2.insert("a".to_owned(), source);
    m2.insert("z".to_owned(), source);
    g1.sources = Some(pb::GrantSources { sources: m1 });
    g2.sources = Some(pb::GrantSources { sources: m2 });
    assert_eq!(encode(&g1), encode(&g2));
}
