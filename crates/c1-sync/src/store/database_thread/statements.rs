//! Storing a batch: up to 512 rows per `insert or ignore` statement, and the upsert for the
//! chunks where rows were skipped.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use rusqlite::{Connection, Statement};

use super::Counts;
use super::rows::{Rows, Table, Value};
use crate::store::StoreError;

pub(super) fn write_error(target: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::sqlite(target, "write rows to the scratch database", e)
}

/// The database thread: inserts batches until the channel closes or one fails.
pub(super) fn load(
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
pub(super) fn load_into(
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
pub(super) struct Statements<'c> {
    conn: &'c Connection,
    inserts: BTreeMap<(Table, usize), Statement<'c>>,
    last_rowids: BTreeMap<Table, Statement<'c>>,
}

impl<'c> Statements<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            inserts: BTreeMap::new(),
            last_rowids: BTreeMap::new(),
        }
    }

    /// [`Table::insert_many`]`(rows)`, prepared.
    pub(super) fn insert_many(
        &mut self,
        table: Table,
        rows: usize,
    ) -> rusqlite::Result<&mut Statement<'c>> {
        match self.inserts.entry((table, rows)) {
            Entry::Occupied(statement) => Ok(statement.into_mut()),
            Entry::Vacant(slot) => Ok(slot.insert(self.conn.prepare(&table.insert_many(rows))?)),
        }
    }

    /// The largest rowid of `table`, 0 when it is empty.
    pub(super) fn last_rowid(&mut self, table: Table) -> rusqlite::Result<i64> {
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
pub(super) const MAX_ROWS_PER_STATEMENT: usize = 512;

/// The parameter number of row `row`'s column `column` in [`Table::insert_many`].
pub(super) fn parameter(columns: usize, row: usize, column: usize) -> usize {
    3 + row * columns + column
}

/// How many of `left` (at least 1) rows the next statement takes: [`MAX_ROWS_PER_STATEMENT`], or
/// the largest power of two below it, so a batch of any size needs at most ten distinct
/// statements per table, each prepared once.
pub(super) fn statement_rows(left: usize) -> usize {
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
pub(super) fn insert(
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
pub(super) fn skipped(
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
