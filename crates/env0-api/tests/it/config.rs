//! Configuration rules seen from outside: base URL policy, validation, headers sent.

use std::time::Duration;

use env0_api::{ClientConfig, Env0Client, Error, SecretString};
use mockito::Matcher;

use crate::support::{KEY_ID, SECRET, basic_auth, config, server};

fn new_config() -> ClientConfig {
    ClientConfig::new(KEY_ID.into(), SecretString::from(SECRET))
}

fn invalid(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(e @ Error::InvalidConfig { .. }) => e.to_string(),
        other => panic!("expected an invalid-config error, got {other:?}"),
    }
}

#[test]
fn plain_http_is_refused_for_remote_hosts_with_the_rule_named() {
    assert_eq!(
        invalid(new_config().base_url("http://api.env0.com")),
        "invalid env0 client configuration: base URL `http://api.env0.com/` is plain http to a \
         non-loopback host; the base URL must use https:// (plain http:// is allowed only for a \
         loopback host: 127.0.0.0/8, ::1 or localhost)"
    );
    for ok in [
        "http://127.0.0.1:1",
        "http://127.255.0.9",
        "http://[::1]:2",
        "http://localhost:3",
    ] {
        assert!(new_config().base_url(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://192.168.1.10",
        "http://[::2]",
        "http://localhost.example.com",
    ] {
        assert!(
            invalid(new_config().base_url(bad)).contains("plain http"),
            "{bad}"
        );
    }
}

#[test]
fn the_client_refuses_unusable_settings() {
    assert!(
        invalid(Env0Client::new(ClientConfig::new(
            String::new(),
            SecretString::from("s")
        )))
        .contains("key id is empty")
    );
    assert!(
        invalid(Env0Client::new(ClientConfig::new(
            "id".into(),
            SecretString::from("")
        )))
        .contains("secret is empty")
    );
    assert!(invalid(Env0Client::new(new_config().timeout(Duration::ZERO))).contains("timeout"));
    assert!(
        invalid(Env0Client::new(new_config().requests_per_minute(0)))
            .contains("requests per minute")
    );
    assert!(
        invalid(Env0Client::new(
            new_config().user_agent("bad\nagent".into())
        ))
        .contains("user agent")
    );
    assert!(
        invalid(Env0Client::new(
            new_config()
                .retry_base_delay(Duration::from_secs(10))
                .max_retry_delay(Duration::from_secs(1))
        ))
        .contains("maximum retry delay")
    );
}

#[test]
fn defaults_point_at_the_public_api() {
    let client = Env0Client::new(new_config()).unwrap();
    assert_eq!(client.base_url().as_str(), "https://api.env0.com/");
    assert_eq!(
        env0_api::default_user_agent(),
        format!("baton-env0/{}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn base_url_path_prefix_and_custom_user_agent_are_used() {
    let mut server = server().await;
    let mock = server
        .mock("GET", "/api/v2/organizations")
        .match_query(Matcher::Exact(String::new()))
        .match_header("authorization", basic_auth().as_str())
        .match_header("user-agent", "acme-sync/1.2")
        .with_body("[]")
        .expect(1)
        .create_async()
        .await;
    let client = Env0Client::new(
        config(&server)
            .base_url(&format!("{}/api/v2/", server.url()))
            .unwrap()
            .user_agent("acme-sync/1.2".into()),
    )
    .unwrap();
    assert!(client.organizations().await.unwrap().is_empty());
    mock.assert_async().await;
}

#[tokio::test]
async fn clones_share_one_client() {
    let mut server = server().await;
    let mock = server
        .mock("GET", "/organizations")
        .with_body("[]")
        .expect(2)
        .create_async()
        .await;
    let client = Env0Client::new(config(&server)).unwrap();
    let clone = client.clone();
    let (a, b) = tokio::join!(client.organizations(), clone.organizations());
    assert!(a.unwrap().is_empty() && b.unwrap().is_empty());
    mock.assert_async().await;
}
