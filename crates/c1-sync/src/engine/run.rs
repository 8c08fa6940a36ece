//! [`SyncEngine`]: drives a [`Connector`] through the phases of a full sync into a c1z file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use backon::Retryable;
use c1_model::{annotations, pb};

use crate::engine::connector::{Connector, Page, ResourceSyncer};
use crate::engine::keyset::KeySet;
use crate::engine::options::SyncOptions;
use crate::engine::pipeline::{Job, run_ordered};
use crate::engine::progress::{Phase, ProgressEvent, Totals};
use crate::engine::report::SyncReport;
use crate::engine::spool::{NEEDS_ENTITLEMENTS, NEEDS_GRANTS, Spool, SpoolWriter};
use crate::engine::validate::{self, TypeRules, resource_key_into, show, show_resource};
use crate::error::{ConnectorError, SyncError};
use crate::store::{C1zWriter, StoreError};

type ProgressFn = dyn Fn(&ProgressEvent) + Send + Sync;

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
        sync_entitlements(&ctx, &mut state, &mut writer, &types, &mut spool).await?;
        sync_grants(&ctx, &mut state, &mut writer, &types, &mut spool).await?;
        drop(spool);
        drop(types);
        drop(run_state);

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

/// Shared, read-only context of a run (the part concurrent listing calls use).
struct Ctx<'a> {
    options: &'a SyncOptions,
    progress: Option<&'a ProgressFn>,
    retries: AtomicU64,
}

impl Ctx<'_> {
    fn emit(&self, event: &ProgressEvent) {
        if let Some(progress) = self.progress {
            progress(event);
        }
    }

    /// Calls `op` until it succeeds, fails permanently, or runs out of attempts. On failure
    /// returns the number of attempts made and the last error.
    async fn call<T, F, Fut>(
        &self,
        phase: Phase,
        resource_type: Option<&str>,
        op: F,
    ) -> Result<T, (u32, ConnectorError)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let attempts = AtomicU32::new(1);
        op.retry(self.options.backoff())
            .when(ConnectorError::is_transient)
            .adjust(|error, backoff| {
                backoff.map(|wait| self.options.wait(wait, error.retry_after()))
            })
            .notify(|error, wait| {
                let attempt = attempts.fetch_add(1, Ordering::Relaxed);
                self.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    %phase,
                    resource_type,
                    attempt,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "transient connector error, retrying: {error}"
                );
                self.emit(&ProgressEvent::Retry {
                    phase,
                    resource_type: resource_type.map(str::to_owned),
                    attempt,
                    wait,
                    error: error.to_string(),
                });
            })
            .await
            .map_err(|error| (attempts.load(Ordering::Relaxed), error))
    }

    /// A listing call for `job`, with retries, as the pipeline's fetch step.
    async fn list<T, F, Fut>(
        &self,
        phase: Phase,
        resource_type: &str,
        op: F,
    ) -> Result<Page<T>, SyncError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Page<T>, ConnectorError>>,
    {
        self.call(phase, Some(resource_type), op)
            .await
            .map_err(|(attempts, source)| SyncError::Connector {
                phase,
                resource_type: resource_type.to_owned(),
                attempts,
                source,
            })
    }
}

/// Mutable state of a run, touched only by the (sequential) consumer of pages.
struct State {
    totals: Totals,
    /// Warnings the connector marked expected: counted in `totals`, not toward the limit.
    expected_warnings: u64,
    items: u64,
    warning_messages: Vec<String>,
    max_warning_messages: usize,
    resources_by_type: BTreeMap<String, u64>,
    /// `resource_key` of every resource written.
    resources: KeySet,
    /// Id of every entitlement written.
    entitlements: KeySet,
    /// Resource types whose per-type `PhaseStarted` was sent in the current phase.
    started: HashSet<String>,
}

impl State {
    fn new(max_warning_messages: usize) -> Self {
        Self {
            totals: Totals::default(),
            expected_warnings: 0,
            items: 0,
            warning_messages: Vec::new(),
            max_warning_messages,
            resources_by_type: BTreeMap::new(),
            resources: KeySet::default(),
            entitlements: KeySet::default(),
            started: HashSet::new(),
        }
    }

