//! The c1z v1 SQLite schema: the baton-sdk HEAD DDL and indexes (c1z-format.md §1.3).
//!
//! Column names, types, constraints and defaults, and index names and columns, are exactly those
//! of the SDK, including the two `v1_resources` index names that upstream swapped.

use rusqlite::{Connection, OptionalExtension};

/// One table: its name, its `CREATE TABLE` statement and its indexes.
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) create: &'static str,
    pub(crate) indexes: &'static [&'static str],
}

pub(crate) const RESOURCE_TYPES: &str = "v1_resource_types";
pub(crate) const RESOURCES: &str = "v1_resources";
pub(crate) const ENTITLEMENTS: &str = "v1_entitlements";
pub(crate) const GRANTS: &str = "v1_grants";
pub(crate) const SYNC_RUNS: &str = "v1_sync_runs";
pub(crate) const ASSETS: &str = "v1_assets";
pub(crate) const CONNECTOR_SESSIONS: &str = "v1_connector_sessions";

/// All seven tables, in the order the SDK creates them. Every one has a `sync_id` column.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: RESOURCE_TYPES,
        create: "create table if not exists v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)",
        indexes: &[
            "create unique index if not exists idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id)",
        ],
    },
    Table {
        name: RESOURCES,
        create: "create table if not exists v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)",
        indexes: &[
            "create index if not exists idx_resources_resource_type_id_v1 on v1_resources (resource_type_id)",
            // The next two names are swapped relative to their columns, exactly as upstream has them.
            "create index if not exists idx_resources_external_sync_v1 on v1_resources (parent_resource_type_id, parent_resource_id)",
            "create unique index if not exists idx_resources_parent_resource_id_v1 on v1_resources (external_id, sync_id)",
        ],
    },
    Table {
        name: ENTITLEMENTS,
        create: "create table if not exists v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)",
        indexes: &[
            "create index if not exists idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id)",
            "create unique index if not exists idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id)",
        ],
    },
    Table {
        name: SYNC_RUNS,
        create: "create table if not exists v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
)",
        indexes: &[
            "create unique index if not exists idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id)",
        ],
    },
    Table {
        name: GRANTS,
        create: "create table if not exists v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)",
        indexes: &[
            "create index if not exists idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id)",
            "create index if not exists idx_grants_principal_id_v1 on v1_grants (principal_resource_type_id, principal_resource_id)",
            "create index if not exists idx_grants_entitlement_id_principal_id_v1 on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id)",
            "create unique index if not exists idx_grants_external_sync_v1 on v1_grants (external_id, sync_id)",
            "create index if not exists idx_grants_entitlement_sync_grant_v1 on v1_grants (entitlement_id, sync_id, id)",
            "create index if not exists idx_grants_sync_expansion_v1 on v1_grants (sync_id) where expansion is not null",
            "create index if not exists idx_grants_sync_needs_expansion_v1 on v1_grants (sync_id) where needs_expansion = 1",
        ],
    },
    Table {
        name: ASSETS,
        create: "create table if not exists v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)",
        indexes: &[
            "create unique index if not exists idx_assets_external_sync_v1 on v1_assets (external_id, sync_id)",
        ],
    },
    Table {
        name: CONNECTOR_SESSIONS,
        create: "create table if not exists v1_connector_sessions (
    id integer primary key,
    sync_id text not null,
    key text not null,
    value blob not null
)",
        indexes: &[
            "create unique index if not exists idx_session_store_sync_key_v1 on v1_connector_sessions (sync_id, key)",
        ],
    },
];

/// Columns later SDK versions added with `ALTER TABLE ... ADD COLUMN`; files written by older SDKs
/// lack them. `(table, column, definition)`.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    (SYNC_RUNS, "sync_type", "text not null default 'full'"),
    (SYNC_RUNS, "parent_sync_id", "text not null default ''"),
    (SYNC_RUNS, "linked_sync_id", "text not null default ''"),
    (SYNC_RUNS, "supports_diff", "integer not null default 0"),
    (SYNC_RUNS, "grants_backfilled", "integer not null default 0"),
    (SYNC_RUNS, "stats", "text"),
    (
        SYNC_RUNS,
        "ingest_invariant_generation",
        "text not null default ''",
    ),
    (
        SYNC_RUNS,
        "ingest_invariant_coverage",
        "text not null default ''",
    ),
    (
        SYNC_RUNS,
        "ingest_invariant_mode",
        "text not null default ''",
    ),
    (GRANTS, "expansion", "blob"),
    (GRANTS, "needs_expansion", "integer not null default 0"),
];

