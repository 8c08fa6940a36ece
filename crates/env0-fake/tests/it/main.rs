//! Integration tests of the fake env0 server, started in-process on an ephemeral port (and, in
//! `binary`, as the `env0-fake` executable).

// `allow`, not `expect`: whether a helper unwraps changes with every test added.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly on anything unexpected"
)]

mod auth;
mod binary;
mod faults;
mod rate;
mod shapes;
mod stats;
mod teams;
mod write_faults;
mod writes;

use env0_fake::{FakeConfig, GenerateOptions, Org, RunningFake};

pub(crate) const KEY_ID: &str = env0_fake::DEMO_KEY_ID;
pub(crate) const SECRET: &str = env0_fake::DEMO_KEY_SECRET;

/// A small generated organization.
pub(crate) fn small_org(seed: u64) -> Org {
    Org::generate(GenerateOptions {
        users: 6,
        api_keys: 3,
        teams: 3,
        projects: 2,
        seed,
    })
}

pub(crate) async fn start(config: FakeConfig) -> RunningFake {
    env0_fake::spawn(config).await.expect("fake starts")
}

/// `GET base + path` with the demo credentials.
pub(crate) async fn get(fake: &RunningFake, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", fake.base_url()))
        .basic_auth(KEY_ID, Some(SECRET))
        .send()
        .await
        .expect("request is answered")
}

/// The JSON body of `GET base + path`, asserting status 200.
pub(crate) async fn get_json(fake: &RunningFake, path: &str) -> serde_json::Value {
    let resp = get(fake, path).await;
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().await.expect("JSON body")
}

/// The workspace's `fixtures/` directory.
pub(crate) fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}
