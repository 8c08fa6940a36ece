//! Writing the grants table again, in key order, with a large expansion's new grants.
//!
//! SQLite places a key without descending the index from its root only when it lands on the
//! index's last page. New grants inserted between rows already stored pay a descent of every
//! index and page splits in the middle of them; the same rows inserted into an empty table in
//! the order of its indexes are appended to each. So a large expansion holds its new grants
//! (`deferred.rs`) and writes the whole table once: the stored grants and the new ones merged
//! in (entitlement, principal type, principal id) order, which is the order of the
//! entitlement indexes and, for grant ids of the form `<entitlement>:<type>:<id>`, nearly that
//! of the grant id index. Row ids change; no other table refers to them.
//!
//! The table and its indexes are created again from the statements the database stored, so
//! the schema reads as before. Stored rows are copied by SQLite, every column but the row id,
//! so columns this crate does not know survive; new grants fill the columns the pass always
//! writes, the others taking their defaults, as when the pass writes as it goes. The old
//! table's pages are zeroed when it is dropped: the file keeps them as free pages, and zeros
//! cost the compressed file nothing.

use std::sync::mpsc;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Statement, params};

use crate::expand::graph::Step;
use crate::expand::insert::{CHUNK, Inserter, Rows, Shared};
use crate::store::{StoreError, threads};

use super::deferred::{Deferred, grant_id, put_grant};

/// The name the grants table has while it is copied.
const OLD: &str = "v1_grants_before_expansion";

/// Whether the name the grants table takes while it is copied is free (a file may hold tables
/// this crate does not know).
pub(super) fn can_rename(conn: &Connection) -> rusqlite::Result<bool> {
    let taken: bool = conn.query_row(
        "select exists (select 1 from sqlite_master where name = ?1)",
        [OLD],
        |r| r.get(0),
    )?;
    Ok(!taken)
}

