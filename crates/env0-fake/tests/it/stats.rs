//! `GET /_fake/stats`: totals, per path, per status, window maxima.

use env0_fake::{FakeConfig, Stats};

use crate::{get, small_org, start};

#[tokio::test]
async fn stats_count_api_requests_by_path_and_status() {
    let fake = start(FakeConfig::new(small_org(4))).await;
    let users = format!("/organizations/{}/users", fake.org_id());
    get(&fake, &users).await;
    get(&fake, &users).await;
    get(
        &fake,
        &format!("/api-keys?organizationId={}", fake.org_id()),
    )
    .await;
    get(&fake, "/nowhere").await;
    reqwest::get(format!("{}/organizations", fake.base_url()))
        .await
        .unwrap();

    // The stats endpoint needs no credentials and does not count itself.
    let served: Stats = reqwest::get(format!("{}/_fake/stats", fake.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again: Stats = reqwest::get(format!("{}/_fake/stats", fake.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, again);
    assert_eq!(served, fake.stats());

    assert_eq!(served.total, 5);
    assert_eq!(served.path_count(&users), 2);
    assert_eq!(
        served.path_count("/api-keys"),
        1,
        "paths are counted without the query"
    );
    assert_eq!(served.path_count("/nowhere"), 1);
    assert_eq!(served.status_count("200"), 3);
    assert_eq!(served.status_count("404"), 1);
    assert_eq!(served.status_count("401"), 1);
    assert_eq!(served.path_status_count(&users, "200"), 2);
    assert_eq!(served.path_status_count("/nowhere", "404"), 1);
    assert_eq!(served.path_status_count("/organizations", "401"), 1);
    assert_eq!(served.path_status_count("/organizations", "200"), 0);
    assert_eq!(served.max_in_60s, 5);
    assert!((1..=5).contains(&served.max_in_1s));

    let raw: serde_json::Value = reqwest::get(format!("{}/_fake/stats", fake.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in ["total", "by_path", "by_status", "max_in_60s", "max_in_1s"] {
        assert!(raw.get(key).is_some(), "{key} in {raw}");
    }

    fake.reset_stats();
    assert_eq!(fake.stats(), Stats::default());
}
