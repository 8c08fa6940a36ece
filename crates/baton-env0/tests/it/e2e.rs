//! End-to-end: the built `baton-env0` binary against env0-fake, started in-process on an
//! ephemeral loopback port.
//!
//! The expected C1 users are computed here, independently of env0-connector, from the fake's own
//! data and the mapping of docs/user-mapping.md, and compared with what the c1z reader decodes.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use c1_model::pb;
use c1_model::pb::user_trait::AccountType;
use env0_fake::{ApiKey, FakeConfig, Faults, GenerateOptions, Maybe, Member, Org, RunningFake};
use serde_json::{Value, json};
use std::time::Duration;

/// A fake env0 with its own runtime, so the blocking binary runs while it serves.
pub(crate) struct Fake {
    // Dropped first (signals shutdown), then the runtime.
    pub(crate) server: RunningFake,
    _runtime: tokio::runtime::Runtime,
}

impl Fake {
    pub(crate) fn start(config: FakeConfig) -> Fake {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = runtime
            .block_on(env0_fake::spawn(config))
            .expect("env0-fake starts");
        Fake {
            server,
            _runtime: runtime,
        }
    }
}

fn generated(users: usize, api_keys: usize, seed: u64) -> Org {
    Org::generate(GenerateOptions {
        users,
        api_keys,
        teams: 3,
        projects: 2,
        seed,
    })
}

fn demo_org() -> Org {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo-org.json");
    Org::from_json_file(&path).expect("fixtures/demo-org.json")
}

/// The binary with an empty environment in `dir`, pointed at `fake` with the demo credentials
/// (the secret given as `secret`), fast retries and JSON logs.
pub(crate) fn baton(dir: &Path, fake: &RunningFake, secret: &str) -> Command {
    Command::from_std(baton_process(dir, fake, secret))
}

/// [`baton`] as a plain process command, for tests that spawn it.
fn baton_process(dir: &Path, fake: &RunningFake, secret: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("baton-env0"));
    cmd.env_clear()
        .env("HOME", dir)
        .current_dir(dir)
        .env("BATON_API_KEY_SECRET", secret)
        .args(["--api-key-id", env0_fake::DEMO_KEY_ID])
        .args(["--base-url", &fake.base_url()])
        .args(["--organization-id", fake.org_id()])
        .args(["--log-format", "json", "--no-progress"])
        .args(["--retry-base-delay-ms", "1"]);
    cmd
}

/// A directory holding `sync.c1z`, from a plain sync against `fake` that succeeded.
pub(crate) fn synced_dir(fake: &Fake) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut baton(
        dir.path(),
        &fake.server,
        env0_fake::DEMO_KEY_SECRET,
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    dir
}

pub(crate) struct Outcome {
    pub(crate) code: i32,
    pub(crate) stderr: String,
}

