//! The new grants of a large expansion, held compactly until every destination is expanded.
//!
//! A grant is kept as its destination, an interned principal and its sources (the step's
//! inputs it came through); its bytes are built only when it is written. Holding them lets the
//! pass write the grants table once, in key order (see `rewrite.rs`), instead of placing each
//! destination's grants between rows already stored.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::expand::graph::Step;
use crate::expand::insert::{Inserter, Shared};
use crate::expand::wire;

/// A destination with new grants.
pub(super) struct Destination {
    /// Index of its step in the plan.
    pub(super) step: u32,
    pub(super) resource_type: String,
    pub(super) resource: String,
    /// The stored entitlement, embedded in every grant.
    pub(super) entitlement: Vec<u8>,
    /// `grants[start..end]`.
    grants: (usize, usize),
}

struct NewGrant {
    principal: u32,
    /// `sources[start..end]`: `input << 1 | is_direct`.
    sources: (u32, u32),
}

/// Principals by `(type, id, encoded principal)`, each stored once.
#[derive(Default)]
struct Principals {
    hasher: foldhash::fast::FixedState,
    table: HashTable<u32>,
    rows: Vec<Principal>,
    text: String,
    bytes: Vec<u8>,
}

/// `text[start..split]` is the type, `text[split..end]` the id, `bytes[bytes.0..bytes.1]` the
/// encoded principal.
struct Principal {
    hash: u64,
    start: u32,
    split: u32,
    end: u32,
    bytes: (u32, u32),
}

impl Principals {
    fn get(&self, index: u32) -> (&str, &str, &[u8]) {
        let row = &self.rows[index as usize];
        (
            &self.text[row.start as usize..row.split as usize],
            &self.text[row.split as usize..row.end as usize],
            &self.bytes[row.bytes.0 as usize..row.bytes.1 as usize],
        )
    }

    fn intern(&mut self, principal_type: &str, principal_id: &str, principal: &[u8]) -> u32 {
        let hash = self
            .hasher
            .hash_one((principal_type, principal_id, principal));
        let found = self.table.find(hash, |&i| {
            self.rows[i as usize].hash == hash
                && self.get(i) == (principal_type, principal_id, principal)
        });
        if let Some(&index) = found {
            return index;
        }
        let start = self.text.len() as u32;
        self.text.push_str(principal_type);
        let split = self.text.len() as u32;
        self.text.push_str(principal_id);
        let end = self.text.len() as u32;
        let from = self.bytes.len() as u32;
        self.bytes.extend_from_slice(principal);
        let index = self.rows.len() as u32;
        self.rows.push(Principal {
            hash,
            start,
            split,
            end,
            bytes: (from, self.bytes.len() as u32),
        });
        let rows = &self.rows;
        self.table
            .insert_unique(hash, index, |&i| rows[i as usize].hash);
        index
    }
}

/// The new grants of the expansion so far, by destination in step order, each destination's in
/// principal order.
#[derive(Default)]
pub(super) struct Deferred {
    destinations: Vec<Destination>,
    grants: Vec<NewGrant>,
    sources: Vec<u32>,
    principals: Principals,
}

/// One new grant, ready to be written.
pub(super) struct Ready<'d> {
    pub(super) principal_type: &'d str,
    pub(super) principal_id: &'d str,
    pub(super) principal: &'d [u8],
    /// `(input, is_direct)`, inputs into the destination step's sources.
    pub(super) sources: &'d [u32],
}

impl Deferred {
    /// New grants held.
    pub(super) fn len(&self) -> usize {
        self.grants.len()
    }

    /// Starts the new grants of a destination; [`push`](Self::push) adds them.
    pub(super) fn begin(
        &mut self,
        step: u32,
        resource_type: String,
        resource: String,
        entitlement: Vec<u8>,
    ) {
        let at = self.grants.len();
        self.destinations.push(Destination {
            step,
            resource_type,
            resource,
            entitlement,
            grants: (at, at),
        });
    }

