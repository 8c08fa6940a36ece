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
//!
//! When the OS refuses to start the thread, the loader stores each batch on the calling thread
//! as it is sent (same rows, same order, same errors, only without the overlap).

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, Statement};

use super::{StoreError, schema, threads};

/// Batches that may wait for the database thread while the caller builds the next one.
pub(crate) const QUEUED_BATCHES: usize = 2;

/// The table a batch goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Table {
    ResourceTypes,
    Resources,
    Entitlements,
    Grants,
}

impl Table {
    /// The table's name.
    fn name(self) -> &'static str {
        match self {
            Table::ResourceTypes => schema::RESOURCE_TYPES,
            Table::Resources => schema::RESOURCES,
            Table::Entitlements => schema::ENTITLEMENTS,
            Table::Grants => schema::GRANTS,
        }
    }

    /// The columns a caller supplies, in order (`sync_id` and `discovered_at` are added here).
    fn supplied(self) -> &'static [&'static str] {
        match self {
            Table::ResourceTypes => &["external_id", "data"],
            Table::Resources => &[
                "resource_type_id",
                "external_id",
                "parent_resource_type_id",
                "parent_resource_id",
                "data",
            ],
            Table::Entitlements => &["resource_type_id", "resource_id", "external_id", "data"],
            Table::Grants => &[
                "resource_type_id",
                "resource_id",
                "entitlement_id",
                "principal_resource_type_id",
                "principal_resource_id",
                "external_id",
                "expansion",
                "needs_expansion",
                "data",
            ],
        }
    }

    /// The columns a caller supplies, then `sync_id` and `discovered_at`, in parentheses.
    fn column_list(self) -> String {
        format!("({}, sync_id, discovered_at)", self.supplied().join(", "))
    }

    /// The plain insert of `rows` rows in one statement, which skips a row whose
    /// `(external_id, sync_id)` is already stored (or that breaks any other constraint) instead
    /// of failing. `?1` is `sync_id` and `?2` `discovered_at` for every row; row `r`'s column
    /// `c` is `?(3 + r * columns + c)` (see [`parameter`]).
    ///
    /// One statement for many rows keeps SQLite's cursors open from row to row, so a key that
    /// sorts after the last one stored (rows arrive in id order) is placed without descending
    /// each index from its root: a third of the database thread's time with one statement per
    /// row. A skipped row is written again with [`upsert`](Self::upsert), which replaces the
    /// stored data or reports the error.
    fn insert_many(self, rows: usize) -> String {
        let columns = self.columns();
        let mut sql = format!(
            "insert or ignore into {} {} values ",
            self.name(),
            self.column_list()
        );
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..columns {
                sql.push('?');
                sql.push_str(&parameter(columns, r, c).to_string());
                sql.push_str(", ");
            }
            sql.push_str("?1, ?2)");
        }
        sql
    }

    /// The upsert for one row: every column, then `sync_id` and `discovered_at` last.
    ///
    /// A row whose id is already stored in this sync takes every column the caller supplies
    /// from the new row, so the row tells one story: a grant's `expansion` and
    /// `needs_expansion` always belong to its `data` (replacing only `data` once kept the first
    /// listing's expansion beside the last one's grant). Kept: the row's position (`id`),
    /// `discovered_at` (when the id was first seen in this sync), and a resource's
    /// `resource_type_id`, which is part of its `external_id` (`type:id`) and under which the
    /// row was counted.
    fn upsert(self) -> String {
        let params = (1..=self.columns() + 2)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let kept: &[&str] = match self {
            Table::Resources => &["external_id", "resource_type_id"],
            _ => &["external_id"],
        };
        let set = self
            .supplied()
            .iter()
            .filter(|c| !kept.contains(c))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "insert into {} {} values ({params}) \
             on conflict (external_id, sync_id) do update set {set}",
            self.name(),
            self.column_list()
        )
    }

    /// The first column of the rows stored since `rowid`, in rowid order.
    fn first_column_since(self) -> String {
        let first = match self {
            Table::ResourceTypes => "external_id",
            Table::Resources | Table::Entitlements | Table::Grants => "resource_type_id",
        };
        format!(
            "select {first} from {} where rowid > ?1 order by rowid",
            self.name()
        )
    }

    /// Columns a caller supplies per row (`sync_id` and `discovered_at` are added here).
    pub(crate) fn columns(self) -> usize {
        self.supplied().len()
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

    /// The SQL value of `value`. A range outside its buffer is a bug in this module: it fails
    /// the batch (and the sync) with an internal error instead of storing a wrong value.
    fn value(&self, value: &Value) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::ValueRef;
        Ok(match value {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(r) => {
                ToSqlOutput::Borrowed(ValueRef::Text(slice(self.text.as_bytes(), r, "text")?))
            }
            Value::Blob(r) => ToSqlOutput::Borrowed(ValueRef::Blob(slice(&self.blobs, r, "blob")?)),
        })
    }
}

