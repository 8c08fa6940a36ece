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
//! the schema reads as before. Only a table with exactly the columns below is written again
//! (the SDK's), so no column is lost; every value of a stored row is copied as stored. The old
//! table's pages are zeroed when it is dropped: the file keeps them as free pages, and zeros
//! cost the compressed file nothing.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Statement, params};

use crate::expand::graph::Step;
use crate::expand::insert::{Inserter, Shared};
use crate::store::StoreError;

use super::deferred::{Deferred, grant_id, put_grant};

/// The name the grants table has while it is copied.
const OLD: &str = "v1_grants_before_expansion";

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
    // written many per statement.
    let mut order: Vec<usize> = (0..deferred.destinations().len()).collect();
    let destination = |d: usize| &steps[deferred.destinations()[d].step as usize].destination;
    order.sort_by(|&a, &b| destination(a).cmp(destination(b)));
    let mut fresh = order
        .iter()
        .flat_map(|&d| Deferred::range(&deferred.destinations()[d]).map(move |g| (d, g)))
        .peekable();
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
    let mut out = Out {
        insert: Inserter::new(conn),
        current: None,
        run: None,
        taken: Vec::new(),
        id: String::new(),
        inner: Vec::new(),
    };
    let context = Context {
        deferred,
        steps,
        sync_id,
        now,
    };
    let mut rows = keys.query([]).map_err(err)?;
    while let Some(row) = rows.next().map_err(err)? {
        let text = |i: usize| match row.get_ref(i) {
            Ok(ValueRef::Text(b) | ValueRef::Blob(b)) => b,
            _ => &[],
        };
        let key = (text(1), text(2), text(3));
        while let Some(next) = fresh.next_if(|&(d, g)| {
            let ready = deferred.grant(g);
            let new_key = (
                destination(d).as_bytes(),
                ready.principal_type.as_bytes(),
                ready.principal_id.as_bytes(),
            );
            new_key < key
        }) {
            out.copy_run(&mut copy).map_err(err)?;
            out.push_new(&context, next).map_err(err)?;
        }
        out.flush_new(&context).map_err(err)?;
        let seq: i64 = row.get(0).map_err(err)?;
        out.run = Some(out.run.map_or((seq, seq), |(first, _)| (first, seq)));
    }
    drop(rows);
    out.copy_run(&mut copy).map_err(err)?;
    for next in fresh {
        out.push_new(&context, next).map_err(err)?;
    }
    out.flush_new(&context).map_err(err)?;
    let taken = std::mem::take(&mut out.taken);
    drop((out, copy, keys));

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

/// What writing a new grant needs besides the writer.
struct Context<'a> {
    deferred: &'a Deferred,
    steps: &'a [Step],
    sync_id: &'a str,
    now: &'a str,
}

/// The merge's output: new grants buffered in the inserter (all of destination `current`),
/// or a run of stored rows (`t.rowid` from, to) waiting to be copied.
struct Out<'c> {
    insert: Inserter<'c>,
    current: Option<usize>,
    run: Option<(i64, i64)>,
    taken: Vec<String>,
    id: String,
    inner: Vec<u8>,
}

impl Out<'_> {
    fn copy_run(&mut self, copy: &mut Statement<'_>) -> rusqlite::Result<()> {
        if let Some((first, last)) = self.run.take() {
            copy.execute(params![first, last])?;
        }
        Ok(())
    }

    fn push_new(&mut self, cx: &Context<'_>, (d, g): (usize, usize)) -> rusqlite::Result<()> {
        if self.current != Some(d) || self.insert.is_full() {
            self.flush_new(cx)?;
        }
        self.current = Some(d);
        let held = &cx.deferred.destinations()[d];
        let step = &cx.steps[held.step as usize];
        let ready = cx.deferred.grant(g);
        grant_id(&mut self.id, &step.destination, &ready);
        let inner = &mut self.inner;
        let id = &self.id;
        self.insert
            .push(ready.principal_type, ready.principal_id, id, |blob| {
                put_grant(blob, inner, step, &held.entitlement, id, &ready);
            });
        Ok(())
    }

    fn flush_new(&mut self, cx: &Context<'_>) -> rusqlite::Result<()> {
        let Some(d) = self.current.take() else {
            return Ok(());
        };
        let held = &cx.deferred.destinations()[d];
        let shared = Shared {
            sync_id: cx.sync_id,
            now: cx.now,
            resource_type: &held.resource_type,
            resource: &held.resource,
            entitlement: &cx.steps[held.step as usize].destination,
        };
        self.taken.extend(self.insert.flush(&shared)?);
        Ok(())
    }
}
