//! The write endpoints: each one's effect on the later reads, and what they refuse.

use env0_fake::{FakeConfig, GenerateOptions, Maybe, Org, RunningFake, User};
use serde_json::{Value, json};

use crate::{KEY_ID, SECRET, get, get_json, start};

/// A request with the demo credentials and, when given, a JSON body.
pub(crate) async fn send(
    fake: &RunningFake,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Result<reqwest::Response> {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", fake.base_url()))
        .basic_auth(KEY_ID, Some(SECRET));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await
}

/// The status and body (JSON, or `null` when empty) of an answered request.
pub(crate) async fn call(
    fake: &RunningFake,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let resp = send(fake, method.clone(), path, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} is answered: {e}"));
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    };
    (status, body)
}

/// `PUT` of a raw text body, as env0's provider sends an organization role.
pub(crate) async fn put_text(fake: &RunningFake, path: &str, text: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .put(format!("{}{path}", fake.base_url()))
        .basic_auth(KEY_ID, Some(SECRET))
        .header("content-type", "text/plain; charset=utf-8")
        .body(text.to_owned())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// An organization with enough of everything, and one removed principal left in a team.
pub(crate) fn org() -> Org {
    let mut org = Org::generate(GenerateOptions {
        users: 12,
        api_keys: 6,
        teams: 3,
        projects: 3,
        seed: 21,
    });
    let mut users = org.teams[0].users.value().cloned().unwrap_or_default();
    users.push(User::new("auth0|gone"));
    org.teams[0].users = Maybe::Value(users);
    org
}

/// A human member (not an API key) whose role is `User`.
pub(crate) fn plain_member(org: &Org) -> String {
    org.members
        .iter()
        .find(|m| {
            m.role.value().map(String::as_str) == Some("User")
                && org.api_key(&m.user.user_id).is_none()
        })
        .map(|m| m.user.user_id.clone())
        .expect("a User-role human member")
}

/// A human member holding no role on `project`.
pub(crate) fn unassigned_member(org: &Org, project: &str) -> String {
    let held = org
        .project_permissions
        .get(project)
        .cloned()
        .unwrap_or_default();
    org.members
        .iter()
        .map(|m| m.user.user_id.clone())
        .find(|id| org.api_key(id).is_none() && held.iter().all(|p| p.user_id != *id))
        .expect("a member without a role on the project")
}

fn role_of(users: &Value, id: &str) -> Value {
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["user_id"] == id)
        .map_or(Value::Null, |m| m["role"].clone())
}

