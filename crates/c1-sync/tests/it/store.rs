//! The c1z store: writer and reader, against files we write and the SDK's own file.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use c1_model::{AccountType, ResourceTypeBuilder, UserBuilder, UserStatus, annotations, pb};
use c1_sync::store::{C1zReader, C1zWriter, StoreError, SyncStats};
use rusqlite::Connection;
use tempfile::TempDir;

/// A file written by ConductorOne's SDK (`fixtures/compat/README.md` says where it comes from).
fn sdk_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/compat/baton-sdk-sync-in-progress.c1z")
}

/// A small org: two resource types, users, a group with a parent, entitlements and grants
/// (one of them expandable).
pub(crate) struct Fixture {
    pub(crate) resource_types: Vec<pb::ResourceType>,
    pub(crate) users: Vec<pb::Resource>,
    pub(crate) groups: Vec<pb::Resource>,
    pub(crate) entitlements: Vec<pb::Entitlement>,
    pub(crate) grants: Vec<pb::Grant>,
}

pub(crate) fn fixture(tag: &str) -> Fixture {
    let user_type = ResourceTypeBuilder::new("user", "User")
        .with_trait(pb::resource_type::Trait::User)
        .annotation(&pb::SkipEntitlementsAndGrants::default())
        .build();
    let group_type = ResourceTypeBuilder::new("group", "Group")
        .with_trait(pb::resource_type::Trait::Group)
        .description("teams")
        .build();
    let users: Vec<pb::Resource> = (0..3)
        .map(|i| {
            UserBuilder::new("user", &format!("u{i}"), format!("User {i} {tag}"))
                .email(format!("u{i}@example.com"), true)
                .status(UserStatus::Enabled, None)
                .account_type(AccountType::Human)
                .login(format!("u{i}@example.com"))
                .structured_name(format!("Given{i}"), "Family")
                .profile("user_id", format!("u{i}"))
                .build()
        })
        .collect();
    let org = c1_model::resource_id("org", "o1");
    let groups = vec![
        c1_model::ResourceBuilder::new("group", "g1", format!("Group 1 {tag}"))
            .parent(org)
            .build_group(),
    ];
    let member = c1_model::entitlement::assignment(&groups[0], "member");
    let admin = c1_model::entitlement::permission(&groups[0], "admin");
    let mut grants: Vec<pb::Grant> = users
        .iter()
        .map(|u| c1_model::grant::new(&member, u.id.as_ref().unwrap()))
        .collect();
    let mut expandable = c1_model::grant::new(&admin, groups[0].id.as_ref().unwrap());
    expandable
        .annotations
        .push(annotations::pack(&pb::GrantExpandable {
            entitlement_ids: vec![member.id.clone()],
            shallow: true,
            resource_type_ids: vec!["user".into()],
        }));
    grants.push(expandable);
    Fixture {
        resource_types: vec![user_type, group_type],
        users,
        groups,
        entitlements: vec![member, admin],
        grants,
    }
}

/// What expansion adds to [`fixture`]: the admin grant to the group is expandable from the
/// group's membership (shallow, users only), so each direct member holds admin too.
fn expanded(f: &Fixture) -> Vec<pb::Grant> {
    let (member, admin) = (&f.entitlements[0], &f.entitlements[1]);
    f.users
        .iter()
        .map(|u| {
            let id = u.id.clone().unwrap();
            pb::Grant {
                id: format!("group:g1:admin:user:{}", id.resource),
                entitlement: Some(admin.clone()),
                principal: Some(pb::Resource {
                    id: Some(id),
                    ..Default::default()
                }),
                annotations: vec![annotations::pack(&pb::GrantImmutable::default())],
                sources: Some(pb::GrantSources {
                    sources: BTreeMap::from([(
                        member.id.clone(),
                        pb::grant_sources::GrantSource { is_direct: true },
                    )]),
                }),
            }
        })
        .collect()
}

/// The grants a reader returns for [`fixture`]'s sync: the connector's, then the expanded ones.
pub(crate) fn all_grants(f: &Fixture) -> Vec<pb::Grant> {
    f.grants.iter().cloned().chain(expanded(f)).collect()
}

