//! [`C1zWriter`]: records one full sync into a c1z v1 file, atomically.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use c1_model::pb;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use svix_ksuid::{Ksuid, KsuidLike};

use super::database_thread::{Counts, DatabaseThread, Rows, Table};
use super::envelope::{self, DEFAULT_MAX_DECODED_BYTES, Kind, Output};
use super::lock::TargetLock;
use super::schema::{self, SYNC_RUNS, TABLES};
use super::time::now_text;
use super::workdir::{self, WorkDir};
use super::{StoreError, SyncStats};

/// Writes one full sync into a c1z file.
///
/// [`open`](Self::open) takes the target's lock (one writer per file: a second one fails with
/// [`StoreError::Busy`]) and prepares a scratch SQLite database in a temporary directory beside
/// the target; the `put_*` methods add rows to it (an invalid item fails its call, and nothing of
/// that call is kept); [`finish`](Self::finish) ends the sync and atomically replaces the target.
/// Nothing touches the target before `finish`, and dropping an unfinished writer removes its
/// temporary files. The lock is held until the writer is finished or dropped.
///
/// If the OS refuses to start the database thread, the rows are stored on the calling thread
/// instead, each `put_*` call returning once its batch is stored.
///
/// The `put_*` methods check and encode their items on the calling thread, then hand the rows
/// to a database thread owned by the writer and return; SQLite stores one batch while the caller
/// prepares the next, with at most two batches waiting. An invalid item fails its call at once
/// with nothing of the batch kept. A SQLite failure (a full disk, say) stops the database
/// thread, and the next `put_*` call or `finish` returns it.
#[derive(Debug)]
pub struct C1zWriter {
    // Declared before `work`: dropping it stops the database thread and closes the connection
    // before the directory is removed.
    db: DatabaseThread,
    target: PathBuf,
    work: WorkDir,
    db_path: PathBuf,
    sync_id: String,
    started_at: String,
    previous_sync_id: Option<String>,
    faults: Faults,
    // Last: released only after the database thread has stopped and the scratch directory is
    // gone.
    lock: TargetLock,
}

/// Failures a test asked for through the writer's hidden hooks.
#[derive(Debug, Default, Clone, Copy)]
struct Faults {
    /// Fail right before the rename.
    before_rename: bool,
    /// Writing the new file fails like a full disk after this many bytes.
    output_room: Option<u64>,
}

/// What [`C1zWriter::finish`] produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FinishedSync {
    /// KSUID of the sync just written.
    pub sync_id: String,
    /// The c1z file written.
    pub path: PathBuf,
    /// Size of the c1z file in bytes.
    pub bytes: u64,
    /// `started_at` as stored.
    pub started_at: String,
    /// `ended_at` as stored.
    pub ended_at: String,
    /// The counts stored in `v1_sync_runs.stats`.
    pub stats: SyncStats,
    /// The finished full sync carried over from the previous file, if there was one.
    pub previous_sync_id: Option<String>,
    /// What grant expansion, run just before the sync was ended, did.
    pub expansion: crate::expand::ExpansionReport,
}

