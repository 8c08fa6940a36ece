//! Carrying the previous file's latest finished full sync over into the new sync's database.

use std::fs::{self, File};
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::store::StoreError;
use crate::store::envelope::{self, DEFAULT_MAX_DECODED_BYTES, Kind};
use crate::store::schema::{self, SYNC_RUNS, TABLES};

/// Decompresses an existing target into `work` and copies its latest finished full sync into
/// `conn`. Returns that sync's id, or `None` when there is no file or no such sync.
pub(super) fn carry_over_previous(
    conn: &Connection,
    target: &Path,
    work: &Path,
) -> Result<Option<String>, StoreError> {
    let Some(file) = existing_c1z(target)? else {
        return Ok(None);
    };
    let prev_path = work.join("previous.db");
    envelope::decode_to(target, file, &prev_path, DEFAULT_MAX_DECODED_BYTES)?;
    let prev_str = prev_path.to_string_lossy().into_owned();
    conn.execute("attach database ?1 as prev", [&prev_str])
        .map_err(|e| not_sqlite_or(target, "attach the existing database", e))?;
    let copied = copy_latest_finished(conn, target);
    let detached = conn
        .execute_batch("detach database prev")
        .map_err(|e| StoreError::sqlite(target, "detach the existing database", e));
    let kept = copied?;
    detached?;
    fs::remove_file(&prev_path)
        .map_err(|e| StoreError::io(target, "remove the decompressed copy of it", e))?;
    Ok(kept)
}

/// The existing target, positioned after the c1z v1 magic; `None` when there is none or it is
/// empty. [`StoreError::UnsupportedV3`] or [`StoreError::NotC1z`] for any other file.
pub(super) fn existing_c1z(target: &Path) -> Result<Option<File>, StoreError> {
    let exists = target
        .try_exists()
        .map_err(|e| StoreError::io(target, "check whether it exists", e))?;
    if !exists {
        return Ok(None);
    }
    let (file, kind) = envelope::open(target)?;
    match kind {
        Kind::Empty => Ok(None),
        Kind::V3 => Err(StoreError::UnsupportedV3 {
            path: target.to_path_buf(),
        }),
        Kind::Other => Err(StoreError::NotC1z {
            path: target.to_path_buf(),
        }),
        Kind::V1 => Ok(Some(file)),
    }
}

/// With the old database attached as `prev`, copies the rows of its latest finished full sync.
pub(super) fn copy_latest_finished(
    conn: &Connection,
    target: &Path,
) -> Result<Option<String>, StoreError> {
    conn.query_row("select count(*) from prev.sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| not_sqlite_or(target, "read the existing database", e))?;
    let unexpected = schema::unexpected_object(conn, "prev")
        .map_err(|e| StoreError::sqlite(target, "read the existing schema", e))?;
    if let Some((name, kind)) = unexpected {
        return Err(StoreError::UnexpectedSchema {
            path: target.to_path_buf(),
            name,
            kind,
        });
    }
    let run_columns = schema::columns(conn, "prev", SYNC_RUNS)
        .map_err(|e| StoreError::sqlite(target, "read the existing schema", e))?;
    if run_columns.is_empty() {
        return Ok(None);
    }
    let has = |c: &str| run_columns.iter().any(|x| x == c);
    let mut filter = String::from("ended_at is not null");
    if has("sync_type") {
        filter.push_str(" and sync_type = 'full'");
    }
    if has("is_partial") {
        filter.push_str(" and not is_partial");
    }
    let keep: Option<String> = conn
        .query_row(
            &format!(
                "select sync_id from prev.v1_sync_runs where {filter} \
                 order by ended_at desc, sync_id desc limit 1"
            ),
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| StoreError::sqlite(target, "find the latest finished sync", e))?;
    let Some(keep) = keep else {
        return Ok(None);
    };
    for table in TABLES {
        let ours = schema::columns(conn, "main", table.name)
            .and_then(|ours| Ok((ours, schema::columns(conn, "prev", table.name)?)))
            .map_err(|e| StoreError::sqlite(target, "read the existing schema", e))?;
        let (ours, theirs) = ours;
        let shared: Vec<&str> = ours
            .iter()
            .filter(|c| c.as_str() != "id" && theirs.contains(c))
            .map(String::as_str)
            .collect();
        if shared.is_empty() || !theirs.iter().any(|c| c == "sync_id") {
            continue;
        }
        let cols = shared.join(", ");
        conn.execute(
            &format!(
                "insert into main.{t} ({cols}) select {cols} from prev.{t} where sync_id = ?1 order by id",
                t = table.name
            ),
            [&keep],
        )
        .map_err(|e| StoreError::sqlite(target, "copy the previous sync", e))?;
    }
    Ok(Some(keep))
}

/// [`StoreError::NotSqlite`] when SQLite says the file is not a database, else a plain SQLite error.
pub(super) fn not_sqlite_or(target: &Path, action: &'static str, e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
        StoreError::NotSqlite {
            path: target.to_path_buf(),
            source: e,
        }
    } else {
        StoreError::sqlite(target, action, e)
    }
}

pub(super) fn invalid(
    target: &Path,
    kind: &'static str,
    index: usize,
    reason: &'static str,
) -> StoreError {
    StoreError::InvalidRecord {
        path: target.to_path_buf(),
        kind,
        index,
        reason,
    }
}
