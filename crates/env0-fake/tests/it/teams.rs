//! Teams paging: `limit` gives the envelope, `nextPageKey` goes back as `offset`.

use env0_fake::{FakeConfig, GenerateOptions, Org, RunningFake};
use serde_json::Value;

use crate::{KEY_ID, SECRET, get, get_json, start};

async fn page(fake: &RunningFake, limit: &str, offset: Option<&str>) -> reqwest::Response {
    let mut query = vec![("limit", limit)];
    if let Some(o) = offset {
        query.push(("offset", o));
    }
    reqwest::Client::new()
        .get(format!(
            "{}/teams/organizations/{}",
            fake.base_url(),
            fake.org_id()
        ))
        .query(&query)
        .basic_auth(KEY_ID, Some(SECRET))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_of_100_chain_by_next_page_key_and_cover_every_team_once() {
    let org = Org::generate(GenerateOptions {
        users: 30,
        api_keys: 3,
        teams: 250,
        projects: 1,
        seed: 5,
    });
    let fake = start(FakeConfig::new(org)).await;
    let mut offset: Option<String> = None;
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    let mut keys = Vec::new();
    loop {
        let resp = page(&fake, "100", offset.as_deref()).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        let teams = body["teams"].as_array().expect("envelope with teams");
        sizes.push(teams.len());
        ids.extend(teams.iter().map(|t| t["id"].as_str().unwrap().to_owned()));
        match body.get("nextPageKey") {
            Some(Value::String(key)) => {
                keys.push(key.clone());
                offset = Some(key.clone());
            }
            None => break,
            Some(other) => panic!("nextPageKey {other}"),
        }
    }
    assert_eq!(sizes, [100, 100, 50]);
    let all = get_json(&fake, &format!("/teams/organizations/{}", fake.org_id())).await;
    let all_ids: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, all_ids, "paged = bare array, in order, no duplicates");
    // The opaque keys need URL encoding, as a real DynamoDB-style key would.
    assert!(keys.iter().all(|k| k.contains(['=', '+', '/'])), "{keys:?}");
}

#[tokio::test]
async fn small_limits_last_page_and_bad_input() {
    let org = Org::generate(GenerateOptions {
        users: 10,
        api_keys: 1,
        teams: 3,
        projects: 1,
        seed: 5,
    });
    let fake = start(FakeConfig::new(org)).await;
    let body: Value = page(&fake, "2", None).await.json().await.unwrap();
    assert_eq!(body["teams"].as_array().unwrap().len(), 2);
    let key = body["nextPageKey"].as_str().unwrap().to_owned();
    let last: Value = page(&fake, "2", Some(&key)).await.json().await.unwrap();
    assert_eq!(last["teams"].as_array().unwrap().len(), 1);
    assert!(last.get("nextPageKey").is_none());
    // A limit above the single-page cap is capped, not refused.
    let capped: Value = page(&fake, "1000", None).await.json().await.unwrap();
    assert_eq!(capped["teams"].as_array().unwrap().len(), 3);
    for (limit, offset) in [("0", None), ("ten", None), ("2", Some("not-a-key"))] {
        let resp = page(&fake, limit, offset).await;
        assert_eq!(resp.status(), 400, "limit {limit} offset {offset:?}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["message"].is_string());
    }
}

#[tokio::test]
async fn an_org_without_teams_answers_an_empty_page() {
    let org = Org::generate(GenerateOptions {
        users: 3,
        api_keys: 0,
        teams: 0,
        projects: 0,
        seed: 1,
    });
    let fake = start(FakeConfig::new(org)).await;
    let body: Value = page(&fake, "100", None).await.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "teams": [] }));
}

#[tokio::test]
async fn one_team_always_carries_its_members() {
    let org = Org::generate(GenerateOptions {
        users: 40,
        api_keys: 4,
        teams: 20,
        projects: 1,
        seed: 9,
    });
    let fake = start(FakeConfig::new(org)).await;
    let listed = get_json(&fake, &format!("/teams/organizations/{}", fake.org_id())).await;
    let listed = listed.as_array().unwrap();
    assert!(
        listed.iter().any(|t| t.get("users").is_none()),
        "some list entries leave members out"
    );
    for (entry, team) in listed.iter().zip(&fake.org().teams) {
        let one = get_json(&fake, &format!("/teams/{}", team.id)).await;
        assert_eq!(one["id"], entry["id"]);
        assert_eq!(one["name"], entry["name"]);
        let expected = entry
            .get("users")
            .filter(|u| !u.is_null())
            .cloned()
            .unwrap_or_else(|| serde_json::json!([]));
        assert_eq!(one["users"], expected, "team {}", team.id);
    }
    let missing = get(&fake, "/teams/no-such-team").await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn teams_without_users_leave_members_to_the_one_team_call() {
    let org = Org::generate(GenerateOptions {
        users: 40,
        api_keys: 4,
        teams: 20,
        projects: 1,
        seed: 9,
    });
    let with_members = org.teams.clone();
    let fake = start(FakeConfig::new(org).with_teams_without_users()).await;
    let paged: Value = page(&fake, "100", None).await.json().await.unwrap();
    let bare = get_json(&fake, &format!("/teams/organizations/{}", fake.org_id())).await;
    for list in [&paged["teams"], &bare] {
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 20);
        assert!(list.iter().all(|t| t.get("users").is_none()), "{list:?}");
    }
    let team = with_members
        .iter()
        .find(|t| t.users.value().is_some_and(|u| !u.is_empty()))
        .expect("a team with members");
    let one = get_json(&fake, &format!("/teams/{}", team.id)).await;
    assert_eq!(
        one["users"],
        serde_json::to_value(team.users.value().unwrap()).unwrap()
    );
}
