//! An in-memory connector for the engine tests: pages of canned items, injectable failures,
//! optional deterministic latency, and a log of every call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use c1_model::{ResourceBuilder, ResourceTypeBuilder, UserBuilder, UserStatus, pb};
use c1_sync::{
    C1zReader, Connector, ConnectorError, ConnectorMetadata, Page, ProgressEvent, ResourceSyncer,
    SyncEngine, SyncOptions, async_trait,
};

/// The error the test connector fails with; tests downcast to it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("test failure on {0}")]
pub(crate) struct TestError(pub(crate) String);

/// Whether an injected failure is transient or permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Transient,
    Permanent,
}

#[derive(Debug)]
struct Injected {
    call: String,
    remaining: usize,
    fault: Fault,
}

/// Shared counters for the streaming test: pages handed to the engine and calls in flight.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    pub(crate) pages_returned: AtomicU64,
    pub(crate) pages_written: AtomicU64,
    pub(crate) max_unwritten: AtomicU64,
    in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
}

/// `rt:id`, the key under which canned pages of a resource are stored.
pub(crate) fn key(id: &pb::ResourceId) -> String {
    format!("{}:{}", id.resource_type, id.resource)
}

/// Splits `items` into pages of `page_size`, chained with tokens `page-1`, `page-2`, ...
pub(crate) fn paginate<T: Clone>(items: &[T], page_size: usize) -> Vec<Page<T>> {
    let chunks: Vec<&[T]> = items.chunks(page_size.max(1)).collect();
    if chunks.is_empty() {
        return vec![Page::last(Vec::new())];
    }
    let count = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            if i + 1 < count {
                Page::next(chunk.to_vec(), format!("page-{}", i + 1))
            } else {
                Page::last(chunk.to_vec())
            }
        })
        .collect()
}

/// A syncer answering from canned pages.
pub(crate) struct MemSyncer {
    resource_type: pb::ResourceType,
    /// Listing pages by parent key (`-` for no parent).
    lists: BTreeMap<String, Vec<Page<pb::Resource>>>,
    entitlements: BTreeMap<String, Vec<Page<pb::Entitlement>>>,
    grants: BTreeMap<String, Vec<Page<pb::Grant>>>,
    faults: Mutex<Vec<Injected>>,
    latency_seed: Option<u64>,
    meter: Option<Arc<Meter>>,
    calls: Mutex<Vec<String>>,
}

impl MemSyncer {
    pub(crate) fn new(resource_type: pb::ResourceType) -> Self {
        Self {
            resource_type,
            lists: BTreeMap::new(),
            entitlements: BTreeMap::new(),
            grants: BTreeMap::new(),
            faults: Mutex::new(Vec::new()),
            latency_seed: None,
            meter: None,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Resources listed under `parent` (`None`: the top-level listing), `page_size` per page.
    pub(crate) fn resources(
        self,
        parent: Option<&pb::ResourceId>,
        items: &[pb::Resource],
        page_size: usize,
    ) -> Self {
        self.resource_pages(parent, paginate(items, page_size))
    }

    pub(crate) fn resource_pages(
        mut self,
        parent: Option<&pb::ResourceId>,
        pages: Vec<Page<pb::Resource>>,
    ) -> Self {
        self.lists
            .insert(parent.map_or_else(|| "-".to_owned(), key), pages);
        self
    }

    pub(crate) fn entitlements(
        mut self,
        resource: &pb::ResourceId,
        items: &[pb::Entitlement],
        page_size: usize,
    ) -> Self {
        self.entitlements
            .insert(key(resource), paginate(items, page_size));
        self
    }

    pub(crate) fn grants(
        mut self,
        resource: &pb::ResourceId,
        items: &[pb::Grant],
        page_size: usize,
    ) -> Self {
        self.grants
            .insert(key(resource), paginate(items, page_size));
        self
    }

    /// Fails the call named `call` (see [`MemSyncer::calls`]) `times` times.
    pub(crate) fn fail(self, call: &str, times: usize, fault: Fault) -> Self {
        self.faults.lock().unwrap().push(Injected {
            call: call.to_owned(),
            remaining: times,
            fault,
        });
        self
    }

    /// Every call sleeps a pseudo-random 0–49 ms derived from the call and `seed` (use a paused
    /// clock), so calls finish in a different order than they start.
    pub(crate) fn latency(mut self, seed: u64) -> Self {
        self.latency_seed = Some(seed);
        self
    }

    pub(crate) fn meter(mut self, meter: &Arc<Meter>) -> Self {
        self.meter = Some(Arc::clone(meter));
        self
    }

    /// Calls so far, e.g. `list:-:`, `list:project:p1:page-1`, `entitlements:team:t1:`,
    /// `grants:team:t1:page-1`.
    pub(crate) fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    async fn answer<T: Clone>(
        &self,
        call: String,
        pages: Option<&Vec<Page<T>>>,
        token: &str,
    ) -> Result<Page<T>, ConnectorError> {
        self.calls.lock().unwrap().push(call.clone());
        if let Some(meter) = &self.meter {
            let now = meter.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            meter.max_in_flight.fetch_max(now, Ordering::SeqCst);
        }
        if let Some(seed) = self.latency_seed {
            let hash = call.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            tokio::time::sleep(Duration::from_millis(hash % 50)).await;
        }
        if let Some(meter) = &self.meter {
            meter.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        {
            let mut faults = self.faults.lock().unwrap();
            if let Some(injected) = faults
                .iter_mut()
                .find(|f| f.call == call && f.remaining > 0)
            {
                injected.remaining -= 1;
                let error = TestError(call);
                return Err(match injected.fault {
                    Fault::Transient => ConnectorError::transient(error),
                    Fault::Permanent => ConnectorError::permanent(error),
                });
            }
        }
        let index = match token {
            "" => 0,
            token => token
                .strip_prefix("page-")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    ConnectorError::permanent(TestError(format!("bad token {token}")))
                })?,
        };
        let page = match pages {
            None => Page::last(Vec::new()),
            Some(pages) => pages
                .get(index)
                .cloned()
                .ok_or_else(|| ConnectorError::permanent(TestError(format!("no page {index}"))))?,
        };
        if let Some(meter) = &self.meter {
            let returned = meter.pages_returned.fetch_add(1, Ordering::SeqCst) + 1;
            let unwritten = returned - meter.pages_written.load(Ordering::SeqCst);
            meter.max_unwritten.fetch_max(unwritten, Ordering::SeqCst);
        }
        Ok(page)
    }
}

#[async_trait]
impl ResourceSyncer for MemSyncer {
    fn resource_type(&self) -> pb::ResourceType {
        self.resource_type.clone()
    }

