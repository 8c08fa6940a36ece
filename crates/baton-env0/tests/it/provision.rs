//! Provisioning end to end: the built binary grants and revokes against the stateful env0-fake,
//! and the next sync shows each change (or its absence). Every run's output is checked for the
//! secret.

use std::collections::BTreeMap;
use std::path::Path;

use env0_fake::{Credentials, FakeConfig, FaultKind, Faults, Maybe, Org, WriteRecord};

use crate::access::{Held, org_for_the_e2e, synced_grants};
use crate::e2e::{Fake, baton};

/// Distinctive, so a leak anywhere is easy to find.
const SECRET: &str = "Pr0v1s10n-Secret-5e4d3c";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The generated organization of the access end-to-end test: 300 users, 30 API keys, 10 teams,
/// 12 projects.
fn org() -> Org {
    org_for_the_e2e()
}

/// The organization served by a fake (`configure` adds faults), what the test changes in it,
/// and a working directory.
fn setup(configure: impl FnOnce(FakeConfig) -> FakeConfig) -> (Picks, Fake, tempfile::TempDir) {
    let org = org();
    let picks = pick(&org);
    let fake = start(configure(FakeConfig::new(org)));
    (picks, fake, tempfile::tempdir().unwrap())
}

fn start(config: FakeConfig) -> Fake {
    Fake::start(config.with_credentials(Credentials::new(env0_fake::DEMO_KEY_ID, SECRET)))
}

/// Runs the binary with `args` against `fake` in `dir`; the secret must appear nowhere.
fn baton_run(dir: &Path, fake: &Fake, args: &[&str]) -> Run {
    let out = baton(dir, &fake.server, SECRET)
        .args(args)
        .output()
        .expect("run baton-env0");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
    run
}

fn sync(dir: &Path, fake: &Fake) -> BTreeMap<String, Held> {
    let run = baton_run(dir, fake, &["--file", "sync.c1z"]);
    assert_eq!(run.code, 0, "sync: {}", run.stderr);
    synced_grants(&dir.join("sync.c1z"))
}

fn grant(dir: &Path, fake: &Fake, entitlement: &str, principal: &str, kind: &str) -> Run {
    grant_with(dir, fake, [entitlement, principal, kind], &[])
}

/// [`grant`] of `entitlement` to `principal` of type `kind`, with more arguments.
fn grant_with(
    dir: &Path,
    fake: &Fake,
    [entitlement, principal, kind]: [&str; 3],
    more: &[&str],
) -> Run {
    let mut args = vec![
        "--file",
        "sync.c1z",
        "--grant-entitlement",
        entitlement,
        "--grant-principal",
        principal,
        "--grant-principal-type",
        kind,
    ];
    args.extend_from_slice(more);
    baton_run(dir, fake, &args)
}

fn revoke(dir: &Path, fake: &Fake, grant_id: &str) -> Run {
    baton_run(
        dir,
        fake,
        &["--file", "sync.c1z", "--revoke-grant", grant_id],
    )
}

fn ok(run: &Run, line: &str) {
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, format!("{line}\n"), "{}", run.stderr);
}

fn text(m: &Maybe<String>) -> Option<&str> {
    m.value().map(String::as_str)
}

/// A person, a project where they hold `old`, and the role `new` that replaces it.
struct Swap {
    id: String,
    project: String,
    old: String,
    new: &'static str,
}

/// What the test changes, picked from the generated organization.
struct Picks {
    /// A person holding organization role User.
    member: String,
    /// An API key.
    key: String,
    /// A team with no organization role.
    team: String,
    /// A team the member and the key are not in.
    other_team: String,
    /// A project where the member holds no role and `team` has none.
    project: String,
    /// A person holding a role on a project, to be given another one there.
    holder: Swap,
}