impl C1zWriter {
    /// Prepares a new full sync for `target`.
    ///
    /// First takes an exclusive lock on `<target>.lock` (created if missing, never removed),
    /// without waiting: while another writer, in this process or another, holds it, this fails
    /// at once with [`StoreError::Busy`] (naming the holder's pid when it is known) and touches
    /// nothing else.
    ///
    /// If `target` exists it must be a c1z v1 file (an empty file counts as no file, as in the
    /// SDK); otherwise this fails with [`StoreError::NotC1z`] or [`StoreError::UnsupportedV3`]
    /// naming the path. Its latest finished full sync is carried over so the saved file holds
    /// previous + current; other syncs (older, partial or unfinished) are dropped. Nothing
    /// touches `target` until [`finish`](Self::finish).
    pub fn open(target: &Path) -> Result<Self, StoreError> {
        // A file that is plainly no c1z is refused before a lock file is made beside it (it
        // only reads the first bytes; the check that counts runs again under the lock).
        existing_c1z(target)?;
        // Before anything else: the clean-up below and the previous file are this writer's
        // business only once no other writer of the target is running.
        let lock = TargetLock::acquire(target)?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // Scratch directories of syncs that were killed would otherwise stay forever.
        workdir::remove_abandoned(parent);
        let work = WorkDir::create(parent, target)?;
        let db_path = work.path().join("sync.db");
        let conn = Connection::open(&db_path)
            .map_err(|e| StoreError::sqlite(target, "create the scratch database", e))?;
        // The scratch database is thrown away on any failure, so neither durability nor a
        // rollback journal buys anything. 64 KiB pages (SQLite's largest; any reader opens them)
        // make bulk loading markedly cheaper: fewer page splits, fewer and larger writes.
        // Every index exists from the start: rows arrive in id order, so index entries mostly
        // append, which costs less than building the indexes afterwards with a full table scan.
        conn.execute_batch(
            "pragma page_size = 65536; pragma journal_mode = off; pragma synchronous = off; \
             pragma locking_mode = exclusive; pragma temp_store = memory; \
             pragma cache_size = -8192;",
        )
        .and_then(|()| schema::create(&conn))
        .map_err(|e| StoreError::sqlite(target, "create the c1z schema", e))?;

        let previous_sync_id = carry_over_previous(&conn, target, work.path())?;

        let sync_id = Ksuid::new(Some(chrono::Utc::now()), None).to_string();
        let started_at = now_text();
        conn.execute(
            "insert into v1_sync_runs \
             (sync_id, started_at, sync_token, sync_type, parent_sync_id, linked_sync_id, grants_backfilled) \
             values (?1, ?2, '', 'full', '', '', 1)",
            params![sync_id, started_at],
        )
        .map_err(|e| StoreError::sqlite(target, "start the sync run", e))?;
        // One transaction for the whole sync: pages reach the file when the cache is full or at
        // `finish`, instead of at every statement.
        conn.execute_batch("begin")
            .map_err(|e| StoreError::sqlite(target, "start the sync run", e))?;

        let db = DatabaseThread::start(conn, target, &sync_id);

        tracing::debug!(target = %target.display(), %sync_id, ?previous_sync_id, "c1z sync started");
        Ok(Self {
            db,
            target: target.to_path_buf(),
            work,
            db_path,
            sync_id,
            started_at,
            previous_sync_id,
            faults: Faults::default(),
            lock,
        })
    }

    /// KSUID of the sync being written.
    pub fn sync_id(&self) -> &str {
        &self.sync_id
    }

    /// The file `finish` will write.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The finished full sync carried over from the existing target, if any.
    pub fn previous_sync_id(&self) -> Option<&str> {
        self.previous_sync_id.as_deref()
    }

    /// Adds resource types (`external_id` = the type id). Re-adding an id replaces its data.
    pub fn put_resource_types(&mut self, items: &[pb::ResourceType]) -> Result<(), StoreError> {
        self.put_batch(Table::ResourceTypes, items, |rows, item| {
            if item.id.is_empty() {
                return Err("empty id");
            }
            rows.text(&item.id);
            rows.blob(|buf| encode_into(buf, item));
            Ok(())
        })
    }

    /// Adds resources (`external_id` = `"<resource type>:<resource>"`; parent columns from
    /// `parent_resource_id`, NULL without a parent). Re-adding an id replaces its data.
    pub fn put_resources(&mut self, items: &[pb::Resource]) -> Result<(), StoreError> {
        self.put_batch(Table::Resources, items, |rows, item| {
            let id = resource_id(item.id.as_ref()).ok_or("missing or empty id")?;
            let parent = item.parent_resource_id.as_ref();
            rows.text(&id.resource_type);
            rows.text_parts(&[&id.resource_type, ":", &id.resource]);
            rows.opt_text(parent.map(|p| p.resource_type.as_str()));
            rows.opt_text(parent.map(|p| p.resource.as_str()));
            // One row per user: c1-model's direct encoder, prost's bytes without prost's walks.
            rows.blob(|buf| c1_model::encode_resource_into(item, buf));
            Ok(())
        })
    }

    /// Adds entitlements (`external_id` = the entitlement id; resource columns from
    /// `entitlement.resource.id`). Re-adding an id replaces its data.
    pub fn put_entitlements(&mut self, items: &[pb::Entitlement]) -> Result<(), StoreError> {
        self.put_batch(Table::Entitlements, items, |rows, item| {
            if item.id.is_empty() {
                return Err("empty id");
            }
            let resource = resource_id(item.resource.as_ref().and_then(|r| r.id.as_ref()))
                .ok_or("missing resource id")?;
            rows.text(&resource.resource_type);
            rows.text(&resource.resource);
            rows.text(&item.id);
            rows.blob(|buf| encode_into(buf, item));
            Ok(())
        })
    }

