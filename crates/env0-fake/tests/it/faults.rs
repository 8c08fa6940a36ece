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

async fn outcomes(seed: u64) -> Vec<String> {
    let faults = Faults::parse("429=0.2,500=0.2,reset=0.1,truncate=0.1", seed).unwrap();
    let fake = start(FakeConfig::new(small_org(3)).with_faults(faults)).await;
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for _ in 0..40 {
        let sent = client
            .get(format!("{}/organizations", fake.base_url()))
            .basic_auth(KEY_ID, Some(SECRET))
            .send()
            .await;
        let outcome = match sent {
            Err(_) => "reset".to_owned(),
            Ok(resp) => {
                let status = resp.status().as_u16().to_string();
                if resp.bytes().await.is_err() {
                    "truncate".to_owned()
                } else {
                    status
                }
            }
        };
        out.push(outcome);
    }
    out
}

#[tokio::test]
async fn the_fault_sequence_is_reproducible_per_seed() {
    let a = outcomes(17).await;
    assert_eq!(a, outcomes(17).await);
    assert_ne!(a, outcomes(18).await);
    for kind in ["200", "429", "500", "reset", "truncate"] {
        assert!(a.iter().any(|o| o == kind), "{kind} in {a:?}");
    }
}