pub(crate) fn run(cmd: &mut Command) -> Outcome {
    let out = cmd.output().expect("run baton-env0");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `user` resources of the latest finished sync in `file`, by id.
fn synced_users(file: &Path) -> Vec<pb::Resource> {
    let reader = c1_sync::C1zReader::open(file).expect("c1z opens");
    let sync = reader
        .latest_finished_sync()
        .expect("sync runs")
        .expect("a finished sync");
    let types = reader
        .resource_types(&sync.sync_id)
        .expect("resource types");
    assert_eq!(
        types.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["user", "role", "team", "project"]
    );
    let mut users = reader
        .resources(&sync.sync_id, Some("user"))
        .expect("resources");
    users.sort_by(|a, b| id_of(a).cmp(id_of(b)));
    users
}

fn id_of(r: &pb::Resource) -> &str {
    r.id.as_ref().map_or("", |id| id.resource.as_str())
}

/// Every C1 field a user resource carries, in plain values (statuses as `(enum, details)`,
/// timestamps as `(seconds, nanos)`, profiles as JSON).
#[derive(Debug, PartialEq)]
struct Mapped {
    id: String,
    resource_type: String,
    display_name: String,
    emails: Vec<(String, bool)>,
    status: (i32, String),
    account_type: i32,
    login: String,
    last_login: Option<(i64, i32)>,
    created_at: Option<(i64, i32)>,
    structured_name: Option<(String, String)>,
    profile: BTreeMap<String, Value>,
    resource_status: (i32, String),
    resource_created_at: Option<(i64, i32)>,
    resource_profile: BTreeMap<String, Value>,
}

fn ts(t: Option<&prost_types::Timestamp>) -> Option<(i64, i32)> {
    t.map(|t| (t.seconds, t.nanos))
}

fn profile_json(s: Option<&c1_model::Struct>) -> BTreeMap<String, Value> {
    use prost_types::value::Kind;
    let Some(s) = s else {
        return BTreeMap::new();
    };
    s.fields()
        .iter()
        .map(|(k, v)| {
            let v = match &v.kind {
                None | Some(Kind::NullValue(_)) => Value::Null,
                Some(Kind::BoolValue(b)) => json!(b),
                Some(Kind::NumberValue(n)) => json!(n),
                Some(Kind::StringValue(s)) => json!(s),
                Some(other) => panic!("unexpected profile value {other:?} for {k}"),
            };
            (k.clone(), v)
        })
        .collect()
}

/// What the c1z holds for one resource.
fn decoded(r: &pb::Resource) -> Mapped {
    let traits: Vec<&prost_types::Any> = r
        .annotations
        .iter()
        .filter(|a| a.type_url == "type.googleapis.com/c1.connector.v2.UserTrait")
        .collect();
    assert_eq!(traits.len(), 1, "exactly one user trait on {}", id_of(r));
    let user: pb::UserTrait =
        c1_model::annotations::find(&r.annotations).expect("a decodable user trait");
    let id = r.id.clone().unwrap_or_default();
    Mapped {
        id: id.resource,
        resource_type: id.resource_type,
        display_name: r.display_name.clone(),
        emails: user
            .emails
            .iter()
            .map(|e| (e.address.clone(), e.is_primary))
            .collect(),
        status: user
            .status
            .as_ref()
            .map_or((0, String::new()), |s| (s.status, s.details.clone())),
        account_type: user.account_type,
        login: user.login.clone(),
        last_login: ts(user.last_login.as_ref()),
        created_at: ts(user.created_at.as_ref()),
        structured_name: user
            .structured_name
            .as_ref()
            .map(|n| (n.given_name.clone(), n.family_name.clone())),
        profile: profile_json(user.profile.as_ref()),
        resource_status: r
            .status
            .as_ref()
            .map_or((0, String::new()), |s| (s.status, s.details.clone())),
        resource_created_at: ts(r.created_at.as_ref()),
        resource_profile: profile_json(r.profile.as_ref()),
    }
}

// ---- The expected mapping (docs/user-mapping.md), from the fake's data. ----

const ENABLED: i32 = 1;
const DISABLED: i32 = 2;

/// Optional wire strings: missing, null and "" are all absent.
fn text(m: &Maybe<String>) -> Option<String> {
    m.non_empty().map(str::to_owned)
}

fn parsed(m: &Maybe<String>) -> Option<(i64, i32)> {
    let raw = m.non_empty()?;
    let t = chrono::DateTime::parse_from_rfc3339(raw)
        .unwrap_or_else(|e| panic!("the fake sent an unparseable time {raw:?}: {e}"));
    Some((t.timestamp(), t.timestamp_subsec_nanos() as i32))
}

fn role_name(org: &Org, role: Option<&str>) -> Value {
    match role {
        None => Value::Null,
        Some(builtin @ ("Admin" | "User")) => json!(builtin),
        Some(custom) => org
            .role(custom)
            .and_then(|r| r.name.non_empty())
            .map_or(Value::Null, |n| json!(n)),
    }
}

fn opt(v: Option<&String>) -> Value {
    v.map_or(Value::Null, |s| json!(s))
}

fn expected_member(org: &Org, m: &Member) -> Mapped {
    let u = &m.user;
    let email = text(&u.email);
    let given = text(&u.given_name);
    let family = text(&u.family_name);
    let display_name = text(&u.name)
        .map(|n| n.trim().to_owned())
        .or_else(|| match (&given, &family) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        })
        .or_else(|| email.clone())
        .unwrap_or_else(|| u.user_id.clone());
    let raw_status = text(&m.status);
    let invite_pending = raw_status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("invited") || s.eq_ignore_ascii_case("pending"));
    let status = match raw_status.as_deref() {
        None => (0, String::new()),
        Some("Active") => (ENABLED, String::new()),
        Some(_) if invite_pending => (DISABLED, "invite pending".to_owned()),
        Some(other) => (DISABLED, other.to_owned()),
    };
    let role = text(&m.role);
    let created_at = parsed(&u.created_at);
    let profile: BTreeMap<String, Value> = [
        ("user_id", json!(u.user_id)),
        ("email", opt(email.as_ref())),
        ("first_name", opt(given.as_ref())),
        ("last_name", opt(family.as_ref())),
        ("display_name", json!(display_name)),
        ("role", opt(role.as_ref())),
        ("role_name", role_name(org, role.as_deref())),
        ("status", opt(raw_status.as_ref())),
        ("invite_pending", json!(invite_pending)),
        ("account_type", json!("human")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Mapped {
        id: u.user_id.clone(),
        resource_type: "user".to_owned(),
        display_name,
        emails: email.iter().map(|e| (e.clone(), true)).collect(),
        status: status.clone(),
        account_type: AccountType::Human as i32,
        login: email.clone().unwrap_or_else(|| u.user_id.clone()),
        last_login: parsed(&u.last_login),
        created_at,
        structured_name: (given.is_some() || family.is_some()).then(|| {
            (
                given.clone().unwrap_or_default(),
                family.clone().unwrap_or_default(),
            )
        }),
        resource_profile: profile.clone(),
        profile,
        resource_status: status,
        resource_created_at: created_at,
    }
}

fn expected_api_key(org: &Org, k: &ApiKey) -> Mapped {
    let name = text(&k.name);
    let api_key_id = text(&k.api_key_id);
    let role = text(&k.organization_role);
    let created_at = parsed(&k.created_at);
    let profile: BTreeMap<String, Value> = [
        ("user_id", json!(k.id)),
        ("api_key_id", opt(api_key_id.as_ref())),
        ("role", opt(role.as_ref())),
        ("role_name", role_name(org, role.as_deref())),
        ("account_type", json!("api_key")),
        ("created_by", opt(text(&k.created_by).as_ref())),
        ("first_name", Value::Null),
        ("last_name", Value::Null),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Mapped {
        id: k.id.clone(),
        resource_type: "user".to_owned(),
        display_name: name
            .map(|n| n.trim().to_owned())
            .or_else(|| api_key_id.clone())
            .unwrap_or_else(|| k.id.clone()),
        emails: Vec::new(),
        status: (ENABLED, String::new()),
        account_type: AccountType::Service as i32,
        login: api_key_id.unwrap_or_default(),
        last_login: parsed(&k.last_used_at),
        created_at,
        structured_name: None,
        resource_profile: profile.clone(),
        profile,
        resource_status: (ENABLED, String::new()),
        resource_created_at: created_at,
    }
}

/// Every principal of `org` as docs/user-mapping.md maps it, sorted by id. A member whose id is an API key's
/// id is that API key.
fn expected(org: &Org) -> Vec<Mapped> {
    let mut out: Vec<Mapped> = org
        .members
        .iter()
        .filter(|m| org.api_key(&m.user.user_id).is_none())
        .map(|m| expected_member(org, m))
        .chain(org.api_keys.iter().map(|k| expected_api_key(org, k)))
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn assert_synced_exactly(org: &Org, file: &Path) {
    let want = expected(org);
    let got: Vec<Mapped> = synced_users(file).iter().map(decoded).collect();
    let want_ids: Vec<&str> = want.iter().map(|m| m.id.as_str()).collect();
    let got_ids: Vec<&str> = got.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(got_ids, want_ids, "the synced principals");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "principal {}", w.id);
    }
}

#[test]
fn a_full_sync_of_a_generated_org_matches_it_exactly() {
    let org = generated(300, 30, 7);
    let humans = org
        .members
        .iter()
        .filter(|m| org.api_key(&m.user.user_id).is_none())
        .count();
    assert_eq!(humans, 300);
    assert!(org.members.len() > humans, "some API keys are also members");
    let fake = Fake::start(FakeConfig::new(org.clone()));
    let dir = synced_dir(&fake);
    assert_synced_exactly(&org, &dir.path().join("sync.c1z"));
    assert_eq!(synced_users(&dir.path().join("sync.c1z")).len(), 330);
}

#[test]
fn a_full_sync_of_the_demo_org_matches_it_exactly() {
    let org = demo_org();
    let fake = Fake::start(FakeConfig::new(org.clone()));
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(baton(dir.path(), &fake.server, env0_fake::DEMO_KEY_SECRET)
            .args(["--file", "demo.c1z"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_synced_exactly(&org, &dir.path().join("demo.c1z"));
}

/// 20% transient faults on every endpoint, a mix of the five kinds: two statuses, a reset
/// connection, a body cut short by the connection (`truncate`) and a whole `200` carrying half
/// its JSON (`cut`).
const FAULT_MIX: &str = "429=0.03,500=0.03,reset=0.03,truncate=0.03,cut=0.08";
/// Fault seeds tried in a row, one sync each.
const FAULT_SEEDS: u64 = 30;

#[test]
fn transient_faults_do_not_change_the_output() {
    let org = generated(300, 30, 7);
    let dir = tempfile::tempdir().unwrap();

    // Teams listed without members, so every team is also asked for by id.
    let clean = Fake::start(FakeConfig::new(org.clone()).with_teams_without_users());
    let out =
        run(baton(dir.path(), &clean.server, env0_fake::DEMO_KEY_SECRET)
            .args(["--file", "clean.c1z"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let clean_users = synced_users(&dir.path().join("clean.c1z"));
    let clean_grants = crate::access::synced_grants(&dir.path().join("clean.c1z"));
    drop(clean);

    // Outcomes by path, over every seed.
    let mut seen: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for seed in 0..FAULT_SEEDS {
        let faulty = Fake::start(
            FakeConfig::new(org.clone())
                .with_teams_without_users()
                .with_faults(Faults::parse(FAULT_MIX, seed).unwrap()),
        );
        let file = format!("faulty-{seed}.c1z");
        let out = run(
            baton(dir.path(), &faulty.server, env0_fake::DEMO_KEY_SECRET).args([
                "--file",
                &file,
                "--max-retries",
                "10",
            ]),
        );
        assert_eq!(out.code, 0, "fault seed {seed}: {}", out.stderr);
        assert_eq!(
            synced_users(&dir.path().join(&file)),
            clean_users,
            "fault seed {seed}: the sync under faults decodes to the fault-free resources"
        );
        assert_eq!(
            crate::access::synced_grants(&dir.path().join(&file)),
            clean_grants,
            "fault seed {seed}: the same grants, with the same sources"
        );
        for (path, outcomes) in faulty.server.stats().by_path_status {
            let path = if path.starts_with("/organizations/") {
                "/organizations/{org}/users".to_owned()
            } else if path.starts_with("/permissions/projects/") {
                "/permissions/projects/{project}".to_owned()
            } else if path.starts_with("/teams/organizations/") {
                "/teams/organizations/{org}".to_owned()
            } else if path.starts_with("/teams/") {
                "/teams/{team}".to_owned()
            } else {
                path
            };
            for (outcome, count) in outcomes {
                *seen
                    .entry(path.clone())
                    .or_default()
                    .entry(outcome)
                    .or_default() += count;
            }
        }
    }
    // The fake draws each path's faults from a stream of its own, so what each endpoint meets
    // is the same on every run: with these seeds, every endpoint a sync asks got half a JSON
    // body at least once, and every fault kind was met.
    let paths: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "/api-keys",
            "/organizations",
            "/organizations/{org}/users",
            "/permissions/projects/{project}",
            "/projects",
            "/roles",
            "/roles/assignments/teams",
            "/teams/organizations/{org}",
            "/teams/{team}",
        ]
    );
    for (path, outcomes) in &seen {
        assert!(
            outcomes.get("cut").is_some_and(|n| *n > 0),
            "{path} met `cut`: {seen:?}"
        );
    }
    for kind in ["429", "500", "reset", "truncate", "cut"] {
        assert!(
            seen.values().any(|outcomes| outcomes.contains_key(kind)),
            "`{kind}` was injected: {seen:?}"
        );
    }
    assert_synced_exactly(&org, &dir.path().join("faulty-0.c1z"));
}

/// A successful sync of `org` into `dir/sync.c1z`: the file and its bytes.
fn healthy_sync(org: &Org, dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let fake = Fake::start(FakeConfig::new(org.clone()));
    let out = run(&mut baton(dir, &fake.server, env0_fake::DEMO_KEY_SECRET));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let file = dir.join("sync.c1z");
    let bytes = std::fs::read(&file).unwrap();
    (file, bytes)
}

#[test]
fn a_persistent_500_exits_5_and_leaves_the_previous_file_untouched() {
    let org = generated(40, 5, 3);
    let dir = tempfile::tempdir().unwrap();
    let (file, before) = healthy_sync(&org, dir.path());

    let broken =
        Fake::start(FakeConfig::new(org).with_faults(Faults::parse("500=1.0", 1).unwrap()));
    let out = run(
        baton(dir.path(), &broken.server, env0_fake::DEMO_KEY_SECRET).args(["--max-retries", "2"]),
    );
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "sync.c1z is byte-identical"
    );
    let mut entries: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["sync.c1z", "sync.c1z.lock"],
        "no temporary file is left behind"
    );
    let stats = broken.server.stats();
    assert_eq!(stats.status_count("200"), 0);
    // Validation asks for the organizations, the members and the API keys at once: each is
    // tried once and retried twice, then the sync gives up.
    assert_eq!(stats.by_path.len(), 3, "{stats:?}");
    for (path, count) in &stats.by_path {
        assert_eq!(
            *count, 3,
            "{path}: the first request and its 2 retries: {stats:?}"
        );
    }
    assert_eq!(stats.total, 9, "{stats:?}");
}

/// env0 answers every request with a whole `200` whose JSON stops halfway: the client retries
/// it like a reset connection, then gives up with exit 5 (env0 unavailable), naming the endpoint,
/// the attempts and the time, and the previous output stays as it was.
#[test]
fn a_persistent_cut_short_body_exits_5_and_leaves_the_previous_file_untouched() {
    let org = generated(40, 5, 3);
    let dir = tempfile::tempdir().unwrap();
    let (file, before) = healthy_sync(&org, dir.path());

    let broken =
        Fake::start(FakeConfig::new(org).with_faults(Faults::parse("cut=1.0", 1).unwrap()));
    let out = run(
        baton(dir.path(), &broken.server, env0_fake::DEMO_KEY_SECRET).args(["--max-retries", "2"]),
    );
    assert_eq!(out.code, 5, "{}", out.stderr);
    let error = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("one error line: {}", out.stderr));
    assert!(
        error.contains(" ended before its JSON did (EOF while parsing ")
            && error.contains(" after 3 attempts over "),
        "{error}"
    );
    assert!(
        ["GET /organizations", "GET /api-keys", "GET /organizations/"]
            .iter()
            .any(|endpoint| error.contains(&format!("the env0 response for {endpoint}"))),
        "{error}"
    );
    assert!(
        out.stderr
            .contains("hint: env0's answers kept arriving cut short"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "sync.c1z is byte-identical"
    );
    let mut entries: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["sync.c1z", "sync.c1z.lock"],
        "no temporary file is left behind"
    );
    let stats = broken.server.stats();
    assert_eq!(stats.status_count("200"), 0);
    // The organization, the members and the API keys, each sent once and again twice.
    assert_eq!(stats.status_count("cut"), 9, "{stats:?}");
    for (path, count) in &stats.by_path {
        assert_eq!(*count, 3, "{path}: {stats:?}");
    }
}

/// The `.c1z-work-*` scratch directories in `dir`.
fn scratch_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".c1z-work-"))
        })
        .collect()
}

