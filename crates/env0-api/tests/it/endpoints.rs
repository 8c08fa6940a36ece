//! One test per endpoint: method, path, query, Basic auth and headers asserted by the mock,
//! every mock asserted hit, parsed models snapshotted.

use env0_api::{
    AssignmentScope, EnvironmentId, Error, ProjectId, ProjectRole, Role, RoleId, TeamId, TeamsPage,
    Timestamp, UserId,
};
use futures::TryStreamExt;
use insta::assert_debug_snapshot;

use crate::support::{ORG, client, fixture, ok_json, org, server};

#[tokio::test]
async fn organizations() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/organizations",
        "",
        &fixture("organizations-basic.json"),
    )
    .await;
    let orgs = client(&server).organizations().await.unwrap();
    mock.assert_async().await;
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].role, Some(Role::Admin));
    assert_debug_snapshot!("organizations_basic", orgs);
}

#[tokio::test]
async fn organization_users() {
    let mut server = server().await;
    let path = format!("/organizations/{ORG}/users");
    let mock = ok_json(
        &mut server,
        &path,
        "",
        &fixture("organization-users-basic.json"),
    )
    .await;
    let users = client(&server).organization_users(&org()).await.unwrap();
    mock.assert_async().await;
    let roles: Vec<_> = users.iter().map(|u| u.role.clone()).collect();
    assert_eq!(
        roles,
        [
            Some(Role::Admin),
            Some(Role::User),
            Some(Role::Custom(RoleId::new(
                "8a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
            )))
        ]
    );
    assert_eq!(users[2].user.picture, None, "empty picture is None");
    assert_eq!(users[2].user.last_login, None, "null last_login is None");
    assert_debug_snapshot!("organization_users_basic", users);
}

/// A member list big enough (over 4 MiB) to be decoded on several threads: every member, in
/// order, exactly as the plain decoding gives them; and one bad member deep inside still fails
/// with its real line and column.
#[tokio::test]
async fn a_large_member_list_decodes_like_a_small_one() {
    let members: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                "{{\"role\": {role}, \"status\": \"Active\", \"extra\": {{\"x\": [\"],}}\\\"\"]}},\n \
                 \"user\": {{\"user_id\": \"auth0|{i:024}\", \"email\": \"u{i}@example.com\", \
                 \"name\": \"Üser {i} \\\"q\\\" {{,}}\", \"created_at\": \"2024-01-02T03:04:05.678Z\", \
                 \"last_login\": null, \"padding\": \"{pad}\"}}}}",
                role = if i % 3 == 0 { "\"Admin\"" } else { "\"User\"" },
                pad = "p".repeat(200),
            )
        })
        .collect();
    let body = format!("[\n{}\n]", members.join(",\n"));
    assert!(body.len() > 4 * 1024 * 1024, "{} bytes", body.len());

    let serial: Vec<env0_api::OrganizationUser> = serde_json::from_str(&body).unwrap();
    let mut server = server().await;
    let path = format!("/organizations/{ORG}/users");
    let whole = ok_json(&mut server, &path, "", &body).await;
    let plain = client(&server).organization_users(&org()).await.unwrap();
    whole.assert_async().await;
    assert_eq!(plain, serial);
    let whole = ok_json(&mut server, &path, "", &body).await;
    let (converted, notes) = client(&server)
        .organization_users_with(&org(), |m, _: &mut Vec<()>| Some(m))
        .await
        .unwrap();
    assert!(notes.is_empty());
    whole.assert_async().await;
    assert_eq!(converted.len(), 20_000);
    assert_eq!(converted, plain);
    assert_eq!(
        converted[19_999].user.user_id,
        UserId::new(format!("auth0|{:024}", 19_999))
    );

    // Member 15 000 has an email that is an object. The body opens with `[` on line 1 and each
    // member takes two lines, so member n's email is on line 2n + 3.
    let bad = body.replacen(
        "\"email\": \"u15000@example.com\"",
        "\"email\": {\"no\": 1}",
        1,
    );
    let broken = ok_json(&mut server, &path, "", &bad).await;
    let err = client(&server)
        .organization_users_with(&org(), |m, _: &mut Vec<()>| Some(m))
        .await
        .unwrap_err();
    broken.assert_async().await;
    let Error::Decode { line, snippet, .. } = &err else {
        panic!("expected a decode error, got {err:?}");
    };
    assert_eq!(*line, 2 * 15_000 + 3, "{err:?}");
    assert!(snippet.contains("\"no\": 1"), "{snippet}");
}

