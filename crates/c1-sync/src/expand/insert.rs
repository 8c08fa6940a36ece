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

/// One row waiting to be written: ranges into [`Inserter`]'s buffers.
struct Row {
    principal_type: (usize, usize),
    principal_id: (usize, usize),
    id: (usize, usize),
    data: (usize, usize),
}

/// Buffers the new grants of one destination and writes them in chunks.
pub(crate) struct Inserter<'c> {
    conn: &'c Connection,
    /// `statements[k]` inserts `2^k` rows.
    statements: Vec<Option<Statement<'c>>>,
    check: Option<Statement<'c>>,
    rows: Vec<Row>,
    text: String,
    blobs: Vec<u8>,
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
            rows: Vec::with_capacity(CHUNK),
            text: String::new(),
            blobs: Vec::new(),
        }
    }

    /// Whether a chunk is full and should be flushed.
    pub(crate) fn is_full(&self) -> bool {
        self.rows.len() >= CHUNK
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
        self.rows.push(Row {
            principal_type,
            principal_id,
            id,
            data: (start, self.blobs.len()),
        });
    }

    /// Writes the buffered rows. Returns the ids of rows that were not written because their
    /// grant id is already taken by another grant.
    pub(crate) fn flush(&mut self, shared: &Shared<'_>) -> rusqlite::Result<Vec<String>> {
        let mut taken = Vec::new();
        let mut done = 0;
        while done < self.rows.len() {
            let remaining = (self.rows.len() - done).min(CHUNK);
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
            let chunk = &self.rows[done..done + size];
            for (r, row) in chunk.iter().enumerate() {
                let p = SHARED + r * PER_ROW;
                let text = |(a, b): (usize, usize)| &self.text[a..b];
                stmt.raw_bind_parameter(p + 1, text(row.principal_type))?;
                stmt.raw_bind_parameter(p + 2, text(row.principal_id))?;
                stmt.raw_bind_parameter(p + 3, text(row.id))?;
                stmt.raw_bind_parameter(p + 4, &self.blobs[row.data.0..row.data.1])?;
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
                        let id = &self.text[row.id.0..row.id.1];
                        let ours: bool = check.query_row(
                            rusqlite::params![
                                id,
                                shared.sync_id,
                                &self.blobs[row.data.0..row.data.1]
                            ],
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
        self.rows.clear();
        self.text.clear();
        self.blobs.clear();
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
