//! What the connector says when it cannot work: foreign organization, missing permissions, bad
//! credentials, env0 outages. Each check reads the error as the CLI would.

use c1_sync::Connector;
use env0_api::OrgId;
use env0_connector::{Env0Connector, Error, Visibility, api_error};
use serde_json::json;

use crate::support::{FakeEnv0, Fixture, list_all};

#[tokio::test]
async fn validate_names_a_foreign_organization_and_counts_the_visible_ones() {
    let fake = FakeEnv0::serve(&Fixture::load("org-table")).await;
    let connector = Env0Connector::new(fake.client(), OrgId::new("org-elsewhere"));
    let err = connector
        .validate()
        .await
        .expect_err("org-elsewhere is not visible");
    assert_eq!(
        err.to_string(),
        "organization org-elsewhere is not visible to this API key (the key sees 2 organizations); check the organization id and that the key belongs to that organization"
    );
    assert!(!err.is_transient());
    assert!(matches!(
        err.downcast_ref::<Error>(),
        Some(Error::OrganizationNotVisible { visible: 2, .. })
    ));
    assert!(api_error(&err).is_none());
}

#[tokio::test]
async fn validate_names_the_missing_permission_on_a_users_403() {
    let fixture =
        Fixture::load("org-table").answering("users", 403, json!({"message": "Forbidden"}));
    let fake = FakeEnv0::serve(&fixture).await;
    let err = fake
        .connector(1000)
        .validate()
        .await
        .expect_err("users are forbidden");
    assert_eq!(
        err.to_string(),
        "the API key cannot list organization users (403 on GET /organizations/org-table/users); it needs organization Admin (read-only is enough)"
    );
    assert!(!err.is_transient());
    let api = api_error(&err).expect("the env0 error is reachable");
    assert_eq!(api.status(), Some(403));
    assert!(matches!(api, env0_api::Error::Forbidden { .. }));
    assert!(
        err.downcast_ref::<Error>()
            .is_some_and(Error::is_access_denied)
    );
}

#[tokio::test]
async fn bad_credentials_surface_as_the_env0_401() {
    let fixture = Fixture::load("org-table").answering(
        "organizations",
        401,
        json!({"message": "Unauthorized"}),
    );
    let fake = FakeEnv0::serve(&fixture).await;
    let err = fake
        .connector(1000)
        .validate()
        .await
        .expect_err("key rejected");
    assert!(!err.is_transient());
    let api = err
        .downcast_ref::<env0_api::Error>()
        .expect("bare env0 error");
    assert!(api.is_unauthorized());
    assert!(
        err.to_string()
            .starts_with("env0 returned 401 Unauthorized for GET /organizations"),
        "{err}"
    );
}

#[tokio::test]
async fn server_errors_are_transient() {
    let fixture = Fixture::load("org-table").answering("users", 503, json!({"message": "down"}));
    let fake = FakeEnv0::serve(&fixture).await;
    let connector = fake.connector(1000);
    let syncer = connector.resource_syncers().remove(0);
    let err = syncer.list(None, "").await.expect_err("users are down");
    assert!(err.is_transient(), "{err}");
    assert_eq!(api_error(&err).and_then(env0_api::Error::status), Some(503));
}

#[tokio::test]
async fn a_403_on_api_keys_stops_the_listing_with_the_permission_named() {
    let fixture =
        Fixture::load("org-table").answering("api_keys", 403, json!({"message": "Forbidden"}));
    let fake = FakeEnv0::serve(&fixture).await;
    let connector = fake.connector(1000);
    connector
        .validate()
        .await
        .expect("validate only needs users");
    let err = connector.resource_syncers()[0]
        .list(None, "")
        .await
        .expect_err("keys are forbidden");
    assert_eq!(
        err.to_string(),
        "the API key cannot list API keys (403 on GET /api-keys?organizationId=org-table); it needs organization Admin (read-only is enough)"
    );
    assert_eq!(api_error(&err).and_then(env0_api::Error::status), Some(403));
}

