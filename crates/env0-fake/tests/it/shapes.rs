//! Wire shapes of every endpoint and determinism of the generator.

use env0_fake::{FakeConfig, GenerateOptions, Maybe, Org};
use serde_json::Value;

use crate::{get, get_json, small_org, start};

#[tokio::test]
async fn users_of_a_small_generated_org() {
    let fake = start(FakeConfig::new(small_org(7))).await;
    let users = get_json(&fake, &format!("/organizations/{}/users", fake.org_id())).await;
    insta::assert_json_snapshot!("users_seed_7", users);
    let keys = get_json(
        &fake,
        &format!("/api-keys?organizationId={}", fake.org_id()),
    )
    .await;
    insta::assert_json_snapshot!("api_keys_seed_7", keys);
}

/// Keys of a JSON object.
fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_endpoint_speaks_the_env0_wire_format() {
    let org = Org::generate(GenerateOptions {
        users: 40,
        api_keys: 8,
        teams: 4,
        projects: 4,
        seed: 11,
    });
    let fake = start(FakeConfig::new(org.clone())).await;
    let id = fake.org_id().to_owned();

    let orgs = get_json(&fake, "/organizations").await;
    assert_eq!(orgs.as_array().map(Vec::len), Some(1));
    assert_eq!(orgs[0]["id"], Value::from(id.as_str()));
    assert!(orgs[0]["name"].is_string());

    let users = get_json(&fake, &format!("/organizations/{id}/users")).await;
    let users = users.as_array().expect("a bare array");
    assert_eq!(users.len(), org.members.len());
    // Wrapper keys are lower case, the nested Auth0 user is snake_case.
    let full = users
        .iter()
        .find(|u| u["user"]["given_name"].is_string() && u["user"]["last_login"].is_string())
        .expect("a member with every field");
    assert!(full["role"].is_string() && full["status"].is_string());
    for k in [
        "user_id",
        "email",
        "name",
        "given_name",
        "family_name",
        "created_at",
        "last_login",
    ] {
        assert!(keys(&full["user"]).contains(&k), "{k} in {full}");
    }

    let api_keys = get_json(&fake, &format!("/api-keys?organizationId={id}")).await;
    let wire_fields = [
        "id",
        "name",
        "apiKeyId",
        "organizationId",
        "organizationRole",
        "lastUsedAt",
        "createdAt",
        "createdBy",
        "createdByUser",
    ];
    assert!(
        api_keys
            .as_array()
            .unwrap()
            .iter()
            .any(|k| wire_fields.iter().all(|f| keys(k).contains(f))),
        "a key with every camelCase field: {api_keys}"
    );
    assert!(
        api_keys
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["createdByUser"]["user_id"].is_string())
    );
    assert!(
        api_keys
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("api_key_id").is_none())
    );

    let roles = get_json(&fake, &format!("/roles?organizationId={id}")).await;
    assert!(roles.as_array().unwrap().iter().all(|r| {
        r["id"].is_string() && r["permissions"].is_array() && r["isDefaultRole"].is_boolean()
    }));
    assert!(
        roles
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"].is_null()),
        "a role without a name"
    );

    let teams = get_json(&fake, &format!("/teams/organizations/{id}")).await;
    assert_eq!(
        teams.as_array().map(Vec::len),
        Some(4),
        "bare array without limit"
    );

    let projects = get_json(&fake, &format!("/projects?organizationId={id}")).await;
    let projects = projects.as_array().unwrap().clone();
    assert_eq!(projects.len(), 4);
    for p in &projects {
        let pid = p["id"].as_str().unwrap();
        assert!(p["hierarchy"].as_str().unwrap().ends_with(pid));
        let perms = get_json(&fake, &format!("/permissions/projects/{pid}")).await;
        for perm in perms.as_array().unwrap() {
            assert_eq!(keys(perm), ["id", "role", "userId"]);
        }
        let tas = get_json(&fake, &format!("/roles/assignments/teams?projectId={pid}")).await;
        for ta in tas.as_array().unwrap() {
            assert_eq!(keys(ta), ["id", "role", "teamId"]);
        }
    }
    let org_tas = get_json(
        &fake,
        &format!("/roles/assignments/teams?organizationId={id}"),
    )
    .await;
    assert_eq!(
        org_tas.as_array().map(Vec::len),
        Some(org.team_role_assignments.organization.len())
    );
}