    /// Adds grants (`external_id` = the grant id; resource, entitlement and principal columns
    /// from the embedded entitlement and principal). A `GrantExpandable` annotation is removed
    /// from the stored blob and kept in `expansion` with `needs_expansion = 1`, as the SDK does.
    /// Re-adding an id replaces its data.
    pub fn put_grants(&mut self, items: &[pb::Grant]) -> Result<(), StoreError> {
        self.put_batch(Table::Grants, items, |rows, item| {
            if item.id.is_empty() {
                return Err("empty id");
            }
            let entitlement = item
                .entitlement
                .as_ref()
                .filter(|e| !e.id.is_empty())
                .ok_or("missing entitlement id")?;
            let resource = resource_id(entitlement.resource.as_ref().and_then(|r| r.id.as_ref()))
                .ok_or("missing entitlement resource id")?;
            let principal = resource_id(item.principal.as_ref().and_then(|p| p.id.as_ref()))
                .ok_or("missing principal id")?;
            rows.text(&resource.resource_type);
            rows.text(&resource.resource);
            rows.text(&entitlement.id);
            rows.text(&principal.resource_type);
            rows.text(&principal.resource);
            rows.text(&item.id);
            let (stripped, expansion) = split_expansion(item);
            rows.opt_blob(expansion.as_deref());
            rows.int(i64::from(expansion.is_some()));
            rows.blob(|buf| encode_into(buf, stripped.as_ref().unwrap_or(item)));
            Ok(())
        })
    }

    /// Checks and encodes `items` into one batch of rows with `add`, then queues it for the
    /// database thread. An invalid item (for which `add` returns the reason) fails the call
    /// before anything of the batch is queued.
    fn put_batch<T>(
        &mut self,
        table: Table,
        items: &[T],
        mut add: impl FnMut(&mut Rows, &T) -> Result<(), &'static str>,
    ) -> Result<(), StoreError> {
        let kind = match table {
            Table::ResourceTypes => "resource type",
            Table::Resources => "resource",
            Table::Entitlements => "entitlement",
            Table::Grants => "grant",
        };
        let mut rows = self.db.rows(table, now_text(), items.len());
        for (index, item) in items.iter().enumerate() {
            add(&mut rows, item).map_err(|reason| invalid(&self.target, kind, index, reason))?;
        }
        debug_assert_eq!(rows.len(), items.len());
        self.db.send(rows)
    }

    #[doc(hidden)]
    /// Test hook: make [`finish`](Self::finish) fail after writing and syncing the new file,
    /// right before the rename, to prove the target survives and no temporary file remains.
    pub fn fail_before_rename(&mut self) {
        self.faults.before_rename = true;
    }

    #[doc(hidden)]
    /// Test hook: make writing the new file in [`finish`](Self::finish) fail like a full disk
    /// (`ErrorKind::StorageFull`) once `bytes` bytes of it are written.
    pub fn fail_output_after(&mut self, bytes: u64) {
        self.faults.output_room = Some(bytes);
    }

    /// Expands the sync's grants ([`crate::expand`]: inherited grants written, `supports_diff
    /// = 1`), ends the sync (sets `ended_at` and the `stats` JSON), writes the new file
    /// (`C1ZF\0` and one zstd frame with content size and checksum) into the scratch directory
    /// beside the target, fsyncs it, renames it over the target, fsyncs the directory, removes
    /// the scratch directory and releases the lock.
    ///
    /// On any failure before the rename the target is untouched and no temporary file remains:
    /// the new file is created exclusively inside this writer's own scratch directory, which is
    /// removed in every case.
    pub fn finish(self) -> Result<FinishedSync, StoreError> {
        self.finish_then(|_| {})
    }

    /// [`finish`](Self::finish), calling `saving` with what grant expansion did once it is
    /// done, just before the sync is ended and saved (the engine reports its phases this way).
    pub fn finish_then(
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
            lock,
        } = self;
        let saved = Saving {
            db,
            target,
            work,
            db_path,
            sync_id,
            started_at,
            previous_sync_id,
            faults,
        }
        .save(saving);
        // Only now, with the new file in place (or the old one untouched) and the scratch
        // directory gone, may another writer start.
        drop(lock);
        saved
    }
}

