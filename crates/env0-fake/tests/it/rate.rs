//! The per-path sliding-window rate limit: 429 with Retry-After beyond N requests to one path
//! (query string aside) per 60 s.

use env0_fake::FakeConfig;

use crate::{get, small_org, start};

#[tokio::test]
async fn requests_beyond_the_limit_get_429_with_retry_after() {
    let fake = start(FakeConfig::new(small_org(2)).with_rate_limit(3)).await;
    for _ in 0..3 {
        assert_eq!(get(&fake, "/organizations").await.status(), 200);
    }
    for _ in 0..2 {
        let resp = get(&fake, "/organizations").await;
        assert_eq!(resp.status(), 429);
        let retry_after: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["message"], "Too Many Requests");
    }
    let stats = fake.stats();
    assert_eq!(stats.status_count("200"), 3);
    assert_eq!(stats.status_count("429"), 2);
    // Every arrival counts in the window, rejected ones included.
    assert_eq!(stats.max_in_60s, 5);
}

#[tokio::test]
async fn each_path_has_its_own_limit_whatever_the_query() {
    let fake = start(FakeConfig::new(small_org(2)).with_rate_limit(2)).await;
    let org = fake.org_id().to_owned();
    let projects: Vec<String> = fake.org().projects.iter().map(|p| p.id.clone()).collect();
    assert_eq!(get(&fake, "/organizations").await.status(), 200);
    let unauth = reqwest::get(format!("{}/organizations", fake.base_url()))
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401, "unauthenticated requests count too");
    assert_eq!(get(&fake, "/organizations").await.status(), 429);
    // Other paths are not held back by the full one.
    let users = format!("/organizations/{org}/users");
    assert_eq!(get(&fake, &users).await.status(), 200);
    // Two queries of one path are one path.
    let by_project = |p: &str| format!("/roles/assignments/teams?projectId={p}");
    assert_eq!(get(&fake, &by_project(&projects[0])).await.status(), 200);
    assert_eq!(get(&fake, &by_project(&projects[1])).await.status(), 200);
    let org_scope = format!("/roles/assignments/teams?organizationId={org}");
    assert_eq!(get(&fake, &org_scope).await.status(), 429);
    // Each project's permissions path is a path of its own.
    for p in &projects {
        let path = format!("/permissions/projects/{p}");
        assert_eq!(get(&fake, &path).await.status(), 200);
        assert_eq!(get(&fake, &path).await.status(), 200);
    }
    let stats = fake.stats();
    assert_eq!(
        stats.path_status_count("/roles/assignments/teams", "429"),
        1
    );
    assert_eq!(stats.max_in_60s_by_path["/roles/assignments/teams"], 3);
    assert_eq!(stats.busiest_path_in_60s(), 3);
}
