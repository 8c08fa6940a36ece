//! A batch of rows: column values in two flat buffers, and the tables they go to.

use std::ops::Range;

use rusqlite::types::ToSqlOutput;

use super::statements::parameter;
use crate::store::schema;

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
    pub(super) fn name(self) -> &'static str {
        match self {
            Table::ResourceTypes => schema::RESOURCE_TYPES,
            Table::Resources => schema::RESOURCES,
            Table::Entitlements => schema::ENTITLEMENTS,
            Table::Grants => schema::GRANTS,
        }
    }

    /// The columns a caller supplies, in order (`sync_id` and `discovered_at` are added here).
    pub(super) fn supplied(self) -> &'static [&'static str] {
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
    pub(super) fn column_list(self) -> String {
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
    pub(super) fn insert_many(self, rows: usize) -> String {
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
    pub(super) fn upsert(self) -> String {
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
    pub(super) fn first_column_since(self) -> String {
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
pub(super) enum Value {
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
    pub(super) table: Table,
    /// `discovered_at` of every row.
    pub(super) now: String,
    pub(super) text: String,
    pub(super) blobs: Vec<u8>,
    /// `table.columns()` values per row.
    pub(super) values: Vec<Value>,
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
    pub(super) fn reset(&mut self, table: Table, now: String, capacity: usize) {
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
    pub(super) fn text_of(&self, value: &Value) -> Option<&str> {
        match value {
            Value::Text(r) => self.text.get(r.clone()),
            _ => None,
        }
    }

    /// The SQL value of `value`. A range outside its buffer is a bug in this module: it fails
    /// the batch (and the sync) with an internal error instead of storing a wrong value.
    pub(super) fn value(&self, value: &Value) -> rusqlite::Result<ToSqlOutput<'_>> {
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
pub(super) fn slice<'a>(
    buffer: &'a [u8],
    range: &Range<usize>,
    what: &str,
) -> rusqlite::Result<&'a [u8]> {
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
pub(super) struct Bookkeeping(String);

pub(super) fn bookkeeping(what: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(Bookkeeping(what)))
}
