//! The access model through a full sync: the worked example of `docs/access-model.md` served by
//! mockito, synced by `c1-sync` (expansion included) and read back from the c1z, grant by grant
//! with kinds, expandable sources and sources; and the request budget of a sync.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use c1_model::{annotations, pb};
use c1_sync::{C1zReader, SyncEngine, SyncOptions, SyncReport};
use env0_api::OrgId;
use env0_connector::{ConnectorOptions, Env0Connector};
use mockito::{Matcher, Mock, ServerGuard};
use serde_json::{Value, json};

use crate::support::client;

const ORG: &str = "org-w";

async fn answer(server: &mut ServerGuard, path: &str, query: Matcher, body: Value) -> Mock {
    server
        .mock("GET", path)
        .match_query(query)
        .with_header("content-type", "application/json")
        .with_body(body.to_string())
        .expect(1)
        .create_async()
        .await
}

fn scope(key: &str, value: &str) -> Matcher {
    Matcher::UrlEncoded(key.into(), value.into())
}

/// Alice (`auth0|a`) in team Platform (`t1`), which holds Deployer on Payments (`p1`), whose
/// sub-project is Payments-EU (`p2`); Bob (`auth0|b`) an organization Admin. Every endpoint is
/// expected exactly once: the request budget of the contract.
async fn worked_example(server: &mut ServerGuard, teams_carry_users: bool) -> Vec<Mock> {
    let projects = json!([
        { "id": "p1", "name": "Payments", "hierarchy": "p1" },
        { "id": "p2", "name": "Payments-EU", "parentProjectId": "p1", "hierarchy": "p1|p2" }
    ]);
    worked_example_with(server, teams_carry_users, projects).await
}

/// The worked example's mocks with `projects` as env0's project list (the same two projects).
async fn worked_example_with(
    server: &mut ServerGuard,
    teams_carry_users: bool,
    projects: Value,
) -> Vec<Mock> {
    let user = |id: &str, name: &str| json!({ "user_id": id, "name": name, "email": format!("{name}@example.com") });
    let team = json!({ "id": "t1", "name": "Platform", "users": [user("auth0|a", "alice")] });
    let listed = if teams_carry_users {
        team.clone()
    } else {
        json!({ "id": "t1", "name": "Platform" })
    };
    let mut mocks = vec![
        answer(
            server,
            "/organizations",
            Matcher::Missing,
            json!([{ "id": ORG, "name": "Worked" }]),
        )
        .await,
        answer(
            server,
            &format!("/organizations/{ORG}/users"),
            Matcher::Missing,
            json!([
                { "role": "User", "status": "Active", "user": user("auth0|a", "alice") },
                { "role": "Admin", "status": "Active", "user": user("auth0|b", "bob") }
            ]),
        )
        .await,
        answer(server, "/api-keys", scope("organizationId", ORG), json!([])).await,
        answer(server, "/roles", scope("organizationId", ORG), json!([])).await,
        answer(
            server,
            &format!("/teams/organizations/{ORG}"),
            scope("limit", "100"),
            json!({ "teams": [listed] }),
        )
        .await,
        answer(
            server,
            "/roles/assignments/teams",
            scope("organizationId", ORG),
            json!([]),
        )
        .await,
        answer(server, "/projects", scope("organizationId", ORG), projects).await,
        answer(
            server,
            "/permissions/projects/p1",
            Matcher::Missing,
            json!([]),
        )
        .await,
        answer(
            server,
            "/permissions/projects/p2",
            Matcher::Missing,
            json!([]),
        )
        .await,
        answer(
            server,
            "/roles/assignments/teams",
            scope("projectId", "p1"),
            json!([{ "id": "a1", "teamId": "t1", "role": "Deployer" }]),
        )
        .await,
        answer(
            server,
            "/roles/assignments/teams",
            scope("projectId", "p2"),
            json!([]),
        )
        .await,
    ];
    if !teams_carry_users {
        mocks.push(answer(server, "/teams/t1", Matcher::Missing, team).await);
    }
    mocks
}

