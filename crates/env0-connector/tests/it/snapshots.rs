//! Snapshots of every fixture organization as ConductorOne users: the connector validates, lists
//! every page (3 per page, so paging is exercised), and the mapped resources, page warnings and
//! summary are rendered as YAML.

use c1_sync::Connector;
use env0_connector::PrincipalSummary;
use serde::Serialize;

use crate::support::{FakeEnv0, Fixture, UserView, list_all, view};

#[derive(Serialize)]
struct OrgSnapshot {
    users: Vec<UserView>,
    warnings: Vec<String>,
    summary: PrincipalSummary,
}

async fn sync_fixture(name: &str) -> OrgSnapshot {
    let fixture = Fixture::load(name);
    let fake = FakeEnv0::serve(&fixture).await;
    let connector = fake.connector(3);
    connector.validate().await.expect("validate passes");
    let (resources, warnings, _) = list_all(&connector).await;
    // Members were fetched by validate and reused: every endpoint answered exactly once.
    fake.assert_calls();
    let users: Vec<UserView> = resources.iter().map(view).collect();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "resources come sorted by id, each id once");
    OrgSnapshot {
        users,
        warnings,
        summary: connector.summary(),
    }
}

fn user<'a>(snapshot: &'a OrgSnapshot, id: &str) -> &'a UserView {
    snapshot
        .users
        .iter()
        .find(|u| u.id == id)
        .unwrap_or_else(|| panic!("no user {id}"))
}

#[tokio::test]
async fn every_row_of_the_mapping_table() {
    let snap = sync_fixture("org-table").await;
    assert_eq!((snap.summary.humans, snap.summary.api_keys), (8, 4));

    let ann = user(&snap, "google-oauth2|100000000000000000001");
    assert_eq!(ann.status, "enabled");
    assert_eq!(ann.emails, ["ann.admin@example.com (primary)"]);
    assert_eq!(
        user(&snap, "auth0|given-and-family").display_name,
        "Gil Given"
    );
    assert_eq!(
        user(&snap, "auth0|given-and-family").status,
        "disabled (invite pending)"
    );
    assert_eq!(
        user(&snap, "auth0|email-only").display_name,
        "eve.email@example.com"
    );
    assert_eq!(user(&snap, "auth0|id-only").display_name, "auth0|id-only");
    assert_eq!(user(&snap, "auth0|id-only").status, "unspecified");
    assert_eq!(
        user(&snap, "auth0|suspended").status,
        "disabled (Suspended)"
    );
    assert_eq!(
        user(&snap, "samlp|acme|carla@example.com").profile["role_name"],
        "Auditor"
    );
    let no_name_key = user(&snap, "6a1b2c3d-0000-4000-8000-00000000a002");
    assert_eq!(
        (
            no_name_key.display_name.as_str(),
            no_name_key.account_type.as_str()
        ),
        ("ak-no-name", "service")
    );

    insta::assert_yaml_snapshot!("org-table", snap);
}

#[tokio::test]
async fn nasty_cases_of_the_api_notes() {
    let snap = sync_fixture("org-nasty").await;

    // The key env0 also lists as a member is one API key, with the member's role and last login
    // filling what the key lacks.
    let robot = user(&snap, "7e57a11a-0000-4000-8000-00000000beef");
    assert_eq!(robot.account_type, "service");
    assert_eq!(robot.status, "enabled");
    assert_eq!(robot.display_name, "ak-member-too");
    assert!(robot.emails.is_empty());
    assert_eq!(robot.profile["role"], "Admin");
    assert_eq!(robot.last_login.as_deref(), Some("2025-11-01T08:00:00Z"));
    assert_eq!(snap.summary.api_keys_listed_as_members, 1);

    // Duplicates: the first is kept, with one warning each; a shared email keeps both members.
    assert_eq!(
        user(&snap, "auth0|dup").display_name,
        "Duplicate (first, kept)"
    );
    assert_eq!(
        user(&snap, "7e57a11a-0000-4000-8000-00000000d0d0").display_name,
        "Duplicate key (first, kept)"
    );
    assert_eq!(snap.summary.duplicates_skipped, 2);
    assert_eq!(
        snap.users
            .iter()
            .filter(|u| u.emails == ["shared@example.com (primary)"])
            .count(),
        2
    );

    // Lower-case "active" is not "Active": disabled, raw value as details.
    assert_eq!(
        user(&snap, "auth0|status-lowercase-active").status,
        "disabled (active)"
    );
    assert_eq!(user(&snap, "auth0|status-blank").status, "unspecified");
    assert_eq!(user(&snap, "auth0|ts-garbage").created_at, None);

    insta::assert_yaml_snapshot!("org-nasty", snap);
}

#[tokio::test]
async fn roles_endpoint_403_keeps_ids_and_warns_once() {
    let snap = sync_fixture("org-roles-403").await;
    assert_eq!(snap.warnings.len(), 1, "{:?}", snap.warnings);
    assert_eq!(snap.summary.custom_roles_unavailable, Some(403));
    assert_eq!(
        user(&snap, "auth0|custom-1").profile["role"],
        "5e1f0000-0000-4000-8000-000000000001"
    );
    assert!(user(&snap, "auth0|custom-1").profile["role_name"].is_null());
    insta::assert_yaml_snapshot!("org-roles-403", snap);
}

#[tokio::test]
async fn roles_endpoint_402_keeps_ids_and_warns_once() {
    let snap = sync_fixture("org-roles-402").await;
    assert_eq!(snap.warnings.len(), 1, "{:?}", snap.warnings);
    assert_eq!(snap.summary.custom_roles_unavailable, Some(402));
    insta::assert_yaml_snapshot!("org-roles-402", snap);
}
