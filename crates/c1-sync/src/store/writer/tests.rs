//! The writer's own parts: stats, encoding, a failing database thread, refused threads, the exclusive new file.

use std::fs;

use super::save::OUTPUT;
use super::*;
use c1_model::{ResourceTypeBuilder, UserBuilder};

fn users(names: &[&str]) -> Vec<pb::Resource> {
    names
        .iter()
        .map(|n| UserBuilder::new("user", n, *n).build())
        .collect()
}

#[test]
fn stats_count_each_object_once_and_only_this_sync() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t.c1z");
    let types = [
        ResourceTypeBuilder::new("user", "User").build(),
        ResourceTypeBuilder::new("empty", "Empty").build(),
    ];
    let group = c1_model::ResourceBuilder::new("group", "g", "G").build_group();
    let ent = c1_model::entitlement::assignment(&group, "member");
    let grant = c1_model::grant::new(&ent, &c1_model::resource_id("user", "a"));

    let mut first = C1zWriter::open(&target).unwrap();
    first.put_resources(&users(&["x", "y", "z"])).unwrap();
    first.finish().unwrap();

    let mut w = C1zWriter::open(&target).unwrap();
    w.put_resource_types(&types).unwrap();
    w.put_resource_types(&types[..1]).unwrap();
    w.put_resources(&users(&["a", "b"])).unwrap();
    w.put_resources(&users(&["b", "c"])).unwrap();
    w.put_resources(std::slice::from_ref(&group)).unwrap();
    w.put_entitlements(&[ent.clone(), ent]).unwrap();
    w.put_grants(&[grant.clone(), grant]).unwrap();
    let mut bad = users(&["d", "e"]);
    bad[1].id = None;
    assert!(
        w.put_resources(&bad).is_err(),
        "a failed batch adds no rows and no counts"
    );

    let sql = w.finish().unwrap().stats;
    assert_eq!(
        (
            sql.resource_types,
            sql.resources,
            sql.entitlements,
            sql.grants
        ),
        (2, 4, 1, 1)
    );
    assert_eq!(
        sql.resources_by_resource_type
            .into_iter()
            .collect::<Vec<_>>(),
        vec![("empty".into(), 0), ("group".into(), 1), ("user".into(), 3)]
    );
}

#[test]
fn stats_count_every_resource_of_a_fresh_file() {
    // Regression: the first resource of a fresh file gets the same row id as the first
    // resource type; it must still be counted.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("fresh.c1z");
    let mut w = C1zWriter::open(&target).unwrap();
    w.put_resource_types(&[ResourceTypeBuilder::new("user", "User").build()])
        .unwrap();
    w.put_resources(&users(&["a", "b", "c"])).unwrap();
    w.put_resources(&users(&["a"])).unwrap();
    let stats = w.finish().unwrap().stats;
    assert_eq!(stats.resources, 3);
    assert_eq!(
        stats
            .resources_by_resource_type
            .into_iter()
            .collect::<Vec<_>>(),
        vec![("user".into(), 3)]
    );
}

#[test]
fn buffer_encoding_is_the_model_encoding() {
    let mut buf = vec![0xFF; 3];
    let user = &users(&["someone"])[0];
    encode_into(&mut buf, user);
    assert_eq!(buf.get(..3), Some(&[0xFF; 3][..]), "appends");
    assert_eq!(buf.get(3..), Some(&c1_model::encode(user)[..]));
}

#[test]
fn a_sqlite_failure_surfaces_on_the_next_call_and_the_target_stays() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t.c1z");
    std::fs::write(&target, b"").unwrap();
    let mut w = C1zWriter::open(&target).unwrap();
    // Make the database thread's next insert fail: a trigger that raises on any resource.
    let (loaded, _) = std::mem::replace(
        &mut w.state.db,
        DatabaseThread::start(Connection::open_in_memory().unwrap(), &target, "unused"),
    )
    .finish()
    .unwrap();
    loaded
        .execute_batch(
            "create trigger no_resources before insert on v1_resources \
             begin select raise(abort, 'disk is full'); end;",
        )
        .unwrap();
    w.state.db = DatabaseThread::start(loaded, &target, w.sync_id());

    w.put_resources(&users(&["a"])).unwrap();
    let mut failed = None;
    for _ in 0..4 {
        if let Err(e) = w.put_resources(&users(&["b"])) {
            failed = Some(e);
            break;
        }
    }
    let failed = failed.expect("the insert error reaches a later call");
    assert!(
        matches!(failed, StoreError::Sqlite { .. }),
        "the thread's own error comes first: {failed:?}"
    );
    assert!(
        failed.to_string().contains("could not write rows"),
        "{failed}"
    );
    let again = w.put_resources(&users(&["c"])).unwrap_err();
    assert!(
        matches!(again, StoreError::WriterStopped { .. }),
        "{again:?}"
    );
    assert!(matches!(w.finish(), Err(StoreError::WriterStopped { .. })));
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b"",
        "the target is untouched"
    );
    assert_eq!(names_in(dir.path()), ["t.c1z", "t.c1z.lock"]);
}