#[tokio::test]
async fn the_same_seed_serves_the_same_bytes() {
    let opts = GenerateOptions {
        users: 500,
        api_keys: 50,
        teams: 3,
        projects: 2,
        seed: 99,
    };
    let a = start(FakeConfig::new(Org::generate(opts))).await;
    let b = start(FakeConfig::new(Org::generate(opts))).await;
    let c = start(FakeConfig::new(Org::generate(GenerateOptions {
        seed: 100,
        ..opts
    })))
    .await;
    assert_eq!(a.org_id(), b.org_id());
    for path in [
        format!("/organizations/{}/users", a.org_id()),
        format!("/api-keys?organizationId={}", a.org_id()),
    ] {
        let body_a = get(&a, &path).await.bytes().await.unwrap();
        let body_b = get(&b, &path).await.bytes().await.unwrap();
        assert_eq!(body_a, body_b, "{path}");
    }
    let users_a = get(&a, &format!("/organizations/{}/users", a.org_id()))
        .await
        .bytes()
        .await
        .unwrap();
    let users_c = get(&c, &format!("/organizations/{}/users", c.org_id()))
        .await
        .bytes()
        .await
        .unwrap();
    assert_ne!(users_a, users_c);
}

#[tokio::test]
async fn the_demo_fixture_reads_like_a_company() {
    let org = Org::from_json_file(&crate::fixtures().join("demo-org.json")).unwrap();
    let fake = start(FakeConfig::new(org.clone())).await;
    let users = get_json(&fake, &format!("/organizations/{}/users", fake.org_id())).await;
    // The file's content goes out verbatim, unknown fields and explicit nulls included.
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::fixtures().join("demo-org.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(users, file["members"]);
    let statuses: Vec<Option<&str>> = org
        .members
        .iter()
        .map(|m| m.status.value().map(String::as_str))
        .collect();
    assert!(statuses.contains(&Some("Invited")));
    assert!(statuses.contains(&Some("Inactive")));
    assert!(statuses.contains(&None), "a member without a status");
    assert_eq!(org.api_keys.len(), 3);
    assert_eq!(org.roles.len(), 2);
    assert!(
        org.members
            .iter()
            .any(|m| org.api_key(&m.user.user_id).is_some()),
        "a User-role API key listed as a member"
    );
    // A small project tree, three levels deep at most, one archived project.
    let parent_of = |id: &str| {
        org.projects
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.parent_project_id.value().cloned())
    };
    let depth = |id: &str| {
        let mut depth = 1;
        let mut at = id.to_owned();
        while let Some(parent) = parent_of(&at) {
            depth += 1;
            at = parent;
        }
        depth
    };
    let depths: Vec<usize> = org.projects.iter().map(|p| depth(&p.id)).collect();
    assert_eq!(depths.iter().max(), Some(&3), "{depths:?}");
    assert!(
        org.projects
            .iter()
            .any(|p| p.is_archived == Maybe::Value(true))
    );
    assert_eq!(org.teams.len(), 3);
    // One project permission names someone who has left the organization.
    let gone: Vec<&str> = org
        .project_permissions
        .values()
        .flatten()
        .map(|p| p.user_id.as_str())
        .filter(|id| org.member(id).is_none() && org.api_key(id).is_none())
        .collect();
    assert_eq!(gone, ["auth0|5a0de1e7ed0000000000dead"]);
}

#[test]
fn a_broken_org_file_names_the_file_and_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\"organization\": {\"id\": 5}}").unwrap();
    let err = Org::from_json_file(&path).unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(text.contains("broken.json"), "{text}");
    assert!(text.contains("line 1"), "{text}");
}
