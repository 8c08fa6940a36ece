//! Expanding one destination entitlement: its holders from every incoming edge, new grants
//! written in chunks, existing grants given their sources.

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;
use rusqlite::{Statement, params};

use crate::expand::cache::{HolderCache, Holders};
use crate::expand::graph::Step;
use crate::expand::insert::{Inserter, Shared};
use crate::expand::wire::{self, GrantView, Malformed};
use crate::store::StoreError;

use super::deferred::grant_id;
use super::scratch::Scratch;
use super::{HELD_MAX, Pass};
use super::{bytes, int, int_or, text, text_or};

/// Most holders of a destination looked up one by one rather than by reading its grants.
const POINT_LOOKUPS: usize = 256;

/// The grants of one entitlement held by given principals, through
/// `idx_grants_entitlement_id_principal_id_v1`; the `(type, id)` pairs follow.
const GRANTS_OF_HOLDERS: &str = "select id, external_id, principal_resource_type_id, \
     principal_resource_id, data from v1_grants \
     where entitlement_id = ?1 and sync_id = ?2 \
     and (principal_resource_type_id, principal_resource_id) in (values";

impl Pass<'_> {
    /// Expands one destination: reads the holders of its sources, merges them, updates the
    /// grants it already has and writes the new ones.
    pub(super) fn expand(
        &mut self,
        steps: &[Step],
        index: usize,
        statements: &mut Statements<'_>,
        scratch: &mut Scratch,
        cache: &mut HolderCache,
    ) -> Result<(), StoreError> {
        const ACTION: &str = "expand grants";
        let path = self.path;
        let err = |e| StoreError::sqlite(path, ACTION, e);
        let step = &steps[index];
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
            // A few holders against a destination that may have many grants (every member
            // holds an organization role): look the holders up instead of reading every grant.
            // Both read the same rows for the holders, in the same order.
            let mut lookup;
            let point = keep.is_none() && scratch.holders.len() <= POINT_LOOKUPS;
            let mut rows = if point {
                let mut values: Vec<String> = Vec::with_capacity(2 + 2 * scratch.holders.len());
                values.push(destination.to_owned());
                values.push(self.sync_id.to_owned());
                for h in 0..scratch.holders.len() as u32 {
                    let (principal_type, principal_id) = scratch.principal(h);
                    values.push(principal_type.to_owned());
                    values.push(principal_id.to_owned());
                }
                let pairs: Vec<String> = (0..scratch.holders.len())
                    .map(|i| format!("(?{}, ?{})", 3 + 2 * i, 4 + 2 * i))
                    .collect();
                lookup = self.prepare(&format!(
                    "{GRANTS_OF_HOLDERS} {}) order by id",
                    pairs.join(", ")
                ))?;
                lookup
                    .query(rusqlite::params_from_iter(values.iter()))
                    .map_err(|e| self.sql(ACTION, e))?
            } else {
                statements
                    .grants_of
                    .query(params![destination, self.sync_id])
                    .map_err(|e| self.sql(ACTION, e))?
            };
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
        let taken = if let Some(deferred) = self.deferred.as_mut() {
            // Held, and written with the rest once every destination is expanded.
            deferred.begin(
                index as u32,
                entitlement_type,
                entitlement_resource,
                entitlement,
            );
            for h in &fresh {
                let holder = &scratch.holders[*h as usize];
                let (principal_type, principal_id) = scratch.principal(*h);
                let principal = &scratch.principals[holder.principal.0..holder.principal.1];
                deferred.push(
                    principal_type,
                    principal_id,
                    principal,
                    holder.sources.iter(),
                );
            }
            if deferred.len() > HELD_MAX {
                self.write_deferred(steps, &mut statements.insert)?;
            }
            Vec::new()
        } else {
            let shared = Shared {
                sync_id: self.sync_id,
                now: self.now,
                resource_type: &entitlement_type,
                resource: &entitlement_resource,
                entitlement: destination,
            };
            let mut taken = Vec::new();
            let mut entries: Vec<(&str, bool)> = Vec::new();
            let mut id = String::new();
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
                grant_id(&mut id, destination, principal_type, principal_id);
                statements
                    .insert
                    .rows()
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
            taken
        };
        self.report.grants_created += fresh.len() as u64;
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
            if !cache.insert(destination, keep) && self.deferred.is_some() {
                // A later step will read this destination from the store: the held grants
                // go there now, and the rest of the pass writes as it goes.
                self.write_deferred(steps, &mut statements.insert)?;
            }
        }
        self.taken(taken);
        Ok(())
    }
}

/// The prepared statements of the pass.
pub(super) struct Statements<'c> {
    pub(super) entitlement: Statement<'c>,
    pub(super) grants_of: Statement<'c>,
    pub(super) insert: Inserter<'c>,
    pub(super) update: Statement<'c>,
}

/// The new `sources` of a grant the destination already has, or `None` if they do not change:
/// its own key (`is_direct = true`) when it had no sources, each incoming source it lacks, and
/// `is_direct` raised where a direct holding arrives for a key that said indirect.
pub(super) fn merge_sources<'s>(
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