/// `range` of `buffer`, which holds a batch's `what` values.
fn slice<'a>(buffer: &'a [u8], range: &Range<usize>, what: &str) -> rusqlite::Result<&'a [u8]> {
    let slice = buffer.get(range.clone());
    debug_assert!(
        slice.is_some(),
        "{what} value {range:?} outside its {}-byte buffer",
        buffer.len()
    );
    slice.ok_or_else(|| {
        bookkeeping(format!(
            "a {what} value of a batch ({range:?}) lies outside its {}-byte buffer",
            buffer.len()
        ))
    })
}

/// A batch's bookkeeping disagrees with itself: a bug in this module, reported as an error of
/// the batch (in debug builds it stops at a `debug_assert!` first).
#[derive(Debug, thiserror::Error)]
#[error("internal error of the c1z writer: {0}")]
struct Bookkeeping(String);

fn bookkeeping(what: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(Bookkeeping(what)))
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
    /// Counts one newly stored row of `table` whose first column is `first` (a resource type's
    /// id, a resource's type: text in every row the writer makes). A row without it is a bug in
    /// this module and fails the batch.
    fn add(&mut self, table: Table, first: Option<&str>) -> rusqlite::Result<()> {
        debug_assert!(
            first.is_some(),
            "a stored row of {} has no text first column",
            table.name()
        );
        let Some(first) = first else {
            return Err(bookkeeping(format!(
                "a row stored in {} has no text in its first column",
                table.name()
            )));
        };
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
        Ok(())
    }
}

/// What the database thread gives back at the end: the connection and what it stored.
type Loaded = (Connection, Counts);

/// The database thread and the channel to it, or, when the OS refused the thread, the
/// connection itself.
#[derive(Debug)]
pub(crate) struct Loader {
    target: PathBuf,
    mode: Mode,
    /// Set once the loader has stopped on an error that was already returned.
    failed: bool,
}

#[derive(Debug)]
enum Mode {
    Thread {
        tx: Option<SyncSender<Rows>>,
        /// Batches the thread has inserted, handed back so their buffers are reused.
        spent: Receiver<Rows>,
        thread: Option<JoinHandle<Option<Result<Loaded, StoreError>>>>,
    },
    /// Every batch is stored by `send` itself, on the caller's thread.
    Inline(Box<Inline>),
}

/// The connection of a loader without a thread.
#[derive(Debug)]
struct Inline {
    /// `None` once a batch failed (the connection is dropped then).
    loaded: Option<Loaded>,
    sync_id: String,
    /// The last batch stored, for reuse.
    spent: Option<Rows>,
}

impl Loader {
    /// Moves `conn` to a new database thread that inserts with `sync_id`, or keeps it here and
    /// inserts on the calling thread when the OS refuses to start one.
    pub(crate) fn start(conn: Connection, target: &Path, sync_id: &str) -> Loader {
        let (tx, rx) = mpsc::sync_channel(QUEUED_BATCHES);
        let (back, spent) = mpsc::sync_channel(QUEUED_BATCHES);
        let thread_target = target.to_path_buf();
        let thread_sync_id = sync_id.to_owned();
        let mode = match threads::spawn("c1z-writer", conn, move |conn| {
            load(conn, &rx, &back, &thread_target, &thread_sync_id)
        }) {
            Ok(thread) => Mode::Thread {
                tx: Some(tx),
                spent,
                thread: Some(thread),
            },
            Err((conn, e)) => {
                tracing::warn!(
                    target = %target.display(),
                    error = %e,
                    "could not start the c1z database thread; storing rows on the calling thread"
                );
                Mode::Inline(Box::new(Inline {
                    loaded: Some((conn, Counts::default())),
                    sync_id: sync_id.to_owned(),
                    spent: None,
                }))
            }
        };
        Loader {
            target: target.to_path_buf(),
            mode,
            failed: false,
        }
    }

