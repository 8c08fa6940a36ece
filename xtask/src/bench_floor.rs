//! The physical floor of a users sync, measured in the same run as the sync it is compared with:
//! the same env0 bodies downloaded, the same rows bulk-inserted into a fresh SQLite file, and that
//! file compressed with zstd at the level the c1z writer uses, one after another.
//!
//! Equivalent in-process code stands in for `curl`, the `sqlite3` shell and the `zstd` tool (not
//! every machine has them; `docs/performance.md` says what each step does):
//! - **download**: each body the sync reads (`GET` of the members, API keys, roles, the first
//!   team page and the organization's team roles), one after another over a fresh loopback
//!   connection, read to its end;
//! - **insert**: the rows of the sync's own output (every `v1_*` table, the same count and bytes),
//!   loaded into memory first (not timed), then inserted in one transaction into a fresh database
//!   holding the same tables without their indexes, journal and sync off;
//! - **compress**: that database file read and compressed at zstd level 1 on one thread.
//!
//! Beside it, reported but not a target, the same floor with the c1z schema's indexes: the rows
//! inserted into tables that have the sync's own indexes from the start (as the writer has
//! them), and that larger database compressed. It shows how much of the sync's distance to the
//! floor the indexes the c1z format asks for take.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use rusqlite::types::Value;
use serde::Serialize;

use crate::demo::{DEMO_KEY_ID, DEMO_KEY_SECRET, FakeProcess};

/// zstd level of the c1z writer (`c1-sync`, `store/envelope.rs`).
const ZSTD_LEVEL: i32 = 1;

/// The floor's steps, in milliseconds, and what they moved.
#[derive(Debug, Serialize)]
pub(crate) struct Floor {
    pub(crate) download_ms: f64,
    pub(crate) insert_ms: f64,
    pub(crate) compress_ms: f64,
    pub(crate) total_ms: f64,
    pub(crate) bytes_downloaded: u64,
    pub(crate) rows: u64,
    pub(crate) database_bytes: u64,
    pub(crate) compressed_bytes: u64,
    /// The insert with the sync's indexes on the tables, in milliseconds.
    pub(crate) indexed_insert_ms: f64,
    /// zstd of that database, in milliseconds.
    pub(crate) indexed_compress_ms: f64,
    /// `download_ms + indexed_insert_ms + indexed_compress_ms`: the floor of a database with
    /// the c1z schema's indexes.
    pub(crate) indexed_total_ms: f64,
    pub(crate) indexed_database_bytes: u64,
}

/// Measures the floor of the sync that wrote `c1z` from `fake`'s organization `org_id`.
pub(crate) fn measure(fake: &FakeProcess, org_id: &str, c1z: &Path) -> Result<Floor> {
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;

    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{DEMO_KEY_ID}:{DEMO_KEY_SECRET}"))
    );
    let paths = [
        format!("/organizations/{org_id}/users"),
        format!("/api-keys?organizationId={org_id}"),
        format!("/roles?organizationId={org_id}"),
        format!("/teams/organizations/{org_id}?limit=100"),
        format!("/roles/assignments/teams?organizationId={org_id}"),
    ];
    let started = Instant::now();
    let mut bytes_downloaded = 0;
    for path in &paths {
        bytes_downloaded += fake.get(path, Some(&auth))?.len() as u64;
    }
    let download_ms = ms(started);

    let (tables, indexes) = rows_of(c1z, work.path())?;
    let rows: u64 = tables.iter().map(|t| t.rows.len() as u64).sum();
    let database = work.path().join("floor.db");
    let started = Instant::now();
    insert(&database, &tables, &[])?;
    let insert_ms = ms(started);
    let (compress_ms, bytes, compressed) = compress(&database)?;
    std::fs::remove_file(&database).context("cannot remove the floor's database")?;

    let with_indexes = work.path().join("indexed.db");
    let started = Instant::now();
    insert(&with_indexes, &tables, &indexes)?;
    let indexed_insert_ms = ms(started);
    drop(tables);
    let (indexed_compress_ms, indexed_bytes, _) = compress(&with_indexes)?;

    Ok(Floor {
        download_ms,
        insert_ms,
        compress_ms,
        total_ms: download_ms + insert_ms + compress_ms,
        bytes_downloaded,
        rows,
        database_bytes: bytes,
        compressed_bytes: compressed,
        indexed_insert_ms,
        indexed_compress_ms,
        indexed_total_ms: download_ms + indexed_insert_ms + indexed_compress_ms,
        indexed_database_bytes: indexed_bytes,
    })
}