    async fn list(
        &self,
        parent: Option<&pb::ResourceId>,
        page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError> {
        let parent_key = parent.map_or_else(|| "-".to_owned(), key);
        let call = format!("list:{parent_key}:{page_token}");
        self.answer(call, self.lists.get(&parent_key), page_token)
            .await
    }

    async fn entitlements(
        &self,
        resource: &pb::Resource,
        page_token: &str,
    ) -> Result<Page<pb::Entitlement>, ConnectorError> {
        let resource_key = resource.id.as_ref().map(key).unwrap_or_default();
        let call = format!("entitlements:{resource_key}:{page_token}");
        self.answer(call, self.entitlements.get(&resource_key), page_token)
            .await
    }

    async fn grants(
        &self,
        resource: &pb::Resource,
        page_token: &str,
    ) -> Result<Page<pb::Grant>, ConnectorError> {
        let resource_key = resource.id.as_ref().map(key).unwrap_or_default();
        let call = format!("grants:{resource_key}:{page_token}");
        self.answer(call, self.grants.get(&resource_key), page_token)
            .await
    }
}

/// A connector made of [`MemSyncer`]s.
pub(crate) struct MemConnector {
    syncers: Vec<Arc<MemSyncer>>,
    validate_faults: Mutex<Vec<Fault>>,
    validate_calls: AtomicU64,
}

impl MemConnector {
    pub(crate) fn new(syncers: Vec<MemSyncer>) -> Self {
        Self {
            syncers: syncers.into_iter().map(Arc::new).collect(),
            validate_faults: Mutex::new(Vec::new()),
            validate_calls: AtomicU64::new(0),
        }
    }

    /// `validate` fails with these faults, one per call, then succeeds.
    pub(crate) fn fail_validate(self, faults: &[Fault]) -> Self {
        *self.validate_faults.lock().unwrap() = faults.to_vec();
        self
    }

    pub(crate) fn validate_calls(&self) -> u64 {
        self.validate_calls.load(Ordering::SeqCst)
    }

    pub(crate) fn syncer(&self, resource_type: &str) -> &MemSyncer {
        self.syncers
            .iter()
            .find(|s| s.resource_type.id == resource_type)
            .expect("no such syncer")
    }
}

#[async_trait]
impl Connector for MemConnector {
    fn metadata(&self) -> ConnectorMetadata {
        ConnectorMetadata::new("memory", "In-memory test connector", "0.0.1")
            .with_description("canned pages")
    }

    async fn validate(&self) -> Result<(), ConnectorError> {
        self.validate_calls.fetch_add(1, Ordering::SeqCst);
        let mut faults = self.validate_faults.lock().unwrap();
        if faults.is_empty() {
            return Ok(());
        }
        let error = TestError("validate".to_owned());
        Err(match faults.remove(0) {
            Fault::Transient => ConnectorError::transient(error),
            Fault::Permanent => ConnectorError::permanent(error),
        })
    }