pub(crate) fn write_sync(target: &Path, tag: &str) -> c1_sync::FinishedSync {
    write_sync_with(target, tag, |_| {})
}

/// [`write_sync`], with `configure` called on the writer first.
pub(crate) fn write_sync_with(
    target: &Path,
    tag: &str,
    configure: impl FnOnce(&mut C1zWriter),
) -> c1_sync::FinishedSync {
    let f = fixture(tag);
    let mut w = C1zWriter::open(target).unwrap();
    configure(&mut w);
    w.put_resource_types(&f.resource_types).unwrap();
    w.put_resources(&f.users).unwrap();
    w.put_resources(&f.groups).unwrap();
    w.put_entitlements(&f.entitlements).unwrap();
    w.put_grants(&f.grants).unwrap();
    w.finish().unwrap()
}

/// Decompresses a c1z with plain zstd and opens the SQLite database, bypassing our reader.
pub(crate) fn raw_db(path: &Path) -> (TempDir, Connection) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..5], b"C1ZF\0");
    let db = zstd::decode_all(&bytes[5..]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("db");
    fs::write(&db_path, db).unwrap();
    let conn = Connection::open(&db_path).unwrap();
    (dir, conn)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `YYYY-MM-DD HH:MM:SS[.digits without trailing zero]`.
fn assert_time_shape(s: &str) {
    let (date_time, frac) = s.split_once('.').unwrap_or((s, ""));
    assert!(
        chrono::NaiveDateTime::parse_from_str(date_time, "%Y-%m-%d %H:%M:%S").is_ok()
            && date_time.len() == 19,
        "bad timestamp {s:?}"
    );
    assert!(
        s.contains('.') != frac.is_empty()
            && frac.len() <= 9
            && frac.bytes().all(|b| b.is_ascii_digit())
            && !frac.ends_with('0'),
        "bad fraction in {s:?}"
    );
}

#[test]
fn write_then_read_returns_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let f = fixture("a");
    let done = write_sync(&target, "a");

    assert_eq!(done.path, target);
    assert_eq!(done.bytes, fs::metadata(&target).unwrap().len());
    assert_eq!(done.previous_sync_id, None);
    let mut expected = SyncStats::default();
    expected.resource_types = 2;
    expected.resources = 4;
    expected.resources_by_resource_type = BTreeMap::from([("group".into(), 1), ("user".into(), 3)]);
    expected.entitlements = 2;
    expected.grants = 7;
    assert_eq!(done.stats, expected);
    assert_eq!(
        (
            done.expansion.expandable_grants,
            done.expansion.grants_created,
            done.expansion.grants_updated
        ),
        (1, 3, 0)
    );

    let r = C1zReader::open(&target).unwrap();
    let latest = r.latest_finished_sync().unwrap().unwrap();
    assert_eq!(latest.sync_id, done.sync_id);
    assert_eq!(latest.sync_type, "full");
    assert_eq!(latest.ended_at.as_deref(), Some(done.ended_at.as_str()));
    assert_eq!(latest.stats.as_ref(), Some(&done.stats));
    assert_eq!(r.latest_sync().unwrap(), Some(latest.clone()));
    assert_eq!(r.sync_runs().unwrap(), vec![latest]);

    let id = &done.sync_id;
    assert_eq!(r.resource_types(id).unwrap(), f.resource_types);
    let all: Vec<_> = f.users.iter().chain(&f.groups).cloned().collect();
    assert_eq!(r.resources(id, None).unwrap(), all);
    assert_eq!(r.resources(id, Some("user")).unwrap(), f.users);
    assert_eq!(r.resources(id, Some("group")).unwrap(), f.groups);
    assert_eq!(r.resources(id, Some("nope")).unwrap(), vec![]);
    assert_eq!(r.entitlements(id).unwrap(), f.entitlements);
    assert_eq!(r.grants(id).unwrap(), all_grants(&f));
}

/// The columns of a `v1_grants` row, in table order from `resource_type_id` to `data`.
type GrantRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<Vec<u8>>,
    i64,
    Vec<u8>,
);

