//! The resource types and resources phases: types checked and deduplicated, resources listed
//! (children after their parents) and spooled for the per-resource phases.

use std::collections::HashMap;
use std::sync::Arc;

use c1_model::{annotations, pb};

use crate::engine::connector::{Page, ResourceSyncer};
use crate::engine::pipeline::{Job, run_ordered};
use crate::engine::progress::Phase;
use crate::engine::spool::{NEEDS_ENTITLEMENTS, NEEDS_GRANTS, Spool, SpoolWriter};
use crate::engine::validate::{self, TypeRules, resource_key_into, show, show_resource};
use crate::error::SyncError;
use crate::store::C1zWriter;

use super::context::{Ctx, State};

/// A resource type the sync lists, with what the engine derived from it.
pub(super) struct SyncedType {
    pub(super) rules: TypeRules,
    pub(super) resource_type: pb::ResourceType,
    pub(super) syncer: Arc<dyn ResourceSyncer>,
    pub(super) skip_entitlements: bool,
    pub(super) skip_grants: bool,
}

pub(super) fn skips_entitlements(annotations: &[prost_types::Any]) -> bool {
    annotations::has::<pb::SkipEntitlementsAndGrants>(annotations)
        || annotations::has::<pb::SkipEntitlements>(annotations)
}

pub(super) fn skips_grants(annotations: &[prost_types::Any]) -> bool {
    annotations::has::<pb::SkipEntitlementsAndGrants>(annotations)
        || annotations::has::<pb::SkipGrants>(annotations)
}

/// The connector's resource types, validated and deduplicated, in syncer order.
pub(super) fn collect_types(
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
pub(super) struct ListJob {
    pub(super) type_index: usize,
    pub(super) resource_type: Arc<str>,
    pub(super) parent: Option<Arc<pb::ResourceId>>,
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
pub(super) struct ResourceJob {
    pub(super) phase: Phase,
    pub(super) type_index: usize,
    pub(super) resource_type: Arc<str>,
    pub(super) resource: Arc<pb::Resource>,
}

impl Job for ResourceJob {
    fn phase(&self) -> Phase {
        self.phase
    }
    fn resource_type(&self) -> &str {
        &self.resource_type
    }
}

pub(super) async fn sync_resources(
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
pub(super) fn child_types(
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
pub(super) fn resource_jobs<'s>(
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
