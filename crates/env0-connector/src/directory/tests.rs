//! The directory against hand-written cases and, in `model`, against a BTreeMap model of its rules.

use super::order::id_prefix;
use super::*;

/// Two lists (each sorted here), merged: the ids in merged order.
fn merge(first: Vec<PackedPrincipal>, second: Vec<PackedPrincipal>) -> Vec<String> {
    let mut warnings = Vec::new();
    let first = ordered_unique(first, MEMBERS_SOURCE, &mut warnings).unwrap();
    let second = ordered_unique(second, API_KEYS_SOURCE, &mut warnings).unwrap();
    let offset = first.principals.len();
    let mut all = first.principals;
    all.extend(second.principals);
    let second_order: Vec<(IdPrefix, usize)> = second
        .prefixes
        .into_iter()
        .zip(second.order.into_iter().map(|at| at + offset))
        .collect();
    let order = merged_order(&all, &first.order, &first.prefixes, &second_order).unwrap();
    assert_eq!(order.len(), all.len(), "every principal once");
    order
        .into_iter()
        .filter_map(|at| all.get(at))
        .map(|p| p.id().to_owned())
        .collect()
}

#[test]
fn merging_keeps_id_order() {
    let mut warnings = Vec::new();
    let mut key = |id: &str| {
        let wire: ApiKey = serde_json::from_str(&format!(r#"{{"id":"{id}"}}"#)).unwrap();
        admit(
            &Principal::from_api_key(wire, &mut warnings),
            API_KEYS_SOURCE,
            &mut warnings,
        )
        .unwrap()
    };
    let merged = merge(vec![key("d"), key("b")], vec![key("e"), key("a"), key("c")]);
    assert_eq!(merged, ["a", "b", "c", "d", "e"]);
    assert_eq!(merge(vec![], vec![key("a")]), ["a"]);
    assert_eq!(merge(vec![key("a")], vec![]), ["a"]);
    // Ids that share their first 32 bytes (the whole prefix) are ordered by the rest.
    let long = "0123456789abcdef0123456789abcdef";
    let merged = merge(
        vec![key(&format!("{long}b")), key(long)],
        vec![key(&format!("{long}c")), key(&format!("{long}a"))],
    );
    assert_eq!(
        merged,
        [
            long.to_owned(),
            format!("{long}a"),
            format!("{long}b"),
            format!("{long}c")
        ]
    );
}

proptest::proptest! {
    /// Prefix first, then the id: the same order as the ids alone, whatever their bytes.
    #[test]
    fn prefix_then_id_orders_like_the_id(
        a in "[a\\x00é|0]{0,20}",
        b in "[a\\x00é|0]{0,20}",
    ) {
        let keyed = (id_prefix(&a), a.as_str()).cmp(&(id_prefix(&b), b.as_str()));
        proptest::prop_assert_eq!(keyed, a.cmp(&b));
    }
}

mod model;

fn members(json: &str) -> Vec<OrganizationUser> {
    serde_json::from_str(json).unwrap()
}

fn keys(json: &str) -> Vec<ApiKey> {
    serde_json::from_str(json).unwrap()
}

#[test]
fn duplicates_keep_the_first_and_warn_once_per_id() {
    let dir = Directory::from_wire(
        members(
            r#"[{"user":{"user_id":"b","name":"first b"}},{"user":{"user_id":"a"}},
                {"user":{"user_id":"b","name":"second b"}},{"user":{"user_id":"b","name":"third b"}}]"#,
        ),
        vec![],
    ).unwrap();
    let principals = dir.principals();
    let names: Vec<&str> = principals.iter().map(|p| p.display_name.as_str()).collect();
    assert_eq!(names, ["a", "first b"]);
    assert_eq!(
        dir.warning_messages(),
        ["principal `b` appears twice in the organization's user list; kept the first"]
    );
    assert_eq!(dir.summary().duplicates_skipped, 2);
}

/// Ids that agree in their first 32 bytes: duplicates are still told apart from neighbours,
/// and a key finds the member it repeats.
#[test]
fn long_ids_with_a_common_start_sort_dedupe_and_match_keys() {
    let long = "google-oauth2|012345678901234567";
    let dir = Directory::from_wire(
        members(&format!(
            r#"[{{"user":{{"user_id":"{long}b","name":"b1"}}}},{{"user":{{"user_id":"{long}","name":"short"}}}},
                {{"user":{{"user_id":"{long}a","name":"a"}}}},{{"user":{{"user_id":"{long}b","name":"b2"}}}}]"#
        )),
        keys(&format!(
            r#"[{{"id":"{long}a","name":"key a"}},{{"id":"{long}c","name":"key c"}}]"#
        )),
    ).unwrap();
    let principals = dir.principals();
    let ids: Vec<&str> = principals.iter().map(|p| p.id.as_str()).collect();
    let want_ids = [
        long.to_owned(),
        format!("{long}a"),
        format!("{long}b"),
        format!("{long}c"),
    ];
    assert_eq!(ids, want_ids);
    let names: Vec<&str> = principals.iter().map(|p| p.display_name.as_str()).collect();
    assert_eq!(names[0], "short");
    assert_eq!(names[2], "b1", "the first of a repeated id is kept");
    assert_eq!(
        principals[1].kind,
        PrincipalKind::ApiKey,
        "the key listed as member is one key"
    );
    let summary = dir.summary();
    assert_eq!(
        (
            summary.duplicates_skipped,
            summary.api_keys_listed_as_members
        ),
        (1, 1)
    );
}