/// An API key list over 4 MiB is decoded on several threads too: every key, in order, as the
/// plain decoding gives them; a bad key deep inside fails with its real line.
#[tokio::test]
async fn a_large_api_key_list_decodes_like_a_small_one() {
    let keys: Vec<String> = (0..12_000)
        .map(|i| {
            format!(
                "{{\"id\": \"key-{i:08}\", \"name\": \"ci {{,}} \\\"{i}\\\"\", \"apiKeyId\": \"k{i}\",\n \
                 \"organizationRole\": \"User\", \"lastUsedAt\": null, \
                 \"createdAt\": \"2025-01-01T00:00:00.000Z\", \"padding\": \"{pad}\"}}",
                pad = "p".repeat(300),
            )
        })
        .collect();
    let body = format!("[\n{}\n]", keys.join(",\n"));
    assert!(body.len() > 4 * 1024 * 1024, "{} bytes", body.len());
    let serial: Vec<env0_api::ApiKey> = serde_json::from_str(&body).unwrap();

    let mut server = server().await;
    let query = format!("organizationId={ORG}");
    let whole = ok_json(&mut server, "/api-keys", &query, &body).await;
    let listed = client(&server).api_keys(&org()).await.unwrap();
    whole.assert_async().await;
    assert_eq!(listed.len(), 12_000);
    assert_eq!(listed, serial);

    // Key 9 000's id is an object. Each key takes two lines after the `[` line, so key n's id
    // is on line 2n + 2.
    let bad = body.replacen("\"id\": \"key-00009000\"", "\"id\": {\"no\": 1}", 1);
    let broken = ok_json(&mut server, "/api-keys", &query, &bad).await;
    let err = match client(&server).api_keys(&org()).await {
        Ok(keys) => panic!("{} keys decoded from a broken list", keys.len()),
        Err(err) => err,
    };
    broken.assert_async().await;
    let Error::Decode { line, .. } = &err else {
        panic!("expected a decode error, got {err:?}");
    };
    assert_eq!(*line, 2 * 9_000 + 2, "{err:?}");
}

#[tokio::test]
async fn api_keys() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/api-keys",
        &format!("organizationId={ORG}"),
        &fixture("api-keys-basic.json"),
    )
    .await;
    let keys = client(&server).api_keys(&org()).await.unwrap();
    mock.assert_async().await;
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[1].last_used_at, None, "never used");
    assert_eq!(keys[1].created_by_user, None, "`{{}}` creator is None");
    assert_eq!(
        keys[2].created_at,
        Some(Timestamp::Raw("not a date".into()))
    );
    let shown = format!("{keys:?}");
    assert!(
        !shown.contains("this-secret-must-never-be-read"),
        "apiKeySecret must not be read: {shown}"
    );
    assert_debug_snapshot!("api_keys_basic", keys);
}

#[tokio::test]
async fn custom_roles() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/roles",
        &format!("organizationId={ORG}"),
        &fixture("custom-roles-basic.json"),
    )
    .await;
    let roles = client(&server).custom_roles(&org()).await.unwrap();
    mock.assert_async().await;
    assert_eq!(
        roles[1].permissions,
        [
            "VIEW_PROJECT",
            "ASSIGN_ROLE_ON_ENVIRONMENT",
            "SOME_FUTURE_PERMISSION"
        ],
        "empty and null permissions are dropped"
    );
    assert!(roles[2].permissions.is_empty());
    assert_eq!(roles[2].is_default_role, None);
    assert_debug_snapshot!("custom_roles_basic", roles);
}

#[tokio::test]
async fn teams_follow_next_page_key_as_offset() {
    let mut server = server().await;
    let path = format!("/teams/organizations/{ORG}");
    let first = ok_json(
        &mut server,
        &path,
        "limit=100",
        &fixture("teams-page1.json"),
    )
    .await;
    // The opaque key goes back verbatim, percent-encoded.
    let second = ok_json(
        &mut server,
        &path,
        "limit=100&offset=eyJpZCI6InRlYW0tc3NvLWRldnMifQ%3D%3D",
        &fixture("teams-page2.json"),
    )
    .await;
    let client = client(&server);
    let pages: Vec<_> = client.teams(&org()).try_collect().await.unwrap();
    first.assert_async().await;
    second.assert_async().await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 1]);
    let members: Vec<&str> = pages[0][0]
        .users
        .iter()
        .flatten()
        .map(|u| u.user_id.as_str())
        .collect();
    assert_eq!(
        members,
        [
            "google-oauth2|116303011440913654789",
            "3b9d6e2a-1f4c-4e8b-a7d5-0c2e9f1b8a6d"
        ],
        "the member without user_id is skipped"
    );
    assert_eq!(pages[1][0].users, None, "null users is not carried");
    assert_eq!(pages[0][1].users, None, "missing users is not carried");
    assert_debug_snapshot!("teams_paged", pages);
}