fn pick(org: &Org) -> Picks {
    let keys: Vec<&str> = org.api_keys.iter().map(|k| k.id.as_str()).collect();
    let people: Vec<&str> = org
        .members
        .iter()
        .filter(|m| text(&m.role) == Some("User") && !keys.contains(&m.user.user_id.as_str()))
        .map(|m| m.user.user_id.as_str())
        .collect();
    let in_team = |team: &env0_fake::Team, id: &str| {
        team.users
            .value()
            .is_some_and(|users| users.iter().any(|u| u.user_id == id))
    };
    let org_roles: Vec<&str> = org
        .team_role_assignments
        .organization
        .iter()
        .map(|a| a.team_id.as_str())
        .collect();
    let member = people[0];
    let key = keys[0];
    let team = org
        .teams
        .iter()
        .find(|t| !org_roles.contains(&t.id.as_str()))
        .expect("a team without an organization role");
    let other_team = org
        .teams
        .iter()
        .find(|t| !in_team(t, member) && !in_team(t, key))
        .expect("a team the member is not in");
    let holds = |project: &str, id: &str| {
        org.project_permissions
            .get(project)
            .is_some_and(|list| list.iter().any(|p| p.user_id == id))
    };
    let team_holds = |project: &str, id: &str| {
        org.team_role_assignments
            .projects
            .get(project)
            .is_some_and(|list| list.iter().any(|a| a.team_id == id))
    };
    let project = org
        .projects
        .iter()
        .find(|p| !holds(&p.id, member) && !team_holds(&p.id, &team.id))
        .expect("a project the member has no role on");
    let holder = org
        .project_permissions
        .iter()
        .flat_map(|(p, list)| list.iter().map(move |a| (p, a)))
        .find(|(_, a)| people.contains(&a.user_id.as_str()) && a.role != "Admin")
        .map(|(p, a)| Swap {
            id: a.user_id.clone(),
            project: p.clone(),
            old: a.role.clone(),
            new: if a.role == "Deployer" {
                "Planner"
            } else {
                "Deployer"
            },
        })
        .expect("a person with a project role");
    Picks {
        member: member.to_owned(),
        key: key.to_owned(),
        team: team.id.clone(),
        other_team: other_team.id.clone(),
        project: project.id.clone(),
        holder,
    }
}

fn applied(writes: &[WriteRecord]) -> Vec<String> {
    writes
        .iter()
        .filter(|w| w.applied)
        .map(|w| format!("{} {}", w.method, w.path))
        .collect()
}

#[test]
fn each_kind_of_grant_shows_in_the_next_sync_and_its_revoke_removes_it() {
    let (p, fake, dir) = setup(|config| config);
    let dir = dir.path();
    let before = sync(dir, &fake);

    let Swap {
        id: holder,
        project: held_on,
        old: old_role,
        new: new_role,
    } = &p.holder;
    // (entitlement, principal type, principal id, result line)
    let grants = [
        (
            "role:Admin:member".to_owned(),
            "user",
            p.member.clone(),
            "replaced User with Admin".to_owned(),
        ),
        (
            "role:Admin:member".to_owned(),
            "team",
            p.team.clone(),
            "granted".to_owned(),
        ),
        (
            format!("team:{}:member", p.other_team),
            "user",
            p.member.clone(),
            "granted".to_owned(),
        ),
        (
            format!("team:{}:member", p.other_team),
            "user",
            p.key.clone(),
            "granted".to_owned(),
        ),
        (
            format!("project:{}:Deployer", p.project),
            "user",
            p.member.clone(),
            "granted".to_owned(),
        ),
        (
            format!("project:{held_on}:{new_role}"),
            "user",
            holder.clone(),
            format!("replaced {old_role} with {new_role}"),
        ),
        (
            format!("project:{}:Viewer", p.project),
            "team",
            p.team.clone(),
            "granted".to_owned(),
        ),
    ];
    for (entitlement, kind, principal, line) in &grants {
        assert!(
            !before.contains_key(&format!("{entitlement}:{kind}:{principal}")),
            "{entitlement} is held already"
        );
        ok(&grant(dir, &fake, entitlement, principal, kind), line);
    }
    let writes = fake.server.writes();
    assert_eq!(
        applied(&writes).len(),
        grants.len(),
        "one write per grant: {writes:?}"
    );

    // Granted twice is already granted, with no write.
    ok(
        &grant(dir, &fake, &grants[4].0, &grants[4].2, grants[4].1),
        "already granted",
    );
    assert_eq!(fake.server.writes().len(), writes.len());

    let after = sync(dir, &fake);
    for (entitlement, kind, principal, _) in &grants {
        let id = format!("{entitlement}:{kind}:{principal}");
        let held = after
            .get(&id)
            .unwrap_or_else(|| panic!("{id} missing after the grant"));
        assert!(!held.immutable, "{id} is direct");
    }
    // What a grant replaced is gone.
    assert!(!after.contains_key(&format!("role:User:member:user:{}", p.member)));
    assert!(!after.contains_key(&format!("project:{held_on}:{old_role}:user:{holder}")));

    for (entitlement, kind, principal, _) in &grants {
        ok(
            &revoke(dir, &fake, &format!("{entitlement}:{kind}:{principal}")),
            "revoked",
        );
    }
    // Revoked twice is already revoked (the file still lists the grant; env0 no longer does).
    ok(
        &revoke(dir, &fake, &format!("{}:team:{}", grants[6].0, grants[6].2)),
        "already revoked",
    );
    assert_eq!(
        applied(&fake.server.writes()).len(),
        2 * grants.len(),
        "one write per revoke"
    );

    let last = sync(dir, &fake);
    for (entitlement, kind, principal, _) in &grants {
        let id = format!("{entitlement}:{kind}:{principal}");
        assert!(!last.contains_key(&id), "{id} still held after the revoke");
    }
    // Revoking an organization role sets the member back to User.
    assert!(last.contains_key(&format!("role:User:member:user:{}", p.member)));
}

