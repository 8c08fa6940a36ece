//! The phases that list something for each resource written (entitlements, then grants): one
//! runner, and what differs between the two in a [`PerResource`] each.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use c1_model::pb;

use super::context::{Ctx, State};
use super::resources::{ResourceJob, SyncedType, resource_jobs};
use crate::engine::connector::{Page, ResourceSyncer};
use crate::engine::pipeline::run_ordered;
use crate::engine::progress::Phase;
use crate::engine::spool::{NEEDS_ENTITLEMENTS, NEEDS_GRANTS, Spool};
use crate::engine::validate::{self, resource_key_into, show};
use crate::error::{ConnectorError, SyncError};
use crate::store::{C1zWriter, StoreError};

/// A listing call's future, as the syncer traits return it.
type Listing<'a, T> = Pin<Box<dyn Future<Output = Result<Page<T>, ConnectorError>> + Send + 'a>>;

/// What one per-resource phase lists, how its items are checked and where they are written.
pub(super) trait PerResource {
    /// The item listed.
    type Item;
    /// The phase.
    const PHASE: Phase;
    /// The spool flag of the resources this phase visits.
    const FLAG: u8;
    /// One page of the items of `resource`.
    fn list<'a>(
        syncer: &'a dyn ResourceSyncer,
        resource: &'a pb::Resource,
        token: &'a str,
    ) -> Listing<'a, Self::Item>;
    /// Why `item` cannot be written, given what was written before (`key` is scratch space).
    fn problem(item: &Self::Item, state: &State, key: &mut String) -> Option<String>;
    /// Cuts `item`'s text to the protocol's limits; says what was cut.
    fn fit(item: &mut Self::Item) -> Option<String>;
    /// Records a valid item in the run's state (before it is written).
    fn record(item: &Self::Item, state: &mut State);
    /// Writes a page's valid items.
    fn put(writer: &mut C1zWriter, items: &[Self::Item]) -> Result<(), StoreError>;
}

pub(super) struct Entitlements;

impl PerResource for Entitlements {
    type Item = pb::Entitlement;
    const PHASE: Phase = Phase::Entitlements;
    const FLAG: u8 = NEEDS_ENTITLEMENTS;

    fn list<'a>(
        syncer: &'a dyn ResourceSyncer,
        resource: &'a pb::Resource,
        token: &'a str,
    ) -> Listing<'a, pb::Entitlement> {
        syncer.entitlements(resource, token)
    }

    fn problem(entitlement: &pb::Entitlement, state: &State, key: &mut String) -> Option<String> {
        let resources = &state.resources;
        let checked = validate::entitlement(entitlement, |id| {
            resource_key_into(key, id);
            resources.contains(key.as_str())
        });
        match checked {
            Err(problem) => Some(format!("{problem}; skipped")),
            Ok(()) if state.entitlements.contains(&entitlement.id) => Some(format!(
                "entitlement {} was listed twice; the second copy is skipped",
                show(&entitlement.id)
            )),
            Ok(()) => None,
        }
    }

    fn fit(entitlement: &mut pb::Entitlement) -> Option<String> {
        validate::fit_entitlement(entitlement)
    }

    fn record(entitlement: &pb::Entitlement, state: &mut State) {
        state.entitlements.insert(&entitlement.id);
        state.totals.entitlements += 1;
    }

    fn put(writer: &mut C1zWriter, entitlements: &[pb::Entitlement]) -> Result<(), StoreError> {
        writer.put_entitlements(entitlements)
    }
}

pub(super) struct Grants;

impl PerResource for Grants {
    type Item = pb::Grant;
    const PHASE: Phase = Phase::Grants;
    const FLAG: u8 = NEEDS_GRANTS;

    fn list<'a>(
        syncer: &'a dyn ResourceSyncer,
        resource: &'a pb::Resource,
        token: &'a str,
    ) -> Listing<'a, pb::Grant> {
        syncer.grants(resource, token)
    }

    fn problem(grant: &pb::Grant, state: &State, key: &mut String) -> Option<String> {
        let (entitlements, resources) = (&state.entitlements, &state.resources);
        validate::grant(
            grant,
            |id| entitlements.contains(id),
            |id| {
                resource_key_into(key, id);
                resources.contains(key.as_str())
            },
        )
        .err()
        .map(|problem| format!("{problem}; skipped"))
    }

    fn fit(grant: &mut pb::Grant) -> Option<String> {
        validate::fit_grant(grant)
    }

    fn record(_grant: &pb::Grant, state: &mut State) {
        state.totals.grants += 1;
    }

    fn put(writer: &mut C1zWriter, grants: &[pb::Grant]) -> Result<(), StoreError> {
        writer.put_grants(grants)
    }
}

/// Runs phase `P` over every spooled resource flagged for it: up to the configured number of
/// listings at once, pages consumed (checked, cut, written) in resource order.
pub(super) async fn sync_per_resource<P: PerResource>(
    ctx: &Ctx<'_>,
    state: &mut State,
    writer: &mut C1zWriter,
    types: &[SyncedType],
    spool: &mut Spool,
) -> Result<(), SyncError>
where
    P::Item: Send + 'static,
{
    state.begin_phase(ctx, P::PHASE);
    let type_ids: Vec<Arc<str>> = types
        .iter()
        .map(|ty| Arc::from(ty.rules.id.as_str()))
        .collect();
    let fetch = |job: ResourceJob, token: String| {
        let syncer = Arc::clone(&types[job.type_index].syncer);
        async move {
            ctx.list(P::PHASE, &job.resource_type, || {
                P::list(syncer.as_ref(), &job.resource, &token)
            })
            .await
        }
    };
    let consume = |job: &ResourceJob, mut page: Page<P::Item>| -> Result<(), SyncError> {
        state.begin_page(ctx, P::PHASE, &job.resource_type, &mut page);
        let mut valid = Vec::with_capacity(page.items.len());
        let mut skipped = 0;
        let mut key = String::new();
        for mut item in page.items {
            if let Some(problem) = P::problem(&item, state, &mut key) {
                state.warn(ctx, P::PHASE, Some(&job.resource_type), &problem);
                skipped += 1;
                continue;
            }
            P::record(&item, state);
            if let Some(message) = P::fit(&mut item) {
                state.warn(ctx, P::PHASE, Some(&job.resource_type), &message);
            }
            valid.push(item);
        }
        if !valid.is_empty() {
            P::put(writer, &valid)?;
        }
        state.page_done(ctx, P::PHASE, &job.resource_type, valid.len(), skipped);
        Ok(())
    };
    let jobs = resource_jobs(spool, P::FLAG, P::PHASE, &type_ids)?;
    run_ordered(jobs, ctx.options.effective_workers(), &fetch, consume).await
}