    fn warn(&mut self, ctx: &Ctx<'_>, phase: Phase, resource_type: Option<&str>, message: &str) {
        self.totals.warnings += 1;
        let message = match resource_type {
            Some(resource_type) => format!("{phase} of {}: {message}", show(resource_type)),
            None => format!("{phase}: {message}"),
        };
        tracing::warn!(%phase, resource_type, "{message}");
        if self.warning_messages.len() < self.max_warning_messages {
            self.warning_messages.push(message.clone());
        }
        ctx.emit(&ProgressEvent::Warning {
            phase,
            resource_type: resource_type.map(str::to_owned),
            message,
        });
    }

    fn begin_phase(&mut self, ctx: &Ctx<'_>, phase: Phase) {
        self.started.clear();
        ctx.emit(&ProgressEvent::PhaseStarted {
            phase,
            resource_type: None,
        });
    }

    /// Sends the per-type `PhaseStarted` the first time a type shows up in a phase, and counts the
    /// page's items and warnings.
    fn begin_page<T>(
        &mut self,
        ctx: &Ctx<'_>,
        phase: Phase,
        resource_type: &str,
        page: &mut Page<T>,
    ) {
        if !self.started.contains(resource_type) {
            self.started.insert(resource_type.to_owned());
            ctx.emit(&ProgressEvent::PhaseStarted {
                phase,
                resource_type: Some(resource_type.to_owned()),
            });
        }
        self.items += page.items.len() as u64;
        for warning in std::mem::take(&mut page.warnings) {
            self.warn(ctx, phase, Some(resource_type), &warning);
        }
        for warning in std::mem::take(&mut page.expected_warnings) {
            self.expected_warnings += 1;
            self.warn(ctx, phase, Some(resource_type), &warning);
        }
    }

    fn page_done(
        &self,
        ctx: &Ctx<'_>,
        phase: Phase,
        resource_type: &str,
        items: usize,
        skipped: usize,
    ) {
        ctx.emit(&ProgressEvent::PageDone {
            phase,
            resource_type: resource_type.to_owned(),
            items: items as u64,
            skipped: skipped as u64,
            totals: self.totals,
        });
    }
}

/// A resource type the sync lists, with what the engine derived from it.
struct SyncedType {
    rules: TypeRules,
    resource_type: pb::ResourceType,
    syncer: Arc<dyn ResourceSyncer>,
    skip_entitlements: bool,
    skip_grants: bool,
}

fn skips_entitlements(annotations: &[prost_types::Any]) -> bool {
    annotations::has::<pb::SkipEntitlementsAndGrants>(annotations)
        || annotations::has::<pb::SkipEntitlements>(annotations)
}

fn skips_grants(annotations: &[prost_types::Any]) -> bool {
    annotations::has::<pb::SkipEntitlementsAndGrants>(annotations)
        || annotations::has::<pb::SkipGrants>(annotations)
}

/// The connector's resource types, validated and deduplicated, in syncer order.
fn collect_types(
    ctx: &Ctx<'_>,
    state: &mut State,
    syncers: Vec<Arc<dyn ResourceSyncer>>,
) -> Vec<SyncedType> {
    let mut types: Vec<SyncedType> = Vec::with_capacity(syncers.len());
    state.items += syncers.len() as u64;
    for syncer in syncers {
        let mut resource_type = syncer.resource_type();
        if let Err(problem) = validate::resource_type(&resource_type) {
            state.warn(
                ctx,
                Phase::ResourceTypes,
                None,
                &format!("{problem}; its syncer is skipped"),
            );
            continue;
        }
        if types.iter().any(|ty| ty.rules.id == resource_type.id) {
            let message = format!(
                "resource type {} is declared twice; the second syncer is skipped",
                show(&resource_type.id)
            );
            state.warn(ctx, Phase::ResourceTypes, Some(&resource_type.id), &message);
            continue;
        }
        if let Some(message) = validate::fit_resource_type(&mut resource_type) {
            state.warn(ctx, Phase::ResourceTypes, Some(&resource_type.id), &message);
        }
        types.push(SyncedType {
            rules: TypeRules::new(&resource_type),
            skip_entitlements: skips_entitlements(&resource_type.annotations),
            skip_grants: skips_grants(&resource_type.annotations),
            resource_type,
            syncer,
        });
    }
    types
}

