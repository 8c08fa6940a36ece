//! The expansion pass over one sync of an open c1z database.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::path::Path;
use std::time::Instant;

use c1_model::pb;
use hashbrown::HashTable;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, Statement, params};

use super::cache::{self, HolderCache, Holders};
use super::graph::{EdgeSpec, Graph, Step};
use super::insert::{Inserter, Shared};
use super::wire::{self, GrantView, Malformed};
use super::{ExpansionError, ExpansionReport};
use crate::store::StoreError;

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
/// The grants' index by principal, rebuilt after a large expansion rather than updated row by row.
const PRINCIPAL_INDEX: &str = "idx_grants_principal_id_v1";
const UPDATE: &str = "update v1_grants set data = ?1 where id = ?2";

/// Expands the grants of `sync_id` in `conn` (see the module docs). `now` is the
/// `discovered_at` of the grants it creates. Runs in the caller's transaction, or in its own
/// when the connection has none.
pub(crate) fn expand_sync(
    conn: &Connection,
    path: &Path,
    sync_id: &str,
    now: &str,
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
        let principal_index = if plan.steps.is_empty() {
            None
        } else {
            self.suspend_index(PRINCIPAL_INDEX)?
        };
        // A larger page cache while new grants go in (their index pages stay cached between
        // destinations), the caller's again for the index rebuild, whose sorter sizes its
        // in-memory runs by it.
        let cache_pages: i64 = self
            .conn
            .query_row("pragma cache_size", [], |r| r.get(0))
            .map_err(|e| self.sql("read the page cache size", e))?;
        let (conn, path) = (self.conn, self.path);
        let set_cache = |size: String| {
            conn.execute_batch(&format!("pragma cache_size = {size}"))
                .map_err(|e| StoreError::sqlite(path, "set the page cache size", e))
        };
        if !plan.steps.is_empty() {
            set_cache(format!("-{EXPANSION_CACHE_KIB}"))?;
        }
        let steps_started = Instant::now();
        for step in &plan.steps {
            self.expand(step, &mut statements, &mut scratch, &mut cache)?;
        }
        drop(statements);
        let steps_ms = steps_started.elapsed().as_millis();
        if !plan.steps.is_empty() {
            set_cache(cache_pages.to_string())?;
        }
        if let Some(create) = principal_index {
            // The sorter may sort its runs on a helper thread meanwhile the table is read.
            self.conn
                .execute_batch(&format!(
                    "pragma threads = 2; {create}; pragma threads = 0;"
                ))
                .map_err(|e| self.sql("rebuild the grants' principal index", e))?;
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
            "grants expanded"
        );
        Ok(self.report)
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

    /// Expands one destination: reads the holders of its sources, merges them, updates the
    /// grants it already has and writes the new ones.
    fn expand(
        &mut self,
        step: &Step,
        statements: &mut Statements<'_>,
        scratch: &mut Scratch,
        cache: &mut HolderCache,
    ) -> Result<(), StoreError> {
        const ACTION: &str = "expand grants";
        let path = self.path;
        let err = |e| StoreError::sqlite(path, ACTION, e);
        let mut inner = Vec::new();
        scratch.clear();
        let destination = step.destination.as_str();

        // 1. The holders of every source, in source order: from memory when a list is kept,
        // else from the store (keeping the list when later steps read it again).
        for (input, (source, spec)) in step.inputs.iter().enumerate() {
            let input = input as u32;
            if let Some(kept) = cache.get(source) {
                for (principal_type, principal_id, principal, direct) in kept.iter() {
                    if spec.admits(principal_type) && (direct || !spec.shallow) {
                        self.report.grants_read += 1;
                        scratch.add(principal_type, principal_id, principal, input, direct);
                    }
                }
                cache.consume(source);
                continue;
            }
            let mut keep = (cache.pending(source) > 1).then(Holders::default);
            let mut rows = statements
                .grants_of
                .query(params![source, self.sync_id])
                .map_err(|e| self.sql(ACTION, e))?;
            while let Some(row) = rows.next().map_err(|e| self.sql(ACTION, e))? {
                let principal_type = text(row, 2).map_err(err)?;
                if keep.is_none() && !spec.admits(principal_type) {
                    continue;
                }
                let data = bytes(row, 4).map_err(err)?;
                let view = GrantView::parse(data)
                    .map_err(|e| self.malformed(text_or(row, 1), int_or(row, 0), "the grant", e))?;
                let direct = view
                    .is_direct_for(source)
                    .map_err(|e| self.malformed(text_or(row, 1), int_or(row, 0), "the grant", e))?;
                if view.principal.is_empty() {
                    continue;
                }
                let principal_id = text(row, 3).map_err(err)?;
                if let Some(keep) = keep.as_mut() {
                    keep.push(principal_type, principal_id, view.principal, direct);
                }
                if !spec.admits(principal_type) || (spec.shallow && !direct) {
                    continue;
                }
                self.report.grants_read += 1;
                scratch.add(principal_type, principal_id, view.principal, input, direct);
            }
            drop(rows);
            if let Some(keep) = keep {
                cache.insert(source, keep);
            }
            cache.consume(source);
        }
        if scratch.holders.is_empty() {
            return Ok(());
        }

        // 2. The grants the destination already has: add the sources they are missing. When
        // later steps read the destination, its complete list is kept as well.
        let mut keep = (cache.pending(destination) > 0).then(Holders::default);
        let mut updates: Vec<(i64, Vec<u8>)> = Vec::new();
        {
            let mut rows = statements
                .grants_of
                .query(params![destination, self.sync_id])
                .map_err(|e| self.sql(ACTION, e))?;
            while let Some(row) = rows.next().map_err(|e| self.sql(ACTION, e))? {
                let (principal_type, principal_id) =
                    (text(row, 2).map_err(err)?, text(row, 3).map_err(err)?);
                let found = scratch.find(principal_type, principal_id);
                let Some(holder) = found else {
                    if let Some(keep) = keep.as_mut() {
                        let view = GrantView::parse(bytes(row, 4).map_err(err)?).map_err(|e| {
                            self.malformed(text_or(row, 1), int_or(row, 0), "the grant", e)
                        })?;
                        let direct = view.is_direct_for(destination).map_err(|e| {
                            self.malformed(text_or(row, 1), int_or(row, 0), "the grant", e)
                        })?;
                        if !view.principal.is_empty() {
                            keep.push(principal_type, principal_id, view.principal, direct);
                        }
                    }
                    continue;
                };
                scratch.holders[holder].existing = true;
                let (row_id, grant) = (int(row, 0).map_err(err)?, text(row, 1).map_err(err)?);
                let data = bytes(row, 4).map_err(err)?;
                let merged = merge_sources(
                    data,
                    destination,
                    scratch.holders[holder]
                        .sources
                        .iter()
                        .map(|(input, direct)| (step.inputs[input as usize].0.as_str(), direct)),
                )
                .map_err(|e| self.malformed(grant, row_id, "the grant", e))?;
                if let Some(keep) = keep.as_mut() {
                    let view = GrantView::parse(data)
                        .map_err(|e| self.malformed(grant, row_id, "the grant", e))?;
                    // Its sources after the merge: its own key was added if it had none.
                    let direct = match &merged {
                        Some(entries) => entries.contains_key(destination),
                        None => view
                            .is_direct_for(destination)
                            .map_err(|e| self.malformed(grant, row_id, "the grant", e))?,
                    };
                    if !view.principal.is_empty() {
                        keep.push(principal_type, principal_id, view.principal, direct);
                    }
                }
                if let Some(entries) = merged {
                    let entries: Vec<(&str, bool)> =
                        entries.iter().map(|(k, d)| (k.as_str(), *d)).collect();
                    let mut blob = Vec::with_capacity(data.len() + 32);
                    wire::put_with_sources(&mut blob, &mut inner, data, &entries)
                        .map_err(|e| self.malformed(grant, row_id, "the grant", e))?;
                    updates.push((row_id, blob));
                }
            }
        }
        for (row_id, blob) in &updates {
            statements
                .update
                .execute(params![blob, row_id])
                .map_err(|e| self.sql(ACTION, e))?;
        }
        self.report.grants_updated += updates.len() as u64;

        // 3. New grants for the holders that had none, in principal order.
        let mut fresh: Vec<u32> = (0..scratch.holders.len() as u32)
            .filter(|&h| !scratch.holders[h as usize].existing)
            .collect();
        if fresh.is_empty() {
            if let Some(keep) = keep {
                cache.insert(destination, keep);
            }
            return Ok(());
        }
        let (entitlement_type, entitlement_resource, entitlement) = statements
            .entitlement
            .query_row(params![destination, self.sync_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    match r.get_ref(2)? {
                        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
                        _ => Vec::new(),
                    },
                ))
            })
            .map_err(|e| self.sql(ACTION, e))?;
        fresh.sort_unstable_by(|&a, &b| scratch.principal(a).cmp(&scratch.principal(b)));
        let shared = Shared {
            sync_id: self.sync_id,
            now: self.now,
            resource_type: &entitlement_type,
            resource: &entitlement_resource,
            entitlement: destination,
        };
        let mut entries: Vec<(&str, bool)> = Vec::new();
        let mut id = String::new();
        let mut taken = Vec::new();
        for h in &fresh {
            let holder = &scratch.holders[*h as usize];
            let (principal_type, principal_id) = scratch.principal(*h);
            entries.clear();
            entries.extend(
                holder
                    .sources
                    .iter()
                    .map(|(input, direct)| (step.inputs[input as usize].0.as_str(), direct)),
            );
            let principal = &scratch.principals[holder.principal.0..holder.principal.1];
            id.clear();
            id.push_str(destination);
            id.push(':');
            id.push_str(principal_type);
            id.push(':');
            id.push_str(principal_id);
            statements
                .insert
                .push(principal_type, principal_id, &id, |blob| {
                    wire::put_expanded_grant(
                        blob,
                        &mut inner,
                        &entitlement,
                        principal,
                        &id,
                        &entries,
                    );
                });
            if statements.insert.is_full() {
                taken.extend(statements.insert.flush(&shared).map_err(err)?);
            }
        }
        taken.extend(statements.insert.flush(&shared).map_err(err)?);
        self.report.grants_created += (fresh.len() - taken.len()) as u64;
        if let Some(mut keep) = keep {
            for h in &fresh {
                let (principal_type, principal_id) = scratch.principal(*h);
                let written = taken.is_empty() || {
                    let id = format!("{destination}:{principal_type}:{principal_id}");
                    !taken.contains(&id)
                };
                if written {
                    let holder = &scratch.holders[*h as usize];
                    let principal = &scratch.principals[holder.principal.0..holder.principal.1];
                    // A new grant's sources never name its own entitlement: not direct.
                    keep.push(principal_type, principal_id, principal, false);
                }
            }
            cache.insert(destination, keep);
        }
        for id in taken {
            self.report.warnings.push(format!(
                "grant id {id} is already used by a grant of another entitlement or principal; \
                 the expanded grant is not written"
            ));
        }
        Ok(())
    }
}

