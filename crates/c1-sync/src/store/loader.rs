//! The writer's database thread: SQLite inserts run beside the caller, one batch at a time.
//!
//! [`C1zWriter`](super::C1zWriter)'s `put_*` methods check and encode their items on the calling
//! thread into a [`Rows`] batch (column values in two flat buffers) and hand it to this thread
//! through a small bounded channel; the thread inserts the batches in the order sent. A sync
//! therefore builds, checks and encodes the next page while SQLite stores the previous one, and at
//! most [`QUEUED_BATCHES`] batches wait in memory.
//!
//! The first SQLite error stops the thread; the caller sees it on its next `put_*` call or at
//! `finish`. Either way the sync fails and the target is never touched.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

use rusqlite::Connection;
use rusqlite::types::ToSqlOutput;

use super::StoreError;

/// Batches that may wait for the database thread while the caller builds the next one.
pub(crate) const QUEUED_BATCHES: usize = 2;

/// The table a batch goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    ResourceTypes,
    Resources,
    Entitlements,
    Grants,
}

impl Table {
    /// The plain insert for one row, which skips a row whose `(external_id, sync_id)` is already
    /// stored (or that breaks any other constraint) instead of failing. SQLite runs it markedly
    /// faster than the upsert, so every row is tried with it first; a skipped row is then written
    /// again with [`upsert`](Self::upsert), which replaces the stored data or reports the error.
    fn insert(self) -> &'static str {
        match self {
            Table::ResourceTypes => {
                "insert or ignore into v1_resource_types \
                 (external_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4)"
            }
            Table::Resources => {
                "insert or ignore into v1_resources \
                 (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, \
                  sync_id, discovered_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            }
            Table::Entitlements => {
                "insert or ignore into v1_entitlements \
                 (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6)"
            }
            Table::Grants => {
                "insert or ignore into v1_grants \
                 (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, \
                  principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, \
                  discovered_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            }
        }
    }

    /// The upsert for one row: every column, then `sync_id` and `discovered_at` last.
    fn upsert(self) -> &'static str {
        match self {
            Table::ResourceTypes => {
                "insert into v1_resource_types \
                 (external_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4) \
                 on conflict (external_id, sync_id) do update set data = excluded.data"
            }
            Table::Resources => {
                "insert into v1_resources \
                 (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, \
                  sync_id, discovered_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 on conflict (external_id, sync_id) do update set data = excluded.data"
            }
            Table::Entitlements => {
                "insert into v1_entitlements \
                 (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6) \
                 on conflict (external_id, sync_id) do update set data = excluded.data"
            }
            Table::Grants => {
                "insert into v1_grants \
                 (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, \
                  principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, \
                  discovered_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 on conflict (external_id, sync_id) do update set data = excluded.data"
            }
        }
    }

    /// Columns a caller supplies per row (`sync_id` and `discovered_at` are added here).
    pub(crate) fn columns(self) -> usize {
        match self {
            Table::ResourceTypes => 2,
            Table::Resources => 5,
            Table::Entitlements => 4,
            Table::Grants => 9,
        }
    }
}

/// One column value of a [`Rows`] batch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Null,
    Int(i64),
    /// A range of [`Rows::text`].
    Text(Range<usize>),
    /// A range of [`Rows::blobs`].
    Blob(Range<usize>),
}

/// The rows of one `put_*` call, built on the caller's thread.
#[derive(Debug)]
pub(crate) struct Rows {
    table: Table,
    /// `discovered_at` of every row.
    now: String,
    text: String,
    blobs: Vec<u8>,
    /// `table.columns()` values per row.
    values: Vec<Value>,
}

impl Rows {
    pub(crate) fn new(table: Table, now: String, capacity: usize) -> Rows {
        Rows {
            table,
            now,
            text: String::new(),
            blobs: Vec::new(),
            values: Vec::with_capacity(capacity.saturating_mul(table.columns())),
        }
    }

    /// Empties the batch for reuse by `table`, keeping its buffers' capacity.
    fn reset(&mut self, table: Table, now: String, capacity: usize) {
        self.table = table;
        self.now = now;
        self.text.clear();
        self.blobs.clear();
        self.values.clear();
        self.values
            .reserve(capacity.saturating_mul(table.columns()));
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len() / self.table.columns()
    }