    /// An empty batch for `table`: one the loader has finished with when there is one (its
    /// buffers already have the size a batch needs), else a new one.
    pub(crate) fn rows(&mut self, table: Table, now: String, capacity: usize) -> Rows {
        let spent = match &mut self.mode {
            Mode::Thread { spent, .. } => spent.try_recv().ok(),
            Mode::Inline(inline) => inline.spent.take(),
        };
        match spent {
            Some(mut rows) => {
                rows.reset(table, now, capacity);
                rows
            }
            None => Rows::new(table, now, capacity),
        }
    }

    /// Queues `rows` (stores them at once without a thread); blocks while [`QUEUED_BATCHES`]
    /// batches are waiting. Fails with the loader's error when an earlier batch (or, without a
    /// thread, this one) failed.
    pub(crate) fn send(&mut self, rows: Rows) -> Result<(), StoreError> {
        if rows.values.is_empty() {
            return Ok(());
        }
        let sent = match &mut self.mode {
            Mode::Thread { tx, .. } => match tx {
                Some(tx) => tx.send(rows).is_ok(),
                None => false,
            },
            Mode::Inline(inline) => {
                let Inline {
                    loaded,
                    sync_id,
                    spent,
                } = &mut **inline;
                let Some((conn, counts)) = loaded else {
                    return Err(self.stopped());
                };
                // Statements are prepared per batch here: they borrow the connection, which
                // this value owns. Slower than on the thread, and only a fallback.
                let stored = insert(&mut Statements::new(conn), &rows, sync_id, counts);
                *spent = Some(rows);
                match stored {
                    Ok(()) => true,
                    Err(e) => {
                        *loaded = None;
                        self.failed = true;
                        return Err(write_error(&self.target, e));
                    }
                }
            }
        };
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    /// Waits for every queued batch and returns the connection and what was stored.
    pub(crate) fn finish(mut self) -> Result<(Connection, Counts), StoreError> {
        match self.take_result() {
            Some(result) => result,
            None => Err(StoreError::WriterStopped {
                path: self.target.clone(),
            }),
        }
    }

    /// The error that stopped the loader (once; later calls get [`StoreError::WriterStopped`]).
    fn stopped(&mut self) -> StoreError {
        match self.take_result() {
            Some(Err(e)) if !self.failed => {
                self.failed = true;
                e
            }
            _ => StoreError::WriterStopped {
                path: self.target.clone(),
            },
        }
    }

    /// Closes the channel, waits for the thread and takes its result; without a thread, takes
    /// the connection. `None` when it was already taken (or a batch failed without a thread).
    fn take_result(&mut self) -> Option<Result<Loaded, StoreError>> {
        match &mut self.mode {
            Mode::Thread { tx, thread, .. } => {
                *tx = None;
                let thread = thread.take()?;
                Some(match thread.join() {
                    Ok(Some(result)) => result,
                    Ok(None) => Err(StoreError::io(
                        &self.target,
                        "write the scratch database",
                        std::io::Error::other("the database thread never got its connection"),
                    )),
                    Err(_) => Err(StoreError::io(
                        &self.target,
                        "write the scratch database",
                        std::io::Error::other("the database thread panicked"),
                    )),
                })
            }
            Mode::Inline(inline) => inline.loaded.take().map(Ok),
        }
    }
}

impl Drop for Loader {
    /// Stops the thread after the batches already queued and waits for it (or closes the
    /// connection), so the connection is closed before the writer removes its temporary
    /// directory.
    fn drop(&mut self) {
        drop(self.take_result());
    }
}

fn write_error(target: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::sqlite(target, "write rows to the scratch database", e)
}

/// The database thread: inserts batches until the channel closes or one fails.
fn load(
    conn: Connection,
    rx: &Receiver<Rows>,
    back: &SyncSender<Rows>,
    target: &Path,
    sync_id: &str,
) -> Result<(Connection, Counts), StoreError> {
    let counts = load_into(&conn, rx, back, sync_id).map_err(|e| write_error(target, e))?;
    Ok((conn, counts))
}

/// [`load`]'s loop, with the statements it prepares borrowing `conn`.
fn load_into(
    conn: &Connection,
    rx: &Receiver<Rows>,
    back: &SyncSender<Rows>,
    sync_id: &str,
) -> rusqlite::Result<Counts> {
    let mut counts = Counts::default();
    let mut statements = Statements::new(conn);
    for rows in rx {
        insert(&mut statements, &rows, sync_id, &mut counts)?;
        // Handed back for reuse; dropped when enough are already waiting.
        drop(back.try_send(rows));
    }
    Ok(counts)
}

/// The statements [`insert`] runs for every chunk, each prepared once per table and row count
/// and kept here rather than in rusqlite's statement cache: that cache hashes a statement's text
/// (20 KB for 512 rows) at every use and clears its thousands of bindings at every return.
struct Statements<'c> {
    conn: &'c Connection,
    inserts: BTreeMap<(Table, usize), Statement<'c>>,
    last_rowids: BTreeMap<Table, Statement<'c>>,
}

