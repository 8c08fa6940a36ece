//! The access model end to end: the built binary syncs a generated organization from env0-fake,
//! and every grant in the file — direct, structural and expanded, with its sources — is the one
//! computed here from the fake's own data, by the rules of `docs/access-model.md` and the
//! expansion rules of `docs/c1z-format.md`, independently of env0-connector and c1-sync.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use c1_model::{annotations, pb};
use env0_fake::{Endpoint, FakeConfig, Faults, GenerateOptions, Maybe, Org};

use crate::e2e::{Fake, baton, run, synced_dir};

const PROJECT_ROLES: [&str; 4] = ["Admin", "Deployer", "Planner", "Viewer"];
const BUILTIN: [&str; 5] = ["Admin", "User", "Deployer", "Planner", "Viewer"];

/// A grant as the file holds it, in plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) entitlement: String,
    pub(crate) principal: (String, String),
    /// Source entitlement id → `is_direct`.
    pub(crate) sources: BTreeMap<String, bool>,
    /// `GrantExpandable`: entitlement ids, principal types, shallow.
    pub(crate) expandable: Option<(Vec<String>, Vec<String>, bool)>,
    /// Whether it carries `GrantImmutable` (expansion made it).
    pub(crate) immutable: bool,
}

/// Every grant of the latest finished sync in `file`, by grant id.
pub(crate) fn synced_grants(file: &Path) -> BTreeMap<String, Held> {
    let reader = c1_sync::C1zReader::open(file).expect("c1z opens");
    let sync = reader
        .latest_finished_sync()
        .expect("sync runs")
        .expect("a finished sync");
    reader
        .grants(&sync.sync_id)
        .expect("grants")
        .into_iter()
        .map(|g| {
            let principal = g.principal.as_ref().and_then(|p| p.id.clone()).unwrap();
            let held = Held {
                entitlement: g.entitlement.as_ref().unwrap().id.clone(),
                principal: (principal.resource_type, principal.resource),
                sources: g
                    .sources
                    .as_ref()
                    .map(|s| {
                        s.sources
                            .iter()
                            .map(|(k, v)| (k.clone(), v.is_direct))
                            .collect()
                    })
                    .unwrap_or_default(),
                expandable: annotations::find::<pb::GrantExpandable>(&g.annotations)
                    .map(|e| (e.entitlement_ids, e.resource_type_ids, e.shallow)),
                immutable: annotations::has::<pb::GrantImmutable>(&g.annotations),
            };
            (g.id, held)
        })
        .collect()
}