/// One listing of one resource type, under an optional parent.
#[derive(Clone)]
struct ListJob {
    type_index: usize,
    resource_type: Arc<str>,
    parent: Option<Arc<pb::ResourceId>>,
}

impl Job for ListJob {
    fn phase(&self) -> Phase {
        Phase::Resources
    }
    fn resource_type(&self) -> &str {
        &self.resource_type
    }
}

/// The entitlements or grants of one resource.
#[derive(Clone)]
struct ResourceJob {
    phase: Phase,
    type_index: usize,
    resource_type: Arc<str>,
    resource: Arc<pb::Resource>,
}

impl Job for ResourceJob {
    fn phase(&self) -> Phase {
        self.phase
    }
    fn resource_type(&self) -> &str {
        &self.resource_type
    }
}

async fn sync_resources(
    ctx: &Ctx<'_>,
    state: &mut State,
    writer: &mut C1zWriter,
    types: &[SyncedType],
) -> Result<SpoolWriter, SyncError> {
    const PHASE: Phase = Phase::Resources;
    state.begin_phase(ctx, PHASE);
    let type_ids: Vec<Arc<str>> = types
        .iter()
        .map(|ty| Arc::from(ty.rules.id.as_str()))
        .collect();
    let type_index: HashMap<&str, usize> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| (ty.rules.id.as_str(), i))
        .collect();
    let mut spool = SpoolWriter::new()?;

    let fetch = |job: ListJob, token: String| {
        let syncer = Arc::clone(&types[job.type_index].syncer);
        async move {
            ctx.list(PHASE, &job.resource_type, || {
                syncer.list(job.parent.as_deref(), &token)
            })
            .await
        }
    };

    let mut round: Vec<ListJob> = type_ids
        .iter()
        .enumerate()
        .map(|(type_index, id)| ListJob {
            type_index,
            resource_type: Arc::clone(id),
            parent: None,
        })
        .collect();
    while !round.is_empty() {
        let mut children = Vec::new();
        let consume = |job: &ListJob, mut page: Page<pb::Resource>| -> Result<(), SyncError> {
            let ty = &types[job.type_index];
            state.begin_page(ctx, PHASE, &job.resource_type, &mut page);
            let mut valid = Vec::with_capacity(page.items.len());
            let mut skipped = 0;
            let mut key = String::new();
            for mut resource in page.items {
                if let Err(problem) = validate::resource(&resource, &ty.rules) {
                    state.warn(
                        ctx,
                        PHASE,
                        Some(&job.resource_type),
                        &format!("{problem}; skipped"),
                    );
                    skipped += 1;
                    continue;
                }
                let Some(id) = resource.id.as_ref() else {
                    continue;
                };
                resource_key_into(&mut key, id);
                // One lookup: the key is stored unless it already was.
                if !state.resources.insert(&key) {
                    let message = format!(
                        "resource {} was listed twice; the second copy is skipped",
                        show_resource(id)
                    );
                    state.warn(ctx, PHASE, Some(&job.resource_type), &message);
                    skipped += 1;
                    continue;
                }
                if let Some(message) = validate::fit_resource(&mut resource) {
                    state.warn(ctx, PHASE, Some(&job.resource_type), &message);
                }
                if resource.parent_resource_id.is_none() {
                    resource.parent_resource_id = job.parent.as_deref().cloned();
                }
                let child_types = child_types(ctx, state, &job.resource_type, &resource);
                if !child_types.is_empty() {
                    // Only resources with children need a shared copy of their id.
                    let id = Arc::new(resource.id.clone().unwrap_or_default());
                    for child_type in child_types {
                        if let Some(&type_index) = type_index.get(child_type.as_str()) {
                            children.push(ListJob {
                                type_index,
                                resource_type: Arc::clone(&type_ids[type_index]),
                                parent: Some(Arc::clone(&id)),
                            });
                        } else {
                            let message = format!(
                                "resource {} names child resource type {}, which no syncer lists",
                                show_resource(&id),
                                show(&child_type)
                            );
                            state.warn(ctx, PHASE, Some(&job.resource_type), &message);
                        }
                    }
                }
                let mut flags = 0;
                if !ty.skip_entitlements && !skips_entitlements(&resource.annotations) {
                    flags |= NEEDS_ENTITLEMENTS;
                }
                if !ty.skip_grants && !skips_grants(&resource.annotations) {
                    flags |= NEEDS_GRANTS;
                }
                if flags != 0 {
                    spool.push(job.type_index, flags, &resource)?;
                }
                valid.push(resource);
            }
            if !valid.is_empty() {
                writer.put_resources(&valid)?;
            }
            state.totals.resources += valid.len() as u64;
            *state
                .resources_by_type
                .entry(ty.rules.id.clone())
                .or_default() += valid.len() as u64;
            state.page_done(ctx, PHASE, &job.resource_type, valid.len(), skipped);
            Ok(())
        };
        run_ordered(
            round.into_iter().map(Ok),
            ctx.options.effective_workers(),
            &fetch,
            consume,
        )
        .await?;
        round = children;
    }
    Ok(spool)
}

