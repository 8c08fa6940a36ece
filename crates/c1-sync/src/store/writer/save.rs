//! Saving a finished sync: grant expansion, the stats, the new file written and fsynced in the
//! scratch directory, the rename over the target and the directory fsync.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use rusqlite::params;

use crate::store::database_thread::{Counts, DatabaseThread};
use crate::store::envelope::{self, Output};
use crate::store::time::now_text;
use crate::store::workdir::WorkDir;
use crate::store::{StoreError, SyncStats};

use super::{Faults, FinishedSync};

/// Everything a [`C1zWriter`](super::C1zWriter) holds but its lock: what
/// [`C1zWriter::finish`](super::C1zWriter::finish) saves. `db` is declared before `work`, so
/// dropping it stops the database thread and closes the connection before the directory is
/// removed.
#[derive(Debug)]
pub(super) struct Saving {
    pub(super) db: DatabaseThread,
    pub(super) target: PathBuf,
    pub(super) work: WorkDir,
    pub(super) db_path: PathBuf,
    pub(super) sync_id: String,
    pub(super) started_at: String,
    pub(super) previous_sync_id: Option<String>,
    pub(super) faults: Faults,
}

impl Saving {
    pub(super) fn save(
        self,
        saving: impl FnOnce(&crate::expand::ExpansionReport),
    ) -> Result<FinishedSync, StoreError> {
        let Self {
            db,
            target,
            work,
            db_path,
            sync_id,
            started_at,
            previous_sync_id,
            faults,
        } = self;

        let started = std::time::Instant::now();
        let (conn, mut counts) = db.finish()?;
        // The last phase of a full sync: grant expansion over the scratch database (`expand`).
        let writing = match faults.hold_grants {
            Some(rewrite) => crate::expand::Writing::Hold { rewrite },
            None => crate::expand::Writing::Chosen,
        };
        let expansion = crate::expand::expand_sync(&conn, &target, &sync_id, &now_text(), writing)?;
        counts.grants += expansion.grants_created;
        saving(&expansion);
        let loaded = started.elapsed();
        let stats = stats_from(counts);
        // Tests check the counts against the database itself.
        #[cfg(debug_assertions)]
        if let Ok(stored) = compute_stats(&conn, &sync_id) {
            debug_assert_eq!(
                stats, stored,
                "counted while inserting vs. counted in the database"
            );
        }
        let stats_json = serde_json::to_string(&stats).map_err(|e| {
            StoreError::io(&target, "encode the sync's stats", std::io::Error::other(e))
        })?;
        let ended_at = now_text();
        conn.execute(
            "update v1_sync_runs set ended_at = ?1, stats = ?2 where sync_id = ?3",
            params![ended_at, stats_json, sync_id],
        )
        .and_then(|_| conn.execute_batch("commit"))
        .map_err(|e| StoreError::sqlite(&target, "end the sync run", e))?;
        conn.close()
            .map_err(|(_, e)| StoreError::sqlite(&target, "close the scratch database", e))?;

        // Created exclusively in this writer's own directory: no other writer can share it,
        // and it goes with the directory on any failure (or with the next writer's clean-up if
        // this process is killed). Same file system as the target, so the rename is atomic.
        let new_file = work.path().join(OUTPUT);
        let out = File::options()
            .write(true)
            .create_new(true)
            .open(&new_file)
            .map_err(|e| StoreError::io(&target, "create the new file beside it", e))?;
        let mut out = Output::new(out);
        if let Some(bytes) = faults.output_room {
            out = out.with_room(bytes);
        }
        let closed = started.elapsed();
        // The scratch database is not needed once compressed: removing it frees its page cache
        // (see `docs/performance.md`), which overlaps with waiting for the disk.
        let bytes = envelope::encode_into(&db_path, out, || drop(fs::remove_file(&db_path)))
            .map_err(|e| StoreError::io(&target, "write the new file beside it", e))?;
        let compressed = started.elapsed();
        if faults.before_rename {
            return Err(StoreError::InjectedFault { path: target });
        }
        fs::rename(&new_file, &target)
            .map_err(|e| StoreError::io(&target, "rename the new file over it", e))?;
        sync_parent_dir(&target);
        drop(work);

        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(
            target = %target.display(),
            %sync_id,
            bytes,
            inserts_done_ms = ms(loaded),
            database_closed_ms = ms(closed),
            compressed_ms = ms(compressed),
            total_ms = ms(started.elapsed()),
            "c1z saved"
        );
        Ok(FinishedSync {
            sync_id,
            path: target,
            bytes,
            started_at,
            ended_at,
            stats,
            previous_sync_id,
            expansion,
        })
    }
}

/// The name of the new file inside the writer's scratch directory, until it is renamed over the
/// target.
pub(super) const OUTPUT: &str = "new.c1z";

/// The `stats` of the current sync from what the database thread counted: every stored
/// resource type appears, possibly with 0 resources.
pub(super) fn stats_from(counts: Counts) -> SyncStats {
    let Counts {
        resource_types,
        resources,
        entitlements,
        grants,
    } = counts;
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let types = resource_types.len() as u64;
    for id in resource_types {
        by_type.insert(id, 0);
    }
    let total = resources.values().sum();
    by_type.extend(resources);
    SyncStats {
        resource_types: types,
        resources: total,
        resources_by_resource_type: by_type,
        entitlements,
        grants,
    }
}

/// Counts the objects of `sync_id` in the database itself (what [`stats_from`] must agree with):
/// totals by scanning each table's unique `(external_id, sync_id)` index, resources per type
/// through the resource type index.
#[cfg(debug_assertions)]
pub(super) fn compute_stats(
    conn: &rusqlite::Connection,
    sync_id: &str,
) -> rusqlite::Result<SyncStats> {
    let count = |table: &str| -> rusqlite::Result<u64> {
        conn.query_row(
            &format!("select count(*) from {table} where sync_id = ?1"),
            [sync_id],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n.max(0) as u64)
    };
    let mut stats = SyncStats {
        resource_types: count(crate::store::schema::RESOURCE_TYPES)?,
        resources: count(crate::store::schema::RESOURCES)?,
        entitlements: count(crate::store::schema::ENTITLEMENTS)?,
        grants: count(crate::store::schema::GRANTS)?,
        ..SyncStats::default()
    };
    let mut types = conn.prepare("select external_id from v1_resource_types where sync_id = ?1")?;
    for id in types.query_map([sync_id], |r| r.get::<_, String>(0))? {
        stats.resources_by_resource_type.insert(id?, 0);
    }
    let mut per_type = conn.prepare(
        "select resource_type_id, count(*) from v1_resources where sync_id = ?1 group by resource_type_id",
    )?;
    for row in per_type.query_map([sync_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })? {
        let (rt, n) = row?;
        stats.resources_by_resource_type.insert(rt, n.max(0) as u64);
    }
    Ok(stats)
}

/// Flushes the directory entry of a rename to disk. Best effort: by the time this runs the new
/// file is in place, so a failure is logged rather than reported as a failed save.
pub(super) fn sync_parent_dir(target: &Path) {
    #[cfg(unix)]
    {
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Err(e) = File::open(parent).and_then(|d| d.sync_all()) {
            tracing::warn!(dir = %parent.display(), error = %e, "could not fsync the directory after saving the c1z");
        }
    }
    #[cfg(not(unix))]
    let _ = target;
}
