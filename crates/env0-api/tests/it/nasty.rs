//! Payloads that are legal but unpleasant, and payloads that are broken.

use env0_api::{Error, Role, RoleId, Timestamp, UserId};
use insta::assert_debug_snapshot;

use crate::support::{ORG, client, fixture, ok_json, org, server};

fn users_path() -> String {
    format!("/organizations/{ORG}/users")
}

#[tokio::test]
async fn nasty_users_parse_leniently() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        &users_path(),
        "",
        &fixture("organization-users-nasty.json"),
    )
    .await;
    let users = client(&server).organization_users(&org()).await.unwrap();
    mock.assert_async().await;
    assert_eq!(users.len(), 9);

    let by_id = |id: &str| {
        users
            .iter()
            .find(|u| u.user.user_id.as_str() == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    for id in ["auth0|ts-null", "auth0|ts-missing", "auth0|ts-empty"] {
        let u = &by_id(id).user;
        assert_eq!((&u.created_at, &u.last_login), (&None, &None), "{id}");
    }
    let garbage = &by_id("auth0|ts-garbage").user;
    assert_eq!(garbage.created_at, Some(Timestamp::Raw("yesterday".into())));
    assert_eq!(
        garbage.last_login,
        Some(Timestamp::Raw("2024-13-45T99:00:00Z".into()))
    );
    let formats = &by_id("auth0|ts-other-formats").user;
    assert_eq!(
        formats
            .created_at
            .as_ref()
            .and_then(Timestamp::as_datetime)
            .map(|d| d.to_rfc3339()),
        Some("2024-01-02T03:04:05+00:00".to_owned()),
        "epoch milliseconds"
    );
    assert_eq!(
        formats.created_at, formats.last_login,
        "zone-less text is UTC"
    );

    let unicode = &by_id("google-oauth2|unicode").user;
    assert_eq!(
        unicode.name.as_deref(),
        Some("Zoë Ångström-Nguyễn 山田太郎 🚀")
    );
    assert_eq!(unicode.email.as_deref(), Some("zoë.ångström@exämple.com"));

    let custom = by_id("auth0|custom-role");
    assert_eq!(
        custom.role,
        Some(Role::Custom(RoleId::new(
            "c0ffee00-1234-4abc-8def-0123456789ab"
        )))
    );
    assert_eq!(custom.status.as_deref(), Some("Invited"));
    assert_eq!(custom.user.given_name, None);
    assert_eq!(custom.user.family_name, None);

    let bare = by_id("auth0|no-role");
    assert_eq!((&bare.role, &bare.status), (&None, &None));
    assert_eq!((&bare.user.email, &bare.user.name), (&None, &None));

    let numeric = by_id("12345");
    assert_eq!(numeric.user.user_id, UserId::new("12345"));
    assert_eq!(numeric.role, None, "missing role");

    assert_debug_snapshot!("organization_users_nasty", users);
}

#[tokio::test]
async fn empty_array_and_null_are_empty_lists() {
    let mut server = server().await;
    let empty = ok_json(
        &mut server,
        &users_path(),
        "",
        &fixture("organization-users-empty.json"),
    )
    .await;
    let client = client(&server);
    assert!(client.organization_users(&org()).await.unwrap().is_empty());
    empty.assert_async().await;

    let null = ok_json(&mut server, "/organizations", "", "null").await;
    assert!(client.organizations().await.unwrap().is_empty());
    null.assert_async().await;
}

#[tokio::test]
async fn very_long_strings_survive_intact() {
    let long_name = "Ω".repeat(100_000);
    let long_email = format!("{}@example.com", "a".repeat(20_000));
    let long_role = "r".repeat(5_000);
    let body = serde_json::json!([{
        "role": long_role,
        "status": "Active",
        "user": { "user_id": "auth0|long", "email": long_email, "name": long_name }
    }])
    .to_string();
    let mut server = server().await;
    let mock = ok_json(&mut server, &users_path(), "", &body).await;
    let users = client(&server).organization_users(&org()).await.unwrap();
    mock.assert_async().await;
    assert_eq!(users[0].user.name.as_deref(), Some(long_name.as_str()));
    assert_eq!(users[0].user.email.as_deref(), Some(long_email.as_str()));
    assert_eq!(users[0].role, Some(Role::Custom(RoleId::new(long_role))));
}

#[tokio::test]
async fn many_users_in_one_response() {
    let items: Vec<String> = (0..20_000)
        .map(|i| {
            let role = if i % 10 == 0 { "Admin" } else { "User" };
            format!(
                r#"{{"role":"{role}","status":"Active","user":{{"user_id":"auth0|{i:06}","email":"user{i}@example.com","name":"User {i}","created_at":"2024-01-02T03:04:05.000Z","app_metadata":{{"index":{i}}}}}}}"#
            )
        })
        .collect();
    let body = format!("[{}]", items.join(","));
    let mut server = server().await;
    let mock = ok_json(&mut server, &users_path(), "", &body).await;
    let parsed = client(&server).organization_users(&org()).await.unwrap();
    mock.assert_async().await;
    assert_eq!(parsed.len(), 20_000);
    assert_eq!(
        parsed
            .iter()
            .filter(|u| u.role == Some(Role::Admin))
            .count(),
        2_000
    );
    assert_eq!(parsed[19_999].user.user_id.as_str(), "auth0|019999");
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_with_position_and_is_not_retried() {
    let body = "[\n  {\"role\": \"Admin\", \"user\": {\"user_id\": \"a\"}},\n  {\"role\": \"User\", \"user\": {\"user_id\": }}\n]";
    let mut server = server().await;
    let mock = ok_json(&mut server, &users_path(), "", body).await;
    let err = client(&server)
        .organization_users(&org())
        .await
        .unwrap_err();
    mock.assert_async().await;
    let Error::Decode {
        line,
        column,
        ref snippet,
        ref reason,
        ref endpoint,
    } = err
    else {
        panic!("expected a decode error, got {err:?}");
    };
    assert_eq!((line, column), (3, 40));
    assert_eq!(reason, "expected value");
    assert_eq!(endpoint, &format!("GET /organizations/{ORG}/users"));
    assert!(snippet.contains("{\"user_id\": }"), "{snippet}");
    assert!(!err.is_transient());
    assert_eq!(
        err.to_string(),
        format!(
            "could not decode the env0 response for GET /organizations/{ORG}/users: expected value \
             at line 3 column 40 near `{snippet}`"
        )
    );
}

#[tokio::test]
async fn decode_snippet_is_at_most_200_characters() {
    let filler = "é".repeat(1_000);
    let body = format!("[{{\"id\": \"org\", \"name\": \"{filler}\", \"role\": [}}]");
    let mut server = server().await;
    let mock = ok_json(&mut server, "/organizations", "", &body).await;
    let err = client(&server).organizations().await.unwrap_err();
    mock.assert_async().await;
    let Error::Decode {
        snippet, reason, ..
    } = &err
    else {
        panic!("expected a decode error, got {err:?}");
    };
    assert!(
        snippet.chars().count() <= 200,
        "{} chars",
        snippet.chars().count()
    );
    assert!(snippet.contains("\"role\": ["), "{snippet}");
    assert!(reason.contains("invalid type: sequence"), "{reason}");
}

#[tokio::test]
async fn a_member_without_user_id_is_a_decode_error_naming_it() {
    let body = r#"[{"role":"User","user":{"email":"x@example.com"}}]"#;
    let mut server = server().await;
    let mock = ok_json(&mut server, &users_path(), "", body).await;
    let err = client(&server)
        .organization_users(&org())
        .await
        .unwrap_err();
    mock.assert_async().await;
    assert!(matches!(err, Error::Decode { line: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("without a user_id"), "{err}");
}

#[tokio::test]
async fn an_object_where_a_list_belongs_is_a_decode_error() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/organizations",
        "",
        r#"{"organizations": []}"#,
    )
    .await;
    let err = client(&server).organizations().await.unwrap_err();
    mock.assert_async().await;
    assert!(
        err.to_string()
            .contains("invalid type: map, expected a sequence"),
        "{err}"
    );
}

#[tokio::test]
async fn teams_envelope_without_teams_is_a_decode_error() {
    let mut server = server().await;
    let path = format!("/teams/organizations/{ORG}");
    let mock = ok_json(
        &mut server,
        &path,
        "limit=100",
        r#"{"items": [], "nextPageKey": "x"}"#,
    )
    .await;
    let err = client(&server).all_teams(&org()).await.unwrap_err();
    mock.assert_async().await;
    assert!(err.to_string().contains("missing field `teams`"), "{err}");
}