impl<'c> Statements<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            inserts: BTreeMap::new(),
            last_rowids: BTreeMap::new(),
        }
    }

    /// [`Table::insert_many`]`(rows)`, prepared.
    fn insert_many(&mut self, table: Table, rows: usize) -> rusqlite::Result<&mut Statement<'c>> {
        match self.inserts.entry((table, rows)) {
            Entry::Occupied(statement) => Ok(statement.into_mut()),
            Entry::Vacant(slot) => Ok(slot.insert(self.conn.prepare(&table.insert_many(rows))?)),
        }
    }

    /// The largest rowid of `table`, 0 when it is empty.
    fn last_rowid(&mut self, table: Table) -> rusqlite::Result<i64> {
        let statement = match self.last_rowids.entry(table) {
            Entry::Occupied(statement) => statement.into_mut(),
            Entry::Vacant(slot) => slot.insert(self.conn.prepare(&format!(
                "select coalesce(max(rowid), 0) from {}",
                table.name()
            ))?),
        };
        statement.query_row([], |r| r.get(0))
    }
}

/// Most rows one insert statement takes (a power of two). 512 rows of the widest table use 4 610
/// parameters, well under SQLite's limit of 32 766.
const MAX_ROWS_PER_STATEMENT: usize = 512;

/// The parameter number of row `row`'s column `column` in [`Table::insert_many`].
fn parameter(columns: usize, row: usize, column: usize) -> usize {
    3 + row * columns + column
}

/// How many of `left` (at least 1) rows the next statement takes: [`MAX_ROWS_PER_STATEMENT`], or
/// the largest power of two below it, so a batch of any size needs at most ten distinct
/// statements per table, each prepared once.
fn statement_rows(left: usize) -> usize {
    if left >= MAX_ROWS_PER_STATEMENT {
        MAX_ROWS_PER_STATEMENT
    } else {
        1 << left.max(1).ilog2()
    }
}

/// Inserts one batch, up to [`MAX_ROWS_PER_STATEMENT`] rows per statement.
///
/// There is no savepoint per batch: the scratch database runs without a rollback journal, and
/// after a failed batch nothing more is written and the database is thrown away, so a partly
/// inserted batch is never seen. (A savepoint would copy every page it touches into a statement
/// journal: a tenth of the insert time.)
fn insert(
    statements: &mut Statements<'_>,
    rows: &Rows,
    sync_id: &str,
    counts: &mut Counts,
) -> rusqlite::Result<()> {
    let columns = rows.table.columns();
    let all: Vec<&[Value]> = rows.values.chunks_exact(columns).collect();
    let mut start = 0;
    while start < all.len() {
        let chunk = &all[start..start + statement_rows(all.len() - start)];
        start += chunk.len();
        let before = statements.last_rowid(rows.table)?;
        let insert = statements.insert_many(rows.table, chunk.len())?;
        insert.raw_bind_parameter(1, sync_id)?;
        insert.raw_bind_parameter(2, rows.now.as_str())?;
        for (r, row) in chunk.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                insert.raw_bind_parameter(parameter(columns, r, c), rows.value(value)?)?;
            }
        }
        if insert.raw_execute()? == chunk.len() {
            for row in chunk {
                counts.add(rows.table, row.first().and_then(|v| rows.text_of(v)))?;
            }
        } else {
            skipped(statements.conn, rows, chunk, before, sync_id, counts)?;
        }
    }
    Ok(())
}