#[tokio::test]
async fn all_teams_collects_every_page() {
    let mut server = server().await;
    let path = format!("/teams/organizations/{ORG}");
    let first = ok_json(
        &mut server,
        &path,
        "limit=100",
        &fixture("teams-page1.json"),
    )
    .await;
    let second = ok_json(
        &mut server,
        &path,
        "limit=100&offset=eyJpZCI6InRlYW0tc3NvLWRldnMifQ%3D%3D",
        &fixture("teams-page2.json"),
    )
    .await;
    let teams = client(&server).all_teams(&org()).await.unwrap();
    first.assert_async().await;
    second.assert_async().await;
    let ids: Vec<&str> = teams.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["team-platform", "team-sso-devs", "team-données"]);
}

#[tokio::test]
async fn teams_accept_a_bare_array_as_the_only_page() {
    let mut server = server().await;
    let path = format!("/teams/organizations/{ORG}");
    let mock = ok_json(
        &mut server,
        &path,
        "limit=100",
        &fixture("teams-bare-array.json"),
    )
    .await;
    let pages: Vec<_> = client(&server).teams(&org()).try_collect().await.unwrap();
    mock.assert_async().await;
    assert_eq!(pages.len(), 1);
    assert_debug_snapshot!("teams_bare_array", pages);
}

#[tokio::test]
async fn teams_page_is_usable_as_a_page_token_api() {
    let mut server = server().await;
    let path = format!("/teams/organizations/{ORG}");
    let mock = ok_json(
        &mut server,
        &path,
        "limit=100&offset=a%2Bb%2Fc%26d",
        &fixture("teams-page2.json"),
    )
    .await;
    let page: TeamsPage = client(&server)
        .teams_page(&org(), Some("a+b/c&d"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert_eq!(
        page.next_page_key, None,
        "empty nextPageKey ends the listing"
    );
    assert_eq!(page.teams.len(), 1);
}

#[tokio::test]
async fn teams_stop_when_a_page_key_repeats() {
    let mut server = server().await;
    let path = format!("/teams/organizations/{ORG}");
    let looping = r#"{"teams":[{"id":"t"}],"nextPageKey":"same"}"#;
    let first = ok_json(&mut server, &path, "limit=100", looping).await;
    let again = ok_json(&mut server, &path, "limit=100&offset=same", looping).await;
    let client = client(&server);
    let mut stream = std::pin::pin!(client.teams(&org()));
    assert_eq!(stream.try_next().await.unwrap().unwrap().len(), 1);
    let err = stream.try_next().await.unwrap_err();
    assert!(
        stream.try_next().await.unwrap().is_none(),
        "the stream ends after the error"
    );
    first.assert_async().await;
    again.assert_async().await;
    assert!(matches!(err, Error::UnexpectedResponse { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "unexpected env0 response for GET /teams/organizations/{ORG}?limit=100&offset=same: \
             nextPageKey `same` was already returned; stopping to avoid a loop"
        )
    );
}

#[tokio::test]
async fn one_team_with_its_members() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/teams/team-platform",
        "",
        &fixture("team-basic.json"),
    )
    .await;
    let team = client(&server)
        .team(&TeamId::new("team-platform"))
        .await
        .unwrap();
    mock.assert_async().await;
    let members: Vec<&str> = team
        .users
        .iter()
        .flatten()
        .map(|u| u.user_id.as_str())
        .collect();
    assert_eq!(
        members,
        [
            "google-oauth2|116303011440913654789",
            "3b9d6e2a-1f4c-4e8b-a7d5-0c2e9f1b8a6d"
        ],
        "the member without user_id is skipped"
    );
    assert_debug_snapshot!("team_basic", team);
}

#[tokio::test]
async fn a_team_id_is_one_path_segment() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/teams/a%2Fb%3Fc",
        "",
        r#"{"id":"a/b?c","users":[]}"#,
    )
    .await;
    let team = client(&server).team(&TeamId::new("a/b?c")).await.unwrap();
    mock.assert_async().await;
    assert_eq!(team.id.as_str(), "a/b?c");
    assert_eq!(team.users, Some(Vec::new()), "an empty list is carried");
}