/// One line per grant: id, how it came (direct / expanded), what it expands from, its sources.
fn describe(grants: &[pb::Grant]) -> String {
    let mut out = String::new();
    for g in grants {
        let expandable = annotations::find::<pb::GrantExpandable>(&g.annotations).map(|e| {
            format!(
                " expandable from {} {:?}",
                e.entitlement_ids.join(","),
                e.resource_type_ids
            )
        });
        let immutable = annotations::has::<pb::GrantImmutable>(&g.annotations);
        let sources: BTreeMap<&str, bool> = g
            .sources
            .as_ref()
            .map(|s| {
                s.sources
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.is_direct))
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} [{}]{}{}",
            g.id,
            if immutable { "expanded" } else { "direct" },
            expandable.unwrap_or_default(),
            if sources.is_empty() {
                String::new()
            } else {
                format!(" sources {sources:?}")
            }
        );
    }
    out
}

async fn sync(server: &ServerGuard) -> (tempfile::TempDir, Vec<pb::Grant>) {
    let (dir, reader, sync_id) = sync_file(server).await;
    let grants = reader.grants(&sync_id).unwrap();
    (dir, grants)
}

/// Syncs the mocked organization; the file's reader and the sync's report.
async fn sync_report(server: &ServerGuard) -> (tempfile::TempDir, C1zReader, SyncReport) {
    let connector = Env0Connector::with_options(
        client(&server.url()),
        OrgId::new(ORG),
        ConnectorOptions::default().concurrency(2),
    );
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("org.c1z");
    let report = SyncEngine::new(SyncOptions::default())
        .run(&connector, &output)
        .await
        .expect("sync succeeds");
    let reader = C1zReader::open(&output).unwrap();
    (dir, reader, report)
}

/// Syncs the mocked organization, which gives no warning; the file's reader and the sync's id.
async fn sync_file(server: &ServerGuard) -> (tempfile::TempDir, C1zReader, String) {
    let (dir, reader, report) = sync_report(server).await;
    assert_eq!(report.warnings, 0, "{:?}", report.warning_messages);
    (dir, reader, report.sync_id)
}

#[tokio::test]
async fn the_worked_example_of_the_access_model() {
    let mut server = mockito::Server::new_async().await;
    let mocks = worked_example(&mut server, true).await;
    let (_dir, grants) = sync(&server).await;
    for mock in &mocks {
        mock.assert_async().await;
    }
    let text = describe(&grants);
    // The rows of the contract's table, each exactly.
    for row in [
        "team:t1:member:user:auth0|a [direct]",
        r#"project:p1:Deployer:team:t1 [direct] expandable from team:t1:member ["user"]"#,
        r#"project:p2:Deployer:project:p1 [direct] expandable from project:p1:Deployer ["user", "team"]"#,
        r#"project:p1:Admin:role:Admin [direct] expandable from role:Admin:member ["user", "team"]"#,
        r#"project:p1:Deployer:user:auth0|a [expanded] sources {"team:t1:member": true}"#,
        r#"project:p2:Deployer:user:auth0|a [expanded] sources {"project:p1:Deployer": false}"#,
        r#"project:p2:Deployer:team:t1 [expanded] sources {"project:p1:Deployer": true}"#,
        "role:Admin:member:user:auth0|b [direct]",
        r#"project:p1:Admin:user:auth0|b [expanded] sources {"role:Admin:member": true}"#,
        r#"project:p2:Admin:user:auth0|b [expanded] sources {"project:p1:Admin": false}"#,
    ] {
        assert!(text.lines().any(|l| l == row), "missing `{row}` in\n{text}");
    }
    insta::assert_snapshot!("worked_example", text);
}

#[tokio::test]
async fn a_team_list_without_members_asks_each_team_and_gives_the_same_grants() {
    let mut with = mockito::Server::new_async().await;
    let _mocks = worked_example(&mut with, true).await;
    let (_dir, expected) = sync(&with).await;

    let mut without = mockito::Server::new_async().await;
    let mocks = worked_example(&mut without, false).await;
    let (_dir, grants) = sync(&without).await;
    for mock in &mocks {
        mock.assert_async().await;
    }
    assert_eq!(describe(&grants), describe(&expected));
}