#[test]
fn rows_follow_the_sdk_column_rules() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let f = fixture("a");
    let done = write_sync(&target, "a");
    let (_tmp, db) = raw_db(&target);

    let run: (String, String, Option<String>, String, String, i64, String) = db
        .query_row(
            "select sync_id, started_at, ended_at, sync_token, sync_type, grants_backfilled, stats from v1_sync_runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .unwrap();
    assert_eq!(run.0, done.sync_id);
    assert_eq!(run.0.len(), 27, "KSUID text is 27 base62 characters");
    assert!(run.0.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!((run.3.as_str(), run.4.as_str(), run.5), ("", "full", 1));
    let stats: serde_json::Value = serde_json::from_str(&run.6).unwrap();
    assert_eq!(
        stats,
        serde_json::json!({
            "resource_types": 2, "resources": 4,
            "resources_by_resource_type": {"group": 1, "user": 3},
            "entitlements": 2, "grants": 7
        })
    );

    let resources: Vec<(String, String, Option<String>, Option<String>)> = db
        .prepare("select resource_type_id, external_id, parent_resource_type_id, parent_resource_id from v1_resources order by id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(resources[0], ("user".into(), "user:u0".into(), None, None));
    assert_eq!(
        resources[3],
        (
            "group".into(),
            "group:g1".into(),
            Some("org".into()),
            Some("o1".into())
        )
    );

    let ents: Vec<(String, String, String)> = db
        .prepare(
            "select resource_type_id, resource_id, external_id from v1_entitlements order by id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        ents[0],
        ("group".into(), "g1".into(), "group:g1:member".into())
    );

    let grants: Vec<GrantRow> = db
        .prepare(
            "select resource_type_id, resource_id, entitlement_id, principal_resource_type_id, \
             principal_resource_id, external_id, expansion, needs_expansion, data from v1_grants order by id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let g0 = &grants[0];
    assert_eq!(
        (&*g0.0, &*g0.1, &*g0.2, &*g0.3, &*g0.4, &*g0.5, &g0.6, g0.7),
        (
            "group",
            "g1",
            "group:g1:member",
            "user",
            "u0",
            "group:g1:member:user:u0",
            &None,
            0
        )
    );
    assert_eq!(
        g0.8,
        c1_model::encode(&f.grants[0]),
        "plain grants are stored as encoded"
    );
    let g3 = &grants[3];
    assert_eq!((&*g3.5, g3.7), ("group:g1:admin:group:g1", 1));
    let expansion: pb::GrantExpandable = c1_model::decode(g3.6.as_deref().unwrap()).unwrap();
    assert_eq!(
        expansion.entitlement_ids,
        vec!["group:g1:member".to_owned()]
    );
    let blob: pb::Grant = c1_model::decode(&g3.8).unwrap();
    assert!(
        !annotations::has::<pb::GrantExpandable>(&blob.annotations),
        "GrantExpandable is moved out of the blob"
    );
    // Expansion wrote one grant per member, after the connector's; they are not expandable.
    assert_eq!(grants.len(), 7);
    let g4 = &grants[4];
    assert_eq!(
        (&*g4.0, &*g4.1, &*g4.2, &*g4.3, &*g4.4, &*g4.5, &g4.6, g4.7),
        (
            "group",
            "g1",
            "group:g1:admin",
            "user",
            "u0",
            "group:g1:admin:user:u0",
            &None,
            0
        )
    );
    assert_eq!(g4.8, c1_model::encode(&expanded(&f)[0]));
    let supports_diff: i64 = db
        .query_row("select supports_diff from v1_sync_runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(supports_diff, 1, "an expanded sync is marked for diffs");
}

#[test]
fn timestamps_have_the_sdk_text_shape() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let done = write_sync(&target, "a");
    assert_time_shape(&done.started_at);
    assert_time_shape(&done.ended_at);
    assert!(done.started_at <= done.ended_at, "text order is time order");
    let (_tmp, db) = raw_db(&target);
    for table in [
        "v1_resource_types",
        "v1_resources",
        "v1_entitlements",
        "v1_grants",
    ] {
        let mut stmt = db
            .prepare(&format!("select discovered_at from {table}"))
            .unwrap();
        let times: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!times.is_empty(), "{table}");
        for t in times {
            assert_time_shape(&t);
            assert!(done.started_at <= t && t <= done.ended_at, "{table}: {t}");
        }
    }
}

#[test]
fn schema_matches_the_sdk_ddl() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    write_sync(&target, "a");
    let (_tmp, db) = raw_db(&target);
    let mut stmt = db
        .prepare("select type, name, tbl_name, sql from sqlite_master order by name")
        .unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} {} ({})\n{}\n",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?.unwrap_or_default()
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    insta::assert_snapshot!("c1z_sqlite_master", rows.join("\n"));
}

