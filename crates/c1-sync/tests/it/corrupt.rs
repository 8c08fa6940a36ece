//! Damaged c1z files: cut short, bytes flipped in the envelope or in the database, garbage in
//! the stored messages. Every read fails with an error naming the file, never a panic.

use std::fs;
use std::path::{Path, PathBuf};

use c1_model::pb;
use c1_sync::store::{C1zReader, C1zWriter, StoreError};
use proptest::prelude::*;
use rusqlite::Connection;

fn sdk_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/compat/baton-sdk-sync-in-progress.c1z")
}

/// A small sync with an expandable grant, written by our writer: its bytes (written once).
fn small_sync() -> Vec<u8> {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(write_small_sync).clone()
}

fn write_small_sync() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.c1z");
    let f = crate::store::fixture("");
    let mut w = C1zWriter::open(&path).unwrap();
    w.put_resource_types(&f.resource_types).unwrap();
    w.put_resources(&f.users).unwrap();
    w.put_resources(&f.groups).unwrap();
    w.put_entitlements(&f.entitlements).unwrap();
    w.put_grants(&f.grants).unwrap();
    w.finish().unwrap();
    fs::read(&path).unwrap()
}

/// Every read the reader offers, on every sync the file lists; the first error, if any.
fn read_everything(path: &Path) -> Result<(), StoreError> {
    let reader = C1zReader::open(path)?;
    let runs = reader.sync_runs()?;
    reader.latest_sync()?;
    reader.latest_sync_of_any_type()?;
    reader.latest_finished_sync()?;
    for run in &runs {
        let id = run.sync_id.as_str();
        reader.sync_run(id)?;
        reader.resource_types(id)?;
        let resources = reader.resources(id, None)?;
        reader.resources(id, Some("user"))?;
        let entitlements = reader.entitlements(id)?;
        let grants = reader.grants(id)?;
        if let Some(e) = entitlements.first() {
            reader.entitlement(id, &e.id)?;
            reader.grants_for_entitlement(id, &e.id)?;
        }
        if let Some(r) = resources.first().and_then(|r| r.id.as_ref()) {
            reader.resource(id, r)?;
            reader.grants_for_principal(id, r)?;
        }
        if let Some(g) = grants.first() {
            reader.grant(id, &g.id)?;
        }
        reader.expand_grants(id)?;
        reader.grants(id)?;
    }
    Ok(())
}

/// Reads `bytes` as a c1z: whatever fails says which file.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.c1z");
    fs::write(&path, bytes).unwrap();
    if let Err(e) = read_everything(&path) {
        let message = e.to_string();
        prop_assert!(message.contains("damaged.c1z"), "{message}");
        prop_assert!(!message.contains('\n'), "{message}");
    }
    Ok(())
}

/// The database inside a c1z.
fn database(c1z: &[u8]) -> Vec<u8> {
    zstd::decode_all(c1z.get(5..).unwrap()).unwrap()
}

fn envelope(database: &[u8]) -> Vec<u8> {
    let mut out = b"C1ZF\0".to_vec();
    out.extend(zstd::encode_all(database, 1).unwrap());
    out
}

/// A change to some bytes: cut them short, flip bits of one, or put a byte in.
#[derive(Debug, Clone)]
enum Damage {
    Cut(prop::sample::Index),
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        1 => any::<prop::sample::Index>().prop_map(Damage::Cut),
        4 => (any::<prop::sample::Index>(), 1..=u8::MAX).prop_map(|(at, bits)| Damage::Flip(at, bits)),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, b)| Damage::Insert(at, b)),
    ]
}

fn damaged(mut bytes: Vec<u8>, damages: &[Damage]) -> Vec<u8> {
    for d in damages {
        match d {
            Damage::Cut(at) => bytes.truncate(at.index(bytes.len() + 1)),
            Damage::Flip(at, bits) => {
                let len = bytes.len();
                if let Some(b) = bytes.get_mut(at.index(len.max(1))) {
                    *b ^= bits;
                }
            }
            Damage::Insert(at, b) => bytes.insert(at.index(bytes.len() + 1), *b),
        }
    }
    bytes
}

/// What goes into a stored message: arbitrary bytes, or a stored message damaged.
#[derive(Debug, Clone)]
enum Blob {
    Any(Vec<u8>),
    Damaged(Vec<Damage>),
}

fn blob() -> impl Strategy<Value = Blob> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Blob::Any),
        prop::collection::vec(damage(), 1..4).prop_map(Blob::Damaged),
    ]
}

