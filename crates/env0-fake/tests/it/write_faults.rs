//! Writes under faults and the rate limit, the write records, and the concurrent-edit hook.

use env0_fake::{FakeConfig, FaultKind, Faults, RunningFake, User, WriteRecord};
use reqwest::Method;
use serde_json::{Value, json};

use crate::writes::{call, org, plain_member, send, unassigned_member};
use crate::{get, get_json, start};

fn with_fault(kind: FaultKind) -> FakeConfig {
    FakeConfig::new(org()).with_faults(Faults::none().with(kind, 1.0))
}

fn outcomes(fake: &RunningFake) -> Vec<(String, bool)> {
    fake.writes()
        .into_iter()
        .map(|w| (w.outcome, w.applied))
        .collect()
}

#[tokio::test]
async fn drop_applies_the_write_then_closes_the_connection() {
    let org = org();
    let project = org.projects[0].id.clone();
    let member = unassigned_member(&org, &project);
    let team = org.teams[1].id.clone();
    let fake = start(with_fault(FaultKind::Drop)).await;
    let path = format!("/permissions/projects/{project}");
    let body = json!({ "userId": member, "role": "Deployer" });

    let err = send(&fake, Method::POST, &path, Some(body.clone()))
        .await
        .expect_err("no answer");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let held: Vec<_> = fake.org().project_permissions[&project]
        .iter()
        .filter(|p| p.user_id == member)
        .map(|p| p.role.clone())
        .collect();
    assert_eq!(held, ["Deployer"], "applied all the same");

    // The repeat is refused (and its answer dropped too): still one row, one applied POST.
    assert!(send(&fake, Method::POST, &path, Some(body)).await.is_err());
    let rows = fake.org().project_permissions[&project]
        .iter()
        .filter(|p| p.user_id == member)
        .count();
    assert_eq!(rows, 1);
    // A team write under drop: applied, unanswered.
    let put = json!({ "name": "Dropped", "userIds": [] });
    assert!(
        send(&fake, Method::PUT, &format!("/teams/{team}"), Some(put))
            .await
            .is_err()
    );
    assert_eq!(fake.org().teams[1].name.value().unwrap(), "Dropped");
    // A read under drop is reset.
    assert!(send(&fake, Method::GET, &path, None).await.is_err());

    let applied_posts = fake
        .writes()
        .iter()
        .filter(|w| w.method == "POST" && w.applied)
        .count();
    assert_eq!(applied_posts, 1);
    assert_eq!(
        outcomes(&fake),
        [
            ("drop".to_owned(), true),
            ("drop".to_owned(), false),
            ("drop".to_owned(), true)
        ]
    );
    let stats = fake.stats();
    assert_eq!(stats.status_count("drop"), 4);
    assert_eq!(stats.path_status_count(&format!("POST {path}"), "drop"), 2);
    assert_eq!(stats.path_status_count(&path, "drop"), 1);
}

#[tokio::test]
async fn status_faults_and_resets_leave_the_state_unchanged() {
    let source = org();
    let member = plain_member(&source);
    for kind in [
        FaultKind::Status(429),
        FaultKind::Status(500),
        FaultKind::Status(502),
        FaultKind::Reset,
    ] {
        let fake = start(with_fault(kind)).await;
        let before = fake.org();
        let role = format!(
            "/organizations/{}/users/{}/role",
            fake.org_id(),
            member.replace('|', "%7C")
        );
        let sent = reqwest::Client::new()
            .put(format!("{}{role}", fake.base_url()))
            .basic_auth(crate::KEY_ID, Some(crate::SECRET))
            .body("Admin")
            .send()
            .await;
        let team = format!("/teams/{}", before.teams[0].id);
        let renamed = send(
            &fake,
            Method::PUT,
            &team,
            Some(json!({ "name": "x", "userIds": [] })),
        )
        .await;
        match kind {
            FaultKind::Status(code) => {
                assert_eq!(sent.unwrap().status().as_u16(), code);
                assert_eq!(renamed.unwrap().status().as_u16(), code);
            }
            _ => assert!(sent.is_err() && renamed.is_err(), "{kind}"),
        }
        assert_eq!(fake.org(), before, "{kind}: nothing applied");
        let label = kind.to_string();
        assert_eq!(
            outcomes(&fake),
            [(label.clone(), false), (label, false)],
            "{kind}"
        );
    }
}