/// Rewrites `v1_grants` with the grants in `deferred` added. Returns the ids of new grants that
/// were not written because another grant of the sync has them (the caller reports them).
pub(super) fn rewrite(
    conn: &Connection,
    path: &std::path::Path,
    deferred: &Deferred,
    steps: &[Step],
    sync_id: &str,
    now: &str,
) -> Result<Vec<String>, StoreError> {
    const ACTION: &str = "write the grants table again with the expanded grants";
    let err = |e| StoreError::sqlite(path, ACTION, e);

    // The statements that made the table and its indexes.
    let table: String = conn
        .query_row(
            "select sql from sqlite_master where type = 'table' and name = 'v1_grants'",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    let mut indexes: Vec<(String, String)> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "select name, sql from sqlite_master where type = 'index' \
                 and tbl_name = 'v1_grants' and sql is not null order by rowid",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?;
        for row in rows {
            indexes.push(row.map_err(err)?);
        }
    }

    // The stored grants' order, read from the entitlement index while it exists; then the
    // table and its indexes again, empty.
    conn.execute_batch(&format!(
        "alter table v1_grants rename to {OLD}; \
         drop table if exists temp.expansion_order; \
         create temp table expansion_order (old integer not null); \
         insert into temp.expansion_order (old) select rowid from {OLD} \
         order by entitlement_id, principal_resource_type_id, principal_resource_id, rowid;"
    ))
    .map_err(err)?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!("drop index {}", quote(name)))
            .map_err(err)?;
    }
    conn.execute_batch(&table).map_err(err)?;
    for (_, sql) in &indexes {
        conn.execute_batch(sql).map_err(err)?;
    }

    // Both lists merged by key: runs of stored rows copied by SQLite itself, new grants
    // written many per statement. A second thread builds the new grants' rows (ids and bytes)
    // in key order meanwhile, so this one only merges and writes.
    let mut order: Vec<usize> = (0..deferred.destinations().len()).collect();
    let destination = |d: usize| &steps[deferred.destinations()[d].step as usize].destination;
    order.sort_by(|&a, &b| destination(a).cmp(destination(b)));
    let columns = copied_columns(conn).map_err(err)?;
    let from = format!("temp.expansion_order t cross join {OLD} o on o.rowid = t.old");
    let mut keys = conn
        .prepare(&format!(
            "select t.rowid, o.entitlement_id, o.principal_resource_type_id, \
             o.principal_resource_id from {from} order by t.rowid"
        ))
        .map_err(err)?;
    let mut copy = conn
        .prepare(&format!(
            "insert into v1_grants ({}) select {} from {from} \
             where t.rowid between ?1 and ?2 order by t.rowid",
            columns.join(", "),
            columns
                .iter()
                .map(|c| format!("o.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .map_err(err)?;
    let taken = std::thread::scope(|scope| {
        let (batches, received) = mpsc::sync_channel::<Batch>(BATCHES_AHEAD);
        let (recycle, recycled) = mpsc::channel::<Batch>();
        let builder = Builder::new(deferred, steps, &order);
        // The rows are built on a second thread while this one writes; when the OS refuses a
        // thread, this one builds each batch when it needs it.
        let source = match threads::spawn_scoped(
            scope,
            "c1z-expand-rows",
            (builder, batches, recycled),
            |(mut builder, batches, recycled)| {
                while let Some(batch) = builder.next(recycled.try_recv().unwrap_or_default()) {
                    if batches.send(batch).is_err() {
                        return;
                    }
                }
            },
        ) {
            Ok(_) => Source::Thread(received),
            Err(((builder, _, _), e)) => {
                tracing::debug!(error = %e, "no thread for the expanded rows; built inline");
                Source::Inline(builder)
            }
        };
        let mut merge = Merge {
            insert: Inserter::new(conn),
            copy: &mut copy,
            run: None,
            taken: Vec::new(),
            source,
            recycle,
            current: None,
            cx: Context {
                deferred,
                steps,
                sync_id,
                now,
            },
        };
        let mut rows = keys.query([])?;
        while let Some(row) = rows.next()? {
            let text = |i: usize| match row.get_ref(i) {
                Ok(ValueRef::Text(b) | ValueRef::Blob(b)) => b,
                _ => &[],
            };
            merge.new_rows_before(Some((text(1), text(2), text(3))))?;
            let seq: i64 = row.get(0)?;
            merge.run = Some(merge.run.map_or((seq, seq), |(first, _)| (first, seq)));
        }
        drop(rows);
        merge.new_rows_before(None)?;
        merge.copy_run()?;
        Ok(merge.taken)
        // Dropping `merge` closes the channels: the builder stops if it is still running.
    })
    .map_err(err)?;
    drop((copy, keys));

    let secure: i64 = conn
        .query_row("pragma secure_delete", [], |r| r.get(0))
        .map_err(err)?;
    conn.execute_batch(&format!(
        "drop table temp.expansion_order; pragma secure_delete = 1; drop table {OLD}; \
         pragma secure_delete = {secure};"
    ))
    .map_err(err)?;
    Ok(taken)
}

/// `name` as an SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The columns of `v1_grants` a copy carries: all but an `integer primary key`, which numbers
/// the new table's rows afresh.
fn copied_columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("select name, type, pk from pragma_table_info('v1_grants')")?;
    let columns: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let keys = columns.iter().filter(|c| c.2 > 0).count();
    Ok(columns
        .iter()
        .filter(|(_, kind, pk)| !(*pk > 0 && keys == 1 && kind.eq_ignore_ascii_case("integer")))
        .map(|(name, _, _)| quote(name))
        .collect())
}

/// Batches of new rows built ahead of the writer.
const BATCHES_AHEAD: usize = 8;

/// What writing a new grant needs besides the writer.
struct Context<'a> {
    deferred: &'a Deferred,
    steps: &'a [Step],
    sync_id: &'a str,
    now: &'a str,
}

/// Up to [`CHUNK`] new grants of one destination (its index in the held ones), in key order.
#[derive(Default)]
struct Batch {
    destination: usize,
    rows: Rows,
}

/// Builds the rows of every held grant, destinations in `order`, a batch at a time.
struct Builder<'a> {
    deferred: &'a Deferred,
    steps: &'a [Step],
    order: &'a [usize],
    /// The next destination (a position in `order`) and its next held grant.
    at: (usize, usize),
    id: String,
    inner: Vec<u8>,
}

