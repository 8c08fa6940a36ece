//! [`SyncEngine`]: drives a [`Connector`] through the phases of a full sync into a c1z file.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use c1_model::pb;

use crate::engine::connector::Connector;
#[cfg(doc)]
use crate::engine::connector::ResourceSyncer;
use crate::engine::keyset::KeySet;
use crate::engine::options::SyncOptions;
use crate::engine::progress::{Phase, ProgressEvent};
use crate::engine::report::SyncReport;
use crate::error::SyncError;
use crate::store::{C1zWriter, StoreError};

mod context;
mod per_resource;
mod resources;

use context::{Ctx, State};
use per_resource::{Entitlements, Grants, sync_per_resource};
use resources::{collect_types, sync_resources};

pub(super) type ProgressFn = dyn Fn(&ProgressEvent) + Send + Sync;

/// Runs full syncs of a [`Connector`] into c1z files.
///
/// One [`run`](Self::run) is one full sync:
///
/// 1. **validate** — [`Connector::validate`];
/// 2. **resource types** — every syncer's [`ResourceSyncer::resource_type`], in syncer order;
/// 3. **resources** — every syncer listed with no parent, in syncer order; then the child
///    listings that `ChildResourceType` annotations on those resources ask for, in the order the
///    parents were written; then their children, and so on;
/// 4. **entitlements** — for every resource (in the order written) unless its type or itself
///    carries `SkipEntitlements` or `SkipEntitlementsAndGrants`;
/// 5. **grants** — likewise, unless `SkipGrants` or `SkipEntitlementsAndGrants`;
/// 6. **grant expansion** — the grants that expandable grants imply are written into the store
///    ([`crate::expand`]); a missing source entitlement is a warning, a source entitlement of
///    another resource than the grant's principal fails the run with [`SyncError::Expansion`];
/// 7. **save** — the sync is ended and the c1z file replaced atomically.
///
/// [`Connector::begin_sync`] runs after validate; [`Connector::end_sync`] once the grants are
/// listed (or when the run fails or is dropped).
///
/// Within a phase, up to [`SyncOptions::workers`] listings run at once, yet items are written in
/// exactly the order described above, so the same connector data always gives the same rows in
/// the same order. Pages are streamed to the store; between phases, only the resources that still
/// need entitlements or grants are kept, in an anonymous temporary file, and only their ids (and
/// the entitlement ids) stay in memory for validation.
///
/// Every item is validated before it is written, against the size rules of `c1.connector.v2`
/// among others: an invalid item (an id empty or over 1024 bytes, a reference to an item not
/// listed) is skipped and counted as a warning (see [`SyncReport::warnings`]); text over its limit
/// (display names and status details 1024 bytes, descriptions 2048, a resource type's 4096) is
/// cut at a character boundary and the item kept, with one warning per item. Transient connector errors are retried with
/// exponential backoff; a permanent error, too many failed attempts, or too many warnings (more
/// than 10 *and* more than 10 % of the items) fail the run with a [`SyncError`] and leave the
/// output file exactly as it was. Dropping the future returned by `run` cancels the sync with
/// the same guarantee.
pub struct SyncEngine {
    options: SyncOptions,
    progress: Option<Arc<ProgressFn>>,
}

impl fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncEngine")
            .field("options", &self.options)
            .field("progress", &self.progress.as_ref().map(|_| "callback"))
            .finish()
    }
}

impl Default for SyncEngine {
    fn default() -> Self {
        Self::new(SyncOptions::default())
    }
}

impl SyncEngine {
    /// An engine with these options and no progress callback.
    pub fn new(options: SyncOptions) -> Self {
        Self {
            options,
            progress: None,
        }
    }