/// Reads and compresses the database at `path`: the time taken in milliseconds, its size and
/// the compressed size.
fn compress(path: &Path) -> Result<(f64, u64, u64)> {
    let started = Instant::now();
    let bytes = std::fs::read(path).context("cannot read the floor's database")?;
    let compressed =
        zstd::bulk::compress(&bytes, ZSTD_LEVEL).context("cannot compress the floor's database")?;
    Ok((ms(started), bytes.len() as u64, compressed.len() as u64))
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// One table of the sync's output: its `create table` statement, its columns and its rows.
struct Table {
    create: String,
    name: String,
    columns: usize,
    rows: Vec<Vec<Value>>,
}

/// Every `v1_*` table of the c1z's database, rows in memory, and the statements that create
/// the tables' indexes.
fn rows_of(c1z: &Path, work: &Path) -> Result<(Vec<Table>, Vec<String>)> {
    let file = std::fs::read(c1z).with_context(|| format!("cannot read {}", c1z.display()))?;
    let Some(frame) = file.strip_prefix(b"C1ZF\0") else {
        bail!("{} is not a c1z v1 file", c1z.display());
    };
    let db = work.join("sync.db");
    let mut decoded = Vec::new();
    zstd::stream::copy_decode(frame, &mut decoded)
        .with_context(|| format!("cannot decompress {}", c1z.display()))?;
    std::fs::write(&db, decoded).context("cannot write the sync's database")?;
    let conn = rusqlite::Connection::open(&db).context("cannot open the sync's database")?;
    let mut tables = Vec::new();
    let mut list = conn.prepare(
        "select name, sql from sqlite_master where type = 'table' and name like 'v1_%' order by name",
    )?;
    let found: Vec<(String, String)> = list
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, create) in found {
        let mut select = conn.prepare(&format!("select * from {name}"))?;
        let columns = select.column_count();
        let rows = select
            .query_map([], |r| {
                (0..columns)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<rusqlite::Result<Vec<Value>>>()
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tables.push(Table {
            create,
            name,
            columns,
            rows,
        });
    }
    let indexes: Vec<String> = conn
        .prepare(
            "select sql from sqlite_master where type = 'index' and sql is not null \
             and tbl_name like 'v1_%' order by name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok((tables, indexes))
}

/// A fresh database with `tables` and the `indexes` (none, for the floor itself), their rows
/// inserted in one transaction.
fn insert(path: &Path, tables: &[Table], indexes: &[String]) -> Result<()> {
    let mut conn =
        rusqlite::Connection::open(path).context("cannot create the floor's database")?;
    conn.execute_batch(
        "pragma page_size = 65536; pragma journal_mode = off; pragma synchronous = off;",
    )?;
    let tx = conn.transaction()?;
    for table in tables {
        tx.execute_batch(&table.create)?;
    }
    for index in indexes {
        tx.execute_batch(index)?;
    }
    for table in tables {
        let marks = vec!["?"; table.columns].join(", ");
        let mut add = tx.prepare(&format!("insert into {} values ({marks})", table.name))?;
        for row in &table.rows {
            add.execute(rusqlite::params_from_iter(row.iter()))?;
        }
    }
    tx.commit()?;
    Ok(())
}