#[test]
fn refusals_name_what_to_do_and_send_nothing() {
    let (p, fake, dir) = setup(|config| config);
    let dir = dir.path();

    // No sync yet: nothing to look ids up in.
    let none = grant(dir, &fake, "role:Admin:member", &p.member, "user");
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("sync.c1z does not exist"),
        "{}",
        none.stderr
    );

    let grants = sync(dir, &fake);
    fake.server.reset_stats();
    let cases = [
        (
            grant(dir, &fake, "role:Admin:member", &p.key, "user"),
            "env0's API cannot change an API key's organization role",
        ),
        (
            revoke(dir, &fake, &format!("role:User:member:user:{}", p.member)),
            "every member holds an organization role, so role:User:member cannot be revoked; grant another role instead",
        ),
        (
            grant(dir, &fake, "role:Nope:member", &p.member, "user"),
            "entitlement role:Nope:member is not in sync",
        ),
        (
            grant(dir, &fake, "role:Admin:member", "no-such-user", "user"),
            "principal user:no-such-user is not in sync",
        ),
        (
            revoke(dir, &fake, "team:nope:member:user:x"),
            "grant team:nope:member:user:x is not in sync",
        ),
    ];
    for (run, says) in &cases {
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    // Access that comes through a team, or inherited from a parent project: the grant to change
    // is named.
    let (id, held) = grants
        .iter()
        .find(|(_, g)| g.immutable && g.principal.0 == "user")
        .expect("an expanded grant");
    let source = held.sources.keys().next().unwrap();
    let refused = revoke(dir, &fake, id);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "grant {id} cannot be revoked: grant expansion made it; revoke {source}:user:{}",
            held.principal.1
        )),
        "{}",
        refused.stderr
    );
    assert!(fake.server.writes().is_empty());
    assert_eq!(fake.server.stats().total, 0, "no request for a refusal");
}

#[test]
fn dry_run_prints_the_write_and_sends_none() {
    let (p, fake, dir) = setup(|config| config);
    let dir = dir.path();
    sync(dir, &fake);
    let entitlement = format!("project:{}:Deployer", p.project);
    let run = grant_with(
        dir,
        &fake,
        [&entitlement, &p.member, "user"],
        &["--dry-run", "--summary-json", "result.json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "POST /permissions/projects/{} {{\"userId\":\"{}\",\"role\":\"Deployer\"}}\ndry run: granted (nothing was sent)\n",
            p.project, p.member
        )
    );
    assert!(fake.server.writes().is_empty());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap()).unwrap();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["result"], "granted");
    assert_eq!(summary["changed"], false);
    assert_eq!(summary["grant"], format!("{entitlement}:user:{}", p.member));
    // Nothing to do: no request line.
    let team = format!("team:{}:member", p.other_team);
    let revoke = baton_run(
        dir,
        &fake,
        &[
            "--file",
            "sync.c1z",
            "--revoke-grant",
            &format!("{team}:user:{}", first_member(&fake, &p.other_team)),
            "--dry-run",
        ],
    );
    assert_eq!(revoke.code, 0, "{}", revoke.stderr);
    assert!(
        revoke
            .stdout
            .starts_with(&format!("PUT /teams/{} ", p.other_team)),
        "{}",
        revoke.stdout
    );
    assert!(
        revoke
            .stdout
            .ends_with("dry run: revoked (nothing was sent)\n"),
        "{}",
        revoke.stdout
    );
    assert!(fake.server.writes().is_empty());

    // The same grant for real: the summary has the same keys, `would_send` null.
    let real = grant_with(
        dir,
        &fake,
        [&entitlement, &p.member, "user"],
        &["--summary-json", "real.json"],
    );
    ok(&real, "granted");
    let real: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("real.json")).unwrap()).unwrap();
    assert_eq!(real["dry_run"], false);
    assert_eq!(real["changed"], true);
    assert_eq!(real["would_send"], serde_json::Value::Null);
    let keys = |v: &serde_json::Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&real), keys(&summary));
}