fn text(m: &Maybe<String>) -> Option<&str> {
    m.value()
        .map(String::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn grant_id(entitlement: &str, principal: &(String, String)) -> String {
    format!("{entitlement}:{}:{}", principal.0, principal.1)
}

fn principal(kind: &str, id: &str) -> (String, String) {
    (kind.to_owned(), id.to_owned())
}

/// The grants the contract says a sync of `org` holds, expansion done.
pub(crate) fn expected_grants(org: &Org) -> BTreeMap<String, Held> {
    // Principals: members, API keys (a key listed as a member is the key; its role wins).
    let mut roles: BTreeMap<String, Option<String>> = BTreeMap::new();
    for m in &org.members {
        roles
            .entry(m.user.user_id.clone())
            .or_insert_with(|| text(&m.role).map(str::to_owned));
    }
    for k in &org.api_keys {
        let member_role = roles.get(&k.id).cloned().flatten();
        roles.insert(
            k.id.clone(),
            text(&k.organization_role)
                .map(str::to_owned)
                .or(member_role),
        );
    }
    let known = |id: &str| roles.contains_key(id);
    let team_ids: HashSet<&str> = org.teams.iter().map(|t| t.id.as_str()).collect();

    // Custom roles: listed, held, or used anywhere.
    let mut custom: Vec<String> = org.roles.iter().map(|r| r.id.clone()).collect();
    let mut used: BTreeSet<String> = roles.values().flatten().cloned().collect();
    used.extend(
        org.team_role_assignments
            .organization
            .iter()
            .map(|a| a.role.clone()),
    );
    for list in org.project_permissions.values() {
        used.extend(list.iter().map(|p| p.role.clone()));
    }
    for list in org.team_role_assignments.projects.values() {
        used.extend(list.iter().map(|a| a.role.clone()));
    }
    for role in used {
        if !BUILTIN.contains(&role.as_str()) && !custom.contains(&role) {
            custom.push(role);
        }
    }
    let project_roles: Vec<String> = PROJECT_ROLES
        .iter()
        .map(|r| (*r).to_owned())
        .chain(custom)
        .collect();

    let mut grants: BTreeMap<String, Held> = BTreeMap::new();
    let mut add = |entitlement: String, to: (String, String), from: Option<(String, &[&str])>| {
        let id = grant_id(&entitlement, &to);
        grants.insert(
            id,
            Held {
                entitlement,
                principal: to,
                sources: BTreeMap::new(),
                expandable: from.map(|(e, types)| {
                    (
                        vec![e],
                        types.iter().map(|t| (*t).to_owned()).collect(),
                        false,
                    )
                }),
                immutable: false,
            },
        );
    };
    for (id, role) in &roles {
        if let Some(role) = role {
            add(format!("role:{role}:member"), principal("user", id), None);
        }
    }
    for team in &org.teams {
        for member in team.users.value().into_iter().flatten() {
            if known(&member.user_id) {
                add(
                    format!("team:{}:member", team.id),
                    principal("user", &member.user_id),
                    None,
                );
            }
        }
    }
    for a in &org.team_role_assignments.organization {
        if team_ids.contains(a.team_id.as_str()) {
            add(
                format!("role:{}:member", a.role),
                principal("team", &a.team_id),
                Some((format!("team:{}:member", a.team_id), &["user"])),
            );
        }
    }
    for p in &org.projects {
        match text(&p.parent_project_id) {
            Some(parent) => {
                for role in &project_roles {
                    add(
                        format!("project:{}:{role}", p.id),
                        principal("project", parent),
                        Some((format!("project:{parent}:{role}"), &["user", "team"])),
                    );
                }
            }
            None => add(
                format!("project:{}:Admin", p.id),
                principal("role", "Admin"),
                Some(("role:Admin:member".to_owned(), &["user", "team"])),
            ),
        }
        for perm in org.project_permissions.get(&p.id).into_iter().flatten() {
            if known(&perm.user_id) {
                add(
                    format!("project:{}:{}", p.id, perm.role),
                    principal("user", &perm.user_id),
                    None,
                );
            }
        }
        for a in org
            .team_role_assignments
            .projects
            .get(&p.id)
            .into_iter()
            .flatten()
        {
            if team_ids.contains(a.team_id.as_str()) {
                add(
                    format!("project:{}:{}", p.id, a.role),
                    principal("team", &a.team_id),
                    Some((format!("team:{}:member", a.team_id), &["user"])),
                );
            }
        }
    }
    expand(&mut grants);
    grants
}

/// Expansion to a fixed point: for every expandable grant on D from S, every grant on S of an
/// allowed principal type gives that principal D, sourced from S (`is_direct` when the S grant
/// is direct); a direct grant reached this way also gets its own entitlement as a source.
fn expand(grants: &mut BTreeMap<String, Held>) {
    let edges: Vec<(String, String, Vec<String>)> = grants
        .values()
        .filter_map(|g| {
            let (from, types, _) = g.expandable.clone()?;
            Some((from[0].clone(), g.entitlement.clone(), types))
        })
        .collect();
    loop {
        let mut changed = false;
        for (source, destination, types) in &edges {
            let holders: Vec<((String, String), bool)> = grants
                .values()
                .filter(|g| &g.entitlement == source && types.contains(&g.principal.0))
                .map(|g| {
                    let direct = g.sources.is_empty() || g.sources.contains_key(source);
                    (g.principal.clone(), direct)
                })
                .collect();
            for (who, direct) in holders {
                let id = grant_id(destination, &who);
                let target = grants.entry(id).or_insert_with(|| Held {
                    entitlement: destination.clone(),
                    principal: who.clone(),
                    sources: BTreeMap::new(),
                    expandable: None,
                    immutable: true,
                });
                if target.sources.is_empty() && !target.immutable {
                    target.sources.insert(destination.clone(), true);
                    changed = true;
                }
                let entry = target.sources.entry(source.clone()).or_insert_with(|| {
                    changed = true;
                    direct
                });
                if direct && !*entry {
                    *entry = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// Compares grant by grant, naming the first difference.
pub(crate) fn assert_same_grants(got: &BTreeMap<String, Held>, want: &BTreeMap<String, Held>) {
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} grants missing (first: {:?}), {} unexpected (first: {:?})",
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
    for (id, w) in want {
        assert_eq!(&got[id], w, "grant {id}");
    }
}

/// Team memberships and project roles of principals the organization does not list.
fn assignments_to_unknown_principals(org: &Org) -> usize {
    let known: HashSet<&str> = org
        .members
        .iter()
        .map(|m| m.user.user_id.as_str())
        .chain(org.api_keys.iter().map(|k| k.id.as_str()))
        .collect();
    let in_teams = org
        .teams
        .iter()
        .flat_map(|t| t.users.value().into_iter().flatten())
        .filter(|u| !known.contains(u.user_id.as_str()))
        .count();
    let in_projects = org
        .project_permissions
        .values()
        .flatten()
        .filter(|p| !known.contains(p.user_id.as_str()))
        .count();
    in_teams + in_projects
}

pub(crate) fn org_for_the_e2e() -> Org {
    Org::generate(GenerateOptions {
        users: 300,
        api_keys: 30,
        teams: 10,
        projects: 12,
        seed: 7,
    })
}

/// The generated organization has what the test must cover.
fn assert_covers_the_cases(org: &Org, grants: &BTreeMap<String, Held>) {
    assert!(
        assignments_to_unknown_principals(org) > 0,
        "assignments of removed members"
    );
    assert!(
        org.projects
            .iter()
            .any(|p| text(&p.parent_project_id).is_some())
    );
    assert!(
        org.projects
            .iter()
            .any(|p| p.is_archived == Maybe::Value(true))
    );
    assert!(grants.values().any(|g| g.immutable), "expanded grants");
    assert!(
        grants.values().any(|g| !g.immutable && g.sources.len() > 1),
        "a direct grant that expansion also reaches"
    );
    assert!(
        grants.values().any(|g| g.immutable
            && g.principal.0 == "user"
            && g.sources.keys().any(|s| s.starts_with("project:"))),
        "a user's role inherited from a parent project"
    );
    assert!(
        grants
            .values()
            .any(|g| g.immutable && g.sources.contains_key("role:Admin:member")),
        "organization Admins on projects"
    );
}

#[test]
fn every_grant_of_a_generated_org_is_the_contracts_both_team_shapes() {
    let org = org_for_the_e2e();
    let want = expected_grants(&org);
    assert_covers_the_cases(&org, &want);
    let dir = tempfile::tempdir().unwrap();
    for (file, config) in [
        ("with-users.c1z", FakeConfig::new(org.clone())),
        (
            "without-users.c1z",
            FakeConfig::new(org.clone()).with_teams_without_users(),
        ),
    ] {
        let fake = Fake::start(config);
        let report = format!("{file}.json");
        let out = run(
            baton(dir.path(), &fake.server, env0_fake::DEMO_KEY_SECRET).args([
                "--file",
                file,
                "--summary-json",
                &report,
            ]),
        );
        assert_eq!(out.code, 0, "{file}: {}", out.stderr);
        assert_same_grants(&synced_grants(&dir.path().join(file)), &want);
        // One warning per assignment naming someone the organization does not list.
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(&report)).unwrap())
                .unwrap();
        let skipped = report["warning_messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| {
                w.as_str()
                    .unwrap()
                    .contains("skipped: the organization does not list that principal")
            })
            .count();
        assert_eq!(skipped, assignments_to_unknown_principals(&org), "{file}");
        // The request budget of the contract.
        let stats = fake.server.stats();
        let teams_without_members = if file == "without-users.c1z" {
            org.teams.len()
        } else {
            org.teams
                .iter()
                .filter(|t| t.users.value().is_none())
                .count()
        };
        let projects = org.projects.len();
        assert_eq!(
            stats.total,
            (1 + 1
                + 1
                + 1
                + org.teams.len().div_ceil(100)
                + teams_without_members
                + 1
                + 1
                + 2 * projects) as u64,
            "{file}: {:?}",
            stats.by_path
        );
        assert_eq!(
            stats.path_count("/roles/assignments/teams"),
            1 + projects as u64
        );
        assert_eq!(stats.status_count("429"), 0);
    }
}

#[test]
fn without_custom_roles_in_the_plan_the_rest_syncs_with_one_warning() {
    let org = org_for_the_e2e();
    let fake = Fake::start(FakeConfig::new(org.clone()).with_forced_status(Endpoint::Roles, 402));
    let dir = tempfile::tempdir().unwrap();
    let out = run(baton(dir.path(), &fake.server, env0_fake::DEMO_KEY_SECRET)
        .args(["--summary-json", "report.json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let warnings: Vec<&str> = report["warning_messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("GET /roles"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("402"), "{}", warnings[0]);
    assert!(warnings[0].contains("plan"), "{}", warnings[0]);
    // Every grant is there: custom roles are resources named by their ids.
    assert_same_grants(
        &synced_grants(&dir.path().join("sync.c1z")),
        &expected_grants(&org),
    );
    let reader = c1_sync::C1zReader::open(&dir.path().join("sync.c1z")).unwrap();
    let sync = reader.latest_finished_sync().unwrap().unwrap();
    let roles = reader.resources(&sync.sync_id, Some("role")).unwrap();
    let listed = &org.roles[0];
    let role = roles
        .iter()
        .find(|r| r.id.as_ref().unwrap().resource == listed.id)
        .expect("a listed custom role still has a resource");
    assert_eq!(role.display_name, listed.id, "named by its id");
}

/// 20% transient faults, a mix of the five kinds, on every path (the per-project ones
/// included): the grants are exactly those of a clean sync.
#[test]
fn a_sync_under_faults_holds_the_grants_of_a_clean_one() {
    let org = org_for_the_e2e();
    let want = expected_grants(&org);
    let dir = tempfile::tempdir().unwrap();
    let mut met: BTreeMap<String, u64> = BTreeMap::new();
    for seed in 0..4 {
        let fake = Fake::start(FakeConfig::new(org.clone()).with_faults(
            Faults::parse("429=0.04,500=0.04,reset=0.04,truncate=0.04,cut=0.04", seed).unwrap(),
        ));
        let file = format!("faulty-{seed}.c1z");
        let report = format!("faulty-{seed}.json");
        let out = run(
            baton(dir.path(), &fake.server, env0_fake::DEMO_KEY_SECRET).args([
                "--file",
                &file,
                "--max-retries",
                "10",
                "--summary-json",
                &report,
            ]),
        );
        assert_eq!(out.code, 0, "seed {seed}: {}", out.stderr);
        assert_same_grants(&synced_grants(&dir.path().join(&file)), &want);
        // Every fault was answered by one retry, and the report counts them.
        let faults: u64 = fake
            .server
            .stats()
            .by_path_status
            .values()
            .flat_map(|outcomes| outcomes.iter())
            .filter(|(outcome, _)| outcome.as_str() != "200")
            .map(|(_, count)| count)
            .sum();
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(&report)).unwrap())
                .unwrap();
        assert!(faults > 0, "seed {seed}");
        assert_eq!(report["retries"], faults, "seed {seed}");
        for (path, outcomes) in fake.server.stats().by_path_status {
            for (outcome, count) in outcomes {
                if outcome != "200" {
                    let kind = if path.starts_with("/permissions/projects/") {
                        format!("{outcome} on a project's permissions")
                    } else {
                        outcome
                    };
                    *met.entry(kind).or_default() += count;
                }
            }
        }
    }
    for kind in ["429", "500", "reset", "truncate", "cut"] {
        assert!(met.contains_key(kind), "{kind} was met: {met:?}");
    }
    assert!(
        met.keys()
            .any(|k| k.ends_with("on a project's permissions")),
        "a per-project call met a fault: {met:?}"
    );
}

#[test]
fn skip_projects_syncs_users_roles_and_teams_and_asks_nothing_of_projects() {
    let org = org_for_the_e2e();
    let fake = Fake::start(FakeConfig::new(org.clone()));
    let dir = tempfile::tempdir().unwrap();
    let out = run(baton(dir.path(), &fake.server, env0_fake::DEMO_KEY_SECRET)
        .env("BATON_SKIP_PROJECTS", "true"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stats = fake.server.stats();
    assert!(
        stats
            .by_path
            .keys()
            .all(|p| p != "/projects" && !p.starts_with("/permissions/")),
        "{:?}",
        stats.by_path
    );
    assert_eq!(
        stats.path_count("/roles/assignments/teams"),
        1,
        "the organization's only"
    );
    let file = dir.path().join("sync.c1z");
    let reader = c1_sync::C1zReader::open(&file).unwrap();
    let sync = reader.latest_finished_sync().unwrap().unwrap();
    let types: Vec<String> = reader
        .resource_types(&sync.sync_id)
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(types, ["user", "role", "team"]);
    let want: BTreeMap<String, Held> = expected_grants(&org)
        .into_iter()
        .filter(|(_, g)| !g.entitlement.starts_with("project:"))
        .collect();
    assert_same_grants(&synced_grants(&file), &want);
}

/// The client keeps every path within the limit, so a server that counts per path the way env0
/// does never answers 429, and paths do not hold each other back: the server sees more than the
/// limit in a minute overall.
#[test]
fn each_path_keeps_to_its_limit_and_the_server_never_answers_429() {
    const LIMIT: u32 = 40;
    let org = Org::generate(GenerateOptions {
        users: 30,
        api_keys: 3,
        teams: 4,
        projects: 35,
        seed: 3,
    });
    let fake = Fake::start(FakeConfig::new(org).with_rate_limit(LIMIT));
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        baton(dir.path(), &fake.server, env0_fake::DEMO_KEY_SECRET).args([
            "--max-requests-per-minute",
            &LIMIT.to_string(),
            "--workers",
            "8",
        ]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stats = fake.server.stats();
    assert_eq!(stats.status_count("429"), 0, "{stats:?}");
    assert_eq!(stats.path_count("/roles/assignments/teams"), 36);
    assert!(stats.busiest_path_in_60s() <= u64::from(LIMIT), "{stats:?}");
    assert!(
        stats.max_in_60s > u64::from(LIMIT),
        "the limit is per path, not for all requests: {stats:?}"
    );
}

/// The worked example of `docs/access-model.md`, served by the fake.
fn worked_example_org() -> Org {
    let user = |id: &str, name: &str| serde_json::json!({ "user_id": id, "name": name, "email": format!("{}@example.com", name.to_lowercase()) });
    serde_json::from_value(serde_json::json!({
        "organization": { "id": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "name": "Worked Example" },
        "members": [
            { "role": "User", "status": "Active", "user": user("auth0|a", "Alice") },
            { "role": "Admin", "status": "Active", "user": user("auth0|b", "Bob") }
        ],
        "apiKeys": [],
        "roles": [],
        "teams": [{ "id": "t1", "name": "Platform", "users": [user("auth0|a", "Alice")] }],
        "projects": [
            { "id": "p1", "name": "Payments", "hierarchy": "p1" },
            { "id": "p2", "name": "Payments-EU", "parentProjectId": "p1", "hierarchy": "p1|p2" }
        ],
        "projectPermissions": { "p1": [], "p2": [] },
        "teamRoleAssignments": {
            "organization": [],
            "projects": { "p1": [{ "id": "a1", "teamId": "t1", "role": "Deployer" }], "p2": [] }
        }
    }))
    .unwrap()
}

#[test]
fn inspect_access_and_grants_tell_the_worked_example() {
    let fake = Fake::start(FakeConfig::new(worked_example_org()));
    let dir = synced_dir(&fake);
    let inspect = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("baton-env0")
            .unwrap()
            .env_clear()
            .current_dir(dir.path())
            .args(["inspect"])
            .args(args)
            .args(["--log-level", "error"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // By id or by email, the same story.
    let alice = inspect(&["access", "auth0|a"]);
    assert_eq!(alice, inspect(&["access", "ALICE@example.com"]));
    let lines: Vec<&str> = alice.lines().skip(1).map(str::trim_end).collect();
    let rows: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec!["ACCESS", "HOW", "ENTITLEMENT ID"],
            vec!["Organization User", "direct", "role:User:member"],
            vec!["Member of Platform team", "direct", "team:t1:member"],
            vec![
                "Deployer on Payments",
                "via team Platform",
                "project:p1:Deployer"
            ],
            vec![
                "Deployer on Payments-EU",
                "inherited from project Payments",
                "project:p2:Deployer"
            ],
        ]
    );
    let bob = inspect(&["access", "auth0|b", "--format", "json"]);
    let bob: serde_json::Value = serde_json::from_str(&bob).unwrap();
    let how: Vec<(String, serde_json::Value)> = bob["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["entitlement_id"].as_str().unwrap().to_owned(),
                a["how"].clone(),
            )
        })
        .collect();
    assert_eq!(
        how,
        [
            (
                "role:Admin:member".to_owned(),
                serde_json::json!([{ "kind": "direct" }])
            ),
            (
                "project:p1:Admin".to_owned(),
                serde_json::json!([{ "kind": "organization_admin" }])
            ),
            (
                "project:p2:Admin".to_owned(),
                serde_json::json!([{ "kind": "project", "project_id": "p1", "project": "Payments" }])
            ),
        ]
    );
    // The grants of one entitlement: the team's direct grant, the structural one from the
    // parent, and Alice's, expanded from there.
    let csv = inspect(&[
        "grants",
        "--entitlement",
        "project:p2:Deployer",
        "--format",
        "csv",
    ]);
    let rows: Vec<(String, String, String)> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_owned(), r[9].to_owned(), r[10].to_owned())
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "project:p2:Deployer:project:p1".into(),
                "direct".into(),
                String::new()
            ),
            (
                "project:p2:Deployer:team:t1".into(),
                "expanded".into(),
                "project:p1:Deployer".into()
            ),
            (
                "project:p2:Deployer:user:auth0|a".into(),
                "expanded".into(),
                "project:p1:Deployer".into()
            ),
        ]
    );
    let alice_grants = inspect(&["grants", "--principal", "user:auth0|a", "--format", "json"]);
    let alice_grants: serde_json::Value = serde_json::from_str(&alice_grants).unwrap();
    assert_eq!(alice_grants["grants"].as_array().unwrap().len(), 4);
    let by_bare_id: serde_json::Value = serde_json::from_str(&inspect(&[
        "grants",
        "--principal",
        "auth0|a",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        by_bare_id, alice_grants,
        "a bare id names the same principal"
    );
}
