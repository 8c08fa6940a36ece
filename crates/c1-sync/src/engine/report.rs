//! The summary of a finished sync.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

/// What a successful [`SyncEngine::run`](crate::SyncEngine::run) wrote. Serializes to JSON with
/// the field names below (the CLI prints it with `--output-format json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SyncReport {
    /// The connector's [`name`](crate::ConnectorMetadata::name).
    pub connector: String,
    /// The KSUID of the sync written.
    pub sync_id: String,
    /// The c1z file written.
    pub output: PathBuf,
    /// Size of the c1z file in bytes.
    pub bytes: u64,
    /// Resource types written.
    pub resource_types: u64,
    /// Resources written, all types.
    pub resources: u64,
    /// Resources written per resource type id (every written type appears, possibly with 0).
    pub resources_by_type: BTreeMap<String, u64>,
    /// Entitlements written.
    pub entitlements: u64,
    /// Grants the connector listed and the engine wrote.
    pub grants: u64,
    /// Grants grant expansion added (inherited through expandable grants), not counted in
    /// [`grants`](Self::grants).
    pub grants_expanded: u64,
    /// Items the connector returned, valid or not (resource types, resources, entitlements,
    /// grants): the base of the warning ratio.
    pub items: u64,
    /// Warnings: invalid items skipped plus warnings the connector attached to pages.
    pub warnings: u64,
    /// The first [`SyncOptions::max_warning_messages`](crate::SyncOptions::max_warning_messages)
    /// warning messages, in order.
    pub warning_messages: Vec<String>,
    /// Transient connector errors that were retried.
    pub retries: u64,
    /// Wall-clock duration of the run in milliseconds.
    pub duration_ms: u64,
}

impl SyncReport {
    /// [`duration_ms`](Self::duration_ms) as a `Duration`.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }
}