#[tokio::test]
async fn a_roles_outage_fails_the_listing_transiently() {
    let fixture = Fixture::load("org-table").answering("roles", 500, json!({"message": "boom"}));
    let fake = FakeEnv0::serve(&fixture).await;
    let err = fake.connector(1000).resource_syncers()[0]
        .list(None, "")
        .await
        .expect_err("roles are down");
    assert!(err.is_transient());
}

#[tokio::test]
async fn an_unknown_page_token_is_refused() {
    let fake = FakeEnv0::serve(&Fixture::load("org-table")).await;
    let connector = fake.connector(5);
    connector.validate().await.expect("validate");
    let syncer = connector.resource_syncers().remove(0);
    for token in ["abc", "13", "-1"] {
        let err = syncer
            .list(None, token)
            .await
            .expect_err("not a token we handed out");
        assert!(!err.is_transient());
        assert_eq!(
            err.to_string(),
            format!(
                "invalid page token `{token}` for the env0 user listing (expected an offset below 12)"
            )
        );
    }
    // The last page's own offset is fine, and the fetch happened once for all these calls.
    assert_eq!(
        syncer
            .list(None, "10")
            .await
            .expect("offset 10")
            .items
            .len(),
        2
    );
    fake.assert_calls();
}

#[tokio::test]
async fn check_access_reports_what_the_key_sees() {
    let fake = FakeEnv0::serve(&Fixture::load("org-table")).await;
    let report = fake
        .connector(1000)
        .check_access()
        .await
        .expect("access is fine");
    fake.assert_calls();
    assert_eq!(report.organization_id, "org-table");
    assert_eq!(report.organization_name.as_deref(), Some("Mapping table"));
    assert_eq!(report.organizations_visible, 2);
    assert_eq!(report.users_visible, 8);
    assert_eq!(report.api_keys, Visibility::Visible { count: 4 });
    assert_eq!(report.custom_roles, Visibility::Visible { count: 2 });
    assert!(report.can_sync());
}

#[tokio::test]
async fn check_access_reports_denied_endpoints_without_failing() {
    let fixture =
        Fixture::load("org-roles-402").answering("api_keys", 403, json!({"message": "Forbidden"}));
    let fake = FakeEnv0::serve(&fixture).await;
    let report = fake
        .connector(1000)
        .check_access()
        .await
        .expect("users are visible");
    assert!(matches!(
        report.api_keys,
        Visibility::Denied { status: 403, .. }
    ));
    assert!(matches!(
        report.custom_roles,
        Visibility::Denied { status: 402, .. }
    ));
    assert!(!report.can_sync(), "a sync needs the API key list");
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(json["custom_roles"]["state"], "denied");
    assert_eq!(json["users_visible"], 3);
}

#[tokio::test]
async fn check_access_fails_like_validate() {
    let fixture = Fixture::load("org-table").answering("users", 402, json!({"message": "plan"}));
    let fake = FakeEnv0::serve(&fixture).await;
    let err = fake
        .connector(1000)
        .check_access()
        .await
        .expect_err("users are not in plan");
    assert!(
        err.to_string()
            .starts_with("the API key cannot list organization users (402 on"),
        "{err}"
    );
    let fake = FakeEnv0::serve(&Fixture::load("org-table")).await;
    let err = Env0Connector::new(fake.client(), OrgId::new("nope"))
        .check_access()
        .await
        .expect_err("foreign");
    assert!(matches!(
        err.downcast_ref::<Error>(),
        Some(Error::OrganizationNotVisible { .. })
    ));
}

#[tokio::test]
async fn listing_without_validate_fetches_each_endpoint_once() {
    let fake = FakeEnv0::serve(&Fixture::load("org-roles-403")).await;
    let connector = fake.connector(2);
    // No validate: the listing fetches members itself. (`/organizations` is then never called.)
    let (resources, warnings, pages) = list_all(&connector).await;
    assert_eq!((resources.len(), warnings.len(), pages), (4, 1, 2));
}