#[test]
fn reads_the_sdk_file() {
    let r = C1zReader::open(&sdk_file()).unwrap();
    let runs = r.sync_runs().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.sync_id, "3ARefY5G8eOytquwYgm41Nq07IZ");
    assert_eq!(run.started_at, "2026-03-03 09:45:13.056791");
    assert_eq!(run.ended_at, None);
    assert_eq!(
        run.sync_type, "full",
        "column added by the reader's schema upgrade, default 'full'"
    );
    assert!(
        run.sync_token.starts_with(r#"{"actions":"#),
        "{}",
        run.sync_token
    );
    assert!(!run.is_finished());

    assert_eq!(
        r.latest_finished_sync().unwrap(),
        None,
        "its only sync is unfinished"
    );
    assert_eq!(r.latest_sync().unwrap().as_ref(), Some(run));

    let types = r.resource_types(&run.sync_id).unwrap();
    let summary: Vec<(&str, &str, Vec<i32>)> = types
        .iter()
        .map(|t| (t.id.as_str(), t.display_name.as_str(), t.traits.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("user", "User", vec![pb::resource_type::Trait::User as i32]),
            (
                "group",
                "Group",
                vec![pb::resource_type::Trait::Group as i32]
            ),
            ("role", "Role", vec![pb::resource_type::Trait::Role as i32]),
            (
                "scoped_role",
                "Scoped Role",
                vec![pb::resource_type::Trait::ScopeBinding as i32]
            ),
            ("project", "Project", vec![]),
        ]
    );
    assert!(annotations::has::<pb::SkipEntitlementsAndGrants>(
        &types[0].annotations
    ));

    let counts: BTreeMap<&str, usize> = types
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                r.resources(&run.sync_id, Some(&t.id)).unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("group", 31),
            ("project", 25),
            ("role", 10),
            ("scoped_role", 3),
            ("user", 10)
        ])
    );
    let all = r.resources(&run.sync_id, None).unwrap();
    assert_eq!(all.len(), 79);
    let first = &all[0];
    assert_eq!(
        first.id,
        Some(c1_model::resource_id("project", "project-0000000"))
    );
    assert_eq!(first.display_name, "Project 0000000");
    assert!(r.entitlements(&run.sync_id).unwrap().is_empty());
    assert!(r.grants(&run.sync_id).unwrap().is_empty());
}

#[test]
fn syncing_into_the_sdk_file_drops_its_unfinished_sync() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("sdk.c1z");
    fs::copy(sdk_file(), &target).unwrap();
    let done = write_sync(&target, "a");
    assert_eq!(done.previous_sync_id, None);
    let r = C1zReader::open(&target).unwrap();
    let ids: Vec<String> = r
        .sync_runs()
        .unwrap()
        .into_iter()
        .map(|s| s.sync_id)
        .collect();
    assert_eq!(ids, vec![done.sync_id.clone()]);
    assert_eq!(r.resources(&done.sync_id, None).unwrap().len(), 4);
}