/// The distinct child resource types a resource's `ChildResourceType` annotations name, in
/// annotation order. An undecodable annotation is a warning.
fn child_types(
    ctx: &Ctx<'_>,
    state: &mut State,
    resource_type: &str,
    resource: &pb::Resource,
) -> Vec<String> {
    let mut child_types: Vec<String> = Vec::new();
    for any in resource
        .annotations
        .iter()
        .filter(|any| annotations::is::<pb::ChildResourceType>(any))
    {
        match c1_model::decode::<pb::ChildResourceType>(&any.value) {
            Ok(child) if child.resource_type_id.is_empty() => {}
            Ok(child) => {
                if !child_types.contains(&child.resource_type_id) {
                    child_types.push(child.resource_type_id);
                }
            }
            Err(_) => {
                let id = resource.id.as_ref().map(show_resource).unwrap_or_default();
                let message = format!(
                    "resource {id} has an undecodable ChildResourceType annotation; ignored"
                );
                state.warn(ctx, Phase::Resources, Some(resource_type), &message);
            }
        }
    }
    child_types
}

/// Jobs for `phase` from the spool: each spooled resource flagged for it.
fn resource_jobs<'s>(
    spool: &'s mut Spool,
    flag: u8,
    phase: Phase,
    type_ids: &'s [Arc<str>],
) -> Result<impl Iterator<Item = Result<ResourceJob, SyncError>> + 's, SyncError> {
    Ok(spool.records(flag)?.map(move |record| {
        let (type_index, resource) = record?;
        let resource_type = type_ids
            .get(type_index)
            .cloned()
            .ok_or_else(|| SyncError::Spool {
                source: format!("record names unknown type #{type_index}").into(),
            })?;
        Ok(ResourceJob {
            phase,
            type_index,
            resource_type,
            resource: Arc::new(resource),
        })
    }))
}

