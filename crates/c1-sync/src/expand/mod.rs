//! Grant expansion: the last phase of a full sync, run over the store before it is saved.
//!
//! A grant of entitlement **D** to principal **P** that carries `GrantExpandable {
//! entitlement_ids: [S, …], shallow, resource_type_ids }` says "whoever holds S also holds D".
//! Expansion writes those inherited grants, so the file holds everyone's effective access, each
//! grant with the entitlements it came from. It does what ConductorOne's SDK does (see
//! `docs/grant-expansion.md` for the rules and where they come from):
//!
//! 1. **Collect** the expandable grants of the sync (`expansion` set, `needs_expansion = 1`).
//!    Files written before those columns existed keep `GrantExpandable` inside the grant blob;
//!    it is moved to the columns first, as the SDK does when it opens such a file.
//! 2. **Check** every source entitlement S: one missing from the sync drops its edge with a
//!    warning; one that belongs to a resource other than the grant's principal fails the sync
//!    with [`ExpansionError::SourceNotOfPrincipal`], naming both. A destination missing from the
//!    sync drops the edge with a warning too.
//! 3. **Merge** duplicate edges (deep wins over shallow, unfiltered over filtered, two filters
//!    give their union) and **collapse cycles**: the entitlements of a cycle become one node
//!    whose members do not receive each other's holders.
//! 4. **Expand** the destinations in topological order, so each source is complete before its
//!    holders are carried further: for each edge S → D, every holder U of S (of an admitted
//!    principal type; only direct holders when the edge is shallow) holds D.
//!    - U had no grant on D: a new grant `<D>:<U type>:<U id>` is written, embedding the stored
//!      entitlement D and U as the grant on S had it, with `sources = {S: is_direct}` (one key
//!      per immediate upstream entitlement) and one empty `GrantImmutable` annotation.
//!    - U already had a grant on D: its `sources` gains D itself (`is_direct = true`) if it had
//!      none, and every S not yet there; nothing else of the grant changes.
//!
//!    `is_direct` on key S says whether U's grant on S is direct (it has no sources, or has S
//!    itself among them).
//! 5. The sync row gets `supports_diff = 1`. Expandable grants keep their `expansion` column
//!    and `needs_expansion = 1`, as the SDK leaves them.
//!
//! # How it scales
//!
//! The graph (one entry per edge) is the only structure that lives through the whole phase.
//! Each destination is expanded on its own: the holders of its sources are read from the store
//! through the grants' entitlement index, merged in memory, compared with the grants the
//! destination already has, and written back before the next destination starts. So the work
//! is linear in the edges plus the grants read and written (each grant of a source is read once
//! per outgoing edge, and each read yields at most one grant or source entry written), and the
//! memory is the graph plus the holders of one destination, never all grants. No depth limit
//! is needed: the order is topological, and cycles are collapsed first.
//!
//! A large expansion holds its new grants instead (a dozen bytes each, their bytes built when
//! written) and writes the grants table once more with them, in key order, so SQLite appends
//! to each index instead of descending it for every row (`pass/rewrite.rs`); the work stays
//! linear, in every grant of the file.

mod cache;
mod graph;
mod insert;
mod pass;
mod wire;

use serde::Serialize;

pub(crate) use pass::{Writing, expand_sync};

/// What the expansion phase of a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ExpansionReport {
    /// Expandable grants found in the sync.
    pub expandable_grants: u64,
    /// Distinct edges (source → destination entitlement) after merging duplicates, dropped
    /// ones excluded.
    pub edges: u64,
    /// Edges dropped because their source or destination entitlement is not in the sync.
    pub dropped_edges: u64,
    /// Cycles collapsed into one node each.
    pub cycles: u64,
    /// Grants of source entitlements carried over an edge (after type filters and shallow
    /// edges).
    pub grants_read: u64,
    /// New grants written.
    pub grants_created: u64,
    /// Existing grants whose `sources` changed.
    pub grants_updated: u64,
    /// Whether the grants table was written again, in key order, with the new grants (a
    /// large expansion; see `docs/grant-expansion.md`).
    pub grants_table_rewritten: bool,
    /// One message per dropped edge, collapsed cycle or skipped grant.
    pub warnings: Vec<String>,
    /// Wall time of the phase, in milliseconds.
    pub duration_ms: u64,
}

/// Why grant expansion failed. The store wraps it in
/// [`StoreError::Expansion`](crate::StoreError::Expansion), which names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpansionError {
    /// An expandable grant names a source entitlement of another resource than its principal:
    /// a grant can only be expanded from its principal's own entitlements.
    #[error(
        "grant {grant} is expandable from entitlement {source_entitlement}, which belongs to \
         {source_resource}, not to the grant's principal {principal}"
    )]
    SourceNotOfPrincipal {
        /// The expandable grant's id.
        grant: String,
        /// The source entitlement it names.
        source_entitlement: String,
        /// `<type>:<id>` of the resource the source entitlement belongs to.
        source_resource: String,
        /// `<type>:<id>` of the grant's principal.
        principal: String,
    },

    /// A stored grant, or its `expansion` column, is not a valid protobuf message.
    #[error("grant {grant} (row {row_id}): {what} is not a valid protobuf message ({reason})")]
    Malformed {
        /// The grant's id.
        grant: String,
        /// Its row in `v1_grants`.
        row_id: i64,
        /// `the grant`, `its GrantExpandable annotation`, ...
        what: &'static str,
        /// What is wrong with the bytes.
        reason: String,
    },
}