    /// Calls `callback` with every [`ProgressEvent`] of later runs.
    pub fn with_progress(
        mut self,
        callback: impl Fn(&ProgressEvent) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// The options.
    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    /// Runs one full sync of `connector` into the c1z file at `output`.
    ///
    /// If `output` already holds a c1z file, its latest finished sync is kept next to the new one
    /// (see [`C1zWriter::open`]). Nothing is written to `output` unless the whole sync succeeds.
    ///
    /// The store writes with blocking file I/O on the calling task; run the sync on a runtime
    /// where that is acceptable (a CLI's main runtime is).
    pub async fn run(
        &self,
        connector: &dyn Connector,
        output: &Path,
    ) -> Result<SyncReport, SyncError> {
        let started = Instant::now();
        let ctx = Ctx {
            options: &self.options,
            progress: self.progress.as_deref(),
            retries: AtomicU64::new(0),
        };
        let metadata = connector.metadata();
        // The output's lock first: a second sync into the same file stops before any request.
        let mut writer = C1zWriter::open(output)?;

        ctx.emit(&ProgressEvent::PhaseStarted {
            phase: Phase::Validate,
            resource_type: None,
        });
        ctx.call(Phase::Validate, None, || connector.validate())
            .await
            .map_err(|(attempts, source)| SyncError::Validate { attempts, source })?;

        // Ends the connector's run state when dropped: after the grants phase below, or on any
        // early return or cancellation.
        let run_state = EndSync(connector);
        ctx.call(Phase::Validate, None, || connector.begin_sync())
            .await
            .map_err(|(attempts, source)| SyncError::BeginSync { attempts, source })?;

        let mut state = State::new(self.options.max_warning_messages);

        ctx.emit(&ProgressEvent::PhaseStarted {
            phase: Phase::ResourceTypes,
            resource_type: None,
        });
        let types = collect_types(&ctx, &mut state, connector.resource_syncers());
        let resource_types: Vec<pb::ResourceType> =
            types.iter().map(|ty| ty.resource_type.clone()).collect();
        writer.put_resource_types(&resource_types)?;
        state.totals.resource_types = resource_types.len() as u64;
        state.resources_by_type = types.iter().map(|ty| (ty.rules.id.clone(), 0)).collect();

        let mut spool = sync_resources(&ctx, &mut state, &mut writer, &types)
            .await?
            .finish()?;
        tracing::debug!(
            resources = state.totals.resources,
            spooled = spool.len(),
            "resources listed; spooled those that need entitlements or grants"
        );
        sync_per_resource::<Entitlements>(&ctx, &mut state, &mut writer, &types, &mut spool)
            .await?;
        sync_per_resource::<Grants>(&ctx, &mut state, &mut writer, &types, &mut spool).await?;
        drop(spool);
        drop(types);
        drop(run_state);
        // Nothing checks ids against them any more: their memory goes before expansion and save.
        state.resources = KeySet::default();
        state.entitlements = KeySet::default();

        if too_many_warnings(
            state
                .totals
                .warnings
                .saturating_sub(state.expected_warnings),
            state.items,
        ) {
            return Err(SyncError::TooManyWarnings {
                warnings: state.totals.warnings,
                items: state.items,
                first: state.warning_messages.first().cloned().unwrap_or_default(),
            });
        }

        ctx.emit(&ProgressEvent::PhaseStarted {
            phase: Phase::Expansion,
            resource_type: None,
        });
        let finished = writer
            .finish_then(|expansion| {
                for warning in &expansion.warnings {
                    state.warn(&ctx, Phase::Expansion, None, warning);
                }
                ctx.emit(&ProgressEvent::PhaseStarted {
                    phase: Phase::Save,
                    resource_type: None,
                });
            })
            .map_err(|e| match e {
                StoreError::Expansion { source, .. } => SyncError::Expansion { source },
                other => SyncError::from(other),
            })?;
        let duration = started.elapsed();
        ctx.emit(&ProgressEvent::Finished {
            sync_id: finished.sync_id.clone(),
            totals: state.totals,
            duration,
        });
        Ok(SyncReport {
            connector: metadata.name,
            sync_id: finished.sync_id,
            output: finished.path,
            bytes: finished.bytes,
            resource_types: state.totals.resource_types,
            resources: state.totals.resources,
            resources_by_type: state.resources_by_type,
            entitlements: state.totals.entitlements,
            grants: state.totals.grants,
            grants_expanded: finished.expansion.grants_created,
            items: state.items,
            warnings: state.totals.warnings,
            warning_messages: state.warning_messages,
            retries: ctx.retries.load(Ordering::Relaxed),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// Calls [`Connector::end_sync`] when dropped.
struct EndSync<'c>(&'c dyn Connector);

impl Drop for EndSync<'_> {
    fn drop(&mut self) {
        self.0.end_sync();
    }
}

/// Whether the warnings fail the sync: more than 10, and more than 10 % of the items.
pub(crate) fn too_many_warnings(warnings: u64, items: u64) -> bool {
    warnings > 10 && warnings.saturating_mul(10) > items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_threshold_needs_more_than_ten_and_more_than_ten_percent() {
        assert!(!too_many_warnings(10, 10));
        assert!(!too_many_warnings(11, 110));
        assert!(too_many_warnings(11, 109));
        assert!(too_many_warnings(11, 0));
        assert!(!too_many_warnings(0, 0));
        assert!(!too_many_warnings(100, 1000));
        assert!(too_many_warnings(101, 1000));
    }
}
