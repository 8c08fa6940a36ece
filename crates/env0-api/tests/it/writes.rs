//! Writes: the exact requests env0 expects, and the rule that a write is sent again only when
//! env0 cannot have acted on it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use env0_api::{
    AssignmentScope, Env0Client, Error, OrgId, ProjectId, ProjectRole, Role, RoleId, TeamId, UserId,
};
use mockito::{Matcher, Mock, ServerGuard};

use crate::support::{
    ORG, assert_no_secret, basic_auth, client, config, org, raw_config, scripted_server, server,
};

/// `method path?query` with the credentials and our user agent, answering `status` once.
async fn write_mock(
    server: &mut ServerGuard,
    method: &str,
    path: &str,
    query: &str,
    body: Matcher,
    status: usize,
) -> Mock {
    server
        .mock(method, path)
        .match_query(Matcher::Exact(query.to_owned()))
        .match_header("authorization", basic_auth().as_str())
        .match_header(
            "user-agent",
            format!("baton-env0/{}", env!("CARGO_PKG_VERSION")).as_str(),
        )
        .match_body(body)
        .with_status(status)
        .expect(1)
        .create_async()
        .await
}

#[tokio::test]
async fn the_organization_role_is_sent_as_bare_text() {
    let mut server = server().await;
    // `|` is percent-encoded in a path, as Go's `url.PathEscape` (env0's provider) does.
    let path = format!("/organizations/{ORG}/users/auth0%7Cabc/role");
    let put = server
        .mock("PUT", path.as_str())
        .match_header("authorization", basic_auth().as_str())
        .match_header("content-type", "text/plain; charset=utf-8")
        .match_body(Matcher::Exact("Admin".to_owned()))
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    client(&server)
        .set_organization_role(&org(), &UserId::new("auth0|abc"), &Role::Admin)
        .await
        .unwrap();
    put.assert_async().await;
}