    fn resource_syncers(&self) -> Vec<Arc<dyn ResourceSyncer>> {
        self.syncers
            .iter()
            .map(|s| Arc::clone(s) as Arc<dyn ResourceSyncer>)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Canned objects.

pub(crate) fn user_type() -> pb::ResourceType {
    ResourceTypeBuilder::new("user", "User")
        .with_trait(pb::resource_type::Trait::User)
        .annotation(&pb::SkipEntitlementsAndGrants {})
        .build()
}

pub(crate) fn user(id: &str) -> pb::Resource {
    UserBuilder::new("user", id, format!("{id}@example.com"))
        .email(format!("{id}@example.com"), true)
        .status(UserStatus::Enabled, None)
        .build()
}

pub(crate) fn team_type() -> pb::ResourceType {
    ResourceTypeBuilder::new("team", "Team")
        .with_trait(pb::resource_type::Trait::Group)
        .build()
}

pub(crate) fn team(id: &str) -> pb::Resource {
    ResourceBuilder::new("team", id, format!("Team {id}")).build_group()
}

pub(crate) fn project_type() -> pb::ResourceType {
    ResourceTypeBuilder::new("project", "Project")
        .description("env0 projects")
        .build()
}

/// A project whose environments are listed under it.
pub(crate) fn project(id: &str) -> pb::Resource {
    ResourceBuilder::new("project", id, format!("Project {id}"))
        .annotation(&pb::ChildResourceType {
            resource_type_id: "env".to_owned(),
        })
        .build()
}

pub(crate) fn env_type() -> pb::ResourceType {
    ResourceTypeBuilder::new("env", "Environment")
        .annotation(&pb::SkipEntitlementsAndGrants {})
        .build()
}

/// An environment; the engine fills in its parent.
pub(crate) fn env(id: &str) -> pb::Resource {
    ResourceBuilder::new("env", id, format!("Env {id}")).build()
}

pub(crate) fn grant(entitlement: &pb::Entitlement, principal: &pb::Resource) -> pb::Grant {
    c1_model::grant::new(entitlement, principal.id.as_ref().expect("principal id"))
}

// ---------------------------------------------------------------------------------------------
// Running and reading back.

/// Every event of a run, in order.
#[derive(Clone, Default)]
pub(crate) struct Events(Arc<Mutex<Vec<ProgressEvent>>>);

impl Events {
    pub(crate) fn all(&self) -> Vec<ProgressEvent> {
        self.0.lock().unwrap().clone()
    }

    /// Events except `Retry` (timing-dependent) and `Finished` (carries a duration).
    pub(crate) fn deterministic(&self) -> Vec<ProgressEvent> {
        self.all()
            .into_iter()
            .filter(|e| {
                !matches!(
                    e,
                    ProgressEvent::Retry { .. } | ProgressEvent::Finished { .. }
                )
            })
            .collect()
    }
}

/// An engine with `options` recording its events (and feeding `meter`, if any).
pub(crate) fn engine(options: SyncOptions, meter: Option<Arc<Meter>>) -> (SyncEngine, Events) {
    let events = Events::default();
    let sink = events.clone();
    let engine = SyncEngine::new(options).with_progress(move |event| {
        if let (Some(meter), ProgressEvent::PageDone { .. }) = (&meter, event) {
            meter.pages_written.fetch_add(1, Ordering::SeqCst);
        }
        sink.0.lock().unwrap().push(event.clone());
    });
    (engine, events)
}

/// Fast retries for tests that run on the real clock.
pub(crate) fn fast_options() -> SyncOptions {
    SyncOptions::default()
        .with_retry_base_delay(Duration::from_millis(1))
        .with_retry_max_delay(Duration::from_millis(4))
}

/// Every row of one sync, decoded, in file order.
#[derive(Debug, PartialEq)]
pub(crate) struct Rows {
    pub(crate) resource_types: Vec<pb::ResourceType>,
    pub(crate) resources: Vec<pb::Resource>,
    pub(crate) entitlements: Vec<pb::Entitlement>,
    pub(crate) grants: Vec<pb::Grant>,
}

impl Rows {
    pub(crate) fn read(path: &std::path::Path, sync_id: &str) -> Self {
        let reader = C1zReader::open(path).unwrap();
        Self {
            resource_types: reader.resource_types(sync_id).unwrap(),
            resources: reader.resources(sync_id, None).unwrap(),
            entitlements: reader.entitlements(sync_id).unwrap(),
            grants: reader.grants(sync_id).unwrap(),
        }
    }

    pub(crate) fn resource_keys(&self) -> Vec<String> {
        self.resources
            .iter()
            .map(|r| key(r.id.as_ref().unwrap()))
            .collect()
    }

    pub(crate) fn entitlement_ids(&self) -> Vec<&str> {
        self.entitlements.iter().map(|e| e.id.as_str()).collect()
    }

    pub(crate) fn grant_ids(&self) -> Vec<&str> {
        self.grants.iter().map(|g| g.id.as_str()).collect()
    }
}