#[tokio::test]
async fn projects() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/projects",
        &format!("organizationId={ORG}"),
        &fixture("projects-basic.json"),
    )
    .await;
    let projects = client(&server).projects(&org()).await.unwrap();
    mock.assert_async().await;
    assert_eq!(
        projects[1].parent_project_id,
        Some(ProjectId::new("proj-root"))
    );
    assert_eq!(projects[2].parent_project_id, None, "empty parent is None");
    assert_eq!(projects[2].is_archived, Some(true));
    assert_debug_snapshot!("projects_basic", projects);
}

#[tokio::test]
async fn project_user_permissions() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/permissions/projects/proj-root",
        "",
        &fixture("project-user-permissions-basic.json"),
    )
    .await;
    let perms = client(&server)
        .project_user_permissions(&ProjectId::new("proj-root"))
        .await
        .unwrap();
    mock.assert_async().await;
    let roles: Vec<_> = perms.iter().filter_map(|p| p.role.clone()).collect();
    assert_eq!(
        roles,
        [
            ProjectRole::Deployer,
            ProjectRole::Viewer,
            ProjectRole::Planner,
            ProjectRole::Admin,
            ProjectRole::Custom(RoleId::new("c0ffee00-1234-4abc-8def-0123456789ab")),
        ]
    );
    assert_eq!(
        perms[1].user_id,
        UserId::new("samlp|acme-okta|carol@acme.example")
    );
    assert_debug_snapshot!("project_user_permissions_basic", perms);
}

#[tokio::test]
async fn ids_in_paths_are_percent_encoded() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/permissions/projects/a%2F..%2Fb%3Fx",
        "",
        "[]",
    )
    .await;
    let perms = client(&server)
        .project_user_permissions(&ProjectId::new("a/../b?x"))
        .await
        .unwrap();
    mock.assert_async().await;
    assert!(perms.is_empty());
}

/// As Go's `url.PathEscape` (env0's Terraform provider) writes a segment: `|`, space and `%`
/// encoded, letters, digits, `-_.~` and `$&+,:;=@` kept.
#[tokio::test]
async fn path_segments_are_encoded_as_env0s_provider_encodes_them() {
    let mut server = server().await;
    let mock = ok_json(
        &mut server,
        "/permissions/projects/auth0%7Ca%20b%25c-_.~$&+,:;=@",
        "",
        "[]",
    )
    .await;
    client(&server)
        .project_user_permissions(&ProjectId::new("auth0|a b%c-_.~$&+,:;=@"))
        .await
        .unwrap();
    mock.assert_async().await;
}

#[tokio::test]
async fn team_role_assignments_per_scope() {
    let mut server = server().await;
    let org_mock = ok_json(
        &mut server,
        "/roles/assignments/teams",
        &format!("organizationId={ORG}"),
        &fixture("team-role-assignments-organization.json"),
    )
    .await;
    let project_mock = ok_json(
        &mut server,
        "/roles/assignments/teams",
        "projectId=proj-root",
        &fixture("team-role-assignments-project.json"),
    )
    .await;
    let env_mock = ok_json(
        &mut server,
        "/roles/assignments/teams",
        "environmentId=env-1",
        "[]",
    )
    .await;
    let client = client(&server);
    let at_org = client
        .team_role_assignments(&AssignmentScope::Organization(org()))
        .await
        .unwrap();
    let at_project = client
        .team_role_assignments(&AssignmentScope::Project(ProjectId::new("proj-root")))
        .await
        .unwrap();
    let at_env = client
        .team_role_assignments(&AssignmentScope::Environment(EnvironmentId::new("env-1")))
        .await
        .unwrap();
    org_mock.assert_async().await;
    project_mock.assert_async().await;
    env_mock.assert_async().await;
    assert_eq!(at_org[0].org_role(), Some(Role::Admin));
    assert_eq!(
        at_org[1].org_role(),
        Some(Role::Custom(RoleId::new(
            "8a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
        )))
    );
    assert_eq!(at_project[0].project_role(), Some(ProjectRole::Deployer));
    assert_eq!(at_project[1].project_role(), None, "empty role is None");
    assert!(at_env.is_empty());
    assert_debug_snapshot!("team_role_assignments", (at_org, at_project));
}