    pub(crate) fn text(&mut self, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.values.push(Value::Text(start..self.text.len()));
    }

    /// A text column made of several pieces, e.g. `type:id`.
    pub(crate) fn text_parts(&mut self, parts: &[&str]) {
        let start = self.text.len();
        for part in parts {
            self.text.push_str(part);
        }
        self.values.push(Value::Text(start..self.text.len()));
    }

    pub(crate) fn opt_text(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.text(v),
            None => self.values.push(Value::Null),
        }
    }

    pub(crate) fn int(&mut self, value: i64) {
        self.values.push(Value::Int(value));
    }

    /// A blob column: `encode` appends the bytes to the buffer it is given.
    pub(crate) fn blob(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        let start = self.blobs.len();
        encode(&mut self.blobs);
        self.values.push(Value::Blob(start..self.blobs.len()));
    }

    pub(crate) fn opt_blob(&mut self, value: Option<&[u8]>) {
        match value {
            Some(bytes) => self.blob(|buf| buf.extend_from_slice(bytes)),
            None => self.values.push(Value::Null),
        }
    }

    /// The text of a text value (`None` for any other).
    fn text_of(&self, value: &Value) -> Option<&str> {
        match value {
            Value::Text(r) => self.text.get(r.clone()),
            _ => None,
        }
    }

    fn value(&self, value: &Value) -> ToSqlOutput<'_> {
        use rusqlite::types::ValueRef;
        match value {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(r) => ToSqlOutput::Borrowed(ValueRef::Text(
                self.text.as_bytes().get(r.clone()).unwrap_or_default(),
            )),
            Value::Blob(r) => ToSqlOutput::Borrowed(ValueRef::Blob(
                self.blobs.get(r.clone()).unwrap_or_default(),
            )),
        }
    }
}

/// What the database thread stored for the current sync, counted as it inserts (so `finish`
/// need not count it back out of the database: for 110 000 users that query took 40 ms).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Ids of the resource types stored.
    pub(crate) resource_types: BTreeSet<String>,
    /// Resources stored, per resource type id.
    pub(crate) resources: BTreeMap<String, u64>,
    pub(crate) entitlements: u64,
    pub(crate) grants: u64,
}

impl Counts {
    /// Counts one newly stored row of `table` whose first column is `first`.
    fn add(&mut self, table: Table, first: Option<&str>) {
        let first = first.unwrap_or_default();
        match table {
            Table::ResourceTypes => {
                if !self.resource_types.contains(first) {
                    self.resource_types.insert(first.to_owned());
                }
            }
            Table::Resources => match self.resources.get_mut(first) {
                Some(n) => *n += 1,
                None => {
                    self.resources.insert(first.to_owned(), 1);
                }
            },
            Table::Entitlements => self.entitlements += 1,
            Table::Grants => self.grants += 1,
        }
    }
}

/// The database thread and the channel to it.
#[derive(Debug)]
pub(crate) struct Loader {
    target: PathBuf,
    tx: Option<SyncSender<Rows>>,
    /// Batches the thread has inserted, handed back so their buffers are reused.
    spent: Receiver<Rows>,
    thread: Option<JoinHandle<Result<(Connection, Counts), StoreError>>>,
    /// Set once the thread has stopped on an error that was already returned.
    failed: bool,
}

impl Loader {
    /// Moves `conn` to a new database thread that inserts with `sync_id`.
    pub(crate) fn spawn(
        conn: Connection,
        target: &Path,
        sync_id: &str,
    ) -> Result<Loader, StoreError> {
        let (tx, rx) = mpsc::sync_channel(QUEUED_BATCHES);
        let (back, spent) = mpsc::sync_channel(QUEUED_BATCHES);
        let thread_target = target.to_path_buf();
        let sync_id = sync_id.to_owned();
        let thread = thread::Builder::new()
            .name("c1z-writer".to_owned())
            .spawn(move || load(conn, &rx, &back, &thread_target, &sync_id))
            .map_err(|e| StoreError::io(target, "start the database thread", e))?;
        Ok(Loader {
            target: target.to_path_buf(),
            tx: Some(tx),
            spent,
            thread: Some(thread),
            failed: false,
        })
    }

