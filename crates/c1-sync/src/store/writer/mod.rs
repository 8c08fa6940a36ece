//! [`C1zWriter`]: records one full sync into a c1z v1 file, atomically.

use std::path::{Path, PathBuf};

use c1_model::pb;
use rusqlite::{Connection, params};
use serde::Serialize;
use svix_ksuid::{Ksuid, KsuidLike};

use super::database_thread::{DatabaseThread, Rows, Table};
use super::lock::TargetLock;
use super::schema::{self};
use super::time::now_text;
use super::workdir::{self, WorkDir};
use super::{StoreError, SyncStats};

mod carry_over;
mod save;
#[cfg(test)]
mod tests;

use carry_over::{carry_over_previous, existing_c1z, invalid};
use save::Saving;

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
    /// The database thread, the scratch directory and what `finish` saves (dropped first: the
    /// thread stops and the connection closes before the directory is removed).
    state: Saving,
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
    /// Expansion holds its new grants whatever their number, then writes the grants table
    /// again (`true`) or inserts them into it (`false`).
    hold_grants: Option<bool>,
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
        // A 4 MiB page cache: appends touch few pages, and 8 MiB measured no faster while adding
        // to the process's peak (see `docs/performance.md`).
        conn.execute_batch(
            "pragma page_size = 65536; pragma journal_mode = off; pragma synchronous = off; \
             pragma locking_mode = exclusive; pragma temp_store = memory; \
             pragma cache_size = -4096;",
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
            state: Saving {
                db,
                target: target.to_path_buf(),
                work,
                db_path,
                sync_id,
                started_at,
                previous_sync_id,
                faults: Faults::default(),
            },
            lock,
        })
    }

    /// KSUID of the sync being written.
    pub fn sync_id(&self) -> &str {
        &self.state.sync_id
    }

    /// The file `finish` will write.
    pub fn target(&self) -> &Path {
        &self.state.target
    }

    /// The finished full sync carried over from the existing target, if any.
    pub fn previous_sync_id(&self) -> Option<&str> {
        self.state.previous_sync_id.as_deref()
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
        let mut rows = self.state.db.rows(table, now_text(), items.len());
        for (index, item) in items.iter().enumerate() {
            add(&mut rows, item)
                .map_err(|reason| invalid(&self.state.target, kind, index, reason))?;
        }
        debug_assert_eq!(rows.len(), items.len());
        self.state.db.send(rows)
    }

    #[doc(hidden)]
    /// Test hook: make [`finish`](Self::finish) fail after writing and syncing the new file,
    /// right before the rename, to prove the target survives and no temporary file remains.
    #[cfg(feature = "test-hooks")]
    pub fn fail_before_rename(&mut self) {
        self.state.faults.before_rename = true;
    }

    #[doc(hidden)]
    /// Test hook: make writing the new file in [`finish`](Self::finish) fail like a full disk
    /// (`ErrorKind::StorageFull`) once `bytes` bytes of it are written.
    #[cfg(feature = "test-hooks")]
    pub fn fail_output_after(&mut self, bytes: u64) {
        self.state.faults.output_room = Some(bytes);
    }

    #[doc(hidden)]
    /// Test hook: make expansion hold its new grants, as a large expansion does, whatever their
    /// number (when the grant ids allow it), then write the grants table again in key order
    /// (`rewrite`) or insert them into it.
    #[cfg(feature = "test-hooks")]
    pub fn hold_grants_on_expansion(&mut self, rewrite: bool) {
        self.state.faults.hold_grants = Some(rewrite);
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
        let Self { state, lock } = self;
        let saved = state.save(saving);
        // Only now, with the new file in place (or the old one untouched) and the scratch
        // directory gone, may another writer start.
        drop(lock);
        saved
    }
}

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
