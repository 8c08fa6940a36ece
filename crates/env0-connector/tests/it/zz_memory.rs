use c1_sync::Connector;
use serde_json::json;

use crate::support::{FakeEnv0, Fixture};

fn status(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines().find(|l| l.starts_with(key)).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn zz_memory_probe() {
    let users: Vec<_> = (0..100_000).map(|i| json!({
        "role": if i % 10 == 0 { "Admin" } else if i % 7 == 0 { "c0ffee00-0000-4000-8000-0000000000aa" } else { "User" },
        "status": if i % 20 == 0 { "Invited" } else { "Active" },
        "user": {
            "user_id": format!("google-oauth2|{:021}", i),
            "email": format!("person.number{i}@example-company.com"),
            "name": format!("Person Number {i}"),
            "given_name": "Person", "family_name": format!("Number {i}"),
            "picture": format!("https://s.gravatar.com/avatar/{:032x}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fpn.png", i),
            "created_at": "2024-01-02T03:04:05.000Z", "last_login": "2025-06-01T10:00:00.000Z",
            "app_metadata": {}
        }
    })).collect();
    let keys: Vec<_> = (0..10_000).map(|i| json!({
        "id": format!("6a1b2c3d-0000-4000-8000-{:012}", i), "name": format!("key {i}"), "apiKeyId": format!("ak{i:08}"),
        "organizationId": "org-mem", "organizationRole": "User", "lastUsedAt": "2025-11-29T23:59:59.000Z",
        "createdAt": "2024-07-01T12:00:00.000Z", "createdBy": "google-oauth2|100000000000000000001"
    })).collect();
    let fixture = Fixture::inline(json!({
        "organization_id": "org-mem",
        "organizations": [{"id": "org-mem"}],
        "users": users, "api_keys": keys,
        "roles": [{"id": "c0ffee00-0000-4000-8000-0000000000aa", "name": "Auditor"}]
    }));
    let fake = FakeEnv0::serve(&fixture).await;
    drop(fixture);
    let before = status("VmRSS:");
    let connector = fake.connector(1000);
    connector.validate().await.unwrap();
    let after_validate = status("VmHWM:");
    let syncer = connector.resource_syncers().remove(0);
    let mut token = String::new();
    let mut n = 0;
    loop {
        let page = syncer.list(None, &token).await.unwrap();
        n += page.items.len();
        if page.next_token.is_empty() { break; }
        token = page.next_token;
    }
    let hwm = status("VmHWM:");
    let rss = status("VmRSS:");
    println!("n={n} rss_before={before}kB hwm_after_validate={after_validate}kB hwm={hwm}kB rss_end={rss}kB peak_added={}kB", hwm - before);
}
