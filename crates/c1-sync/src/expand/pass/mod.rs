//! The expansion pass over one sync of an open c1z database.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use c1_model::pb;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, Statement, params};

use super::cache::{self, HolderCache};
use super::graph::{EdgeSpec, Graph, Step};
use super::insert::Inserter;
use super::wire::{self, Malformed};
use super::{ExpansionError, ExpansionReport};
use crate::store::StoreError;

mod deferred;
mod destination;
mod rewrite;
mod scratch;

use deferred::Deferred;
use destination::Statements;
use scratch::Scratch;

const COLLECT: &str = "select id, external_id, entitlement_id, principal_resource_type_id, \
     principal_resource_id, expansion from v1_grants \
     where sync_id = ?1 and expansion is not null and needs_expansion = 1 order by id";
const ENTITLEMENT: &str = "select resource_type_id, resource_id, data from v1_entitlements \
     where external_id = ?1 and sync_id = ?2";
/// The grants of one entitlement, through `idx_grants_entitlement_sync_grant_v1`.
const GRANTS_OF: &str = "select id, external_id, principal_resource_type_id, \
     principal_resource_id, data from v1_grants \
     where entitlement_id = ?1 and sync_id = ?2 order by id";
/// KiB of SQLite page cache while new grants are written.
const EXPANSION_CACHE_KIB: u32 = 32 * 1024;
/// KiB of SQLite page cache while the principal index is rebuilt: the sorter sizes its in-memory
/// runs by it.
const REBUILD_CACHE_KIB: u32 = 8 * 1024;
/// The grants' index by principal, rebuilt after a large expansion rather than updated row by row.
const PRINCIPAL_INDEX: &str = "idx_grants_principal_id_v1";
/// Grants of the sources up to which an expansion keeps the principal index and updates it.
const SMALL: u64 = 4096;

/// How the pass writes its new grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Writing {
    /// Each destination's as it is expanded when the expansion is small, else held and the
    /// grants table written again in key order when they outnumber the grants stored.
    #[default]
    Chosen,
    /// Held whatever the sizes, when the grant ids allow it, then written into the table as
    /// it is (`rewrite: false`) or with the table written again (tests run every way of
    /// writing over the same graphs).
    Hold { rewrite: bool },
}

/// New grants held at most; beyond, the held ones are written and the pass writes as it goes
/// (about 16 bytes each: this bounds the held grants to some 64 MiB).
const HELD_MAX: usize = 4 << 20;

const UPDATE: &str = "update v1_grants set data = ?1 where id = ?2";

/// Expands the grants of `sync_id` in `conn` (see the module docs). `now` is the
/// `discovered_at` of the grants it creates. Runs in the caller's transaction, or in its own
/// when the connection has none.
pub(crate) fn expand_sync(
    conn: &Connection,
    path: &Path,
    sync_id: &str,
    now: &str,
    writing: Writing,
) -> Result<ExpansionReport, StoreError> {
    let own_transaction = conn.is_autocommit();
    if own_transaction {
        conn.execute_batch("begin")
            .map_err(|e| StoreError::sqlite(path, "start grant expansion", e))?;
    }
    let result = Pass {
        conn,
        path,
        sync_id,
        now,
        writing,
        deferred: None,
        report: ExpansionReport::default(),
    }
    .run();
    if own_transaction {
        let end = if result.is_ok() { "commit" } else { "rollback" };
        conn.execute_batch(end)
            .map_err(|e| StoreError::sqlite(path, "end grant expansion", e))?;
    }
    result
}

struct Pass<'a> {
    conn: &'a Connection,
    path: &'a Path,
    sync_id: &'a str,
    now: &'a str,
    writing: Writing,
    /// The new grants held until the steps are done, when they are.
    deferred: Option<Deferred>,
    report: ExpansionReport,
}