#[test]
fn keeps_the_previous_finished_sync_and_drops_older_ones() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let first = write_sync(&target, "first");
    let second = write_sync(&target, "second");
    assert_eq!(
        second.previous_sync_id.as_deref(),
        Some(first.sync_id.as_str())
    );

    let r = C1zReader::open(&target).unwrap();
    let ids: Vec<String> = r
        .sync_runs()
        .unwrap()
        .into_iter()
        .map(|s| s.sync_id)
        .collect();
    assert_eq!(ids, vec![first.sync_id.clone(), second.sync_id.clone()]);
    assert_eq!(
        r.latest_finished_sync().unwrap().unwrap().sync_id,
        second.sync_id
    );
    // Both syncs are complete and distinct.
    assert_eq!(r.resources(&first.sync_id, None).unwrap(), {
        let f = fixture("first");
        f.users.into_iter().chain(f.groups).collect::<Vec<_>>()
    });
    assert_eq!(
        r.grants(&first.sync_id).unwrap(),
        all_grants(&fixture("first"))
    );
    assert_eq!(
        r.grants(&second.sync_id).unwrap(),
        all_grants(&fixture("second"))
    );
    let carried = r.sync_run(&first.sync_id).unwrap().unwrap();
    assert_eq!(carried.ended_at.as_deref(), Some(first.ended_at.as_str()));
    assert_eq!(carried.stats.as_ref(), Some(&first.stats));
    drop(r);

    let third = write_sync(&target, "third");
    assert_eq!(
        third.previous_sync_id.as_deref(),
        Some(second.sync_id.as_str())
    );
    let r = C1zReader::open(&target).unwrap();
    let ids: Vec<String> = r
        .sync_runs()
        .unwrap()
        .into_iter()
        .map(|s| s.sync_id)
        .collect();
    assert_eq!(ids, vec![second.sync_id.clone(), third.sync_id.clone()]);
    let err = r.resources(&first.sync_id, None).unwrap_err();
    assert!(matches!(err, StoreError::SyncNotFound { .. }), "{err}");
    assert_eq!(r.resources(&second.sync_id, None).unwrap().len(), 4);
    let (_tmp, db) = raw_db(&target);
    let rows: i64 = db
        .query_row(
            "select (select count(*) from v1_resources) + (select count(*) from v1_grants)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 2 * (4 + 7), "no rows of the dropped sync remain");
    assert_eq!(names_in(dir.path()), vec!["out.c1z", "out.c1z.lock"]);
}

#[test]
fn failed_save_leaves_the_target_byte_identical_and_no_tmp() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    write_sync(&target, "first");
    let before = fs::read(&target).unwrap();

    let f = fixture("second");
    let mut w = C1zWriter::open(&target).unwrap();
    w.put_resource_types(&f.resource_types).unwrap();
    w.put_resources(&f.users).unwrap();
    w.fail_before_rename();
    let err = w.finish().unwrap_err();
    assert!(matches!(err, StoreError::InjectedFault { .. }), "{err}");
    assert_eq!(err.path(), target);

    assert_eq!(fs::read(&target).unwrap(), before);
    assert_eq!(
        names_in(dir.path()),
        vec!["out.c1z", "out.c1z.lock"],
        "no temporary file and no work directory left"
    );
}

#[test]
fn dropping_an_unfinished_writer_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new.c1z");
    let f = fixture("a");
    let mut w = C1zWriter::open(&target).unwrap();
    w.put_resource_types(&f.resource_types).unwrap();
    w.put_resources(&f.users).unwrap();
    let names = names_in(dir.path());
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].starts_with(".c1z-work-"),
        "the work directory exists while writing: {names:?}"
    );
    assert_eq!(names[1], "new.c1z.lock");
    drop(w);
    assert_eq!(
        names_in(dir.path()),
        vec!["new.c1z.lock"],
        "only the lock file stays"
    );

    let existing = dir.path().join("old.c1z");
    write_sync(&existing, "old");
    let before = fs::read(&existing).unwrap();
    let mut w = C1zWriter::open(&existing).unwrap();
    w.put_resources(&f.users).unwrap();
    drop(w);
    assert_eq!(fs::read(&existing).unwrap(), before);
    assert_eq!(
        names_in(dir.path()),
        vec!["new.c1z.lock", "old.c1z", "old.c1z.lock"]
    );
}

