//! A full sync through `c1-sync`: the c1z file holds the `user` resource type (with `role`,
//! `team` and `project`) and exactly the user resources the listing returns, every principal
//! holding its organization role, and the connector's warnings reach the report.

use c1_model::pb;
use c1_sync::{C1zReader, Connector, SyncEngine, SyncOptions};

use crate::support::{FakeEnv0, Fixture, list_all};

#[tokio::test]
async fn a_sync_writes_every_principal_to_the_c1z() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("env0.c1z");

    let fake = FakeEnv0::serve(&Fixture::load("org-nasty")).await;
    let connector = fake.connector(10);
    assert_eq!(connector.metadata().name, "env0");
    assert_eq!(connector.metadata().display_name, "env0");
    let report = SyncEngine::new(SyncOptions::default())
        .run(&connector, &output)
        .await
        .expect("sync succeeds");
    fake.assert_calls();
    assert_eq!(report.resources_by_type.get("user"), Some(&24));
    let roles = report.resources_by_type.get("role").copied().unwrap_or(0);
    assert_eq!(
        report.entitlements, roles,
        "one membership per role, no team or project"
    );
    let summary = connector.summary();
    assert_eq!(report.warnings, summary.warnings as u64);
    assert!(
        report
            .warning_messages
            .iter()
            .any(|w| w.contains("appears twice")),
        "{:?}",
        report.warning_messages
    );

    // The same organization listed directly gives exactly what the file holds.
    let again = FakeEnv0::serve(&Fixture::load("org-nasty")).await;
    let (expected, _, _) = list_all(&again.connector(1000)).await;

    let reader = C1zReader::open(&output).expect("c1z opens");
    let run = reader
        .latest_finished_sync()
        .expect("sync runs")
        .expect("a finished sync");
    let types = reader.resource_types(&run.sync_id).expect("resource types");
    let ids: Vec<&str> = types.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["user", "role", "team", "project"]);
    let user_type = &types[0];
    assert_eq!(user_type.display_name, "User");
    assert_eq!(
        user_type.traits,
        vec![pb::resource_type::Trait::User as i32]
    );
    assert!(c1_model::annotations::has::<pb::SkipEntitlementsAndGrants>(
        &user_type.annotations
    ));
    let stored = reader
        .resources(&run.sync_id, Some("user"))
        .expect("resources");
    assert_eq!(stored, expected);

    // Every principal with an organization role holds that role's membership, and nothing else
    // is granted (the fixture has no team and no project).
    let mut held: Vec<String> = reader
        .grants(&run.sync_id)
        .expect("grants")
        .into_iter()
        .map(|g| g.id)
        .collect();
    held.sort();
    let mut want: Vec<String> = expected
        .iter()
        .filter_map(|u| {
            let profile = u.profile.as_ref()?.fields();
            let role = match profile.get("role")?.kind.as_ref()? {
                prost_types::value::Kind::StringValue(role) => role.clone(),
                _ => return None,
            };
            Some(format!(
                "role:{role}:member:user:{}",
                u.id.as_ref()?.resource
            ))
        })
        .collect();
    want.sort();
    assert_eq!(report.grants, want.len() as u64);
    assert_eq!(held, want);
}