/// Creates every table and index (a no-op for those that exist).
pub(crate) fn create(conn: &Connection) -> rusqlite::Result<()> {
    for table in TABLES {
        conn.execute_batch(table.create)?;
        for index in table.indexes {
            conn.execute_batch(index)?;
        }
    }
    Ok(())
}

/// Brings a database written by an older SDK up to the HEAD columns, the way the SDK's readers
/// do on open: missing tables are created (without indexes, which readers do not need) and
/// missing columns are added with their defaults.
pub(crate) fn upgrade_columns(conn: &Connection) -> rusqlite::Result<()> {
    for table in TABLES {
        conn.execute_batch(table.create)?;
    }
    for (table, column, definition) in ADDED_COLUMNS {
        if !columns(conn, "main", table)?.iter().any(|c| c == column) {
            conn.execute_batch(&format!(
                "alter table {table} add column {column} {definition}"
            ))?;
        }
    }
    Ok(())
}

/// The first object of database `schema` (`main`, or an attached one) that a c1z reader must not
/// run: one of the c1z tables held as a view or a virtual table, or any trigger. The SDK writes
/// none of them, and a view or trigger can hold a query that never ends. `(name, kind)`.
pub(crate) fn unexpected_object(
    conn: &Connection,
    schema: &str,
) -> rusqlite::Result<Option<(String, String)>> {
    // The names are this module's constants, so they can be written into the statement.
    let names: Vec<String> = TABLES.iter().map(|t| format!("'{}'", t.name)).collect();
    conn.query_row(
        &format!(
            "select name, case when type = 'table' then 'virtual table' else type end \
             from {schema}.sqlite_master \
             where type = 'trigger' \
                or (name in ({names}) and (type != 'table' \
                    or lower(ltrim(coalesce(sql, ''))) like 'create virtual table%')) \
             order by rowid limit 1",
            names = names.join(", ")
        ),
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

/// The column names of `schema.table`, in declaration order; empty if the table does not exist.
pub(crate) fn columns(
    conn: &Connection,
    schema: &str,
    table: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("select name from pragma_table_info(?1, ?2) order by cid")?;
    let names = stmt
        .query_map([table, schema], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_in(conn: &Connection, kind: &str) -> i64 {
        conn.query_row(
            "select count(*) from sqlite_master where type = ?1 and name not like 'sqlite_%'",
            [kind],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// `.cargo/config.toml` builds the bundled SQLite without memory statistics (a global mutex
    /// on every allocation); a build that lost the setting fails here.
    #[test]
    fn sqlite_is_built_without_memory_statistics() {
        let conn = Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("pragma compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }

    #[test]
    fn creates_seven_tables_and_sixteen_indexes() {
        let conn = Connection::open_in_memory().unwrap();
        create(&conn).unwrap();
        assert_eq!(count_in(&conn, "table"), 7);
        assert_eq!(count_in(&conn, "index"), 16);
        // Idempotent, like the SDK's `create ... if not exists`.
        create(&conn).unwrap();
        assert_eq!(count_in(&conn, "index"), 16);
    }

    #[test]
    fn upgrade_adds_missing_columns_with_defaults() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "create table v1_sync_runs (id integer primary key, sync_id text not null,
             started_at datetime not null, ended_at datetime, sync_token text not null);
             insert into v1_sync_runs (sync_id, started_at, sync_token) values ('a', '2026-01-01 00:00:00', '');",
        )
        .unwrap();
        upgrade_columns(&conn).unwrap();
        let (sync_type, backfilled, stats): (String, i64, Option<String>) = conn
            .query_row(
                "select sync_type, grants_backfilled, stats from v1_sync_runs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((sync_type.as_str(), backfilled, stats), ("full", 0, None));
        assert!(
            columns(&conn, "main", GRANTS)
                .unwrap()
                .contains(&"needs_expansion".to_owned())
        );
        assert!(columns(&conn, "main", "no_such_table").unwrap().is_empty());
    }
}
