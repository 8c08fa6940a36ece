//! Basic auth, organization scoping and error bodies.

use env0_fake::FakeConfig;
use serde_json::json;

use crate::{get, small_org, start};

async fn status_and_body(req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401_with_a_message() {
    let fake = start(FakeConfig::new(small_org(1))).await;
    let url = format!("{}/organizations", fake.base_url());
    let client = reqwest::Client::new();
    let unauthorized = json!({ "message": "Unauthorized" });
    for req in [
        client.get(&url),
        client
            .get(&url)
            .basic_auth("demo-key-id", Some("wrong-secret")),
        client
            .get(&url)
            .basic_auth("other-key", Some("demo-key-secret")),
        client.get(&url).basic_auth("demo-key-id", None::<&str>),
        client.get(&url).bearer_auth("demo-key-secret"),
        client
            .get(&url)
            .header("authorization", "Basic !!!not-base64"),
    ] {
        assert_eq!(status_and_body(req).await, (401, unauthorized.clone()));
    }
    let (status, body) = status_and_body(
        client
            .get(&url)
            .basic_auth("demo-key-id", Some("demo-key-secret")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["id"], json!(fake.org_id()));
}

#[tokio::test]
async fn another_organization_gets_403_and_a_missing_one_400() {
    let fake = start(FakeConfig::new(small_org(1))).await;
    let other = "00000000-0000-4000-8000-000000000000";
    for path in [
        format!("/organizations/{other}/users"),
        format!("/api-keys?organizationId={other}"),
        format!("/roles?organizationId={other}"),
        format!("/projects?organizationId={other}"),
        format!("/teams/organizations/{other}?limit=100"),
        format!("/roles/assignments/teams?organizationId={other}"),
    ] {
        let resp = get(&fake, &path).await;
        assert_eq!(resp.status(), 403, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}"
        );
    }
    for path in [
        "/api-keys",
        "/roles?organizationId=",
        "/roles/assignments/teams",
    ] {
        assert_eq!(get(&fake, path).await.status(), 400, "{path}");
    }
}

#[tokio::test]
async fn unknown_paths_get_404_with_a_json_message() {
    let fake = start(FakeConfig::new(small_org(1))).await;
    let resp = get(&fake, "/environments?organizationId=x").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({ "message": "Not Found" })
    );
    let missing_project = get(&fake, "/permissions/projects/no-such-project").await;
    assert_eq!(missing_project.status(), 404);
}

#[tokio::test]
async fn custom_credentials_and_forced_statuses() {
    let config = FakeConfig::new(small_org(1))
        .with_credentials(env0_fake::Credentials::new("k", "s"))
        .with_forced_status(env0_fake::Endpoint::Roles, 402);
    let fake = start(config).await;
    let client = reqwest::Client::new();
    let roles = format!("{}/roles?organizationId={}", fake.base_url(), fake.org_id());
    let (status, _) = status_and_body(
        client
            .get(&roles)
            .basic_auth("demo-key-id", Some("demo-key-secret")),
    )
    .await;
    assert_eq!(
        status, 401,
        "the demo credentials are not accepted any more"
    );
    let (status, body) = status_and_body(client.get(&roles).basic_auth("k", Some("s"))).await;
    assert_eq!(
        (status, body),
        (402, json!({ "message": "Payment Required" }))
    );
    let users = format!("{}/organizations/{}/users", fake.base_url(), fake.org_id());
    let (status, _) = status_and_body(client.get(&users).basic_auth("k", Some("s"))).await;
    assert_eq!(status, 200, "other endpoints are unaffected");
}
