//! Seeded fault injection, each kind at rate 1.0, and a mix that is reproducible per seed.

use env0_fake::{FakeConfig, FaultKind, Faults};

use crate::{KEY_ID, SECRET, get, small_org, start};

fn with_fault(kind: FaultKind) -> FakeConfig {
    FakeConfig::new(small_org(3)).with_faults(Faults::none().with(kind, 1.0))
}

#[tokio::test]
async fn status_faults_answer_that_status_with_a_message() {
    for (code, text) in [
        (429, "Too Many Requests"),
        (500, "Internal server error"),
        (503, "Service Unavailable"),
    ] {
        let fake = start(with_fault(FaultKind::Status(code))).await;
        let resp = get(&fake, "/organizations").await;
        assert_eq!(resp.status().as_u16(), code);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body, serde_json::json!({ "message": text }));
        assert_eq!(fake.stats().status_count(&code.to_string()), 1);
    }
}

#[tokio::test]
async fn reset_closes_the_connection_without_a_response() {
    let fake = start(with_fault(FaultKind::Reset)).await;
    let err = reqwest::Client::new()
        .get(format!(
            "{}/organizations/{}/users",
            fake.base_url(),
            fake.org_id()
        ))
        .basic_auth(KEY_ID, Some(SECRET))
        .send()
        .await
        .expect_err("no response");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(fake.stats().status_count("reset"), 1);
}

#[tokio::test]
async fn truncate_sends_the_full_length_then_cuts_the_body() {
    let fake = start(with_fault(FaultKind::Truncate)).await;
    let resp = get(&fake, &format!("/organizations/{}/users", fake.org_id())).await;
    assert_eq!(resp.status(), 200);
    let announced: usize = resp.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(announced > 100, "the full body's length is announced");
    let err = resp
        .bytes()
        .await
        .expect_err("the body is cut short, visibly");
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    assert_eq!(fake.stats().status_count("truncate"), 1);
}

#[tokio::test]
async fn cut_sends_a_whole_response_with_half_the_json() {
    let fake = start(with_fault(FaultKind::Cut)).await;
    let clean = start(FakeConfig::new(small_org(3))).await;
    let users = format!("/organizations/{}/users", fake.org_id());
    // Every endpoint, a list or the teams envelope alike.
    for path in [
        "/organizations".to_owned(),
        users,
        format!("/api-keys?organizationId={}", fake.org_id()),
        format!("/roles?organizationId={}", fake.org_id()),
        format!("/teams/organizations/{}?limit=100", fake.org_id()),
    ] {
        let whole = get(&clean, &path).await.bytes().await.unwrap();
        let resp = get(&fake, &path).await;
        assert_eq!(resp.status(), 200, "{path}");
        let announced: usize = resp.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = resp.bytes().await.expect("the HTTP body arrives whole");
        assert_eq!(announced, body.len(), "{path}: the length matches the body");
        assert_eq!(body.len(), whole.len() / 2, "{path}: half of it");
        assert_eq!(
            &body[..],
            &whole[..whole.len() / 2],
            "{path}: the first half"
        );
        let err = serde_json::from_slice::<serde_json::Value>(&body).unwrap_err();
        assert!(err.is_eof(), "{path}: the JSON stops early: {err}");
    }
    let stats = fake.stats();
    assert_eq!(stats.status_count("cut"), 5);
    assert_eq!(stats.path_status_count("/organizations", "cut"), 1);
    assert_eq!(stats.path_status_count("/organizations", "200"), 0);
}

/// What a request to `path` met: a status, `reset`, `truncate` or `cut`.
async fn outcome(client: &reqwest::Client, fake: &env0_fake::RunningFake, path: &str) -> String {
    let sent = client
        .get(format!("{}{path}", fake.base_url()))
        .basic_auth(KEY_ID, Some(SECRET))
        .send()
        .await;
    match sent {
        Err(_) => "reset".to_owned(),
        Ok(resp) => {
            let status = resp.status().as_u16().to_string();
            match resp.bytes().await {
                Err(_) => "truncate".to_owned(),
                Ok(body) if serde_json::from_slice::<serde_json::Value>(&body).is_err() => {
                    "cut".to_owned()
                }
                Ok(_) => status,
            }
        }
    }
}

const MIX: &str = "429=0.2,500=0.2,reset=0.1,truncate=0.1,cut=0.1";

async fn outcomes(seed: u64) -> Vec<String> {
    let fake =
        start(FakeConfig::new(small_org(3)).with_faults(Faults::parse(MIX, seed).unwrap())).await;
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(outcome(&client, &fake, "/organizations").await);
    }
    out
}

#[tokio::test]
async fn the_fault_sequence_is_reproducible_per_seed() {
    let a = outcomes(17).await;
    assert_eq!(a, outcomes(17).await);
    assert_ne!(a, outcomes(18).await);
    for kind in ["200", "429", "500", "reset", "truncate", "cut"] {
        assert!(a.iter().any(|o| o == kind), "{kind} in {a:?}");
    }
}

#[tokio::test]
async fn each_path_has_its_own_fault_sequence() {
    let alone = outcomes(17).await;
    let fake =
        start(FakeConfig::new(small_org(3)).with_faults(Faults::parse(MIX, 17).unwrap())).await;
    let client = reqwest::Client::new();
    let keys = format!("/api-keys?organizationId={}", fake.org_id());
    let (mut organizations, mut api_keys) = (Vec::new(), Vec::new());
    for i in 0..40 {
        // Requests to another path, before and in between, change nothing for this one.
        for _ in 0..i % 3 {
            api_keys.push(outcome(&client, &fake, &keys).await);
        }
        organizations.push(outcome(&client, &fake, "/organizations").await);
    }
    assert_eq!(organizations, alone);
    assert_ne!(api_keys.get(..40), Some(alone.as_slice()), "another stream");
}
