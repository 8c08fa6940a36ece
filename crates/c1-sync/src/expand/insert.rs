//! Writing the new grants of one destination, many rows per statement.
//!
//! A destination's new grants share their entitlement columns and arrive in principal order, so
//! their keys in the grant id, entitlement and resource indexes follow each other. One `insert`
//! of up to [`CHUNK`] rows keeps SQLite's cursors open from row to row and places each key next
//! to the previous one instead of descending every index from its root, and runs the statement
//! machinery once per chunk instead of once per row.

use std::fmt::Write as _;

use rusqlite::{Connection, Statement};

/// Rows per statement at most (a power of two; statements for every smaller power of two are
/// prepared on first use, so any count is written with at most log2(CHUNK) + 1 statements).
pub(crate) const CHUNK: usize = 128;

/// Parameters shared by every row: sync id, discovered_at, entitlement resource type, resource
/// id and entitlement id.
const SHARED: usize = 5;
/// Parameters of one row: principal type, principal id, grant id, data.
const PER_ROW: usize = 4;

/// The insert statement for `rows` rows.
fn sql(rows: usize) -> String {
    let mut sql = String::from(
        "insert or ignore into v1_grants (resource_type_id, resource_id, entitlement_id, \
         principal_resource_type_id, principal_resource_id, external_id, expansion, \
         needs_expansion, data, sync_id, discovered_at) values ",
    );
    for r in 0..rows {
        let p = SHARED + r * PER_ROW;
        if r > 0 {
            sql.push_str(", ");
        }
        let _ = write!(
            sql,
            "(?3, ?4, ?5, ?{}, ?{}, ?{}, null, 0, ?{}, ?1, ?2)",
            p + 1,
            p + 2,
            p + 3,
            p + 4
        );
    }
    sql
}

/// One row waiting to be written: ranges into [`Rows`]' buffers.
struct Row {
    principal_type: (usize, usize),
    principal_id: (usize, usize),
    id: (usize, usize),
    data: (usize, usize),
}

/// New grants of one destination waiting to be written, in principal order.
#[derive(Default)]
pub(crate) struct Rows {
    list: Vec<Row>,
    text: String,
    blobs: Vec<u8>,
}

impl Rows {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn clear(&mut self) {
        self.list.clear();
        self.text.clear();
        self.blobs.clear();
    }

    /// Adds a row; `data` appends the grant's bytes.
    pub(crate) fn push(
        &mut self,
        principal_type: &str,
        principal_id: &str,
        id: &str,
        data: impl FnOnce(&mut Vec<u8>),
    ) {
        let mut span = |s: &str| {
            let start = self.text.len();
            self.text.push_str(s);
            (start, self.text.len())
        };
        let principal_type = span(principal_type);
        let principal_id = span(principal_id);
        let id = span(id);
        let start = self.blobs.len();
        data(&mut self.blobs);
        self.list.push(Row {
            principal_type,
            principal_id,
            id,
            data: (start, self.blobs.len()),
        });
    }

    /// Principal type and id of row `i`.
    pub(crate) fn principal(&self, i: usize) -> (&str, &str) {
        let row = &self.list[i];
        (self.text(row.principal_type), self.text(row.principal_id))
    }

    fn text(&self, (a, b): (usize, usize)) -> &str {
        &self.text[a..b]
    }

    fn blob(&self, (a, b): (usize, usize)) -> &[u8] {
        &self.blobs[a..b]
    }
}

/// Writes the new grants of one destination at a time, in chunks.
pub(crate) struct Inserter<'c> {
    conn: &'c Connection,
    /// `statements[k]` inserts `2^k` rows.
    statements: Vec<Option<Statement<'c>>>,
    check: Option<Statement<'c>>,
    buffered: Rows,
}

/// The columns every row of one flush shares.
pub(crate) struct Shared<'a> {
    pub(crate) sync_id: &'a str,
    pub(crate) now: &'a str,
    pub(crate) resource_type: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) entitlement: &'a str,
}

impl<'c> Inserter<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            statements: Vec::new(),
            check: None,
            buffered: Rows::default(),
        }
    }

    /// Whether a chunk is full and should be flushed.
    pub(crate) fn is_full(&self) -> bool {
        self.buffered.len() >= CHUNK
    }

    /// The rows [`flush`](Self::flush) writes next.
    pub(crate) fn rows(&mut self) -> &mut Rows {
        &mut self.buffered
    }

    /// Writes the buffered rows. Returns the ids of rows that were not written because their
    /// grant id is already taken by another grant.
    pub(crate) fn flush(&mut self, shared: &Shared<'_>) -> rusqlite::Result<Vec<String>> {
        let rows = std::mem::take(&mut self.buffered);
        let written = self.write(&rows, 0..rows.len(), shared);
        self.buffered = rows;
        self.buffered.clear();
        written
    }

    /// Writes `range` of `rows`, as [`flush`](Self::flush) writes the buffered ones.
    pub(crate) fn write(
        &mut self,
        rows: &Rows,
        range: std::ops::Range<usize>,
        shared: &Shared<'_>,
    ) -> rusqlite::Result<Vec<String>> {
        let mut taken = Vec::new();
        let mut done = range.start;
        while done < range.end {
            let remaining = (range.end - done).min(CHUNK);
            // The largest power of two that fits.
            let k = usize::BITS as usize - 1 - remaining.leading_zeros() as usize;
            let size = 1usize << k;
            if self.statements.len() <= k {
                self.statements.resize_with(k + 1, || None);
            }
            if self.statements[k].is_none() {
                self.statements[k] = Some(self.conn.prepare(&sql(size))?);
            }
            let Some(stmt) = self.statements[k].as_mut() else {
                break;
            };
            stmt.raw_bind_parameter(1, shared.sync_id)?;
            stmt.raw_bind_parameter(2, shared.now)?;
            stmt.raw_bind_parameter(3, shared.resource_type)?;
            stmt.raw_bind_parameter(4, shared.resource)?;
            stmt.raw_bind_parameter(5, shared.entitlement)?;
            let chunk = &rows.list[done..done + size];
            for (r, row) in chunk.iter().enumerate() {
                let p = SHARED + r * PER_ROW;
                stmt.raw_bind_parameter(p + 1, rows.text(row.principal_type))?;
                stmt.raw_bind_parameter(p + 2, rows.text(row.principal_id))?;
                stmt.raw_bind_parameter(p + 3, rows.text(row.id))?;
                stmt.raw_bind_parameter(p + 4, rows.blob(row.data))?;
            }
            let written = stmt.raw_execute()?;
            if written < size {
                // Some ids were taken: find the rows whose stored bytes are not ours.
                if self.check.is_none() {
                    self.check = Some(self.conn.prepare(
                        "select data = ?3 from v1_grants where external_id = ?1 and sync_id = ?2",
                    )?);
                }
                if let Some(check) = self.check.as_mut() {
                    for row in chunk {
                        let id = rows.text(row.id);
                        let ours: bool = check.query_row(
                            rusqlite::params![id, shared.sync_id, rows.blob(row.data)],
                            |r| r.get(0),
                        )?;
                        if !ours {
                            taken.push(id.to_owned());
                        }
                    }
                }
            }
            done += size;
        }
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_numbers_shared_and_row_parameters() {
        assert_eq!(
            sql(2).split(" values ").nth(1),
            Some(
                "(?3, ?4, ?5, ?6, ?7, ?8, null, 0, ?9, ?1, ?2), \
                 (?3, ?4, ?5, ?10, ?11, ?12, null, 0, ?13, ?1, ?2)"
            )
        );
    }
}