/// After a statement that skipped some of `chunk`'s rows (an id already stored in this sync or
/// repeated within the chunk, or a broken constraint): writes every row of the chunk again, in
/// order, with the upsert, then counts the rows stored after rowid `before`. The upsert rewrites
/// a row just stored with its own values, replaces those of a repeated id (so the last one wins,
/// as with one statement per row) and fails on a broken constraint with SQLite's error.
fn skipped(
    conn: &Connection,
    rows: &Rows,
    chunk: &[&[Value]],
    before: i64,
    sync_id: &str,
    counts: &mut Counts,
) -> rusqlite::Result<()> {
    let columns = rows.table.columns();
    let mut upsert = conn.prepare_cached(&rows.table.upsert())?;
    for row in chunk {
        for (i, value) in row.iter().enumerate() {
            upsert.raw_bind_parameter(i + 1, rows.value(value)?)?;
        }
        upsert.raw_bind_parameter(columns + 1, sync_id)?;
        upsert.raw_bind_parameter(columns + 2, rows.now.as_str())?;
        upsert.raw_execute()?;
    }
    let mut stored = conn.prepare_cached(&rows.table.first_column_since())?;
    let mut firsts = stored.query([before])?;
    while let Some(row) = firsts.next()? {
        counts.add(rows.table, row.get_ref(0)?.as_str().ok())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_a_batch_into_powers_of_two_up_to_the_maximum() {
        for n in [1, 2, 3, 511, 512, 513, 1000, 1024, 4097] {
            let mut left = n;
            let mut sizes = Vec::new();
            while left > 0 {
                let take = statement_rows(left);
                assert!(take.is_power_of_two() && take <= MAX_ROWS_PER_STATEMENT);
                assert!(take <= left);
                sizes.push(take);
                left -= take;
            }
            assert_eq!(sizes.iter().sum::<usize>(), n);
            // Below the maximum, each size is used at most once.
            let small: Vec<_> = sizes
                .iter()
                .filter(|&&s| s < MAX_ROWS_PER_STATEMENT)
                .collect();
            assert!(small.windows(2).all(|w| w[0] > w[1]), "{n}: {sizes:?}");
        }
        assert_eq!(statement_rows(1000), 512);
        assert_eq!(statement_rows(488), 256);
    }

    #[test]
    fn the_widest_statement_stays_under_sqlites_parameter_limit() {
        let widest = [
            Table::ResourceTypes,
            Table::Resources,
            Table::Entitlements,
            Table::Grants,
        ]
        .into_iter()
        .map(|t| parameter(t.columns(), MAX_ROWS_PER_STATEMENT - 1, t.columns() - 1))
        .max();
        assert_eq!(widest, Some(4610));
        assert!(widest < Some(32_766));
    }

    fn database() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        schema::create(&conn).unwrap();
        conn
    }

    /// A batch of resources: `(type, id, data)` per row.
    fn resources(rows: &[(&str, &str, &[u8])]) -> Rows {
        let mut batch = Rows::new(Table::Resources, "2026-11-30 00:00:00".into(), rows.len());
        for (kind, id, data) in rows {
            batch.text(kind);
            batch.text_parts(&[kind, ":", id]);
            batch.opt_text(None);
            batch.opt_text(None);
            batch.blob(|buf| buf.extend_from_slice(data));
        }
        batch
    }

    fn stored(conn: &Connection) -> Vec<(String, Vec<u8>)> {
        let mut stmt = conn
            .prepare("select external_id, data from v1_resources order by rowid")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// Ids repeated across statements of one batch and from an earlier batch: each id is stored
    /// once, at its first position, with its last data, and counted once.
    #[test]
    fn repeated_ids_across_statements_keep_the_last_data_and_count_once() {
        let conn = database();
        let mut statements = Statements::new(&conn);
        let mut counts = Counts::default();
        insert(
            &mut statements,
            &resources(&[("user", "early", b"first")]),
            "s1",
            &mut counts,
        )
        .unwrap();

        let ids: Vec<String> = (0..700).map(|i| format!("u{i:03}")).collect();
        let mut rows: Vec<(&str, &str, &[u8])> = ids
            .iter()
            .map(|id| ("user", id.as_str(), b"x".as_slice()))
            .collect();
        // Statements of 512, 128, 32, 16, 8 and 4 rows: repeats in the first (row 10), second
        // (600), third (650) and last (699).
        rows[10] = ("group", "g", b"g1");
        rows[600] = ("user", "u005", b"u005 again");
        rows[650] = ("user", "early", b"second");
        rows[699] = ("group", "g", b"g2");
        insert(&mut statements, &resources(&rows), "s1", &mut counts).unwrap();
        drop(statements);

        let all = stored(&conn);
        assert_eq!(all.len(), 1 + 700 - 3);
        assert_eq!(all[0], ("user:early".into(), b"second".to_vec()));
        assert_eq!(all[1 + 5], ("user:u005".into(), b"u005 again".to_vec()));
        assert_eq!(all[1 + 10], ("group:g".into(), b"g2".to_vec()));
        assert_eq!(
            counts.resources,
            BTreeMap::from([("group".to_owned(), 1), ("user".to_owned(), 697)])
        );
    }

    #[test]
    fn a_broken_constraint_in_a_long_batch_is_sqlites_error() {
        let conn = database();
        let mut rows = resources(
            &(0..600)
                .map(|_| ("user", "same", b"d".as_slice()))
                .collect::<Vec<_>>(),
        );
        // `resource_type_id` is `not null`.
        rows.values[300 * Table::Resources.columns()] = Value::Null;
        let err = insert(
            &mut Statements::new(&conn),
            &rows,
            "s1",
            &mut Counts::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("NOT NULL"), "{err}");
    }

    /// The same batches through the database thread and, with the thread refused, on the
    /// calling thread: the same rows in the same order, the same counts.
    #[test]
    fn without_a_thread_batches_are_stored_the_same_way() {
        let batches = || {
            vec![
                resources(&[("user", "a", b"1"), ("user", "b", b"2")]),
                resources(&[
                    ("group", "g", b"3"),
                    ("user", "a", b"4"),
                    ("user", "c", b"5"),
                ]),
                resources(&[("user", "b", b"6")]),
            ]
        };
        let run = |loader: &mut Loader| {
            for batch in batches() {
                loader.send(batch).unwrap();
                // Spent batches come back for reuse either way.
                let again = loader.rows(Table::Resources, "2026-11-30 00:00:00".into(), 1);
                assert_eq!(again.len(), 0);
            }
        };
        let target = Path::new("t.c1z");
        let mut threaded = Loader::start(database(), target, "s1");
        assert!(matches!(threaded.mode, Mode::Thread { .. }));
        run(&mut threaded);
        let (conn, counts) = threaded.finish().unwrap();
        let expected = (stored(&conn), counts.resources);

        let (mut inline, refused) = threads::refusing(|| Loader::start(database(), target, "s1"));
        assert_eq!(refused, 1);
        assert!(matches!(inline.mode, Mode::Inline(_)));
        run(&mut inline);
        let (conn, counts) = inline.finish().unwrap();
        assert_eq!((stored(&conn), counts.resources), expected);
        assert_eq!(
            expected.0,
            vec![
                ("user:a".to_owned(), b"4".to_vec()),
                ("user:b".to_owned(), b"6".to_vec()),
                ("group:g".to_owned(), b"3".to_vec()),
                ("user:c".to_owned(), b"5".to_vec()),
            ]
        );
    }

    #[test]
    fn without_a_thread_a_failed_batch_fails_its_own_call_and_stops_the_loader() {
        let conn = database();
        conn.execute_batch(
            "create trigger no_resources before insert on v1_resources \
             begin select raise(abort, 'disk is full'); end;",
        )
        .unwrap();
        let target = Path::new("t.c1z");
        let (mut loader, _) = threads::refusing(|| Loader::start(conn, target, "s1"));
        let err = loader.send(resources(&[("user", "a", b"1")])).unwrap_err();
        assert!(matches!(err, StoreError::Sqlite { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "t.c1z: could not write rows to the scratch database"
        );
        let again = loader.send(resources(&[("user", "b", b"2")])).unwrap_err();
        assert!(
            matches!(again, StoreError::WriterStopped { .. }),
            "{again:?}"
        );
        assert!(matches!(
            loader.finish(),
            Err(StoreError::WriterStopped { .. })
        ));
    }

    /// A value range outside its buffer is a bug: debug builds stop at the assertion, release
    /// builds fail the batch with a clear error instead of storing an empty value.
    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "outside its 3-byte buffer"))]
    fn a_value_outside_its_buffer_is_an_error_not_an_empty_value() {
        let mut batch = resources(&[("user", "a", b"abc")]);
        batch.values[4] = Value::Blob(2..9);
        let err = insert(
            &mut Statements::new(&database()),
            &batch,
            "s1",
            &mut Counts::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "internal error of the c1z writer: a blob value of a batch (2..9) lies outside its 3-byte buffer"
        );
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "has no text first column"))]
    fn a_stored_row_without_its_first_column_is_an_error_not_an_empty_id() {
        let err = Counts::default().add(Table::Resources, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "internal error of the c1z writer: a row stored in v1_resources has no text in its first column"
        );
    }
}