fn first_member(fake: &Fake, team: &str) -> String {
    fake.server
        .org()
        .teams
        .iter()
        .find(|t| t.id == team)
        .and_then(|t| {
            t.users
                .value()
                .and_then(|u| u.first().map(|u| u.user_id.clone()))
        })
        .expect("a team with a member")
}

/// Every write is applied and its answer lost: each change still ends right, sent once.
#[test]
fn a_connection_dropped_after_each_kind_of_write_ends_applied_and_sent_once() {
    let (p, fake, dir) =
        setup(|config| config.with_write_faults(Faults::none().with(FaultKind::Drop, 1.0)));
    let dir = dir.path();
    sync(dir, &fake);
    let Swap {
        id: holder,
        project: held_on,
        old: old_role,
        new: new_role,
    } = &p.holder;
    let project_role = format!("project:{}:Deployer", p.project);
    let team_role = format!("project:{}:Viewer", p.project);
    let membership = format!("team:{}:member", p.other_team);
    let swapped = format!("project:{held_on}:{new_role}");
    ok(
        &grant(dir, &fake, "role:Admin:member", &p.member, "user"),
        "replaced User with Admin",
    );
    ok(
        &grant(dir, &fake, &project_role, &p.member, "user"),
        "granted",
    );
    ok(
        &grant(dir, &fake, &swapped, holder, "user"),
        &format!("replaced {old_role} with {new_role}"),
    );
    ok(
        &grant(dir, &fake, &membership, &p.member, "user"),
        "granted",
    );
    ok(&grant(dir, &fake, &team_role, &p.team, "team"), "granted");
    sync(dir, &fake);
    ok(
        &revoke(dir, &fake, &format!("{project_role}:user:{}", p.member)),
        "revoked",
    );
    ok(
        &revoke(dir, &fake, &format!("{team_role}:team:{}", p.team)),
        "revoked",
    );
    let writes = fake.server.writes();
    let kinds: Vec<String> = writes
        .iter()
        .map(|w| {
            format!(
                "{} {}",
                w.method,
                w.path.split('/').nth(1).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "PUT organizations",
            "POST permissions",
            "PUT permissions",
            "PUT teams",
            "PUT roles",
            "DELETE permissions",
            "DELETE roles"
        ],
        "each write sent once: {writes:?}"
    );
    assert!(
        writes.iter().all(|w| w.applied && w.outcome == "drop"),
        "{writes:?}"
    );
    let last = sync(dir, &fake);
    assert!(last.contains_key(&format!("role:Admin:member:user:{}", p.member)));
    assert!(last.contains_key(&format!("{swapped}:user:{holder}")));
    assert!(last.contains_key(&format!("{membership}:user:{}", p.member)));
    assert!(!last.contains_key(&format!("{project_role}:user:{}", p.member)));
    assert!(!last.contains_key(&format!("{team_role}:team:{}", p.team)));
}

#[test]
fn a_write_never_applied_is_sent_again_then_reported_and_nothing_changes() {
    let (p, fake, dir) =
        setup(|config| config.with_write_faults(Faults::none().with(FaultKind::Reset, 1.0)));
    let dir = dir.path();
    sync(dir, &fake);
    let project_role = format!("project:{}:Deployer", p.project);
    let run = grant(dir, &fake, &project_role, &p.member, "user");
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("env0 did not apply POST /permissions/projects/")
            && run.stderr.contains("sent 3 times")
            && run.stderr.contains(
                "(the last send: the connection closed before env0 answered); nothing changed"
            )
            && run.stderr.contains("nothing changed"),
        "{}",
        run.stderr
    );
    let writes = fake.server.writes();
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(writes.iter().all(|w| !w.applied));
    assert!(!sync(dir, &fake).contains_key(&format!("{project_role}:user:{}", p.member)));
}