    /// An empty batch for `table`: one the thread has finished with when there is one (its
    /// buffers already have the size a batch needs), else a new one.
    pub(crate) fn rows(&self, table: Table, now: String, capacity: usize) -> Rows {
        match self.spent.try_recv() {
            Ok(mut rows) => {
                rows.reset(table, now, capacity);
                rows
            }
            Err(_) => Rows::new(table, now, capacity),
        }
    }

    /// Queues `rows`; blocks while [`QUEUED_BATCHES`] batches are waiting. Fails with the
    /// thread's error when an earlier batch failed.
    pub(crate) fn send(&mut self, rows: Rows) -> Result<(), StoreError> {
        if rows.values.is_empty() {
            return Ok(());
        }
        let sent = match &self.tx {
            Some(tx) => tx.send(rows).is_ok(),
            None => false,
        };
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    /// Waits for every queued batch and returns the connection and what was stored.
    pub(crate) fn finish(mut self) -> Result<(Connection, Counts), StoreError> {
        self.tx = None;
        match self.join() {
            Some(result) => result,
            None => Err(StoreError::WriterStopped {
                path: self.target.clone(),
            }),
        }
    }

    /// The error that stopped the thread (once; later calls get [`StoreError::WriterStopped`]).
    fn stopped(&mut self) -> StoreError {
        self.tx = None;
        match self.join() {
            Some(Err(e)) if !self.failed => {
                self.failed = true;
                e
            }
            _ => StoreError::WriterStopped {
                path: self.target.clone(),
            },
        }
    }

    fn join(&mut self) -> Option<Result<(Connection, Counts), StoreError>> {
        let thread = self.thread.take()?;
        Some(thread.join().unwrap_or_else(|_| {
            Err(StoreError::io(
                &self.target,
                "write the scratch database",
                std::io::Error::other("the database thread panicked"),
            ))
        }))
    }
}

impl Drop for Loader {
    /// Stops the thread after the batches already queued and waits for it, so the connection
    /// is closed before the writer removes its temporary directory.
    fn drop(&mut self) {
        self.tx = None;
        drop(self.join());
    }
}

/// The database thread: inserts batches until the channel closes or one fails.
fn load(
    conn: Connection,
    rx: &Receiver<Rows>,
    back: &SyncSender<Rows>,
    target: &Path,
    sync_id: &str,
) -> Result<(Connection, Counts), StoreError> {
    let mut counts = Counts::default();
    for rows in rx {
        insert(&conn, &rows, sync_id, &mut counts)
            .map_err(|e| StoreError::sqlite(target, "write rows to the scratch database", e))?;
        // Handed back for reuse; dropped when enough are already waiting.
        drop(back.try_send(rows));
    }
    Ok((conn, counts))
}

/// Inserts one batch.
///
/// There is no savepoint per batch: the scratch database runs without a rollback journal, and
/// after a failed batch nothing more is written and the database is thrown away, so a partly
/// inserted batch is never seen. (A savepoint would copy every page it touches into a statement
/// journal: a tenth of the insert time.)
fn insert(
    conn: &Connection,
    rows: &Rows,
    sync_id: &str,
    counts: &mut Counts,
) -> rusqlite::Result<()> {
    let columns = rows.table.columns();
    let mut insert = conn.prepare_cached(rows.table.insert())?;
    for row in rows.values.chunks_exact(columns) {
        let bind = |stmt: &mut rusqlite::CachedStatement<'_>| -> rusqlite::Result<()> {
            for (i, value) in row.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, rows.value(value))?;
            }
            stmt.raw_bind_parameter(columns + 1, sync_id)?;
            stmt.raw_bind_parameter(columns + 2, rows.now.as_str())
        };
        bind(&mut insert)?;
        if insert.raw_execute()? == 1 {
            counts.add(rows.table, row.first().and_then(|v| rows.text_of(v)));
        } else {
            // Skipped: an id already stored in this sync, or a broken constraint. The upsert
            // replaces the data of the first, and fails on the second with SQLite's error.
            let mut upsert = conn.prepare_cached(rows.table.upsert())?;
            bind(&mut upsert)?;
            upsert.raw_execute()?;
        }
    }
    Ok(())
}
