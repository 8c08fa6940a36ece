//! The rows a sync writes, pinned: a generated organization synced from env0-fake gives exactly
//! the rows (order, ids and blobs) that the sync wrote before the member list was decoded while
//! it arrived (commit 6753a37), summed up as one SHA-256 over every row, with three changes made
//! on purpose since, each compared row by row when it was made:
//! - an expanded grant's `sources` entry that is not direct carries its empty value (`12 00`),
//!   as Go's protobuf, and so ConductorOne's SDK, writes a map entry (10 grant rows);
//! - an API key's profile has `first_name` and `last_name` keys (null), which `baton export csv`
//!   reads from every user (the 200 API-key rows);
//! - every project carries a `ChildResourceType` annotation for `project`, and sub-projects are
//!   listed under their parent, after the top-level projects (the project rows, and the project
//!   entitlements and grants that embed them; the same rows otherwise).

use std::fmt::Write as _;
use std::path::Path;

use env0_fake::{FakeConfig, GenerateOptions, Org};
use sha2::{Digest, Sha256};

use crate::e2e::{Fake, synced_dir};

/// SHA-256 of the rows of the organization's full sync as 6753a37 wrote them, but for the three
/// changes above (see [`rows_digest`]; 6753a37's own digest was `f8706969…`).
const ROWS_BEFORE_STREAMING: &str =
    "eb6eacea9657eee13bf289ffe5bd9f62aedbde52539153432c84c92b00abd7e0";

/// The rows of every synced table, in row order: table, row id, external id, the protobuf blob
/// (hex), and for grants the expansion annotation (hex) and its flag; one tab-separated line a
/// row. Sync ids and timestamps, which differ from run to run, are left out.
fn rows_digest(c1z: &Path) -> String {
    let bytes = std::fs::read(c1z).unwrap();
    let body = bytes.strip_prefix(b"C1ZF\0").expect("a c1z v1 file");
    let database = zstd::decode_all(body).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    std::fs::write(&path, database).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut hash = Sha256::new();
    for (table, grants) in [
        ("v1_resource_types", false),
        ("v1_resources", false),
        ("v1_entitlements", false),
        ("v1_grants", true),
    ] {
        let extra = if grants {
            "hex(expansion), needs_expansion"
        } else {
            "'', ''"
        };
        let sql = format!("select id, external_id, hex(data), {extra} from {table} order by id");
        let mut statement = conn.prepare(&sql).unwrap();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let mut line = String::from(table);
            for i in 0..5 {
                let value = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => String::new(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => panic!("unexpected column type {other:?} in {table}"),
                };
                let _ = write!(line, "\t{value}");
            }
            line.push('\n');
            hash.update(line.as_bytes());
        }
    }
    hash.finalize().iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

#[test]
fn a_sync_writes_the_same_rows_as_before_the_member_list_streamed() {
    let org = Org::generate(GenerateOptions {
        users: 2000,
        api_keys: 200,
        teams: 3,
        projects: 2,
        seed: 5,
    });
    let dir = synced_dir(&Fake::start(FakeConfig::new(org)));
    assert_eq!(
        rows_digest(&dir.path().join("sync.c1z")),
        ROWS_BEFORE_STREAMING
    );
}