async fn sync_entitlements(
    ctx: &Ctx<'_>,
    state: &mut State,
    writer: &mut C1zWriter,
    types: &[SyncedType],
    spool: &mut Spool,
) -> Result<(), SyncError> {
    const PHASE: Phase = Phase::Entitlements;
    state.begin_phase(ctx, PHASE);
    let type_ids: Vec<Arc<str>> = types
        .iter()
        .map(|ty| Arc::from(ty.rules.id.as_str()))
        .collect();
    let fetch = |job: ResourceJob, token: String| {
        let syncer = Arc::clone(&types[job.type_index].syncer);
        async move {
            ctx.list(PHASE, &job.resource_type, || {
                syncer.entitlements(&job.resource, &token)
            })
            .await
        }
    };
    let consume = |job: &ResourceJob, mut page: Page<pb::Entitlement>| -> Result<(), SyncError> {
        state.begin_page(ctx, PHASE, &job.resource_type, &mut page);
        let mut valid = Vec::with_capacity(page.items.len());
        let mut skipped = 0;
        let mut key = String::new();
        for mut entitlement in page.items {
            let resources = &state.resources;
            let checked = validate::entitlement(&entitlement, |id| {
                resource_key_into(&mut key, id);
                resources.contains(key.as_str())
            });
            let problem = match checked {
                Err(problem) => Some(format!("{problem}; skipped")),
                Ok(()) if state.entitlements.contains(&entitlement.id) => Some(format!(
                    "entitlement {} was listed twice; the second copy is skipped",
                    show(&entitlement.id)
                )),
                Ok(()) => None,
            };
            if let Some(problem) = problem {
                state.warn(ctx, PHASE, Some(&job.resource_type), &problem);
                skipped += 1;
                continue;
            }
            state.entitlements.insert(&entitlement.id);
            if let Some(message) = validate::fit_entitlement(&mut entitlement) {
                state.warn(ctx, PHASE, Some(&job.resource_type), &message);
            }
            valid.push(entitlement);
        }
        if !valid.is_empty() {
            writer.put_entitlements(&valid)?;
        }
        state.totals.entitlements += valid.len() as u64;
        state.page_done(ctx, PHASE, &job.resource_type, valid.len(), skipped);
        Ok(())
    };
    let jobs = resource_jobs(spool, NEEDS_ENTITLEMENTS, PHASE, &type_ids)?;
    run_ordered(jobs, ctx.options.effective_workers(), &fetch, consume).await
}

async fn sync_grants(
    ctx: &Ctx<'_>,
    state: &mut State,
    writer: &mut C1zWriter,
    types: &[SyncedType],
    spool: &mut Spool,
) -> Result<(), SyncError> {
    const PHASE: Phase = Phase::Grants;
    state.begin_phase(ctx, PHASE);
    let type_ids: Vec<Arc<str>> = types
        .iter()
        .map(|ty| Arc::from(ty.rules.id.as_str()))
        .collect();
    let fetch = |job: ResourceJob, token: String| {
        let syncer = Arc::clone(&types[job.type_index].syncer);
        async move {
            ctx.list(PHASE, &job.resource_type, || {
                syncer.grants(&job.resource, &token)
            })
            .await
        }
    };
    let consume = |job: &ResourceJob, mut page: Page<pb::Grant>| -> Result<(), SyncError> {
        state.begin_page(ctx, PHASE, &job.resource_type, &mut page);
        let mut valid = Vec::with_capacity(page.items.len());
        let mut skipped = 0;
        let mut key = String::new();
        for mut grant in page.items {
            let (entitlements, resources) = (&state.entitlements, &state.resources);
            let checked = validate::grant(
                &grant,
                |id| entitlements.contains(id),
                |id| {
                    resource_key_into(&mut key, id);
                    resources.contains(key.as_str())
                },
            );
            if let Err(problem) = checked {
                state.warn(
                    ctx,
                    PHASE,
                    Some(&job.resource_type),
                    &format!("{problem}; skipped"),
                );
                skipped += 1;
                continue;
            }
            if let Some(message) = validate::fit_grant(&mut grant) {
                state.warn(ctx, PHASE, Some(&job.resource_type), &message);
            }
            valid.push(grant);
        }
        if !valid.is_empty() {
            writer.put_grants(&valid)?;
        }
        state.totals.grants += valid.len() as u64;
        state.page_done(ctx, PHASE, &job.resource_type, valid.len(), skipped);
        Ok(())
    };
    let jobs = resource_jobs(spool, NEEDS_GRANTS, PHASE, &type_ids)?;
    run_ordered(jobs, ctx.options.effective_workers(), &fetch, consume).await
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