#[test]
fn rejects_files_that_are_not_c1z_v1() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    fs::write(&text, "hello, this is not a c1z\n").unwrap();
    let v3 = dir.path().join("pebble.c1z");
    fs::write(&v3, b"C1Z3\0\0\0\0\x02\x08\x01").unwrap();
    let empty = dir.path().join("empty.c1z");
    fs::write(&empty, b"").unwrap();

    let err = C1zReader::open(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: not a c1z file", text.display())
    );
    let err = C1zReader::open(&empty).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: not a c1z file", empty.display())
    );
    let err = C1zReader::open(&v3).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: unsupported c1z v3 (Pebble) file", v3.display())
    );

    let err = C1zWriter::open(&text).unwrap_err();
    assert!(matches!(err, StoreError::NotC1z { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("{}: not a c1z file", text.display())
    );
    let err = C1zWriter::open(&v3).unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedV3 { .. }), "{err}");
    assert_eq!(fs::read(&text).unwrap(), b"hello, this is not a c1z\n");

    // An empty file is a new c1z, as in the SDK.
    let done = write_sync(&empty, "a");
    assert_eq!(
        C1zReader::open(&empty).unwrap().sync_runs().unwrap()[0].sync_id,
        done.sync_id
    );

    let garbage = dir.path().join("garbage.c1z");
    fs::write(&garbage, b"C1ZF\0not zstd").unwrap();
    let err = C1zReader::open(&garbage).unwrap_err();
    assert!(matches!(err, StoreError::Decompress { .. }), "{err}");
    assert!(err.to_string().contains("garbage.c1z"), "{err}");
    let not_sqlite = dir.path().join("not-sqlite.c1z");
    let mut bytes = b"C1ZF\0".to_vec();
    bytes.extend(zstd::encode_all(&b"plain text, not a database"[..], 3).unwrap());
    fs::write(&not_sqlite, bytes).unwrap();
    let err = C1zReader::open(&not_sqlite).unwrap_err();
    assert!(matches!(err, StoreError::NotSqlite { .. }), "{err}");
    let err = C1zWriter::open(&not_sqlite).unwrap_err();
    assert!(matches!(err, StoreError::NotSqlite { .. }), "{err}");
    assert_eq!(
        names_in(dir.path()),
        vec![
            "empty.c1z",
            "empty.c1z.lock",
            "garbage.c1z",
            "not-sqlite.c1z",
            "not-sqlite.c1z.lock",
            "notes.txt",
            "pebble.c1z"
        ],
        "failed opens leave no work directories, and files that are plainly no c1z no lock file"
    );
}

#[test]
fn reader_refuses_more_than_its_decoded_limit() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    write_sync(&target, "a");
    let size = C1zReader::open(&target).unwrap().decoded_bytes();
    assert!(C1zReader::open_with_limit(&target, size).is_ok());
    let err = C1zReader::open_with_limit(&target, size - 1).unwrap_err();
    assert!(
        matches!(err, StoreError::TooLarge { limit, .. } if limit == size - 1),
        "{err}"
    );
    assert!(err.to_string().contains("out.c1z"), "{err}");
}

#[test]
fn invalid_records_are_refused_without_partial_rows() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let f = fixture("a");
    let mut w = C1zWriter::open(&target).unwrap();
    let mut batch = f.users.clone();
    batch[1].id = None;
    let err = w.put_resources(&batch).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot store resource #1: missing or empty id",
            target.display()
        )
    );
    let mut grant = f.grants[0].clone();
    grant.principal = None;
    assert!(matches!(
        w.put_grants(&[grant]).unwrap_err(),
        StoreError::InvalidRecord { kind: "grant", .. }
    ));
    let done = w.finish().unwrap();
    assert_eq!(
        done.stats.resources, 0,
        "the failed batch was rolled back as a whole"
    );
    assert_eq!(done.stats.grants, 0);
}

#[test]
fn re_putting_an_object_replaces_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let mut w = C1zWriter::open(&target).unwrap();
    let old = UserBuilder::new("user", "u1", "Old name").build();
    let new = UserBuilder::new("user", "u1", "New name").build();
    w.put_resources(&[old]).unwrap();
    w.put_resources(std::slice::from_ref(&new)).unwrap();
    let done = w.finish().unwrap();
    let r = C1zReader::open(&target).unwrap();
    assert_eq!(r.resources(&done.sync_id, None).unwrap(), vec![new]);
    assert_eq!(done.stats.resources, 1);
}