impl<'a> Builder<'a> {
    fn new(deferred: &'a Deferred, steps: &'a [Step], order: &'a [usize]) -> Self {
        let first = order
            .first()
            .map_or(0, |&d| Deferred::range(&deferred.destinations()[d]).start);
        Builder {
            deferred,
            steps,
            order,
            at: (0, first),
            id: String::new(),
            inner: Vec::new(),
        }
    }

    /// The next batch, built into `batch` (a spent one, for its buffers); `None` when every
    /// held grant has been built.
    fn next(&mut self, mut batch: Batch) -> Option<Batch> {
        loop {
            let &d = self.order.get(self.at.0)?;
            let held = &self.deferred.destinations()[d];
            let range = Deferred::range(held);
            if self.at.1 >= range.end {
                self.at.0 += 1;
                if let Some(&next) = self.order.get(self.at.0) {
                    self.at.1 = Deferred::range(&self.deferred.destinations()[next]).start;
                }
                continue;
            }
            let step = &self.steps[held.step as usize];
            batch.rows.clear();
            batch.destination = d;
            let end = (self.at.1 + CHUNK).min(range.end);
            for g in self.at.1..end {
                let ready = self.deferred.grant(g);
                grant_id(
                    &mut self.id,
                    &step.destination,
                    ready.principal_type,
                    ready.principal_id,
                );
                let (id, inner) = (&self.id, &mut self.inner);
                batch
                    .rows
                    .push(ready.principal_type, ready.principal_id, id, |blob| {
                        put_grant(blob, inner, step, &held.entitlement, id, &ready);
                    });
            }
            self.at.1 = end;
            return Some(batch);
        }
    }
}

/// Where the writer gets the new rows: from the builder's thread, or from the builder itself.
enum Source<'a> {
    Thread(mpsc::Receiver<Batch>),
    Inline(Builder<'a>),
}

/// The writer's side: new rows as the builder sends them, stored rows in runs copied by
/// SQLite, each written before any row whose key is greater.
struct Merge<'a, 'c> {
    insert: Inserter<'c>,
    copy: &'a mut Statement<'c>,
    /// Stored rows (`t.rowid` from, to) waiting to be copied.
    run: Option<(i64, i64)>,
    taken: Vec<String>,
    source: Source<'a>,
    recycle: mpsc::Sender<Batch>,
    /// The batch being written and its first row not yet written.
    current: Option<(Batch, usize)>,
    cx: Context<'a>,
}

impl Merge<'_, '_> {
    fn copy_run(&mut self) -> rusqlite::Result<()> {
        if let Some((first, last)) = self.run.take() {
            self.copy.execute(params![first, last])?;
        }
        Ok(())
    }

    /// Writes every new row whose key is below `bound` (all of them for `None`), after the
    /// stored rows waiting before them.
    fn new_rows_before(&mut self, bound: Option<(&[u8], &[u8], &[u8])>) -> rusqlite::Result<()> {
        loop {
            let (batch, next) = if let Some(current) = self.current.take() {
                current
            } else {
                let next = match &mut self.source {
                    Source::Thread(received) => received.recv().ok(),
                    Source::Inline(builder) => builder.next(Batch::default()),
                };
                let Some(batch) = next else {
                    return Ok(());
                };
                (batch, 0)
            };
            let held = &self.cx.deferred.destinations()[batch.destination];
            let entitlement = &self.cx.steps[held.step as usize].destination;
            let mut end = next;
            while end < batch.rows.len() {
                let (principal_type, principal_id) = batch.rows.principal(end);
                let key = (
                    entitlement.as_bytes(),
                    principal_type.as_bytes(),
                    principal_id.as_bytes(),
                );
                if bound.is_some_and(|bound| key >= bound) {
                    break;
                }
                end += 1;
            }
            if end > next {
                self.copy_run()?;
                let shared = Shared {
                    sync_id: self.cx.sync_id,
                    now: self.cx.now,
                    resource_type: &held.resource_type,
                    resource: &held.resource,
                    entitlement,
                };
                let taken = self.insert.write(&batch.rows, next..end, &shared)?;
                self.taken.extend(taken);
            }
            if end < batch.rows.len() {
                self.current = Some((batch, end));
                return Ok(());
            }
            // A failed send only means the builder is done.
            let _ = self.recycle.send(batch);
        }
    }
}