impl<'a> Pass<'a> {
    fn run(mut self) -> Result<ExpansionReport, StoreError> {
        let started = Instant::now();
        self.backfill()?;
        self.conn
            .execute(
                "update v1_sync_runs set supports_diff = 1 where sync_id = ?1",
                [self.sync_id],
            )
            .map_err(|e| self.sql("mark the sync as expanded", e))?;
        let graph = self.collect()?;
        self.report.edges = graph.edge_count() as u64;
        let plan = graph.plan();
        self.report.cycles = plan.cycles.len() as u64;
        for cycle in &plan.cycles {
            let shown: Vec<&str> = cycle.iter().take(5).map(String::as_str).collect();
            let more = cycle.len().saturating_sub(shown.len());
            let mut message = format!(
                "entitlements {} form a cycle; they are expanded as one and do \
                 not pass their holders to each other",
                shown.join(", ")
            );
            if more > 0 {
                let _ = write!(message, " (and {more} more)");
            }
            self.report.warnings.push(message);
        }
        let mut statements = Statements {
            entitlement: self.prepare(ENTITLEMENT)?,
            grants_of: self.prepare(GRANTS_OF)?,
            insert: Inserter::new(self.conn),
            update: self.prepare(UPDATE)?,
        };
        let mut scratch = Scratch::default();
        let mut cache = HolderCache::new(&plan.steps, cache::BUDGET);
        // The principal index would take every new grant at a random place (grants arrive by
        // entitlement, not by principal), and a large expansion would spend most of its time
        // there; building it again afterwards, with one sort, costs a fraction of that.
        // A small expansion (a few teams' members) adds a few rows to it: cheaper than building
        // it again over every grant of the sync.
        let small = plan.steps.is_empty() || self.source_grants(&plan.steps)? <= SMALL;
        let principal_index = if small {
            None
        } else {
            self.suspend_index(PRINCIPAL_INDEX)?
        };
        // A larger page cache while the grants of a large expansion go in (their index pages
        // stay cached between destinations), a smaller one for the index rebuild, whose sorter
        // sizes its in-memory runs by it, then the caller's again. A small expansion keeps the
        // caller's: its few pages fit, and a larger cache would only grow the process.
        let cache_pages: i64 = self
            .conn
            .query_row("pragma cache_size", [], |r| r.get(0))
            .map_err(|e| self.sql("read the page cache size", e))?;
        let (conn, path) = (self.conn, self.path);
        let set_cache = |size: String| {
            conn.execute_batch(&format!("pragma cache_size = {size}"))
                .map_err(|e| StoreError::sqlite(path, "set the page cache size", e))
        };
        if !small {
            set_cache(format!("-{EXPANSION_CACHE_KIB}"))?;
        }
        let hold = !plan.steps.is_empty()
            && (!small || matches!(self.writing, Writing::Hold { .. }))
            && self.ids_cannot_collide()?;
        if hold {
            self.deferred = Some(Deferred::default());
        }
        let steps_started = Instant::now();
        for index in 0..plan.steps.len() {
            self.expand(
                &plan.steps,
                index,
                &mut statements,
                &mut scratch,
                &mut cache,
            )?;
        }
        if let Some(deferred) = self.deferred.take() {
            // Writing the table again costs about the same per row, stored or new; placing a
            // new grant between stored rows costs two to three times that.
            let rewrite = match self.writing {
                Writing::Hold { rewrite } => rewrite,
                Writing::Chosen => deferred.len() as u64 >= self.stored_grants()?,
            } && rewrite::can_rename(self.conn)
                .map_err(|e| self.sql("read the database's schema", e))?;
            if rewrite {
                drop(statements);
                let taken = rewrite::rewrite(
                    self.conn,
                    self.path,
                    &deferred,
                    &plan.steps,
                    self.sync_id,
                    self.now,
                )?;
                self.report.grants_table_rewritten = true;
                self.taken(taken);
            } else {
                self.deferred = Some(deferred);
                self.write_deferred(&plan.steps, &mut statements.insert)?;
                drop(statements);
            }
        } else {
            drop(statements);
        }
        let steps_ms = steps_started.elapsed().as_millis();
        if let Some(create) = principal_index {
            set_cache(format!("-{REBUILD_CACHE_KIB}"))?;
            // The sorter may sort its runs on a helper thread meanwhile the table is read.
            self.conn
                .execute_batch(&format!(
                    "pragma threads = 2; {create}; pragma threads = 0;"
                ))
                .map_err(|e| self.sql("rebuild the grants' principal index", e))?;
        }
        if !small {
            set_cache(cache_pages.to_string())?;
        }
        let index_ms = steps_started.elapsed().as_millis() - steps_ms;
        self.report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(
            sync_id = self.sync_id,
            expandable = self.report.expandable_grants,
            edges = self.report.edges,
            created = self.report.grants_created,
            updated = self.report.grants_updated,
            duration_ms = self.report.duration_ms,
            steps_ms,
            index_ms,
            rewritten = self.report.grants_table_rewritten,
            "grants expanded"
        );
        Ok(self.report)
    }