/// env0 answers later than the client waits, and applies the write after the state was read
/// back: the write is not sent again (a second one could land beside the first), the run says
/// env0 may still apply it, and it lands once.
#[test]
fn a_write_env0_answers_too_late_is_not_sent_again_and_lands_once() {
    let (p, fake, dir) =
        setup(|config| config.with_write_faults(Faults::none().with(FaultKind::Late, 1.0)));
    let dir = dir.path();
    sync(dir, &fake);
    let project_role = format!("project:{}:Deployer", p.project);
    let run = grant_with(
        dir,
        &fake,
        [&project_role, &p.member, "user"],
        &["--http-timeout-seconds", "1"],
    );
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("env0 has not answered POST /permissions/projects/")
            && run.stderr.contains("no answer before the timeout")
            && run.stderr.contains("so it was not sent again")
            && run.stderr.contains("run the same command again"),
        "{}",
        run.stderr
    );
    // The one write lands when env0 gets to it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !fake.server.writes().iter().any(|w| w.applied) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let writes = fake.server.writes();
    assert_eq!(writes.len(), 1, "sent once: {writes:?}");
    assert!(writes[0].applied, "{writes:?}");
    assert!(sync(dir, &fake).contains_key(&format!("{project_role}:user:{}", p.member)));
}

#[test]
fn a_write_env0_forbids_asks_for_a_key_with_write_access() {
    let (p, fake, dir) =
        setup(|config| config.with_write_faults(Faults::none().with(FaultKind::Status(403), 1.0)));
    let dir = dir.path();
    sync(dir, &fake);
    let run = grant(
        dir,
        &fake,
        &format!("project:{}:Deployer", p.project),
        &p.member,
        "user",
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("organization Admin role with write access"),
        "{}",
        run.stderr
    );
    let writes = fake.server.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(!writes[0].applied);
}

/// Someone else adds `id` to `team` right after the next write.
fn add_after_next_write(fake: &Fake, team: &str, id: &str) {
    let (team, id) = (team.to_owned(), id.to_owned());
    fake.server.on_next_write(move |org| {
        if let Some(t) = org.teams.iter_mut().find(|t| t.id == team)
            && let Maybe::Value(users) = &mut t.users
        {
            users.push(env0_fake::User::new(id));
        }
    });
}

#[test]
fn a_concurrent_team_edit_is_reported() {
    let (p, fake, dir) = setup(|config| config);
    let dir = dir.path();
    sync(dir, &fake);
    let membership = format!("team:{}:member", p.other_team);

    // Someone adds another member right after our write: the grant holds, the edit is reported.
    add_after_next_write(&fake, &p.other_team, &p.key);
    let run = grant(dir, &fake, &membership, &p.member, "user");
    ok(&run, "granted");
    assert!(
        run.stderr.contains(&format!(
            "team {} was edited by someone else at the same time: compared with the member list just written, env0 also lists {}",
            p.other_team, p.key
        )) && run.stderr.contains("this change holds"),
        "{}",
        run.stderr
    );

    // Someone puts back the member we just removed: the revoke did not hold, exit 5.
    sync(dir, &fake);
    add_after_next_write(&fake, &p.other_team, &p.key);
    let run = revoke(dir, &fake, &format!("{membership}:user:{}", p.key));
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "team {} was edited by someone else at the same time: compared with the member list just written, env0 also lists {}",
            p.other_team, p.key
        )) && run.stderr.contains("this change was overwritten"),
        "{}",
        run.stderr
    );
}

#[test]
fn trace_logs_of_a_provisioning_run_never_show_the_secret() {
    let (p, fake, dir) = setup(|config| config);
    let dir = dir.path();
    sync(dir, &fake);
    let entitlement = format!("team:{}:member", p.other_team);
    // `baton_run` fails the test if the secret shows anywhere.
    let run = baton_run(
        dir,
        &fake,
        &[
            "--file",
            "sync.c1z",
            "--log-level",
            "trace",
            "--grant-entitlement",
            &entitlement,
            "--grant-principal",
            &p.member,
            "--grant-principal-type",
            "user",
        ],
    );
    ok(&run, "granted");
    assert!(run.stderr.contains("env0 write applied"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("PUT /teams/{}", p.other_team)),
        "{}",
        run.stderr
    );
}

/// ConductorOne's connectors take `-p` / `--provisioning` beside the provisioning flags; so does
/// this one (the flags alone are enough here).
#[test]
fn the_sdks_provisioning_flag_is_accepted() {
    let (_, fake, dir) = setup(|config| config);
    let dir = dir.path();
    sync(dir, &fake);
    for flag in ["-p", "--provisioning"] {
        let run = baton_run(
            dir,
            &fake,
            &[
                flag,
                "--file",
                "sync.c1z",
                "--revoke-grant",
                "no:such:grant",
            ],
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("grant no:such:grant is not in sync"),
            "{}",
            run.stderr
        );
    }
}