/// Every string value of a profile, with its key.
fn profile_strings(profile: Option<&c1_model::Struct>) -> Vec<(String, String)> {
    profile
        .expect("a profile")
        .fields()
        .iter()
        .filter_map(|(key, value)| match &value.kind {
            Some(prost_types::value::Kind::StringValue(text)) => Some((key.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

/// Whatever env0 sends, what a sync keeps is bounded: a member whose name (and a custom role
/// whose name) runs to megabytes ends with profile values of at most 64 KiB in both profiles,
/// cut at a character boundary, and the report names the principal and the field; a principal
/// whose id ConductorOne would refuse is skipped with a warning.
#[tokio::test]
async fn huge_texts_are_cut_in_both_profiles_with_a_warning_naming_principal_and_field() {
    const LIMIT: usize = c1_model::limits::MAX_PROFILE_TEXT_BYTES;
    // Three bytes a character: the limit falls inside one, so a byte cut would break UTF-8.
    let huge = "€".repeat(700_000);
    let long_id = "i".repeat(1025);
    let fixture = Fixture::inline(serde_json::json!({
        "organization_id": "org-huge",
        "organizations": [{ "id": "org-huge" }],
        "users": [
            { "role": "r-big", "status": "Active", "user": { "user_id": "u-huge", "name": huge, "email": "h@example.com" } },
            { "role": "User", "status": "Active", "user": { "user_id": long_id, "name": "Long Id" } },
            { "role": "User", "status": "Active", "user": { "user_id": "u-small", "name": "Small" } }
        ],
        "api_keys": [],
        "roles": [{ "id": "r-big", "name": huge }]
    }));
    let fake = FakeEnv0::serve(&fixture).await;
    let connector = fake.connector(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("env0.c1z");
    let report = SyncEngine::new(SyncOptions::default())
        .run(&connector, &output)
        .await
        .expect("sync succeeds");
    fake.assert_calls();

    let huge_bytes = huge.len();
    assert_eq!(
        report.warning_messages,
        [
            format!(
                "resources of `user`: principal `u-huge`: name is {huge_bytes} bytes; only its first {LIMIT} bytes are kept"
            ),
            format!(
                "resources of `user`: principal `{}…` in the organization's user list: its id is 1025 bytes, longer than the 1024 ConductorOne accepts; skipped",
                "i".repeat(64)
            ),
            format!(
                "resources of `user`: custom role `r-big`: its name on GET /roles is {huge_bytes} bytes; only its first {LIMIT} bytes are kept"
            ),
        ]
    );
    assert_eq!(report.resources_by_type.get("user"), Some(&2));
    // The custom role's resource is bounded too, without a warning of its own: its display
    // name within the protocol's limit, its profile within 64 KiB.
    let reader = C1zReader::open(&output).expect("c1z opens");
    let roles = reader
        .resources(&report.sync_id, Some("role"))
        .expect("roles");
    let big = roles
        .iter()
        .find(|r| r.id.as_ref().unwrap().resource == "r-big")
        .expect("the custom role");
    assert!(big.display_name.len() <= 1024 && huge.starts_with(&big.display_name));
    assert!(big.description.len() <= 2048);
    for (key, value) in profile_strings(big.profile.as_ref()) {
        assert!(value.len() <= LIMIT, "{key} keeps {} bytes", value.len());
    }

    let reader = C1zReader::open(&output).expect("c1z opens");
    let users = reader
        .resources(&report.sync_id, Some("user"))
        .expect("resources");
    let ids: Vec<&str> = users
        .iter()
        .map(|u| u.id.as_ref().unwrap().resource.as_str())
        .collect();
    assert_eq!(ids, ["u-huge", "u-small"]);
    let user = &users[0];
    let kept = "€".repeat(LIMIT / 3);
    assert!(user.display_name.len() <= 1024 && huge.starts_with(&user.display_name));
    let user_trait: pb::UserTrait =
        c1_model::annotations::find(&user.annotations).expect("a user trait");
    for profile in [user.profile.as_ref(), user_trait.profile.as_ref()] {
        let strings = profile_strings(profile);
        for (key, value) in &strings {
            assert!(value.len() <= LIMIT, "{key} keeps {} bytes", value.len());
        }
        let value = |key: &str| {
            strings
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("display_name"), Some(kept.as_str()));
        assert_eq!(value("role_name"), Some(kept.as_str()));
        assert_eq!(value("email"), Some("h@example.com"));
    }
    // Two profiles of two cut values each, and little else (uncut, it would be 4 × 2.1 MB).
    let row = c1_model::encode(user).len();
    assert!(row < 4 * LIMIT + 4096, "the stored user is {row} bytes");
}