/// The prepared statements of the pass.
struct Statements<'c> {
    entitlement: Statement<'c>,
    grants_of: Statement<'c>,
    insert: Inserter<'c>,
    update: Statement<'c>,
}

/// The new `sources` of a grant the destination already has, or `None` if they do not change:
/// its own key (`is_direct = true`) when it had no sources, each incoming source it lacks, and
/// `is_direct` raised where a direct holding arrives for a key that said indirect.
fn merge_sources<'s>(
    grant: &[u8],
    destination: &str,
    incoming: impl Iterator<Item = (&'s str, bool)>,
) -> Result<Option<BTreeMap<String, bool>>, Malformed> {
    let view = GrantView::parse(grant)?;
    let mut entries: BTreeMap<String, bool> = BTreeMap::new();
    for entry in view.sources() {
        let (key, direct) = entry?;
        let key = std::str::from_utf8(key).map_err(|_| Malformed("source key is not UTF-8"))?;
        entries.insert(key.to_owned(), direct);
    }
    let mut changed = false;
    if entries.is_empty() {
        entries.insert(destination.to_owned(), true);
        changed = true;
    }
    for (source, direct) in incoming {
        match entries.get_mut(source) {
            None => {
                entries.insert(source.to_owned(), direct);
                changed = true;
            }
            Some(existing) if direct && !*existing => {
                *existing = true;
                changed = true;
            }
            Some(_) => {}
        }
    }
    Ok(changed.then_some(entries))
}

