//! Paging: tokens are offsets, every page size yields the same listing, concurrent first calls
//! fetch once, and `/roles` is only asked when a custom role is in use.

use c1_model::pb;
use c1_sync::Connector;
use serde_json::json;

use crate::support::{FakeEnv0, Fixture, list_all};

fn ids(resources: &[pb::Resource]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r.id.as_ref().expect("id").resource.clone())
        .collect()
}

#[tokio::test]
async fn every_page_size_lists_the_same_resources() {
    let mut reference: Option<Vec<pb::Resource>> = None;
    for (page_size, expected_pages) in [(1, 24), (3, 8), (7, 4), (24, 1), (1000, 1)] {
        let fake = FakeEnv0::serve(&Fixture::load("org-nasty")).await;
        let connector = fake.connector(page_size);
        connector.validate().await.expect("validate");
        let (resources, warnings, pages) = list_all(&connector).await;
        assert_eq!(pages, expected_pages, "page size {page_size}");
        assert!(!warnings.is_empty());
        match &reference {
            None => reference = Some(resources),
            Some(first) => assert_eq!(
                first, &resources,
                "page size {page_size} changed the listing"
            ),
        }
    }
    let reference = reference.expect("listed");
    assert_eq!(reference.len(), 24);
    let ids = ids(&reference);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
}

#[tokio::test]
async fn a_parent_has_no_users() {
    let fake = FakeEnv0::serve(&Fixture::load("org-table")).await;
    let connector = fake.connector(1000);
    let parent = c1_model::resource_id("team", "t1");
    let page = connector.resource_syncers()[0]
        .list(Some(&parent), "")
        .await
        .expect("empty page");
    assert!(page.items.is_empty() && page.is_last());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_fetch_once_and_warn_once() {
    let fake = FakeEnv0::serve(&Fixture::load("org-nasty")).await;
    let connector = fake.connector(5);
    connector.validate().await.expect("validate");
    let syncer = connector.resource_syncers().remove(0);
    let calls = ["", "5", "10", "", "15"].map(|token| {
        let syncer = std::sync::Arc::clone(&syncer);
        tokio::spawn(async move { syncer.list(None, token).await })
    });
    let mut warned_pages = 0;
    for call in calls {
        let page = call.await.expect("task").expect("page");
        if !page.warnings.is_empty() {
            warned_pages += 1;
        }
    }
    assert_eq!(warned_pages, 1, "warnings come with the page that fetched");
    fake.assert_calls();
}

#[tokio::test]
async fn roles_are_not_asked_without_custom_roles() {
    let fixture = Fixture::inline(json!({
        "organization_id": "org-plain",
        "organizations": [{ "id": "org-plain" }],
        "users": [
            { "role": "Admin", "status": "Active", "user": { "user_id": "u1", "email": "u1@example.com" } },
            { "role": "User", "status": "Active", "user": { "user_id": "u2" } }
        ],
        "api_keys": [{ "id": "k1", "organizationRole": "User" }]
    }));
    let fake = FakeEnv0::serve(&fixture).await;
    let connector = fake.connector(1000);
    connector.validate().await.expect("validate");
    let (resources, warnings, _) = list_all(&connector).await;
    assert_eq!(ids(&resources), ["k1", "u1", "u2"]);
    assert!(warnings.is_empty(), "{warnings:?}");
    // `/roles` is mocked with expect(0) when the fixture has no roles.
    fake.assert_calls();
    let summary = connector.summary();
    assert_eq!(
        (summary.humans, summary.api_keys, summary.active),
        (2, 1, 2)
    );
}

#[tokio::test]
async fn an_empty_organization_lists_one_empty_page() {
    let fixture = Fixture::inline(json!({
        "organization_id": "org-empty",
        "organizations": [{ "id": "org-empty" }],
        "users": [],
        "api_keys": null
    }));
    let fake = FakeEnv0::serve(&fixture).await;
    let connector = fake.connector(10);
    connector.validate().await.expect("validate");
    let (resources, warnings, pages) = list_all(&connector).await;
    assert_eq!((resources.len(), warnings.len(), pages), (0, 0, 1));
    fake.assert_calls();
}

#[tokio::test]
async fn a_run_keeps_its_listing_until_end_sync_and_the_next_run_fetches_afresh() {
    let fixture = Fixture::inline(json!({
        "organization_id": "org-twice",
        "users": [{ "status": "Invited", "user": { "user_id": "u1" } }, { "user": { "user_id": "u1" } }],
        "api_keys": []
    }));
    let fake = FakeEnv0::serve_expecting(&fixture, 2).await;
    let connector = fake.connector(1);
    let (first, first_warnings, _) = list_all(&connector).await;
    // Within one run the snapshot stays: listing again fetches nothing (and warns no more).
    let (again, again_warnings, _) = list_all(&connector).await;
    assert_eq!(first, again);
    assert!(again_warnings.is_empty());
    connector.end_sync();
    let (second, second_warnings, _) = list_all(&connector).await;
    // Users and keys were fetched once per run, and each run reported its warning.
    fake.assert_calls();
    assert_eq!(first, second);
    assert_eq!(first_warnings.len(), 1);
    assert_eq!(first_warnings, second_warnings);
    assert_eq!(connector.summary().pending_invites, 1);
}
