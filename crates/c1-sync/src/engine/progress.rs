//! Progress events the engine reports while it runs.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// A step of a sync, in the order the engine runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// [`Connector::validate`](crate::Connector::validate).
    Validate,
    /// Collecting and writing the resource types.
    ResourceTypes,
    /// Listing resources (child types after their parents).
    Resources,
    /// Listing the entitlements of each resource.
    Entitlements,
    /// Listing the grants of each resource.
    Grants,
    /// Writing the grants that expandable grants imply (`c1_sync::expand`).
    Expansion,
    /// Saving the c1z file.
    Save,
}

impl Phase {
    /// Lowercase name, as used in messages: `validate`, `resource types`, `resources`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::ResourceTypes => "resource types",
            Self::Resources => "resources",
            Self::Entitlements => "entitlements",
            Self::Grants => "grants",
            Self::Expansion => "grant expansion",
            Self::Save => "save",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Running totals of what has been written so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Totals {
    /// Resource types written.
    pub resource_types: u64,
    /// Resources written.
    pub resources: u64,
    /// Entitlements written.
    pub entitlements: u64,
    /// Grants written.
    pub grants: u64,
    /// Warnings so far (skipped items and connector warnings).
    pub warnings: u64,
}

/// Something that happened during a sync, delivered to the callback given to
/// [`SyncEngine::with_progress`](crate::SyncEngine::with_progress).
///
/// Events other than [`Retry`](Self::Retry) arrive in a deterministic order (the order items are
/// written), whatever the concurrency; `Retry` events arrive when the retry is scheduled. The
/// callback runs on the sync's task: keep it cheap (update a progress bar, send on a channel).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// A phase started. For `Resources`, `Entitlements` and `Grants` this is sent once with
    /// `resource_type: None` when the phase begins, then once per resource type (`Some`) when
    /// the first page of that type is written.
    PhaseStarted {
        /// The phase.
        phase: Phase,
        /// The resource type, for per-type events.
        resource_type: Option<String>,
    },
    /// A page was validated and written.
    PageDone {
        /// `Resources`, `Entitlements` or `Grants`.
        phase: Phase,
        /// The resource type of the syncer that returned the page.
        resource_type: String,
        /// Items written from this page.
        items: u64,
        /// Items of this page that were invalid and skipped.
        skipped: u64,
        /// Running totals after this page.
        totals: Totals,
    },
    /// An item was skipped, or the connector reported a problem on a page.
    Warning {
        /// The phase.
        phase: Phase,
        /// The resource type involved, if any.
        resource_type: Option<String>,
        /// What happened, in one line.
        message: String,
    },
    /// A transient connector error; the call is retried after `wait`.
    Retry {
        /// The phase.
        phase: Phase,
        /// The resource type whose syncer failed (`None` for `validate`).
        resource_type: Option<String>,
        /// The attempt that failed (1 = the first call).
        attempt: u32,
        /// How long the engine waits before the next attempt.
        wait: Duration,
        /// The connector's error message.
        error: String,
    },
    /// The sync finished and the file was saved.
    Finished {
        /// The sync's id.
        sync_id: String,
        /// Final totals.
        totals: Totals,
        /// Wall-clock duration of the whole run.
        duration: Duration,
    },
}
