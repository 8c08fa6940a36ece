//! The sliding-window rate limit: 429 with Retry-After beyond N requests per 60 s.

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
async fn the_limit_covers_every_path_and_unauthenticated_requests() {
    let fake = start(FakeConfig::new(small_org(2)).with_rate_limit(2)).await;
    assert_eq!(get(&fake, "/organizations").await.status(), 200);
    let unauth = reqwest::get(format!("{}/organizations", fake.base_url()))
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    let users = format!("/organizations/{}/users", fake.org_id());
    assert_eq!(get(&fake, &users).await.status(), 429);
}