#[test]
fn a_key_listed_as_member_is_one_api_key() {
    let dir = Directory::from_wire(
        members(
            r#"[{"role":"Admin","status":"Active","user":{"user_id":"k1","email":"k@x"}},{"user":{"user_id":"u1"}}]"#,
        ),
        keys(r#"[{"id":"k1","name":"CI"},{"id":"k2"}]"#),
    ).unwrap();
    let principals = dir.principals();
    let kinds: Vec<(&str, PrincipalKind)> =
        principals.iter().map(|p| (p.id.as_str(), p.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("k1", PrincipalKind::ApiKey),
            ("k2", PrincipalKind::ApiKey),
            ("u1", PrincipalKind::Human)
        ]
    );
    assert_eq!(dir.principals()[0].role, Some(OrgRole::Admin));
    let s = dir.summary();
    assert_eq!(
        (s.humans, s.api_keys, s.api_keys_listed_as_members),
        (1, 2, 1)
    );
}

#[test]
fn repeats_keys_and_members_in_any_order_count_once() {
    // Members out of order with repeats (holding a custom role), a key listed as a member,
    // keys out of order with a repeat.
    let dir = Directory::from_wire(
        members(
            r#"[{"role":"r1","user":{"user_id":"b","name":"first b"}},{"user":{"user_id":"k3"}},
                {"role":"r1","user":{"user_id":"b","name":"second b"}},{"user":{"user_id":"a"}},
                {"role":"r1","user":{"user_id":"c"}},{"role":"r1","user":{"user_id":"b"}}]"#,
        ),
        keys(r#"[{"id":"k2"},{"id":"k3","name":"CI"},{"id":"k1"},{"id":"k2","name":"again"}]"#),
    )
    .unwrap();
    let principals = dir.principals();
    let listed: Vec<(&str, &str, PrincipalKind)> = principals
        .iter()
        .map(|p| (p.id.as_str(), p.display_name.as_str(), p.kind))
        .collect();
    assert_eq!(
        listed,
        [
            ("a", "a", PrincipalKind::Human),
            ("b", "first b", PrincipalKind::Human),
            ("c", "c", PrincipalKind::Human),
            ("k1", "k1", PrincipalKind::ApiKey),
            ("k2", "k2", PrincipalKind::ApiKey),
            ("k3", "CI", PrincipalKind::ApiKey),
        ]
    );
    // The dropped repeats hold nothing and count for nothing.
    assert_eq!(
        dir.custom_role_holders().into_iter().collect::<Vec<_>>(),
        [("r1", 2)]
    );
    let s = dir.summary();
    assert_eq!(
        (
            s.humans,
            s.api_keys,
            s.api_keys_listed_as_members,
            s.duplicates_skipped
        ),
        (3, 3, 1, 3)
    );
    let listing = dir.into_listing();
    assert_eq!(listing.len(), 6);
    let page: Vec<&str> = listing.range(2, 5).map(PackedPrincipal::id).collect();
    assert_eq!(page, ["c", "k1", "k2"]);
    assert_eq!(
        listing.range(6, 9).count(),
        0,
        "a range past the end is empty"
    );
}

#[test]
fn custom_roles_resolve_or_warn() {
    let mut dir = Directory::from_wire(
        members(
            r#"[{"role":"r1","user":{"user_id":"a"}},{"role":"r2","user":{"user_id":"b"}},{"role":"r3","user":{"user_id":"c"}},{"role":"r3","user":{"user_id":"d"}}]"#,
        ),
        vec![],
    ).unwrap();
    let roles: Vec<CustomRole> =
        serde_json::from_str(r#"[{"id":"r1","name":"Auditor"},{"id":"r2"}]"#).unwrap();
    dir.resolve_custom_roles(roles);
    let principals = dir.principals();
    let names: Vec<Option<&str>> = principals
        .iter()
        .map(|p| p.role.as_ref().and_then(OrgRole::name))
        .collect();
    assert_eq!(names, [Some("Auditor"), None, None, None]);
    assert_eq!(
        dir.warning_messages(),
        [
            "custom role `r3` (held by 2 principals) is not listed by GET /roles; its name is unknown"
        ]
    );
    let s = dir.summary();
    assert_eq!((s.custom_roles_resolved, s.custom_roles_unresolved), (1, 2));
}

#[test]
fn many_bad_timestamps_fold_into_one_message() {
    let json: Vec<String> = (0..7)
        .map(|i| format!(r#"{{"user":{{"user_id":"u{i}","last_login":"never"}}}}"#))
        .collect();
    let dir = Directory::from_wire(members(&format!("[{}]", json.join(","))), vec![]).unwrap();
    assert_eq!(dir.warnings().len(), 7);
    assert_eq!(
        dir.warning_messages(),
        [
            "7 timestamps could not be read and were left empty: `u0` last_login `never`, `u1` last_login `never`, `u2` last_login `never`, `u3` last_login `never`, `u4` last_login `never` and 2 more"
        ]
    );
}