/// With every thread refused (the database thread, zstd's workers, the clean-up beside the
/// fsync), a sync is written on the calling thread and reads back whole.
#[test]
fn a_sync_is_saved_when_the_os_refuses_every_thread() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t.c1z");
    let mut first = C1zWriter::open(&target).unwrap();
    first.put_resources(&users(&["old"])).unwrap();
    let first = first.finish().unwrap();

    let names: Vec<String> = (0..2000).map(|i| format!("u{i:04}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let (done, refused) = super::super::threads::refusing(|| {
        let mut w = C1zWriter::open(&target).unwrap();
        w.put_resource_types(&[ResourceTypeBuilder::new("user", "User").build()])
            .unwrap();
        for chunk in names.chunks(300) {
            w.put_resources(&users(chunk)).unwrap();
        }
        w.put_resources(&users(&["u0001"])).unwrap();
        w.finish().unwrap()
    });
    assert_eq!(
        refused, 3,
        "database thread, zstd's workers, clean-up thread"
    );
    assert_eq!(done.stats.resources, 2000);
    assert_eq!(
        done.previous_sync_id.as_deref(),
        Some(first.sync_id.as_str())
    );
    let r = super::super::C1zReader::open(&target).unwrap();
    assert_eq!(r.resources(&done.sync_id, None).unwrap(), users(&names));
    assert_eq!(r.resources(&first.sync_id, None).unwrap(), users(&["old"]));
    assert_eq!(names_in(dir.path()), ["t.c1z", "t.c1z.lock"]);
}

/// The new file is created exclusively: a file already at its name (which only this writer
/// can know) is never written into, and the save fails with the target untouched.
#[test]
fn the_new_file_is_created_exclusively() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("t.c1z");
    let mut w = C1zWriter::open(&target).unwrap();
    w.put_resources(&users(&["a"])).unwrap();
    w.finish().unwrap();
    let before = fs::read(&target).unwrap();

    let mut w = C1zWriter::open(&target).unwrap();
    w.put_resources(&users(&["b"])).unwrap();
    let squatter = w.state.work.path().join(OUTPUT);
    fs::write(&squatter, b"not yours").unwrap();
    let err = w.finish().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: could not create the new file beside it",
            target.display()
        )
    );
    assert!(matches!(&err, StoreError::Io { source, .. }
        if source.kind() == std::io::ErrorKind::AlreadyExists));
    assert_eq!(fs::read(&target).unwrap(), before);
    assert_eq!(names_in(dir.path()), ["t.c1z", "t.c1z.lock"]);
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A sync whose expansion writes the grants table again: 300 members of group `g1`, and group
/// `g2`'s members include `g1`'s (an expandable grant), so expansion makes 300 grants.
fn write_rewriting(target: &Path) -> FinishedSync {
    let groups: Vec<pb::Resource> = ["g1", "g2"]
        .iter()
        .map(|g| c1_model::ResourceBuilder::new("group", g, *g).build_group())
        .collect();
    let member: Vec<pb::Entitlement> = groups
        .iter()
        .map(|g| c1_model::entitlement::assignment(g, "member"))
        .collect();
    let names: Vec<String> = (0..300).map(|i| format!("u{i:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut grants: Vec<pb::Grant> = names
        .iter()
        .map(|n| c1_model::grant::new(&member[0], &c1_model::resource_id("user", n)))
        .collect();
    let mut nested = c1_model::grant::new(&member[1], &c1_model::resource_id("group", "g1"));
    nested
        .annotations
        .push(c1_model::annotations::pack(&pb::GrantExpandable {
            entitlement_ids: vec![member[0].id.clone()],
            resource_type_ids: vec!["user".to_owned()],
            ..pb::GrantExpandable::default()
        }));
    grants.push(nested);
    let mut w = C1zWriter::open(target).unwrap();
    w.state.faults.hold_grants = Some(true);
    w.put_resources(&users(&names)).unwrap();
    w.put_resources(&groups).unwrap();
    w.put_entitlements(&member).unwrap();
    w.put_grants(&grants).unwrap();
    w.finish().unwrap()
}

/// When the OS refuses the thread that builds a large expansion's rows, the writer builds them
/// itself: the same grants, the table written again all the same.
#[test]
fn a_rewritten_grants_table_needs_no_second_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (threaded, inline) = (dir.path().join("a.c1z"), dir.path().join("b.c1z"));
    let done = write_rewriting(&threaded);
    assert!(done.expansion.grants_table_rewritten);
    assert_eq!(done.expansion.grants_created, 300);
    let (done_inline, refused) = super::super::threads::refusing(|| write_rewriting(&inline));
    assert!(done_inline.expansion.grants_table_rewritten);
    assert_eq!(done_inline.expansion.grants_created, 300);
    assert_eq!(
        refused, 4,
        "database thread, the rows' builder, zstd's workers, clean-up thread"
    );
    let grants = |path: &Path, sync: &str| {
        let mut g = super::super::C1zReader::open(path)
            .unwrap()
            .grants(sync)
            .unwrap();
        g.sort_by(|a, b| a.id.cmp(&b.id));
        g
    };
    let expected = grants(&threaded, &done.sync_id);
    assert_eq!(expected.len(), 601);
    assert_eq!(grants(&inline, &done_inline.sync_id), expected);
}
