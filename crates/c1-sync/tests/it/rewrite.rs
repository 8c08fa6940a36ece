//! A large expansion writes the grants table again in key order: what the file keeps.

use std::path::Path;

use c1_model::pb;
use c1_sync::store::C1zReader;

use crate::corrupt::tampered_copy;
use crate::store::{all_grants, fixture, raw_db, write_sync, write_sync_with};

/// The fixture's sync written into `target`, expansion writing the grants table again.
fn write_rewriting(target: &Path, tag: &str) -> c1_sync::FinishedSync {
    write_sync_with(target, tag, |w| w.hold_grants_on_expansion(true))
}

fn by_id(mut grants: Vec<pb::Grant>) -> Vec<pb::Grant> {
    grants.sort_by(|a, b| a.id.cmp(&b.id));
    grants
}

/// The `sql` of the grants table and its indexes, by name.
fn grants_schema(path: &Path) -> Vec<(String, Option<String>)> {
    let (_dir, db) = raw_db(path);
    let mut stmt = db
        .prepare("select name, sql from sqlite_master where tbl_name = 'v1_grants' order by name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The database's free pages (freelist trunk pages and their leaves, from the header), each
/// with whether it holds nothing but the freelist's own pointers.
fn free_pages(db: &[u8]) -> Vec<(u32, bool)> {
    let be = |at: &[u8]| u32::from_be_bytes(at[..4].try_into().unwrap());
    let page_size = match u16::from_be_bytes([db[16], db[17]]) {
        1 => 65_536,
        n => usize::from(n),
    };
    let page = |n: u32| &db[(n as usize - 1) * page_size..n as usize * page_size];
    let mut out = Vec::new();
    let mut trunk = be(&db[32..]);
    while trunk != 0 {
        let t = page(trunk);
        let leaves = be(&t[4..]) as usize;
        out.push((trunk, t[8 + 4 * leaves..].iter().all(|&b| b == 0)));
        for i in 0..leaves {
            let leaf = be(&t[8 + 4 * i..]);
            out.push((leaf, page(leaf).iter().all(|&b| b == 0)));
        }
        trunk = be(t);
    }
    assert_eq!(
        out.len(),
        be(&db[36..]) as usize,
        "the header's free page count"
    );
    out
}

#[test]
fn a_rewritten_grants_table_keeps_its_schema_the_previous_sync_and_no_old_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let first = write_sync(&path, "first");
    assert!(
        !first.expansion.grants_table_rewritten,
        "small: written as it goes"
    );
    let schema = grants_schema(&path);
    let first_grants = C1zReader::open(&path)
        .unwrap()
        .grants(&first.sync_id)
        .unwrap();

    // The second sync carries the first over into its database, then rewrites the table.
    let second = write_rewriting(&path, "second");
    assert!(second.expansion.grants_table_rewritten);
    assert_eq!(second.expansion.grants_created, 3);
    assert_eq!(
        grants_schema(&path),
        schema,
        "the table and indexes as the SDK made them"
    );

    let reader = C1zReader::open(&path).unwrap();
    assert_eq!(reader.sync_runs().unwrap().len(), 2);
    assert_eq!(
        by_id(reader.grants(&first.sync_id).unwrap()),
        by_id(first_grants),
        "the previous sync's grants are copied as they were"
    );
    assert_eq!(
        by_id(reader.grants(&second.sync_id).unwrap()),
        by_id(all_grants(&fixture("second")))
    );

    let bytes = std::fs::read(&path).unwrap();
    let db = zstd::decode_all(&bytes[5..]).unwrap();
    let free = free_pages(&db);
    assert!(!free.is_empty(), "the old table's pages are free pages now");
    assert!(
        free.iter().all(|&(_, zero)| zero),
        "free pages keep none of the old rows: {:?}",
        free.iter().filter(|f| !f.1).collect::<Vec<_>>()
    );
    let (_dir, raw) = raw_db(&path);
    let check: String = raw
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // Rows in key order: entitlement, then principal.
    let mut stmt = raw
        .prepare("select entitlement_id, principal_resource_id from v1_grants where sync_id = ?1 order by id")
        .unwrap();
    let keys: Vec<(String, String)> = stmt
        .query_map([&second.sync_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

/// The SDK's unexpanded file with `sql` run on its database.
fn sdk_file_with(dir: &Path, sql: &str) -> std::path::PathBuf {
    let before = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/compat/baton-sdk-expansion-before.c1z");
    tampered_copy(&std::fs::read(before).unwrap(), dir, "changed.c1z", sql)
}

/// Expands the latest sync of `path` writing the table again if it can; checks the SDK's
/// grant count and returns whether it did.
fn expand_rewriting(path: &Path) -> bool {
    let reader = C1zReader::open(path).unwrap();
    let sync = reader.latest_sync().unwrap().unwrap();
    let report = reader.expand_grants_rewriting(&sync.sync_id).unwrap();
    assert_eq!(report.grants_created, 14_981 - 2_909);
    assert_eq!(reader.grants(&sync.sync_id).unwrap().len(), 14_981);
    report.grants_table_rewritten
}

/// A file holding a table named as the grants table is while it is copied: the expansion
/// writes as it goes instead, and the result is the same.
#[test]
fn a_table_in_the_way_of_the_rewrite_makes_it_write_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let path = sdk_file_with(
        dir.path(),
        "create table v1_grants_before_expansion (x text)",
    );
    assert!(!expand_rewriting(&path));
}

/// A grants table with a column this crate does not know, required and with a default: the
/// table is still written again (stored rows are copied with every column, new grants leave it
/// to its default), and every grant reads as the SDK's expansion has it.
#[test]
fn a_column_unknown_to_the_rewrite_does_not_stop_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = sdk_file_with(
        dir.path(),
        "alter table v1_grants add column extra text not null default 'new'; \
         update v1_grants set extra = 'stored';",
    );
    assert!(expand_rewriting(&path));
}