#[tokio::test]
async fn the_rate_limit_counts_each_method_on_a_path_apart() {
    let fake = start(FakeConfig::new(org()).with_rate_limit(2)).await;
    let id = fake.org_id().to_owned();
    let team = fake.org().teams[0].id.clone();
    let path = "/roles/assignments/teams";
    let read = format!("{path}?organizationId={id}");
    for _ in 0..2 {
        assert_eq!(get(&fake, &read).await.status(), 200);
    }
    assert_eq!(get(&fake, &read).await.status(), 429);
    let body = |role: &str| Some(json!({ "teamId": team, "role": role, "organizationId": id }));
    // The PUTs have a window of their own, and a PUT beyond it changes nothing.
    assert_eq!(call(&fake, Method::PUT, path, body("Admin")).await.0, 200);
    assert_eq!(call(&fake, Method::PUT, path, body("User")).await.0, 200);
    let resp = send(&fake, Method::PUT, path, body("Admin")).await.unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let held: Vec<String> = fake
        .org()
        .team_role_assignments
        .organization
        .iter()
        .filter(|a| a.team_id == team)
        .map(|a| a.role.clone())
        .collect();
    assert_eq!(held, ["User"]);
    // DELETE is a third counter.
    let delete = format!("{path}?teamId={team}&organizationId={id}");
    assert_eq!(call(&fake, Method::DELETE, &delete, None).await.0, 200);

    let stats = fake.stats();
    assert_eq!(stats.path_count(path), 3);
    assert_eq!(stats.method_path_count("PUT", path), 3);
    assert_eq!(stats.method_path_count("delete", path), 1);
    assert_eq!(stats.path_count(&format!("PUT {path}")), 3);
    assert_eq!(stats.max_in_60s_by_path[path], 3);
    assert_eq!(stats.max_in_60s_by_path[&format!("PUT {path}")], 3);
    assert_eq!(stats.path_status_count(&format!("PUT {path}"), "429"), 1);
    assert_eq!(stats.total, stats.by_path.values().sum::<u64>());
    assert_eq!(
        outcomes(&fake),
        [
            ("200".to_owned(), true),
            ("200".to_owned(), true),
            ("429".to_owned(), false),
            ("200".to_owned(), true)
        ]
    );
}

#[tokio::test]
async fn writes_do_not_move_the_fault_sequence_of_reads_on_the_same_path() {
    const MIX: &str = "500=0.3,reset=0.2,drop=0.2";
    let config = || FakeConfig::new(org()).with_faults(Faults::parse(MIX, 5).unwrap());
    let read_outcomes = |fake: &RunningFake| {
        fake.stats()
            .by_path_status
            .get(&format!("/teams/{}", fake.org().teams[0].id))
            .cloned()
    };
    let alone = start(config()).await;
    let mixed = start(config()).await;
    let team = format!("/teams/{}", alone.org().teams[0].id);
    for i in 0..30 {
        let _ = send(&alone, Method::GET, &team, None).await;
        let _ = send(&mixed, Method::GET, &team, None).await;
        for _ in 0..i % 3 {
            let body = json!({ "name": "n", "userIds": [] });
            let _ = send(&mixed, Method::PUT, &team, Some(body)).await;
        }
    }
    assert_eq!(read_outcomes(&alone), read_outcomes(&mixed));
    let writes = mixed.writes();
    assert_eq!(writes.len(), 30);
    for kind in ["500", "reset", "drop", "200"] {
        assert!(writes.iter().any(|w| w.outcome == kind), "{kind}");
    }
    // Applied exactly when the handler ran: a drop or a 200.
    for w in &writes {
        assert_eq!(
            w.applied,
            w.outcome == "drop" || w.outcome == "200",
            "{w:?}"
        );
    }
}