/// Everything [`C1zWriter::finish`] consumes but the lock.
struct Saving {
    db: DatabaseThread,
    target: PathBuf,
    work: WorkDir,
    db_path: PathBuf,
    sync_id: String,
    started_at: String,
    previous_sync_id: Option<String>,
    faults: Faults,
}

impl Saving {
    fn save(
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
        let expansion = crate::expand::expand_sync(&conn, &target, &sync_id, &now_text())?;
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
        // (16 ms for 110 000 users), which overlaps with waiting for the disk.
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
const OUTPUT: &str = "new.c1z";

/// `Some(id)` when `id` is present with both parts non-empty.
fn resource_id(id: Option<&pb::ResourceId>) -> Option<&pb::ResourceId> {
    id.filter(|id| !id.resource_type.is_empty() && !id.resource.is_empty())
}

/// Appends the deterministic encoding of `message` (as [`c1_model::encode`]) to `buf`.
fn encode_into<M: prost::Message>(buf: &mut Vec<u8>, message: &M) {
    // No `reserve(encoded_len())` first: that walks the whole message once more, and the batch's
    // buffer, reused from an earlier batch, normally has the room already.
    message.encode_raw(buf);
}

/// For a grant with a `GrantExpandable` annotation: a copy without it, and the annotation's bytes
/// (the serialized `GrantExpandable`) for the `expansion` column. `(None, None)` otherwise.
fn split_expansion(grant: &pb::Grant) -> (Option<pb::Grant>, Option<Vec<u8>>) {
    if !c1_model::annotations::has::<pb::GrantExpandable>(&grant.annotations) {
        return (None, None);
    }
    let mut stripped = grant.clone();
    let mut expansion = None;
    stripped.annotations.retain(|any| {
        if c1_model::annotations::is::<pb::GrantExpandable>(any) {
            expansion.get_or_insert_with(|| any.value.clone());
            false
        } else {
            true
        }
    });
    (Some(stripped), expansion)
}

/// The `stats` of the current sync from what the database thread counted: every stored
/// resource type appears, possibly with 0 resources.
fn stats_from(counts: Counts) -> SyncStats {
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
fn compute_stats(conn: &Connection, sync_id: &str) -> rusqlite::Result<SyncStats> {
    let count = |table: &str| -> rusqlite::Result<u64> {
        conn.query_row(
            &format!("select count(*) from {table} where sync_id = ?1"),
            [sync_id],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n.max(0) as u64)
    };
    let mut stats = SyncStats {
        resource_types: count(schema::RESOURCE_TYPES)?,
        resources: count(schema::RESOURCES)?,
        entitlements: count(schema::ENTITLEMENTS)?,
        grants: count(schema::GRANTS)?,
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

/// Decompresses an existing target into `work` and copies its latest finished full sync into
/// `conn`. Returns that sync's id, or `None` when there is no file or no such sync.
fn carry_over_previous(
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
fn existing_c1z(target: &Path) -> Result<Option<File>, StoreError> {
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
fn copy_latest_finished(conn: &Connection, target: &Path) -> Result<Option<String>, StoreError> {
    conn.query_row("select count(*) from prev.sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| not_sqlite_or(target, "read the existing database", e))?;
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

/// Flushes the directory entry of a rename to disk. Best effort: by the time this runs the new
/// file is in place, so a failure is logged rather than reported as a failed save.
fn sync_parent_dir(target: &Path) {
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

/// [`StoreError::NotSqlite`] when SQLite says the file is not a database, else a plain SQLite error.
fn not_sqlite_or(target: &Path, action: &'static str, e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) {
        StoreError::NotSqlite {
            path: target.to_path_buf(),
            source: e,
        }
    } else {
        StoreError::sqlite(target, action, e)
    }
}

fn invalid(target: &Path, kind: &'static str, index: usize, reason: &'static str) -> StoreError {
    StoreError::InvalidRecord {
        path: target.to_path_buf(),
        kind,
        index,
        reason,
    }
}

#[cfg(test)]
mod tests {
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
            &mut w.db,
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
        w.db = DatabaseThread::start(loaded, &target, w.sync_id());

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
        let squatter = w.work.path().join(OUTPUT);
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
}