/// Starts a sync in `dir` against `fake` (whose answers should be slow) and returns once it has
/// made its scratch directory, with that directory.
fn sync_caught_midway(dir: &Path, fake: &RunningFake) -> (std::process::Child, std::path::PathBuf) {
    let mut child = baton_process(dir, fake, env0_fake::DEMO_KEY_SECRET)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = scratch_dirs(dir);
        if let Some(work) = found.first().filter(|w| w.join("owner.lock").exists()) {
            return (child, work.clone());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scratch directory appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before it could be stopped"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A sync killed outright (SIGKILL: no clean-up runs) leaves its scratch directory behind; the
/// next sync beside the same file removes it.
#[test]
fn the_next_sync_removes_the_scratch_directory_of_a_killed_one() {
    let org = generated(30, 3, 5);
    let dir = tempfile::tempdir().unwrap();
    // Slow answers keep the sync busy after it has made its scratch directory.
    let slow = Fake::start(FakeConfig::new(org.clone()).with_latency(Duration::from_millis(400)));
    let (mut child, left) = sync_caught_midway(dir.path(), &slow.server);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(left.exists(), "a killed sync cannot clean up");
    drop(slow);

    let fake = Fake::start(FakeConfig::new(org.clone()));
    let out = run(&mut baton(
        dir.path(),
        &fake.server,
        env0_fake::DEMO_KEY_SECRET,
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("removed the scratch directory of a sync that was killed"),
        "{}",
        out.stderr
    );
    assert_eq!(scratch_dirs(dir.path()), Vec::<std::path::PathBuf>::new());
    assert_synced_exactly(&org, &dir.path().join("sync.c1z"));
}

/// Ctrl-C (SIGINT) and SIGTERM mid-sync: exit 1 with one line saying so, the previous file
/// byte-identical, no scratch files left.
#[cfg(unix)]
#[test]
fn an_interrupted_sync_exits_1_and_leaves_the_previous_file_untouched() {
    let org = generated(30, 3, 6);
    let dir = tempfile::tempdir().unwrap();
    let (file, before) = healthy_sync(&org, dir.path());

    let slow = Fake::start(FakeConfig::new(org).with_latency(Duration::from_millis(400)));
    for signal in ["INT", "TERM"] {
        let (child, _) = sync_caught_midway(dir.path(), &slow.server);
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}");
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains("was left unchanged"),
            "SIG{signal}: {stderr}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), before, "SIG{signal}");
        let mut entries: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            ["sync.c1z", "sync.c1z.lock"],
            "SIG{signal}: nothing else is left"
        );
    }
}

#[test]
fn wrong_credentials_exit_3_without_writing_a_file() {
    let fake = Fake::start(FakeConfig::new(generated(10, 2, 1)));
    let dir = tempfile::tempdir().unwrap();
    let out = run(&mut baton(dir.path(), &fake.server, "not-the-secret"));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        !out.stderr.contains("not-the-secret"),
        "the secret is never printed"
    );
    assert!(!dir.path().join("sync.c1z").exists());
    let stats = fake.server.stats();
    assert_eq!(
        stats.status_count("401"),
        stats.total,
        "401 is not retried: {stats:?}"
    );
}