#[tokio::test]
async fn on_next_write_stands_in_for_a_concurrent_edit() {
    let org = org();
    let team = org.teams[2].id.clone();
    let ours = plain_member(&org);
    let theirs = org
        .members
        .iter()
        .map(|m| m.user.user_id.clone())
        .find(|id| *id != ours && org.api_key(id).is_none())
        .unwrap();
    let fake = start(FakeConfig::new(org)).await;
    let added = theirs.clone();
    let target = team.clone();
    fake.on_next_write(move |org| {
        if let Some(t) = org.teams.iter_mut().find(|t| t.id == target) {
            let mut users = t.users.value().cloned().unwrap_or_default();
            users.push(User::new(added));
            t.users = env0_fake::Maybe::Value(users);
        }
    });
    let path = format!("/teams/{team}");
    // A refused write does not run it.
    let refused = json!({ "name": "T", "userIds": ["auth0|nobody"] });
    assert_eq!(call(&fake, Method::PUT, &path, Some(refused)).await.0, 400);
    let ids = |v: &Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let body = json!({ "name": "T", "userIds": [ours] });
    let (status, answer) = call(&fake, Method::PUT, &path, Some(body.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&answer),
        std::slice::from_ref(&ours),
        "our write's own answer"
    );
    let read = get_json(&fake, &path).await;
    assert_eq!(
        ids(&read),
        [ours.clone(), theirs],
        "the edit right after ours"
    );
    let listed = get_json(&fake, &format!("/teams/organizations/{}", fake.org_id())).await;
    assert_eq!(listed[2], read, "every body is serialized again");
    // Once only.
    assert_eq!(call(&fake, Method::PUT, &path, Some(body)).await.0, 200);
    assert_eq!(ids(&get_json(&fake, &path).await), [ours]);
}

#[tokio::test]
async fn every_write_is_recorded_and_served_at_fake_writes() {
    let org = org();
    let project = org.projects[2].id.clone();
    let member = unassigned_member(&org, &project);
    let fake = start(FakeConfig::new(org)).await;
    let path = format!("/permissions/projects/{project}");
    let body = json!({ "userId": member, "role": "Viewer" });
    // Unauthenticated: recorded, refused before anything.
    let unauth = reqwest::Client::new()
        .post(format!("{}{path}", fake.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    assert_eq!(
        call(&fake, Method::POST, &path, Some(body.clone())).await.0,
        200
    );
    let delete = format!("/roles/assignments/teams?teamId=t&projectId={project}");
    assert_eq!(call(&fake, Method::DELETE, &delete, None).await.0, 404);
    get_json(&fake, &path).await;

    let records = fake.writes();
    let summary: Vec<(&str, &str, &str, &str, bool)> = records
        .iter()
        .map(|w| {
            (
                w.method.as_str(),
                w.path.as_str(),
                w.query.as_str(),
                w.outcome.as_str(),
                w.applied,
            )
        })
        .collect();
    let team_roles = "/roles/assignments/teams";
    let query = format!("teamId=t&projectId={project}");
    assert_eq!(
        summary,
        [
            ("POST", path.as_str(), "", "401", false),
            ("POST", path.as_str(), "", "200", true),
            ("DELETE", team_roles, query.as_str(), "404", false),
        ]
    );
    let sent: Value = serde_json::from_str(&records[1].body).unwrap();
    assert_eq!(sent, body);
    assert_eq!(records[2].body, "");

    let served: Vec<WriteRecord> = reqwest::get(format!("{}/_fake/writes", fake.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, records);
    let stats = fake.stats();
    assert_eq!(stats.total, 4, "/_fake/writes is not counted");
    assert_eq!(stats.path_count(&path), 1);
    assert_eq!(stats.path_count(&format!("POST {path}")), 2);
}

#[tokio::test]
async fn write_faults_hit_writes_only() {
    let org = org();
    let project = org.projects[0].id.clone();
    let member = unassigned_member(&org, &project);
    let fake =
        start(FakeConfig::new(org).with_write_faults(Faults::none().with(FaultKind::Drop, 1.0)))
            .await;
    let path = format!("/permissions/projects/{project}");
    // Reads go through untouched...
    for _ in 0..5 {
        get_json(&fake, &path).await;
    }
    // ...while every write is applied and left unanswered.
    let body = json!({ "userId": member, "role": "Viewer" });
    assert!(send(&fake, Method::POST, &path, Some(body)).await.is_err());
    assert_eq!(outcomes(&fake), [("drop".to_owned(), true)]);
    assert_eq!(fake.stats().status_count("drop"), 1);
}
