//! Secret hygiene: the API key secret and the Authorization header never show up in `Debug`,
//! or in any error's `Display`/`Debug`/source chain. (Logs are checked by a unit test in
//! `src/transport.rs`, where no other test registers the same `tracing` callsites.)

use std::time::Duration;

use env0_api::{ClientConfig, Env0Client, Error, SecretString};
use futures::TryStreamExt;

use crate::support::{KEY_ID, ORG, SECRET, assert_no_secret, config, get, ok_json, org, server};

/// Display, Debug (plain and pretty) and every source in the chain.
fn renderings(err: &Error) -> Vec<String> {
    let mut out = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}")];
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push(s.to_string());
        out.push(format!("{s:?}"));
        source = s.source();
    }
    out
}

#[test]
fn config_and_client_debug_hide_the_secret() {
    let config = ClientConfig::new(KEY_ID.into(), SecretString::from(SECRET))
        .base_url("http://127.0.0.1:9")
        .unwrap()
        .on_retry(|_| {});
    let shown = format!("{config:?} {config:#?}");
    assert_no_secret("ClientConfig Debug", &shown);
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(
        shown.contains(KEY_ID),
        "the key id is not secret and helps debugging: {shown}"
    );

    let client = Env0Client::new(config).unwrap();
    let shown = format!("{client:?} {client:#?} {:?}", client.clone());
    assert_no_secret("Env0Client Debug", &shown);
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(shown.contains("http://127.0.0.1:9/"), "{shown}");
}

/// Produces one error of every kind, each from a real exchange (or configuration).
async fn every_error_kind() -> Vec<Error> {
    let mut errors = Vec::new();
    let mut server = server().await;
    let fast = |s: &mockito::ServerGuard| Env0Client::new(config(s).max_retries(1)).unwrap();

    // Every status kind, through an endpoint whose path the test controls.
    let client = fast(&server);
    for status in [401, 402, 403, 404, 400, 429, 500] {
        let project = env0_api::ProjectId::new(format!("p{status}"));
        get(&mut server, &format!("/permissions/projects/p{status}"), "")
            .with_status(status)
            .with_body(r#"{"message":"nope"}"#)
            .create_async()
            .await;
        errors.push(client.project_user_permissions(&project).await.unwrap_err());
    }

    // Transport: nothing listens on the port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = Env0Client::new(
        ClientConfig::new(KEY_ID.into(), SecretString::from(SECRET))
            .base_url(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .retry_base_delay(Duration::from_millis(1))
            .max_retry_delay(Duration::from_millis(1))
            .max_retries(1),
    )
    .unwrap();
    errors.push(refused.organizations().await.unwrap_err());

    // Decode.
    ok_json(&mut server, "/organizations", "", "[{\"id\": }]").await;
    errors.push(client.organizations().await.unwrap_err());

    // Incomplete: a 200 whose JSON ends early, every time.
    ok_json(
        &mut server,
        "/roles",
        &format!("organizationId={ORG}"),
        r#"[{"id": "r"#,
    )
    .await;
    errors.push(client.custom_roles(&org()).await.unwrap_err());

    // Body too large.
    ok_json(
        &mut server,
        &format!("/organizations/{ORG}/users"),
        "",
        "[]",
    )
    .await;
    let small = Env0Client::new(config(&server).max_body_bytes(1)).unwrap();
    errors.push(small.organization_users(&org()).await.unwrap_err());

    // Unexpected response: a repeating teams page key.
    let looping = r#"{"teams":[],"nextPageKey":"k"}"#;
    let teams = format!("/teams/organizations/{ORG}");
    ok_json(&mut server, &teams, "limit=100", looping).await;
    ok_json(&mut server, &teams, "limit=100&offset=k", looping).await;
    errors.push(
        client
            .teams(&org())
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err(),
    );

    // Invalid configuration, including a secret-bearing base URL.
    errors.push(
        ClientConfig::new(KEY_ID.into(), SecretString::from(SECRET))
            .base_url(&format!("https://{KEY_ID}:{SECRET}@api.env0.com"))
            .unwrap_err(),
    );
    errors.push(
        Env0Client::new(ClientConfig::new(
            format!("{KEY_ID}:x"),
            SecretString::from(SECRET),
        ))
        .unwrap_err(),
    );
    errors.push(
        Env0Client::new(
            ClientConfig::new(KEY_ID.into(), SecretString::from(SECRET)).requests_per_minute(0),
        )
        .unwrap_err(),
    );
    errors
}

#[tokio::test]
async fn no_error_kind_shows_the_secret() {
    let errors = every_error_kind().await;
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            Error::Unauthorized { .. } => "unauthorized",
            Error::NotInPlan { .. } => "not_in_plan",
            Error::Forbidden { .. } => "forbidden",
            Error::NotFound { .. } => "not_found",
            Error::UnexpectedStatus { .. } => "unexpected_status",
            Error::RateLimited { .. } => "rate_limited",
            Error::Server { .. } => "server",
            Error::Transport { .. } => "transport",
            Error::Decode { .. } => "decode",
            Error::Incomplete { .. } => "incomplete",
            Error::BodyTooLarge { .. } => "body_too_large",
            Error::UnexpectedResponse { .. } => "unexpected_response",
            Error::InvalidConfig { .. } => "invalid_config",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "unauthorized",
            "not_in_plan",
            "forbidden",
            "not_found",
            "unexpected_status",
            "rate_limited",
            "server",
            "transport",
            "decode",
            "incomplete",
            "body_too_large",
            "unexpected_response",
            "invalid_config",
            "invalid_config",
            "invalid_config",
        ]
    );
    for err in &errors {
        for text in renderings(err) {
            assert_no_secret("error", &text);
        }
    }
}