/// Replaces the `data` (or `expansion`) of the rows picked in `table` by `blob`.
fn replace_blobs(db: &[u8], table: &str, column: &str, row: usize, blob: &Blob) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    fs::write(&path, db).unwrap();
    {
        let conn = Connection::open(&path).unwrap();
        let ids: Vec<i64> = conn
            .prepare(&format!("select id from {table} order by id"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut id = ids[row % ids.len()];
        if column == "legacy" {
            // A file from before the `expansion` column: the annotation inside the blob.
            let (row_id, data, value): (i64, Vec<u8>, Vec<u8>) = conn
                .query_row(
                    "select id, data, expansion from v1_grants where expansion is not null",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            let mut grant: pb::Grant = c1_model::decode(&data).unwrap();
            grant.annotations.push(prost_types::Any {
                type_url: "type.googleapis.com/c1.connector.v2.GrantExpandable".into(),
                value,
            });
            conn.execute(
                "update v1_grants set data = ?1, expansion = null, needs_expansion = 0 where id = ?2",
                rusqlite::params![c1_model::encode(&grant), row_id],
            )
            .unwrap();
            conn.execute("update v1_sync_runs set grants_backfilled = 0", [])
                .unwrap();
            if matches!(blob, Blob::Damaged(_)) {
                id = row_id;
            }
        }
        let column = if column == "legacy" { "data" } else { column };
        let old: Option<Vec<u8>> = conn
            .query_row(
                &format!("select {column} from {table} where id = ?1"),
                [id],
                |r| r.get(0),
            )
            .unwrap();
        let new = match blob {
            Blob::Any(bytes) => bytes.clone(),
            Blob::Damaged(damages) => damaged(old.unwrap_or_default(), damages),
        };
        conn.execute(
            &format!("update {table} set {column} = ?1 where id = ?2"),
            rusqlite::params![new, id],
        )
        .unwrap();
    }
    fs::read(&path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xc1_2f00),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The SDK's file cut short or with bytes flipped anywhere (the magic, the zstd frame).
    #[test]
    fn a_damaged_file_never_panics(damages in prop::collection::vec(damage(), 1..4)) {
        let file = fs::read(sdk_file()).unwrap();
        check(&damaged(file, &damages))?;
    }

    /// A valid envelope around a damaged database.
    #[test]
    fn a_damaged_database_never_panics(damages in prop::collection::vec(damage(), 1..6)) {
        let db = database(&fs::read(sdk_file()).unwrap());
        check(&envelope(&damaged(db, &damages)))?;
    }

    /// A valid database whose stored messages hold garbage.
    #[test]
    fn garbage_messages_never_panic(
        table in prop::sample::select(vec![
            ("v1_grants", "data"),
            ("v1_grants", "expansion"),
            ("v1_grants", "legacy"),
            ("v1_entitlements", "data"),
            ("v1_resources", "data"),
            ("v1_resource_types", "data"),
        ]),
        row in any::<usize>(),
        blob in blob(),
    ) {
        let db = database(&small_sync());
        check(&envelope(&replace_blobs(&db, table.0, table.1, row, &blob)))?;
    }
}

/// Runs `read` on another thread; `None` if it has not answered within `seconds`.
fn within<T: Send + 'static>(seconds: u64, read: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || send.send(read()));
    receive
        .recv_timeout(std::time::Duration::from_secs(seconds))
        .ok()
}

/// The small sync with `sql` run on its database, as `name` in `dir`.
fn tampered(dir: &Path, name: &str, sql: &str) -> PathBuf {
    tampered_copy(&small_sync(), dir, name, sql)
}

/// The c1z `source` with `sql` run on its database, as `name` in `dir`.
pub(crate) fn tampered_copy(source: &[u8], dir: &Path, name: &str, sql: &str) -> PathBuf {
    let db_path = dir.join("db");
    fs::write(&db_path, database(source)).unwrap();
    Connection::open(&db_path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    let path = dir.join(name);
    fs::write(&path, envelope(&fs::read(&db_path).unwrap())).unwrap();
    path
}

/// A database whose `v1_sync_runs` is a view that never ends: the reader must refuse it, not
/// run it.
#[test]
fn a_view_in_place_of_a_table_is_refused_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = tampered(
        dir.path(),
        "view.c1z",
        "drop table v1_sync_runs;
             create view v1_sync_runs as
               with recursive n(i) as (select 1 union all select i + 1 from n)
               select i as id, 'x' as sync_id, '' as started_at, null as ended_at,
                 '' as sync_token, 'full' as sync_type, '' as parent_sync_id,
                 '' as linked_sync_id, 0 as supports_diff, 0 as grants_backfilled,
                 null as stats, '' as ingest_invariant_generation,
                 '' as ingest_invariant_coverage, '' as ingest_invariant_mode
               from n where i < 0;",
    );
    let answer = within(20, move || {
        read_everything(&path).map_err(|e| e.to_string())
    });
    let Some(answer) = answer else {
        panic!("reading a file whose sync runs are an endless view did not end");
    };
    assert_eq!(
        answer.unwrap_err(),
        format!(
            "{}: c1z database object v1_sync_runs is a view, not a plain table",
            dir.path().join("view.c1z").display()
        )
    );
    // The writer reads the previous file too, to carry its last sync over.
    let previous = dir.path().join("view.c1z");
    let err = within(20, move || {
        C1zWriter::open(&previous)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let Some(err) = err else {
        panic!("opening a writer on a file whose sync runs are an endless view did not end");
    };
    assert!(err.unwrap_err().contains("v1_sync_runs is a view"));
}

/// A trigger would run on the reader's own writes (expansion): refused too.
#[test]
fn a_trigger_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = tampered(
        dir.path(),
        "trigger.c1z",
        "create trigger spin after update on v1_grants begin
               select count(*) from (with recursive n(i) as (select 1 union all select i + 1 from n) select i from n);
             end;",
    );
    let err = C1zReader::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::UnexpectedSchema { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: c1z database object spin is a trigger, not a plain table",
            path.display()
        )
    );
}