/// The same ids again inside one call, in every table: the last data wins, the first position
/// stays, and nothing else moves.
#[test]
fn repeated_ids_within_one_call_keep_the_last_data() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let mut w = C1zWriter::open(&target).unwrap();
    let user = |id: &str, name: &str| UserBuilder::new("user", id, name).build();
    w.put_resources(&[
        user("u1", "First"),
        user("u2", "Two"),
        user("u1", "Again"),
        user("u3", "Three"),
        user("u1", "Last"),
    ])
    .unwrap();
    let owner = user("u2", "Two");
    let read = c1_model::entitlement::ownership(&owner, "read");
    let mut renamed = read.clone();
    renamed.display_name = "renamed".to_owned();
    w.put_entitlements(&[read, renamed.clone()]).unwrap();
    let done = w.finish().unwrap();
    let r = C1zReader::open(&target).unwrap();
    assert_eq!(
        r.resources(&done.sync_id, None).unwrap(),
        vec![user("u1", "Last"), user("u2", "Two"), user("u3", "Three")]
    );
    assert_eq!(r.entitlements(&done.sync_id).unwrap(), vec![renamed]);
    assert_eq!((done.stats.resources, done.stats.entitlements), (3, 1));
}

/// One writer per file: while a writer lives, a second one of the same file is refused at once,
/// naming this process, and makes nothing; once the first is dropped or finished, the next one
/// starts. Other files in the same directory are not held up.
#[test]
fn a_second_writer_of_the_same_file_is_refused_until_the_first_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let first_sync = write_sync(&target, "first");
    let before = fs::read(&target).unwrap();

    let first = C1zWriter::open(&target).unwrap();
    let names = names_in(dir.path());
    let err = C1zWriter::open(&target).unwrap_err();
    let me = std::process::id();
    assert!(
        matches!(&err, StoreError::Busy { path, pid: Some(pid) } if path == &target && *pid == me),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: another process (pid {me}) is writing this file",
            target.display()
        )
    );
    assert_eq!(err.path(), target);
    assert_eq!(
        names_in(dir.path()),
        names,
        "the refused writer made nothing"
    );
    assert_eq!(fs::read(&target).unwrap(), before);
    // A writer on another thread is refused the same way.
    let elsewhere = std::thread::scope(|s| s.spawn(|| C1zWriter::open(&target)).join().unwrap());
    assert!(
        matches!(elsewhere, Err(StoreError::Busy { .. })),
        "{elsewhere:?}"
    );
    let other = write_sync(&dir.path().join("other.c1z"), "other");
    assert_eq!(other.previous_sync_id, None);

    drop(first);
    let second = C1zWriter::open(&target).unwrap();
    assert!(matches!(
        C1zWriter::open(&target),
        Err(StoreError::Busy { .. })
    ));
    let second = second.finish().unwrap();
    assert_eq!(
        second.previous_sync_id.as_deref(),
        Some(first_sync.sync_id.as_str())
    );
    let third = write_sync(&target, "third");
    assert_eq!(
        third.previous_sync_id.as_deref(),
        Some(second.sync_id.as_str()),
        "a finished writer let go of the file"
    );
    assert_eq!(
        names_in(dir.path()),
        ["other.c1z", "other.c1z.lock", "out.c1z", "out.c1z.lock"]
    );
}

/// The new file is never written under a name another writer could share: a `<file>.tmp` left
/// by anything else (versions before the lock wrote there) is neither written to nor removed.
#[test]
fn the_new_file_has_a_name_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let stray = dir.path().join("out.c1z.tmp");
    fs::write(&stray, b"someone else's bytes").unwrap();
    write_sync(&target, "first");
    let done = write_sync(&target, "second");
    assert_eq!(fs::read(&stray).unwrap(), b"someone else's bytes");
    assert_eq!(
        C1zReader::open(&target)
            .unwrap()
            .latest_finished_sync()
            .unwrap()
            .map(|s| s.sync_id),
        Some(done.sync_id)
    );
    assert_eq!(
        names_in(dir.path()),
        ["out.c1z", "out.c1z.lock", "out.c1z.tmp"]
    );
}