    /// Writes the held new grants to the store through `insert`; the pass writes as it goes
    /// from then on.
    fn write_deferred(
        &mut self,
        steps: &[Step],
        insert: &mut Inserter<'_>,
    ) -> Result<(), StoreError> {
        let Some(deferred) = self.deferred.take() else {
            return Ok(());
        };
        let taken = deferred
            .write_into(insert, steps, self.sync_id, self.now)
            .map_err(|e| self.sql("write the expanded grants", e))?;
        self.taken(taken);
        Ok(())
    }

    /// Rows in the grants table, every sync's.
    fn stored_grants(&self) -> Result<u64, StoreError> {
        let stored: i64 = self
            .conn
            .query_row("select count(*) from v1_grants", [], |r| r.get(0))
            .map_err(|e| self.sql("count the grants", e))?;
        Ok(u64::try_from(stored).unwrap_or(0))
    }

    /// Reports new grants not written because their ids were taken.
    fn taken(&mut self, taken: Vec<String>) {
        self.report.grants_created -= taken.len() as u64;
        for id in taken {
            self.report.warnings.push(format!(
                "grant id {id} is already used by a grant of another entitlement or principal; \
                 the expanded grant is not written"
            ));
        }
    }

    /// Whether no new grant's id `<entitlement>:<type>:<id>` can equal the id of another grant
    /// of the sync, stored or new: then new grants can be held until the steps are done, as no
    /// write can be refused and change what later steps read. It holds when every grant of the
    /// sync has an id of that form, no principal type holds a `:`, and no entitlement id is
    /// another one followed by `:` (two such strings can then only be equal for the same
    /// entitlement, type and id, and that grant is found as existing, not made anew).
    fn ids_cannot_collide(&self) -> Result<bool, StoreError> {
        const ACTION: &str = "check the grant ids of the sync";
        let irregular: bool = self
            .conn
            .query_row(
                "select exists (select 1 from v1_grants where sync_id = ?1 and (external_id <> \
                 entitlement_id || ':' || principal_resource_type_id || ':' || \
                 principal_resource_id or instr(principal_resource_type_id, ':') > 0))",
                [self.sync_id],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(ACTION, e))?;
        if irregular {
            return Ok(false);
        }
        let mut stmt = self.prepare(
            "select external_id from v1_entitlements where sync_id = ?1 \
             union select entitlement_id from v1_grants where sync_id = ?1 order by 1",
        )?;
        let ids: Vec<String> = stmt
            .query_map([self.sync_id], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| self.sql(ACTION, e))?;
        let mut prefix = String::new();
        for id in &ids {
            prefix.clear();
            prefix.push_str(id);
            prefix.push(':');
            let at = ids.partition_point(|other| other.as_str() < prefix.as_str());
            if ids
                .get(at)
                .is_some_and(|other| other.starts_with(prefix.as_str()))
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// How many grants the sources of `steps` have: a first estimate of the expansion's size
    /// (chains of edges may carry holders further).
    fn source_grants(&self, steps: &[Step]) -> Result<u64, StoreError> {
        const ACTION: &str = "count the grants of the expansion's sources";
        let sources: BTreeSet<&str> = steps
            .iter()
            .flat_map(|s| s.inputs.iter().map(|(source, _)| source.as_str()))
            .collect();
        let mut count = self
            .prepare("select count(*) from v1_grants where entitlement_id = ?1 and sync_id = ?2")?;
        let mut total = 0_u64;
        for source in sources {
            let n: i64 = count
                .query_row(params![source, self.sync_id], |r| r.get(0))
                .map_err(|e| self.sql(ACTION, e))?;
            total += u64::try_from(n).unwrap_or(0);
        }
        Ok(total)
    }

    /// Drops the index `name` if the database has it, returning the statement that creates it
    /// again.
    fn suspend_index(&self, name: &str) -> Result<Option<String>, StoreError> {
        const ACTION: &str = "suspend the grants' principal index";
        let create: Option<String> = self
            .conn
            .query_row(
                "select sql from sqlite_master where type = 'index' and name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(ACTION, e))?;
        if create.is_some() {
            self.conn
                .execute_batch(&format!("drop index {name}"))
                .map_err(|e| self.sql(ACTION, e))?;
        }
        Ok(create)
    }

    fn sql(&self, action: &'static str, e: rusqlite::Error) -> StoreError {
        StoreError::sqlite(self.path, action, e)
    }

    fn prepare(&self, sql: &str) -> Result<Statement<'a>, StoreError> {
        self.conn
            .prepare(sql)
            .map_err(|e| self.sql("prepare grant expansion", e))
    }

    fn failed(&self, error: ExpansionError) -> StoreError {
        StoreError::Expansion {
            path: self.path.to_path_buf(),
            source: error,
        }
    }

    fn malformed(&self, grant: &str, row_id: i64, what: &'static str, e: Malformed) -> StoreError {
        self.failed(ExpansionError::Malformed {
            grant: grant.to_owned(),
            row_id,
            what,
            reason: e.to_string(),
        })
    }

    /// Moves `GrantExpandable` out of the grant blobs into the `expansion` column for a sync
    /// written before that column existed (`grants_backfilled = 0`), as the SDK does on open.
    fn backfill(&mut self) -> Result<(), StoreError> {
        const ACTION: &str = "move GrantExpandable annotations into the expansion column";
        let done: Option<i64> = self
            .conn
            .query_row(
                "select grants_backfilled from v1_sync_runs where sync_id = ?1",
                [self.sync_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(ACTION, e))?;
        if done != Some(0) {
            return Ok(());
        }
        let path = self.path;
        let err = |e| StoreError::sqlite(path, ACTION, e);
        let mut moves: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "select id, external_id, data from v1_grants \
                     where sync_id = ?1 and expansion is null order by id",
                )
                .map_err(|e| self.sql(ACTION, e))?;
            let mut rows = stmt
                .query([self.sync_id])
                .map_err(|e| self.sql(ACTION, e))?;
            while let Some(row) = rows.next().map_err(|e| self.sql(ACTION, e))? {
                let (row_id, grant) = (int(row, 0).map_err(err)?, text(row, 1).map_err(err)?);
                let split = wire::split_expandable(bytes(row, 2).map_err(err)?)
                    .map_err(|e| self.malformed(grant, row_id, "the grant", e))?;
                let Some((stripped, value)) = split else {
                    continue;
                };
                let expandable = c1_model::decode::<pb::GrantExpandable>(&value).map_err(|e| {
                    self.failed(ExpansionError::Malformed {
                        grant: grant.to_owned(),
                        row_id,
                        what: "its GrantExpandable annotation",
                        reason: e.to_string(),
                    })
                })?;
                // Only an annotation naming at least one entitlement arms expansion.
                let arms = expandable
                    .entitlement_ids
                    .iter()
                    .any(|id| !id.trim().is_empty());
                moves.push((row_id, stripped, arms.then_some(value)));
            }
        }
        let mut update = self.prepare(
            "update v1_grants set data = ?1, expansion = ?2, needs_expansion = ?3 where id = ?4",
        )?;
        for (row_id, stripped, expansion) in moves {
            let needs = i64::from(expansion.is_some());
            update
                .execute(params![stripped, expansion, needs, row_id])
                .map_err(|e| self.sql(ACTION, e))?;
        }
        self.conn
            .execute(
                "update v1_sync_runs set grants_backfilled = 1 where sync_id = ?1",
                [self.sync_id],
            )
            .map_err(|e| self.sql(ACTION, e))?;
        Ok(())
    }

    /// Reads the expandable grants into the graph, checking each source entitlement.
    fn collect(&mut self) -> Result<Graph, StoreError> {
        const ACTION: &str = "read the expandable grants";
        let mut graph = Graph::default();
        let mut lookup = self.prepare(ENTITLEMENT)?;
        // Entitlement id → the `<type>:<id>` of its resource, or `None` when not in the sync.
        let mut known: HashMap<String, Option<(String, String)>> = HashMap::new();
        let mut resolve = |id: &str| -> rusqlite::Result<Option<(String, String)>> {
            if let Some(found) = known.get(id) {
                return Ok(found.clone());
            }
            let found = lookup
                .query_row(params![id, self.sync_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .optional()?;
            known.insert(id.to_owned(), found.clone());
            Ok(found)
        };
        let mut stmt = self.prepare(COLLECT)?;
        let mut rows = stmt
            .query([self.sync_id])
            .map_err(|e| self.sql(ACTION, e))?;
        let mut warnings = Vec::new();
        let path = self.path;
        let err = |e| StoreError::sqlite(path, ACTION, e);
        while let Some(row) = rows.next().map_err(err)? {
            let row_id = int(row, 0).map_err(err)?;
            let (grant, destination) = (text(row, 1).map_err(err)?, text(row, 2).map_err(err)?);
            let (principal_type, principal_id) =
                (text(row, 3).map_err(err)?, text(row, 4).map_err(err)?);
            self.report.expandable_grants += 1;
            let expandable = c1_model::decode::<pb::GrantExpandable>(bytes(row, 5).map_err(err)?)
                .map_err(|e| {
                self.failed(ExpansionError::Malformed {
                    grant: grant.to_owned(),
                    row_id,
                    what: "its expansion column",
                    reason: e.to_string(),
                })
            })?;
            let spec = EdgeSpec::new(expandable.shallow, &expandable.resource_type_ids);
            let destination_known = resolve(destination)
                .map_err(|e| self.sql(ACTION, e))?
                .is_some();
            for source in &expandable.entitlement_ids {
                if source.trim().is_empty() {
                    continue;
                }
                match resolve(source).map_err(|e| self.sql(ACTION, e))? {
                    None => {
                        self.report.dropped_edges += 1;
                        warnings.push(format!(
                            "grant {grant} is expandable from entitlement \
                             {source}, which is not in the sync; that edge is dropped"
                        ));
                    }
                    Some((rt, rid)) if rt != principal_type || rid != principal_id => {
                        return Err(self.failed(ExpansionError::SourceNotOfPrincipal {
                            grant: grant.to_owned(),
                            source_entitlement: source.clone(),
                            source_resource: format!("{rt}:{rid}"),
                            principal: format!("{principal_type}:{principal_id}"),
                        }));
                    }
                    Some(_) if !destination_known => {
                        self.report.dropped_edges += 1;
                        warnings.push(format!(
                            "grant {grant} grants entitlement {destination}, \
                             which is not in the sync; its edge from {source} is dropped"
                        ));
                    }
                    Some(_) => {
                        graph.add_edge(source, destination, spec.clone());
                    }
                }
            }
        }
        self.report.warnings.extend(warnings);
        Ok(graph)
    }
}

pub(super) fn int(row: &Row<'_>, i: usize) -> rusqlite::Result<i64> {
    row.get(i)
}

pub(super) fn int_or(row: &Row<'_>, i: usize) -> i64 {
    row.get(i).unwrap_or_default()
}

pub(super) fn text<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    match row.get_ref(i)? {
        ValueRef::Text(b) | ValueRef::Blob(b) => {
            std::str::from_utf8(b).map_err(|e| rusqlite::Error::Utf8Error(i, e))
        }
        _ => Ok(""),
    }
}

pub(super) fn text_or<'r>(row: &'r Row<'_>, i: usize) -> &'r str {
    match row.get_ref(i) {
        Ok(ValueRef::Text(b) | ValueRef::Blob(b)) => std::str::from_utf8(b).unwrap_or(""),
        _ => "",
    }
}

pub(super) fn bytes<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    match row.get_ref(i)? {
        ValueRef::Text(b) | ValueRef::Blob(b) => Ok(b),
        _ => Ok(&[]),
    }
}