#[tokio::test]
async fn project_role_writes_send_the_providers_bodies() {
    let mut server = server().await;
    let project = ProjectId::new("p-1");
    let user = UserId::new("auth0|abc");
    let post = write_mock(
        &mut server,
        "POST",
        "/permissions/projects/p-1",
        "",
        Matcher::JsonString(r#"{"userId":"auth0|abc","role":"Deployer"}"#.to_owned()),
        200,
    )
    .await;
    let put = write_mock(
        &mut server,
        "PUT",
        "/permissions/projects/p-1/users/auth0%7Cabc",
        "",
        Matcher::JsonString(r#"{"role":"custom-7"}"#.to_owned()),
        200,
    )
    .await;
    let delete = write_mock(
        &mut server,
        "DELETE",
        "/permissions/projects/p-1/users/auth0%7Cabc",
        "",
        Matcher::Any,
        200,
    )
    .await;
    let client = client(&server);
    client
        .assign_project_role(&project, &user, &ProjectRole::Deployer)
        .await
        .unwrap();
    client
        .update_project_role(
            &project,
            &user,
            &ProjectRole::Custom(RoleId::new("custom-7")),
        )
        .await
        .unwrap();
    client.remove_project_role(&project, &user).await.unwrap();
    post.assert_async().await;
    put.assert_async().await;
    delete.assert_async().await;
}

#[tokio::test]
async fn team_writes_send_the_whole_member_list_and_the_scope() {
    let mut server = server().await;
    let team = TeamId::new("t-1");
    let put_team = write_mock(
        &mut server,
        "PUT",
        "/teams/t-1",
        "",
        Matcher::JsonString(
            r#"{"name":"Platform","description":"","userIds":["auth0|a","key-1"]}"#.to_owned(),
        ),
        200,
    )
    .await;
    let put_org = write_mock(
        &mut server,
        "PUT",
        "/roles/assignments/teams",
        "",
        Matcher::JsonString(format!(
            r#"{{"teamId":"t-1","role":"Admin","organizationId":"{ORG}"}}"#
        )),
        200,
    )
    .await;
    let put_project = write_mock(
        &mut server,
        "PUT",
        "/roles/assignments/teams",
        "",
        Matcher::JsonString(r#"{"teamId":"t-1","role":"Viewer","projectId":"p-1"}"#.to_owned()),
        200,
    )
    .await;
    let delete = write_mock(
        &mut server,
        "DELETE",
        "/roles/assignments/teams",
        "teamId=t-1&projectId=p-1",
        Matcher::Any,
        200,
    )
    .await;
    let client = client(&server);
    client
        .update_team(
            &team,
            "Platform",
            "",
            &[UserId::new("auth0|a"), UserId::new("key-1")],
        )
        .await
        .unwrap();
    client
        .set_team_role(&team, &AssignmentScope::Organization(org()), "Admin")
        .await
        .unwrap();
    let project = AssignmentScope::Project(ProjectId::new("p-1"));
    client
        .set_team_role(&team, &project, "Viewer")
        .await
        .unwrap();
    client.remove_team_role(&team, &project).await.unwrap();
    put_team.assert_async().await;
    put_org.assert_async().await;
    put_project.assert_async().await;
    delete.assert_async().await;
}

#[tokio::test]
async fn a_rate_limited_write_is_sent_again() {
    let mut server = server().await;
    let limited = server
        .mock("DELETE", "/permissions/projects/p-1/users/u-1")
        .with_status(429)
        .with_header("retry-after", "0")
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("DELETE", "/permissions/projects/p-1/users/u-1")
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    client(&server)
        .remove_project_role(&ProjectId::new("p-1"), &UserId::new("u-1"))
        .await
        .unwrap();
    limited.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn a_5xx_on_a_write_is_unconfirmed_and_never_sent_again() {
    let mut server = server().await;
    let failed = server
        .mock("POST", "/permissions/projects/p-1")
        .with_status(502)
        .with_body(r#"{"message":"Internal server error"}"#)
        .expect(1)
        .create_async()
        .await;
    let err = client(&server)
        .assign_project_role(
            &ProjectId::new("p-1"),
            &UserId::new("u-1"),
            &ProjectRole::Viewer,
        )
        .await
        .unwrap_err();
    failed.assert_async().await;
    assert!(err.is_unconfirmed(), "{err:?}");
    // A proxy answered that env0 failed: env0 is done with it.
    assert!(!err.may_still_apply(), "{err:?}");
    assert!(!err.is_transient());
    let shown = err.to_string();
    assert!(
        shown.starts_with(
            "env0 may or may not have applied POST /permissions/projects/p-1: env0 answered 502 Bad Gateway: Internal server error (after 1 attempt over "
        ),
        "{shown}"
    );
    assert_no_secret("error", &format!("{err} {err:?}"));
}

#[tokio::test]
async fn a_connection_dropped_after_the_write_is_unconfirmed_and_sent_once() {
    let (url, heads) = scripted_server(vec![Vec::new(), Vec::new()]);
    let client = Env0Client::new(raw_config(&url)).unwrap();
    let err = client
        .update_team(&TeamId::new("t-1"), "Platform", "", &[UserId::new("u-1")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unconfirmed { endpoint, attempts: 1, .. } if endpoint == "PUT /teams/t-1"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("closed before env0 answered"),
        "{err}"
    );
    assert!(!err.may_still_apply(), "{err:?}");
    // Release the second scripted connection, which must not have been used.
    drop(std::net::TcpStream::connect(
        url.trim_start_matches("http://"),
    ));
    let heads = heads.join().unwrap();
    let puts = heads
        .iter()
        .filter(|h| h.starts_with("PUT /teams/t-1"))
        .count();
    assert_eq!(puts, 1, "{heads:?}");
}

/// No answer before the timeout, or a gateway that gave up waiting (504): env0 may still be
/// working on the write, and the error says so.
#[tokio::test]
async fn a_write_answered_too_late_may_still_apply() {
    // A server that takes the request and answers nothing for a second.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let silent = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        drop(stream);
    });
    let silent_client =
        Env0Client::new(raw_config(&url).timeout(Duration::from_millis(200))).unwrap();
    let err = silent_client
        .update_team(&TeamId::new("t-1"), "Platform", "", &[UserId::new("u-1")])
        .await
        .unwrap_err();
    assert!(err.is_unconfirmed(), "{err:?}");
    assert!(err.may_still_apply(), "{err:?}");
    assert!(
        err.to_string().contains("no answer before the timeout"),
        "{err}"
    );
    silent.join().unwrap();

    let mut server = server().await;
    let client = client(&server);
    let gateway = server
        .mock("DELETE", "/permissions/projects/p-1/users/u-1")
        .with_status(504)
        .expect(1)
        .create_async()
        .await;
    let err = client
        .remove_project_role(&ProjectId::new("p-1"), &UserId::new("u-1"))
        .await
        .unwrap_err();
    gateway.assert_async().await;
    assert!(err.may_still_apply(), "{err:?}");
}

#[tokio::test]
async fn a_write_that_cannot_connect_is_retried_and_says_so() {
    // A port nothing listens on: the request never leaves, so it is safe to try again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let events = Arc::new(Mutex::new(0_u32));
    let sink = Arc::clone(&events);
    let client = Env0Client::new(
        raw_config(&url)
            .max_retries(2)
            .on_retry(move |_| *sink.lock().unwrap() += 1),
    )
    .unwrap();
    let err = client
        .set_organization_role(&OrgId::new("o"), &UserId::new("u"), &Role::User)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(*events.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_refused_write_is_permanent_with_envs_message() {
    let mut server = server().await;
    let refused = server
        .mock("PUT", "/teams/t-1")
        .with_status(400)
        .with_body(r#"{"message":"userIds contains an unknown user"}"#)
        .expect(1)
        .create_async()
        .await;
    let err = client(&server)
        .update_team(&TeamId::new("t-1"), "T", "", &[])
        .await
        .unwrap_err();
    refused.assert_async().await;
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.to_string(),
        "env0 returned 400 Bad Request for PUT /teams/t-1: userIds contains an unknown user"
    );
}

#[tokio::test]
async fn reads_and_writes_of_one_path_have_separate_rate_limits() {
    let mut server = server().await;
    let get = server
        .mock("GET", "/roles/assignments/teams")
        .match_query(Matcher::Any)
        .with_status(200)
        .with_body("[]")
        .expect(1)
        .create_async()
        .await;
    let put = server
        .mock("PUT", "/roles/assignments/teams")
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let throttled = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&throttled);
    let client = Env0Client::new(
        config(&server)
            .requests_per_minute(1)
            .on_throttle(move |e| sink.lock().unwrap().push(e.path.clone())),
    )
    .unwrap();
    let scope = AssignmentScope::Project(ProjectId::new("p-1"));
    let started = std::time::Instant::now();
    client.team_role_assignments(&scope).await.unwrap();
    client
        .set_team_role(&TeamId::new("t-1"), &scope, "Viewer")
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(throttled.lock().unwrap().is_empty(), "{throttled:?}");
    get.assert_async().await;
    put.assert_async().await;
}