/// A full disk while the new file is written (at its first byte, in the magic, in the zstd
/// frame): the save fails saying so, the previous file stays byte-identical, nothing temporary
/// is left, and the next sync works. (A full disk while the rows are stored, and a failure just
/// before the rename, are covered beside the writer and above.)
#[test]
fn a_full_disk_while_writing_the_new_file_leaves_the_previous_one_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let first = write_sync(&target, "first");
    let before = fs::read(&target).unwrap();
    for room in [0, 3, 64, 1000] {
        let f = fixture("second");
        let mut w = C1zWriter::open(&target).unwrap();
        w.put_resource_types(&f.resource_types).unwrap();
        w.put_resources(&f.users).unwrap();
        w.put_grants(&f.grants).unwrap();
        w.fail_output_after(room);
        let err = w.finish().unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
            "{room}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: could not write the new file beside it",
                target.display()
            )
        );
        assert_eq!(fs::read(&target).unwrap(), before, "{room}");
        assert_eq!(
            names_in(dir.path()),
            ["out.c1z", "out.c1z.lock"],
            "{room}: nothing temporary is left"
        );
    }
    let next = write_sync(&target, "third");
    assert_eq!(
        next.previous_sync_id.as_deref(),
        Some(first.sync_id.as_str())
    );
}

/// A grant id listed twice in one sync is stored as its last listing, whole: the `expansion`
/// and `needs_expansion` columns go with the `data` they came with, whether the repeat is in
/// the same call or a later one, and whichever of the two was expandable.
#[test]
fn a_repeated_grant_keeps_the_expansion_of_the_listing_its_data_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.c1z");
    let f = fixture("a");
    let admin = &f.entitlements[1];
    let listing = |principal: &str, label: &str, expandable: bool| {
        let mut grant = c1_model::grant::new(admin, &c1_model::resource_id("group", principal));
        if let Some(e) = grant.entitlement.as_mut() {
            e.display_name = label.to_owned();
        }
        if expandable {
            grant
                .annotations
                .push(annotations::pack(&pb::GrantExpandable {
                    entitlement_ids: vec![format!("expanded in the {label} listing")],
                    shallow: true,
                    resource_type_ids: vec!["user".into()],
                }));
        }
        grant
    };
    let mut w = C1zWriter::open(&target).unwrap();
    w.put_grants(&[listing("g2", "first", true), listing("g2", "last", false)])
        .unwrap();
    w.put_grants(&[listing("g3", "first", false)]).unwrap();
    w.put_grants(&[listing("g3", "last", true)]).unwrap();
    w.put_grants(&[listing("g4", "first", true)]).unwrap();
    w.put_grants(&[listing("g4", "last", true)]).unwrap();
    let done = w.finish().unwrap();
    assert_eq!(done.stats.grants, 3);

    let expected = vec![
        listing("g2", "last", false),
        listing("g3", "last", true),
        listing("g4", "last", true),
    ];
    let r = C1zReader::open(&target).unwrap();
    assert_eq!(r.grants(&done.sync_id).unwrap(), expected);
    let (_tmp, db) = raw_db(&target);
    let rows: Vec<(Option<Vec<u8>>, i64)> = db
        .prepare("select expansion, needs_expansion from v1_grants order by id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expansions: Vec<(Option<Vec<String>>, i64)> = rows
        .into_iter()
        .map(|(blob, needs)| {
            let ids = blob.map(|b| {
                c1_model::decode::<pb::GrantExpandable>(&b)
                    .unwrap()
                    .entitlement_ids
            });
            (ids, needs)
        })
        .collect();
    assert_eq!(
        expansions,
        vec![
            (None, 0),
            (Some(vec!["expanded in the last listing".to_owned()]), 1),
            (Some(vec!["expanded in the last listing".to_owned()]), 1),
        ]
    );
}