    /// Adds a new grant to the destination begun last.
    pub(super) fn push(
        &mut self,
        principal_type: &str,
        principal_id: &str,
        principal: &[u8],
        sources: impl Iterator<Item = (u32, bool)>,
    ) {
        let principal = self
            .principals
            .intern(principal_type, principal_id, principal);
        let start = self.sources.len() as u32;
        self.sources
            .extend(sources.map(|(input, direct)| input << 1 | u32::from(direct)));
        self.grants.push(NewGrant {
            principal,
            sources: (start, self.sources.len() as u32),
        });
        if let Some(last) = self.destinations.last_mut() {
            last.grants.1 = self.grants.len();
        }
    }

    /// The destinations, in step order.
    pub(super) fn destinations(&self) -> &[Destination] {
        &self.destinations
    }

    /// `grants_of(destination)` as indexes for [`grant`](Self::grant).
    pub(super) fn range(destination: &Destination) -> std::ops::Range<usize> {
        destination.grants.0..destination.grants.1
    }

    /// The new grant at `index`.
    pub(super) fn grant(&self, index: usize) -> Ready<'_> {
        let g = &self.grants[index];
        let (principal_type, principal_id, principal) = self.principals.get(g.principal);
        Ready {
            principal_type,
            principal_id,
            principal,
            sources: &self.sources[g.sources.0 as usize..g.sources.1 as usize],
        }
    }

    /// The new grants of `destination`, in principal order.
    pub(super) fn grants_of<'d>(
        &'d self,
        destination: &Destination,
    ) -> impl Iterator<Item = Ready<'d>> + 'd {
        Self::range(destination).map(|index| self.grant(index))
    }

    /// Writes every held grant through `insert` (destinations in step order), as the pass
    /// writes them when it does not hold them. Returns the grant ids that were taken.
    pub(super) fn write_into(
        &self,
        insert: &mut Inserter<'_>,
        steps: &[Step],
        sync_id: &str,
        now: &str,
    ) -> rusqlite::Result<Vec<String>> {
        let mut taken = Vec::new();
        let (mut id, mut inner) = (String::new(), Vec::new());
        for destination in &self.destinations {
            let step = &steps[destination.step as usize];
            let shared = Shared {
                sync_id,
                now,
                resource_type: &destination.resource_type,
                resource: &destination.resource,
                entitlement: &step.destination,
            };
            for ready in self.grants_of(destination) {
                grant_id(
                    &mut id,
                    &step.destination,
                    ready.principal_type,
                    ready.principal_id,
                );
                insert
                    .rows()
                    .push(ready.principal_type, ready.principal_id, &id, |blob| {
                        put_grant(
                            blob,
                            &mut inner,
                            step,
                            &destination.entitlement,
                            &id,
                            &ready,
                        );
                    });
                if insert.is_full() {
                    taken.extend(insert.flush(&shared)?);
                }
            }
            taken.extend(insert.flush(&shared)?);
        }
        Ok(taken)
    }
}

/// Sets `id` to the grant id `<destination>:<principal type>:<principal id>`.
pub(super) fn grant_id(
    id: &mut String,
    destination: &str,
    principal_type: &str,
    principal_id: &str,
) {
    id.clear();
    id.push_str(destination);
    id.push(':');
    id.push_str(principal_type);
    id.push(':');
    id.push_str(principal_id);
}

/// Appends the new grant `id` of `step`'s destination to `blob` (`inner` is scratch space).
pub(super) fn put_grant(
    blob: &mut Vec<u8>,
    inner: &mut Vec<u8>,
    step: &Step,
    entitlement: &[u8],
    id: &str,
    ready: &Ready<'_>,
) {
    let entries: Vec<(&str, bool)> = ready
        .sources
        .iter()
        .map(|&s| (step.inputs[(s >> 1) as usize].0.as_str(), s & 1 == 1))
        .collect();
    wire::put_expanded_grant(blob, inner, entitlement, ready.principal, id, &entries);
}
