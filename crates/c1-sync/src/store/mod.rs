//! The c1z store: writes and reads ConductorOne sync files in the v1 format.
//!
//! A c1z v1 file is the 5 bytes `C1ZF\0` followed by one zstd frame whose content is a SQLite
//! database with the baton-sdk schema (`v1_sync_runs`, `v1_resource_types`, `v1_resources`,
//! `v1_entitlements`, `v1_grants`, `v1_assets`, `v1_connector_sessions`). The `data` columns hold
//! deterministic protobuf encodings of the `c1.connector.v2` messages. See
//! `docs/c1z-format.md` §1 for the format and the conventions followed here.
//!
//! - [`C1zWriter`] records one full sync. One writer per file: it first takes an exclusive lock
//!   on `<target>.lock` (a second writer fails at once with [`StoreError::Busy`]), then works on
//!   a scratch database in a temporary directory beside the target and only touches the target
//!   in [`C1zWriter::finish`], which writes the new file into that directory (a file no other
//!   writer can share), fsyncs it and renames it over the target. When the target already
//!   holds a c1z, its latest finished full sync is carried over so the file ends with the
//!   previous and the current sync (what `baton diff` compares).
//! - [`C1zReader`] decompresses a file into a temporary directory (removed on drop, at most
//!   4 GiB decoded) and reads sync runs and the objects of one sync.
//!
//! Stability: the types here are `#[non_exhaustive]`; fields and methods may be added.

mod database_thread;
mod envelope;
mod error;
mod lock;
mod reader;
mod schema;
pub(crate) mod threads;
mod time;
mod workdir;
mod writer;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use envelope::DEFAULT_MAX_DECODED_BYTES;
pub use error::StoreError;
pub use reader::C1zReader;
pub use writer::{C1zWriter, FinishedSync};

/// One row of `v1_sync_runs`.
///
/// Timestamps are kept as the text the file stores (`YYYY-MM-DD HH:MM:SS[.fraction]`, local time of
/// the writer, no zone), since that is what baton's readers compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SyncRun {
    /// KSUID of the sync.
    pub sync_id: String,
    /// When the sync started.
    pub started_at: String,
    /// When the sync ended; `None` for an unfinished sync.
    pub ended_at: Option<String>,
    /// `full`, `partial`, `resources_only`, ...
    pub sync_type: String,
    /// The syncer's checkpoint token (empty for syncs written by this crate).
    pub sync_token: String,
    /// Parent sync of a partial sync; empty otherwise.
    pub parent_sync_id: String,
    /// The counts stored when the sync ended, if any and if they parse.
    pub stats: Option<SyncStats>,
}

impl SyncRun {
    /// Whether the sync has ended.
    pub fn is_finished(&self) -> bool {
        self.ended_at.is_some()
    }
}

/// Object counts of one sync, stored as JSON in `v1_sync_runs.stats` with the snake_case keys of
/// baton's `c1.reader.v2.SyncStats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncStats {
    /// Number of resource types.
    #[serde(default)]
    pub resource_types: u64,
    /// Number of resources of all types.
    #[serde(default)]
    pub resources: u64,
    /// Number of resources per resource type id (every stored resource type appears, possibly with 0).
    #[serde(default)]
    pub resources_by_resource_type: BTreeMap<String, u64>,
    /// Number of entitlements.
    #[serde(default)]
    pub entitlements: u64,
    /// Number of grants.
    #[serde(default)]
    pub grants: u64,
}