#[tokio::test]
async fn an_organization_role_put_as_raw_text_shows_in_the_members_list() {
    let org = org();
    let member = plain_member(&org);
    let custom = org.roles[0].id.clone();
    let fake = start(FakeConfig::new(org.clone())).await;
    let id = fake.org_id().to_owned();
    let users_path = format!("/organizations/{id}/users");
    let role_path = format!(
        "/organizations/{id}/users/{}/role",
        member.replace('|', "%7C")
    );

    assert_eq!(
        put_text(&fake, &role_path, "Admin").await,
        (200, String::new())
    );
    assert_eq!(
        role_of(&get_json(&fake, &users_path).await, &member),
        "Admin"
    );
    // A JSON-quoted string is unquoted; a custom role id is a role.
    assert_eq!(
        put_text(&fake, &role_path, &format!("\"{custom}\""))
            .await
            .0,
        200
    );
    assert_eq!(
        role_of(&get_json(&fake, &users_path).await, &member),
        custom.as_str()
    );
    assert_eq!(
        fake.org().member(&member).unwrap().role,
        Maybe::text(custom.as_str())
    );

    let key_member = org
        .members
        .iter()
        .find(|m| org.api_key(&m.user.user_id).is_some())
        .expect("an API key listed as a member")
        .user
        .user_id
        .clone();
    let other = "00000000-0000-4000-8000-000000000000";
    for (path, text, status) in [
        (role_path.clone(), "Owner", 400),
        (role_path.clone(), "{\"role\":\"Admin\"}", 400),
        (role_path.clone(), "", 400),
        (
            format!("/organizations/{id}/users/auth0%7Cnobody/role"),
            "Admin",
            404,
        ),
        (
            format!("/organizations/{id}/users/{key_member}/role"),
            "User",
            404,
        ),
        (
            format!("/organizations/{other}/users/{member}/role"),
            "Admin",
            403,
        ),
    ] {
        let (got, body) = put_text(&fake, &path, text).await;
        assert_eq!(got, status, "{path} {text}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body["message"].is_string(), "{body}");
    }
    // Nothing refused changed anything.
    assert_eq!(
        role_of(&get_json(&fake, &users_path).await, &member),
        custom.as_str()
    );
    let applied: Vec<bool> = fake.writes().iter().map(|w| w.applied).collect();
    assert_eq!(
        applied,
        [true, true, false, false, false, false, false, false]
    );
}

#[tokio::test]
async fn project_permissions_are_added_changed_and_removed() {
    let org = org();
    let project = org.projects[0].id.clone();
    let member = unassigned_member(&org, &project);
    let key = org.api_keys[0].id.clone();
    let fake = start(FakeConfig::new(org)).await;
    let path = format!("/permissions/projects/{project}");
    let before = get_json(&fake, &path).await.as_array().unwrap().len();
    let post = reqwest::Method::POST;

    let (status, created) = call(
        &fake,
        post.clone(),
        &path,
        Some(json!({ "userId": member, "role": "Deployer" })),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["userId"], member.as_str());
    assert_eq!(created["role"], "Deployer");
    let listed = get_json(&fake, &path).await;
    assert_eq!(listed.as_array().unwrap().len(), before + 1);
    assert!(listed.as_array().unwrap().contains(&created), "{listed}");

    // A repeated POST (say, after a lost answer) adds no second row.
    let (status, body) = call(
        &fake,
        post.clone(),
        &path,
        Some(json!({ "userId": member, "role": "Viewer" })),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({ "message": "User already assigned to project" })
        )
    );
    let rows = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|p| p["userId"] == member.as_str())
            .count()
    };
    assert_eq!(rows(&get_json(&fake, &path).await), 1);

    let one = format!("{path}/users/{}", member.replace('|', "%7C"));
    let (status, changed) = call(
        &fake,
        reqwest::Method::PUT,
        &one,
        Some(json!({ "role": "Viewer" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(changed["id"], created["id"]);
    assert_eq!(changed["role"], "Viewer");
    let listed = get_json(&fake, &path).await;
    assert!(listed.as_array().unwrap().contains(&changed), "{listed}");

    assert_eq!(
        call(&fake, reqwest::Method::DELETE, &one, None).await,
        (200, Value::Null)
    );
    assert_eq!(rows(&get_json(&fake, &path).await), 0);
    assert_eq!(
        get_json(&fake, &path).await.as_array().unwrap().len(),
        before
    );
    assert_eq!(
        call(&fake, reqwest::Method::DELETE, &one, None).await.0,
        404
    );
    let (status, _) = call(
        &fake,
        reqwest::Method::PUT,
        &one,
        Some(json!({ "role": "Viewer" })),
    )
    .await;
    assert_eq!(status, 404, "no assignment to change");

    // An API key is a principal too.
    let (status, body) = call(
        &fake,
        post.clone(),
        &path,
        Some(json!({ "userId": key, "role": "Planner" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(rows(&get_json(&fake, &path).await), 0);
    assert!(
        fake.org().project_permissions[&project]
            .iter()
            .any(|p| p.user_id == key && p.role == "Planner")
    );

    for (target, body, status) in [
        (
            "/permissions/projects/no-such-project".to_owned(),
            json!({ "userId": member, "role": "Viewer" }),
            404,
        ),
        (
            path.clone(),
            json!({ "userId": "auth0|nobody", "role": "Viewer" }),
            400,
        ),
        (
            path.clone(),
            json!({ "userId": member, "role": "User" }),
            400,
        ),
        (
            path.clone(),
            json!({ "user": member, "role": "Viewer" }),
            400,
        ),
    ] {
        let (got, answer) = call(&fake, post.clone(), &target, Some(body.clone())).await;
        assert_eq!(got, status, "{target} {body}: {answer}");
        assert!(answer["message"].is_string());
    }
    // JSON bodies need a JSON content type.
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", fake.base_url()))
        .basic_auth(KEY_ID, Some(SECRET))
        .body(json!({ "userId": member, "role": "Viewer" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        rows(&get_json(&fake, &path).await),
        0,
        "nothing refused was applied"
    );
}

#[tokio::test]
async fn a_team_put_replaces_the_whole_member_list_everywhere_it_is_read() {
    let org = org();
    let team = org.teams[0].clone();
    let a = plain_member(&org);
    let key = org.api_keys[1].id.clone();
    let fake = start(FakeConfig::new(org.clone())).await;
    let one = format!("/teams/{}", team.id);
    let list = format!("/teams/organizations/{}", fake.org_id());
    let before = get_json(&fake, &one).await;
    assert!(
        before["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["user_id"] == "auth0|gone")
    );

    let body =
        json!({ "name": "Renamed", "description": "new", "userIds": [a, key, "auth0|gone", a] });
    let (status, answer) = call(&fake, reqwest::Method::PUT, &one, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    let after = get_json(&fake, &one).await;
    assert_eq!(answer, after, "the answer is the team as read");
    assert_eq!(after["name"], "Renamed");
    assert_eq!(after["description"], "new");
    let member = org.member(&a).unwrap();
    let mut expected = json!([
        { "user_id": a },
        { "user_id": key },
        { "user_id": "auth0|gone" },
    ]);
    if let Some(email) = member.user.email.value() {
        expected[0]["email"] = json!(email);
    }
    if let Some(name) = member.user.name.value() {
        expected[0]["name"] = json!(name);
    }
    assert_eq!(
        after["users"], expected,
        "replaced, not merged; a repeat counts once"
    );
    let bare = get_json(&fake, &list).await;
    assert_eq!(bare[0], after, "the list entry too");
    let paged = get_json(&fake, &format!("{list}?limit=2")).await;
    assert_eq!(paged["teams"][0], after, "and the page");
    assert_eq!(fake.org().teams[0].users.value().map(Vec::len), Some(3));

    // Without `description` the description stays; an empty list empties the team.
    let body = json!({ "name": "Renamed", "userIds": [] });
    assert_eq!(
        call(&fake, reqwest::Method::PUT, &one, Some(body)).await.0,
        200
    );
    let emptied = get_json(&fake, &one).await;
    assert_eq!(
        (emptied["description"].clone(), emptied["users"].clone()),
        (json!("new"), json!([]))
    );

    // Someone who has left can no longer be added; an unknown team is 404.
    let body = json!({ "name": "Renamed", "userIds": [a, "auth0|gone"] });
    let (status, answer) = call(&fake, reqwest::Method::PUT, &one, Some(body.clone())).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("auth0|gone"),
        "{answer}"
    );
    assert_eq!(get_json(&fake, &one).await, emptied, "nothing changed");
    assert_eq!(
        call(
            &fake,
            reqwest::Method::PUT,
            "/teams/no-such-team",
            Some(body)
        )
        .await
        .0,
        404
    );
    assert_eq!(get(&fake, "/teams/no-such-team").await.status(), 404);
}

#[tokio::test]
async fn under_teams_without_users_the_list_still_leaves_members_out_after_a_put() {
    let org = org();
    let team = org.teams[1].id.clone();
    let a = plain_member(&org);
    let fake = start(FakeConfig::new(org).with_teams_without_users()).await;
    let body = json!({ "name": "Other", "description": null, "userIds": [a] });
    assert_eq!(
        call(
            &fake,
            reqwest::Method::PUT,
            &format!("/teams/{team}"),
            Some(body)
        )
        .await
        .0,
        200
    );
    let listed = get_json(&fake, &format!("/teams/organizations/{}", fake.org_id())).await;
    assert_eq!(listed[1]["name"], "Other");
    assert_eq!(listed[1]["description"], Value::Null);
    assert!(listed[1].get("users").is_none(), "{listed}");
    let one = get_json(&fake, &format!("/teams/{team}")).await;
    assert_eq!(one["users"][0]["user_id"], a.as_str());
}

#[tokio::test]
async fn team_roles_are_upserted_per_scope_and_deleted() {
    let org = org();
    let team = org.teams[2].id.clone();
    let project = org.projects[1].id.clone();
    let fake = start(FakeConfig::new(org.clone())).await;
    let id = fake.org_id().to_owned();
    let put = reqwest::Method::PUT;
    let path = "/roles/assignments/teams";
    let of_team = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|a| a["teamId"] == team.as_str())
            .cloned()
            .collect()
    };
    let org_scope = format!("{path}?organizationId={id}");
    let project_scope = format!("{path}?projectId={project}");
    // Start from no role at either scope.
    for scope in [
        format!("organizationId={id}"),
        format!("projectId={project}"),
    ] {
        let _ = call(
            &fake,
            reqwest::Method::DELETE,
            &format!("{path}?teamId={team}&{scope}"),
            None,
        )
        .await;
    }
    assert!(of_team(&get_json(&fake, &org_scope).await).is_empty());
    assert!(of_team(&get_json(&fake, &project_scope).await).is_empty());

    let (status, first) = call(
        &fake,
        put.clone(),
        path,
        Some(json!({ "teamId": team, "role": "Admin", "organizationId": id })),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (first["teamId"].clone(), first["role"].clone()),
        (json!(team), json!("Admin"))
    );
    assert_eq!(of_team(&get_json(&fake, &org_scope).await), [first]);
    // One role per team and scope: a second PUT replaces it.
    let (status, second) = call(
        &fake,
        put.clone(),
        path,
        Some(json!({ "teamId": team, "role": "User", "organizationId": id })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(second["role"], "User");
    assert_eq!(of_team(&get_json(&fake, &org_scope).await), [second]);
    assert!(
        of_team(&get_json(&fake, &project_scope).await).is_empty(),
        "other scopes untouched"
    );

    let (status, at_project) = call(
        &fake,
        put.clone(),
        path,
        Some(json!({ "teamId": team, "role": "Deployer", "projectId": project })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        of_team(&get_json(&fake, &project_scope).await),
        [at_project]
    );

    let other = "00000000-0000-4000-8000-000000000000";
    for (body, status) in [
        (
            json!({ "teamId": team, "role": "User", "projectId": project }),
            400,
        ),
        (
            json!({ "teamId": team, "role": "Deployer", "organizationId": id }),
            400,
        ),
        (json!({ "teamId": team, "role": "Admin" }), 400),
        (
            json!({ "teamId": team, "role": "Admin", "organizationId": id, "projectId": project }),
            400,
        ),
        (json!({ "role": "Admin", "organizationId": id }), 400),
        (
            json!({ "teamId": team, "role": "Admin", "organizationId": other }),
            403,
        ),
        (
            json!({ "teamId": "no-such-team", "role": "Admin", "organizationId": id }),
            404,
        ),
        (
            json!({ "teamId": team, "role": "Admin", "projectId": "no-such-project" }),
            404,
        ),
        (
            json!({ "teamId": team, "role": "Admin", "environmentId": "env-1" }),
            404,
        ),
    ] {
        let (got, answer) = call(&fake, put.clone(), path, Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["message"].is_string());
    }
    assert_eq!(
        of_team(&get_json(&fake, &org_scope).await)[0]["role"],
        "User",
        "nothing refused applied"
    );

    let delete = reqwest::Method::DELETE;
    let org_delete = format!("{path}?teamId={team}&organizationId={id}");
    assert_eq!(
        call(&fake, delete.clone(), &org_delete, None).await,
        (200, Value::Null)
    );
    assert!(of_team(&get_json(&fake, &org_scope).await).is_empty());
    assert_eq!(
        of_team(&get_json(&fake, &project_scope).await).len(),
        1,
        "the project role stays"
    );
    assert_eq!(
        call(&fake, delete.clone(), &org_delete, None).await.0,
        404,
        "none left"
    );
    for (query, status) in [
        (format!("teamId={team}&projectId={project}"), 200),
        (format!("teamId={team}&projectId={project}"), 404),
        (format!("projectId={project}"), 400),
        (format!("teamId={team}"), 400),
        (format!("teamId={team}&organizationId={other}"), 403),
        (format!("teamId={team}&projectId=no-such-project"), 404),
    ] {
        assert_eq!(
            call(&fake, delete.clone(), &format!("{path}?{query}"), None)
                .await
                .0,
            status,
            "{query}"
        );
    }
    assert!(of_team(&get_json(&fake, &project_scope).await).is_empty());
}