#[tokio::test]
async fn sub_projects_are_listed_under_their_parent_which_marks_its_child_type() {
    // env0 lists the sub-project first; the file still has the tree as baton connectors write
    // one: top-level projects first, each project carrying `ChildResourceType { project }`, and
    // each sub-project listed under (after) its parent, naming it.
    let mut server = mockito::Server::new_async().await;
    let projects = json!([
        { "id": "p2", "name": "Payments-EU", "parentProjectId": "p1", "hierarchy": "p1|p2" },
        { "id": "p1", "name": "Payments", "hierarchy": "p1" }
    ]);
    let _mocks = worked_example_with(&mut server, true, projects).await;
    let (_dir, reader, sync_id) = sync_file(&server).await;
    let rows: Vec<String> = reader
        .resources(&sync_id, Some("project"))
        .unwrap()
        .iter()
        .map(|r| {
            let id = |r: &Option<pb::ResourceId>| {
                r.as_ref()
                    .map(|id| format!("{}:{}", id.resource_type, id.resource))
            };
            let children: Vec<String> = r
                .annotations
                .iter()
                .filter(|any| annotations::is::<pb::ChildResourceType>(any))
                .map(|any| {
                    c1_model::decode::<pb::ChildResourceType>(&any.value)
                        .unwrap()
                        .resource_type_id
                })
                .collect();
            format!(
                "{} parent {:?} children {children:?}",
                id(&r.id).unwrap_or_default(),
                id(&r.parent_resource_id)
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            r#"project:p1 parent None children ["project"]"#,
            r#"project:p2 parent Some("project:p1") children ["project"]"#,
        ]
    );
}

/// Two teams listed without members and three top-level projects; `refused` paths (with their
/// `projectId`, for the team role lists) answer 403, every other request answers as env0 would.
async fn refusing_org(server: &mut ServerGuard, refused: &[&str]) -> Vec<Mock> {
    let user = |id: &str, name: &str| json!({ "user_id": id, "name": name, "email": format!("{name}@example.com") });
    let mut mocks = Vec::new();
    let mut get =
        async |server: &mut ServerGuard, path: &str, query: Matcher, key: String, body: Value| {
            let mock = server.mock("GET", path).match_query(query).expect(1);
            let mock = if refused.contains(&key.as_str()) {
                mock.with_status(403)
                    .with_header("content-type", "application/json")
                    .with_body(r#"{"message":"Forbidden"}"#)
            } else {
                mock.with_header("content-type", "application/json")
                    .with_body(body.to_string())
            };
            mocks.push(mock.create_async().await);
        };
    let none = Matcher::Missing;
    get(
        server,
        "/organizations",
        none.clone(),
        String::new(),
        json!([{ "id": ORG, "name": "Refusing" }]),
    )
    .await;
    get(
        server,
        &format!("/organizations/{ORG}/users"),
        none.clone(),
        String::new(),
        json!([
            { "role": "User", "status": "Active", "user": user("auth0|a", "alice") },
            { "role": "User", "status": "Active", "user": user("auth0|b", "bob") }
        ]),
    )
    .await;
    get(
        server,
        "/api-keys",
        scope("organizationId", ORG),
        String::new(),
        json!([]),
    )
    .await;
    get(
        server,
        "/roles",
        scope("organizationId", ORG),
        String::new(),
        json!([]),
    )
    .await;
    get(
        server,
        &format!("/teams/organizations/{ORG}"),
        scope("limit", "100"),
        String::new(),
        json!({ "teams": [{ "id": "t1", "name": "Platform" }, { "id": "t2", "name": "Data" }] }),
    )
    .await;
    for (team, member) in [
        ("t1", user("auth0|a", "alice")),
        ("t2", user("auth0|b", "bob")),
    ] {
        let path = format!("/teams/{team}");
        let body = json!({ "id": team, "name": team, "users": [member] });
        get(server, &path, none.clone(), path.clone(), body).await;
    }
    get(
        server,
        "/roles/assignments/teams",
        scope("organizationId", ORG),
        String::new(),
        json!([{ "id": "o1", "teamId": "t2", "role": "Admin" }]),
    )
    .await;
    get(
        server,
        "/projects",
        scope("organizationId", ORG),
        String::new(),
        json!([{ "id": "p1", "name": "Payments" }, { "id": "p2", "name": "Search" }, { "id": "p3", "name": "Billing" }]),
    )
    .await;
    for project in ["p1", "p2", "p3"] {
        let path = format!("/permissions/projects/{project}");
        let body = json!([{ "userId": "auth0|a", "role": "Viewer" }]);
        get(server, &path, none.clone(), path.clone(), body).await;
        let key = format!("/roles/assignments/teams?projectId={project}");
        let body = json!([{ "id": format!("a-{project}"), "teamId": "t1", "role": "Deployer" }]);
        get(
            server,
            "/roles/assignments/teams",
            scope("projectId", project),
            key,
            body,
        )
        .await;
    }
    mocks
}

/// Syncs the refusing organization: its grant ids, and the sync's warnings.
async fn sync_refusing(refused: &[&str]) -> (BTreeSet<String>, Vec<String>) {
    let mut server = mockito::Server::new_async().await;
    let mocks = refusing_org(&mut server, refused).await;
    // A refused request does not fail the sync.
    let (_dir, reader, report) = sync_report(&server).await;
    for mock in &mocks {
        mock.assert_async().await;
    }
    let grants = reader.grants(&report.sync_id).unwrap();
    (
        grants.into_iter().map(|g| g.id).collect(),
        report.warning_messages,
    )
}

/// `warnings` are one per line of `expected`, each ending with it (after the listing's prefix).
fn assert_warnings(warnings: &[String], expected: &[&str]) {
    assert_eq!(warnings.len(), expected.len(), "{warnings:?}");
    for line in expected {
        assert!(
            warnings.iter().any(|w| w.ends_with(line)),
            "no warning `{line}` in {warnings:?}"
        );
    }
}

#[tokio::test]
async fn a_team_or_project_env0_refuses_alone_loses_only_its_own_answer() {
    let (clean, warnings) = sync_refusing(&[]).await;
    assert!(warnings.is_empty(), "{warnings:?}");

    let refused = [
        "/teams/t2",
        "/permissions/projects/p2",
        "/roles/assignments/teams?projectId=p3",
    ];
    let (grants, warnings) = sync_refusing(&refused).await;
    // What the refused requests held is gone, with what expansion drew from it; the rest stays.
    let lost: BTreeSet<&str> = clean
        .iter()
        .filter(|g| !grants.contains(*g))
        .map(String::as_str)
        .collect();
    assert_eq!(
        lost,
        BTreeSet::from([
            // Bob's membership of Data, and the organization Admin role it gave him on every
            // project.
            "team:t2:member:user:auth0|b",
            "role:Admin:member:user:auth0|b",
            "project:p1:Admin:user:auth0|b",
            "project:p2:Admin:user:auth0|b",
            "project:p3:Admin:user:auth0|b",
            "project:p2:Viewer:user:auth0|a",
            "project:p3:Deployer:team:t1",
            "project:p3:Deployer:user:auth0|a",
        ]),
        "{grants:?}"
    );
    assert!(grants.is_subset(&clean), "{grants:?}");
    // Team Data is still there, and still holds its organization role.
    assert!(grants.contains("role:Admin:member:team:t2"), "{grants:?}");
    let expected = [
        "team members not synced for 1 of 2 teams: env0 answered 403 on GET /teams/t2 (the API key lacks the permission); those teams are synced without members",
        "user roles on projects not synced for 1 of 3 projects: env0 answered 403 on GET /permissions/projects/p2 (the API key lacks the permission)",
        "team roles on projects not synced for 1 of 3 projects: env0 answered 403 on GET /roles/assignments/teams?projectId=p3 (the API key lacks the permission)",
    ];
    assert_warnings(&warnings, &expected);
}

#[tokio::test]
async fn a_request_env0_refuses_for_every_team_or_project_makes_the_part_missing() {
    let (clean, _) = sync_refusing(&[]).await;
    let refused = [
        "/teams/t1",
        "/teams/t2",
        "/permissions/projects/p1",
        "/permissions/projects/p2",
        "/permissions/projects/p3",
    ];
    let (grants, warnings) = sync_refusing(&refused).await;
    // No team at all (so no team grant of any kind), and no user role on any project.
    let kept: Vec<&String> = grants
        .iter()
        .filter(|g| g.contains("team") || g.starts_with("project:") && g.contains(":Viewer:"))
        .collect();
    assert!(kept.is_empty(), "{kept:?}");
    assert!(grants.is_subset(&clean), "{grants:?}");
    assert!(
        grants.contains("role:User:member:user:auth0|a"),
        "{grants:?}"
    );
    let expected = [
        "teams not synced: env0 answered 403 on GET /teams/{id} (the API key lacks the permission)",
        "user roles on projects not synced: env0 answered 403 on GET /permissions/projects/p1 (the API key lacks the permission)",
    ];
    assert_warnings(&warnings, &expected);
}