/// The holders of one destination, kept without an allocation per holder.
#[derive(Default)]
struct Scratch {
    hasher: foldhash::fast::FixedState,
    /// Holder index by hash of (principal type, principal id).
    table: HashTable<u32>,
    holders: Vec<Holder>,
    /// Principal types and ids of the holders, back to back.
    text: String,
    /// Encoded principals of the holders, back to back.
    principals: Vec<u8>,
}

struct Holder {
    hash: u64,
    /// `text[start..split]` is the principal type, `text[split..end]` its id.
    text: (usize, usize, usize),
    /// `principals[start..end]`.
    principal: (usize, usize),
    sources: Sources,
    /// Whether the destination already has a grant for this principal.
    existing: bool,
}

/// The inputs (indexes into the step's sources) a holder came through, with `is_direct`, in
/// increasing order. Nearly every holder has one.
enum Sources {
    One(u32, bool),
    Many(Vec<(u32, bool)>),
}

impl Sources {
    fn add(&mut self, input: u32, direct: bool) {
        match self {
            Sources::One(i, d) if *i == input => *d |= direct,
            Sources::One(i, d) => *self = Sources::Many(vec![(*i, *d), (input, direct)]),
            Sources::Many(list) => match list.last_mut() {
                Some((i, d)) if *i == input => *d |= direct,
                _ => list.push((input, direct)),
            },
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u32, bool)> + '_ {
        let (one, many) = match self {
            Sources::One(i, d) => (Some((*i, *d)), &[][..]),
            Sources::Many(list) => (None, list.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

impl Scratch {
    fn clear(&mut self) {
        self.table.clear();
        self.holders.clear();
        self.text.clear();
        self.principals.clear();
    }

    fn principal(&self, holder: u32) -> (&str, &str) {
        let (start, split, end) = self.holders[holder as usize].text;
        (&self.text[start..split], &self.text[split..end])
    }

    fn hash(&self, principal_type: &str, principal_id: &str) -> u64 {
        self.hasher.hash_one((principal_type, principal_id))
    }

    fn find(&self, principal_type: &str, principal_id: &str) -> Option<usize> {
        let hash = self.hash(principal_type, principal_id);
        self.table
            .find(hash, |&h| {
                self.holders[h as usize].hash == hash
                    && self.principal(h) == (principal_type, principal_id)
            })
            .map(|&h| h as usize)
    }

    /// Records that the holder `(principal_type, principal_id)` holds the source `input`.
    fn add(
        &mut self,
        principal_type: &str,
        principal_id: &str,
        principal: &[u8],
        input: u32,
        direct: bool,
    ) {
        if let Some(h) = self.find(principal_type, principal_id) {
            self.holders[h].sources.add(input, direct);
            return;
        }
        let hash = self.hash(principal_type, principal_id);
        let start = self.text.len();
        self.text.push_str(principal_type);
        let split = self.text.len();
        self.text.push_str(principal_id);
        let end = self.text.len();
        let p_start = self.principals.len();
        self.principals.extend_from_slice(principal);
        let index = self.holders.len() as u32;
        self.holders.push(Holder {
            hash,
            text: (start, split, end),
            principal: (p_start, self.principals.len()),
            sources: Sources::One(input, direct),
            existing: false,
        });
        let holders = &self.holders;
        self.table
            .insert_unique(hash, index, |&h| holders[h as usize].hash);
    }
}

fn int(row: &Row<'_>, i: usize) -> rusqlite::Result<i64> {
    row.get(i)
}

fn int_or(row: &Row<'_>, i: usize) -> i64 {
    row.get(i).unwrap_or_default()
}

fn text<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    match row.get_ref(i)? {
        ValueRef::Text(b) | ValueRef::Blob(b) => {
            std::str::from_utf8(b).map_err(|e| rusqlite::Error::Utf8Error(i, e))
        }
        _ => Ok(""),
    }
}

fn text_or<'r>(row: &'r Row<'_>, i: usize) -> &'r str {
    match row.get_ref(i) {
        Ok(ValueRef::Text(b) | ValueRef::Blob(b)) => std::str::from_utf8(b).unwrap_or(""),
        _ => "",
    }
}

fn bytes<'r>(row: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    match row.get_ref(i)? {
        ValueRef::Text(b) | ValueRef::Blob(b) => Ok(b),
        _ => Ok(&[]),
    }
}
