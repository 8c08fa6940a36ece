//! [`C1zReader`]: opens a c1z v1 file and reads its sync runs and objects.

use std::path::{Path, PathBuf};

use c1_model::pb;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, ToSql};
use tempfile::TempDir;

use super::envelope::{self, DEFAULT_MAX_DECODED_BYTES, Kind};
use super::schema::{self, ENTITLEMENTS, GRANTS, RESOURCE_TYPES, RESOURCES};
use super::time::now_text;
use super::{StoreError, SyncRun, SyncStats};
use crate::expand::ExpansionReport;

const SYNC_RUN_COLUMNS: &str =
    "sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, stats";

/// Reads a c1z v1 file.
///
/// [`open`](Self::open) decompresses the database into a temporary directory that is removed
/// when the reader is dropped. Objects are returned in insertion order (`ORDER BY id`), decoded
/// into `c1_model::pb` types.
#[derive(Debug)]
pub struct C1zReader {
    // Declared before `_work` so the connection closes before the directory is removed.
    conn: Connection,
    path: PathBuf,
    decoded_bytes: u64,
    _work: TempDir,
}

impl C1zReader {
    /// Opens `path`, refusing more than 4 GiB of decompressed data.
    ///
    /// A `C1Z3` file fails with [`StoreError::UnsupportedV3`] ("unsupported c1z v3 (Pebble)
    /// file"), anything that is not `C1ZF\0` with [`StoreError::NotC1z`] ("not a c1z file").
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_limit(path, DEFAULT_MAX_DECODED_BYTES)
    }

    /// Like [`open`](Self::open) with a custom ceiling on the decompressed size, in bytes. The
    /// ceiling is enforced on the bytes the zstd stream really produces, not on its header.
    pub fn open_with_limit(path: &Path, max_decoded_bytes: u64) -> Result<Self, StoreError> {
        let (file, kind) = envelope::open(path)?;
        match kind {
            Kind::V1 => {}
            Kind::V3 => {
                return Err(StoreError::UnsupportedV3 {
                    path: path.to_path_buf(),
                });
            }
            Kind::Empty | Kind::Other => {
                return Err(StoreError::NotC1z {
                    path: path.to_path_buf(),
                });
            }
        }
        let work = tempfile::Builder::new()
            .prefix("c1z-read-")
            .tempdir()
            .map_err(|e| StoreError::io(path, "create a temporary directory", e))?;
        let db_path = work.path().join("sync.db");
        let decoded_bytes = envelope::decode_to(path, file, &db_path, max_decoded_bytes)?;
        let conn = Connection::open(&db_path)
            .map_err(|e| StoreError::sqlite(path, "open the decompressed database", e))?;
        conn.query_row("select count(*) from sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|source| StoreError::NotSqlite {
            path: path.to_path_buf(),
            source,
        })?;
        let unexpected = schema::unexpected_object(&conn, "main").map_err(|e| {
            StoreError::sqlite(path, "read the schema of the decompressed database", e)
        })?;
        if let Some((name, kind)) = unexpected {
            return Err(StoreError::UnexpectedSchema {
                path: path.to_path_buf(),
                name,
                kind,
            });
        }
        // Files from older SDKs lack later columns; add them (with defaults) to our private copy,
        // as the SDK's own readers do, so every query below sees the HEAD schema.
        conn.execute_batch("pragma journal_mode = off; pragma synchronous = off;")
            .and_then(|()| schema::upgrade_columns(&conn))
            .map_err(|e| {
                StoreError::sqlite(path, "upgrade the schema of the decompressed database", e)
            })?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            decoded_bytes,
            _work: work,
        })
    }

    /// The c1z file this reader opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the decompressed SQLite database in bytes.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded_bytes
    }

    /// All sync runs, oldest first (`ORDER BY id`).
    pub fn sync_runs(&self) -> Result<Vec<SyncRun>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "select {SYNC_RUN_COLUMNS} from v1_sync_runs order by id"
            ))
            .map_err(|e| self.err("list sync runs", e))?;
        stmt.query_map([], sync_run_from_row)
            .and_then(Iterator::collect)
            .map_err(|e| self.err("list sync runs", e))
    }

    /// The sync run with id `sync_id`, if the file has it.
    pub fn sync_run(&self, sync_id: &str) -> Result<Option<SyncRun>, StoreError> {
        self.one_run("where sync_id = ?1", &[&sync_id])
    }

    /// The latest finished full sync (`ORDER BY ended_at DESC, sync_id DESC`), the one baton's
    /// readers show by default.
    pub fn latest_finished_sync(&self) -> Result<Option<SyncRun>, StoreError> {
        self.one_run(
            "where ended_at is not null and sync_type = 'full' order by ended_at desc, sync_id desc",
            &[],
        )
    }

    /// The latest finished full sync, else the latest unfinished sync (by `started_at`), like
    /// baton's readers choose the sync to show.
    pub fn latest_sync(&self) -> Result<Option<SyncRun>, StoreError> {
        match self.latest_finished_sync()? {
            Some(run) => Ok(Some(run)),
            None => self.latest_unfinished_sync(),
        }
    }

    /// The latest finished sync of any type (`ORDER BY ended_at DESC, sync_id DESC`), else the
    /// latest unfinished sync (by `started_at`): the sync ConductorOne's one-shot provisioning
    /// looks ids up in.
    pub fn latest_sync_of_any_type(&self) -> Result<Option<SyncRun>, StoreError> {
        match self.one_run(
            "where ended_at is not null order by ended_at desc, sync_id desc",
            &[],
        )? {
            Some(run) => Ok(Some(run)),
            None => self.latest_unfinished_sync(),
        }
    }

    /// The latest unfinished sync, by `started_at`.
    fn latest_unfinished_sync(&self) -> Result<Option<SyncRun>, StoreError> {
        self.one_run(
            "where ended_at is null order by started_at desc, sync_id desc",
            &[],
        )
    }

    /// Resource types of `sync_id`.
    pub fn resource_types(&self, sync_id: &str) -> Result<Vec<pb::ResourceType>, StoreError> {
        self.require_sync(sync_id)?;
        self.messages(
            RESOURCE_TYPES,
            "select id, data from v1_resource_types where sync_id = ?1 order by id",
            &[&sync_id],
        )
    }

    /// Resources of `sync_id`, optionally only those of one resource type.
    pub fn resources(
        &self,
        sync_id: &str,
        resource_type: Option<&str>,
    ) -> Result<Vec<pb::Resource>, StoreError> {
        self.require_sync(sync_id)?;
        match resource_type {
            Some(rt) => self.messages(
                RESOURCES,
                "select id, data from v1_resources where sync_id = ?1 and resource_type_id = ?2 order by id",
                &[&sync_id, &rt],
            ),
            None => self.messages(
                RESOURCES,
                "select id, data from v1_resources where sync_id = ?1 order by id",
                &[&sync_id],
            ),
        }
    }

    /// Entitlements of `sync_id`.
    pub fn entitlements(&self, sync_id: &str) -> Result<Vec<pb::Entitlement>, StoreError> {
        self.require_sync(sync_id)?;
        self.messages(
            ENTITLEMENTS,
            "select id, data from v1_entitlements where sync_id = ?1 order by id",
            &[&sync_id],
        )
    }

    /// Grants of `sync_id`, with their `sources`. A grant stored with an `expansion` gets its
    /// `GrantExpandable` annotation back (appended after its other annotations); a grant made
    /// by expansion carries `GrantImmutable` and its `sources` as stored.
    pub fn grants(&self, sync_id: &str) -> Result<Vec<pb::Grant>, StoreError> {
        self.require_sync(sync_id)?;
        self.grant_rows(
            "select id, data, expansion from v1_grants where sync_id = ?1 order by id",
            &[&sync_id],
        )
    }

    /// The grants of one entitlement in `sync_id` (as [`grants`](Self::grants) returns them).
    pub fn grants_for_entitlement(
        &self,
        sync_id: &str,
        entitlement_id: &str,
    ) -> Result<Vec<pb::Grant>, StoreError> {
        self.require_sync(sync_id)?;
        self.grant_rows(
            "select id, data, expansion from v1_grants \
             where entitlement_id = ?2 and sync_id = ?1 order by id",
            &[&sync_id, &entitlement_id],
        )
    }

    /// The grants held by one principal in `sync_id` (as [`grants`](Self::grants) returns
    /// them), for an "effective access" view.
    pub fn grants_for_principal(
        &self,
        sync_id: &str,
        principal: &pb::ResourceId,
    ) -> Result<Vec<pb::Grant>, StoreError> {
        self.require_sync(sync_id)?;
        self.grant_rows(
            "select id, data, expansion from v1_grants where sync_id = ?1 \
             and principal_resource_type_id = ?2 and principal_resource_id = ?3 order by id",
            &[&sync_id, &principal.resource_type, &principal.resource],
        )
    }

    /// The grant with id exactly `grant_id` in `sync_id` (as [`grants`](Self::grants) returns
    /// it), if there is one. The id is matched as stored, never parsed.
    pub fn grant(&self, sync_id: &str, grant_id: &str) -> Result<Option<pb::Grant>, StoreError> {
        self.require_sync(sync_id)?;
        Ok(self
            .grant_rows(
                "select id, data, expansion from v1_grants where external_id = ?2 and sync_id = ?1",
                &[&sync_id, &grant_id],
            )?
            .pop())
    }

    /// The entitlement with id exactly `entitlement_id` in `sync_id`, if there is one.
    pub fn entitlement(
        &self,
        sync_id: &str,
        entitlement_id: &str,
    ) -> Result<Option<pb::Entitlement>, StoreError> {
        self.require_sync(sync_id)?;
        Ok(self
            .messages(
                ENTITLEMENTS,
                "select id, data from v1_entitlements where external_id = ?2 and sync_id = ?1",
                &[&sync_id, &entitlement_id],
            )?
            .pop())
    }

    /// The resource `id` in `sync_id`, if there is one.
    pub fn resource(
        &self,
        sync_id: &str,
        id: &pb::ResourceId,
    ) -> Result<Option<pb::Resource>, StoreError> {
        self.require_sync(sync_id)?;
        let external_id = format!("{}:{}", id.resource_type, id.resource);
        Ok(self
            .messages(
                RESOURCES,
                "select id, data from v1_resources where external_id = ?2 and sync_id = ?1",
                &[&sync_id, &external_id],
            )?
            .pop())
    }

    /// Expands the grants of `sync_id` in this reader's private copy of the database, as the
    /// last phase of a full sync does ([`crate::expand`]); the file itself is never changed. For
    /// files whose sync was saved without expansion: an SDK sync that stopped before its
    /// expansion step, or one that left expansion to ConductorOne. Afterwards the read methods
    /// return the expanded grants.
    pub fn expand_grants(&self, sync_id: &str) -> Result<ExpansionReport, StoreError> {
        self.require_sync(sync_id)?;
        let writing = crate::expand::Writing::Chosen;
        crate::expand::expand_sync(&self.conn, &self.path, sync_id, &now_text(), writing)
    }

    #[doc(hidden)]
    /// Test hook: [`expand_grants`](Self::expand_grants) writing the grants table again in key
    /// order, as a large expansion does, whatever the sizes (when the grant ids allow it).
    #[cfg(feature = "test-hooks")]
    pub fn expand_grants_rewriting(&self, sync_id: &str) -> Result<ExpansionReport, StoreError> {
        self.require_sync(sync_id)?;
        let writing = crate::expand::Writing::Hold { rewrite: true };
        crate::expand::expand_sync(&self.conn, &self.path, sync_id, &now_text(), writing)
    }

    fn grant_rows(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<pb::Grant>, StoreError> {
        let action = "read v1_grants";
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(action, e))?;
        let mut rows = stmt.query(params).map_err(|e| self.err(action, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(action, e))? {
            let (row_id, data) = id_and_blob(row).map_err(|e| self.err(action, e))?;
            let mut grant: pb::Grant = self.decode(GRANTS, row_id, &data)?;
            let expansion: Option<Vec<u8>> = row.get(2).map_err(|e| self.err(action, e))?;
            if let Some(value) = expansion {
                grant.annotations.push(prost_types::Any {
                    type_url: <pb::GrantExpandable as prost::Name>::type_url(),
                    value,
                });
            }
            out.push(grant);
        }
        Ok(out)
    }

    fn require_sync(&self, sync_id: &str) -> Result<(), StoreError> {
        let found = self
            .conn
            .query_row(
                "select 1 from v1_sync_runs where sync_id = ?1",
                [sync_id],
                |_| Ok(()),
            )
            .optional()
            .map_err(|e| self.err("look up the sync run", e))?;
        found.ok_or_else(|| StoreError::SyncNotFound {
            path: self.path.clone(),
            sync_id: sync_id.to_owned(),
        })
    }

    fn one_run(&self, clause: &str, params: &[&dyn ToSql]) -> Result<Option<SyncRun>, StoreError> {
        self.conn
            .query_row(
                &format!("select {SYNC_RUN_COLUMNS} from v1_sync_runs {clause} limit 1"),
                params,
                sync_run_from_row,
            )
            .optional()
            .map_err(|e| self.err("read v1_sync_runs", e))
    }

    fn messages<M>(
        &self,
        table: &'static str,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<Vec<M>, StoreError>
    where
        M: prost::Message + prost::Name + Default,
    {
        let action = read_action(table);
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(action, e))?;
        let mut rows = stmt.query(params).map_err(|e| self.err(action, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(action, e))? {
            let (row_id, data) = id_and_blob(row).map_err(|e| self.err(action, e))?;
            out.push(self.decode(table, row_id, &data)?);
        }
        Ok(out)
    }

    fn decode<M>(&self, table: &'static str, row_id: i64, data: &[u8]) -> Result<M, StoreError>
    where
        M: prost::Message + prost::Name + Default,
    {
        c1_model::decode::<M>(data).map_err(|source| StoreError::Decode {
            path: self.path.clone(),
            table,
            row_id,
            message: message_name(table),
            source,
        })
    }

    fn err(&self, action: &'static str, e: rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.path, action, e)
    }
}

fn read_action(table: &str) -> &'static str {
    match table {
        RESOURCE_TYPES => "read v1_resource_types",
        RESOURCES => "read v1_resources",
        ENTITLEMENTS => "read v1_entitlements",
        _ => "read v1_grants",
    }
}

fn message_name(table: &str) -> &'static str {
    match table {
        RESOURCE_TYPES => "c1.connector.v2.ResourceType",
        RESOURCES => "c1.connector.v2.Resource",
        ENTITLEMENTS => "c1.connector.v2.Entitlement",
        _ => "c1.connector.v2.Grant",
    }
}

/// `(id, data)` of a row; a NULL or non-blob `data` reads as empty bytes (an empty message).
fn id_and_blob(row: &Row<'_>) -> rusqlite::Result<(i64, Vec<u8>)> {
    let id: i64 = row.get(0)?;
    let data = match row.get_ref(1)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => Vec::new(),
    };
    Ok((id, data))
}

/// Text of a column whatever SQLite type it was stored with (timestamps are declared `datetime`).
fn lenient_text(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    })
}

fn sync_run_from_row(row: &Row<'_>) -> rusqlite::Result<SyncRun> {
    let stats = lenient_text(row, 6)?
        .filter(|s| !s.is_empty())
        .and_then(|s| serde_json::from_str::<SyncStats>(&s).ok());
    Ok(SyncRun {
        sync_id: lenient_text(row, 0)?.unwrap_or_default(),
        started_at: lenient_text(row, 1)?.unwrap_or_default(),
        ended_at: lenient_text(row, 2)?,
        sync_token: lenient_text(row, 3)?.unwrap_or_default(),
        sync_type: lenient_text(row, 4)?.unwrap_or_default(),
        parent_sync_id: lenient_text(row, 5)?.unwrap_or_default(),
        stats,
    })
}
