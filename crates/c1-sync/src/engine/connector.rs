//! What a connector implements: [`Connector`], one [`ResourceSyncer`] per resource type, and the
//! [`Page`] each listing call returns.

use std::sync::Arc;

use async_trait::async_trait;
use c1_model::pb;
use serde::Serialize;

use crate::error::ConnectorError;
use crate::provision::Provisioner;

/// Who the connector is: shown in reports and by the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ConnectorMetadata {
    /// Short machine name, e.g. `env0` (a CLI is usually called `baton-<name>`).
    pub name: String,
    /// Human name, e.g. `env0`.
    pub display_name: String,
    /// The connector's version.
    pub version: String,
    /// One sentence on what the connector syncs; may be empty.
    pub description: String,
}

impl ConnectorMetadata {
    /// Metadata with an empty description.
    pub fn new(
        name: impl Into<String>,
        display_name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            display_name: display_name.into(),
            version: version.into(),
            description: String::new(),
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}

/// A ConductorOne connector: validates its configuration and lists its objects through one
/// [`ResourceSyncer`] per resource type.
///
/// The engine calls [`validate`](Self::validate) once, then [`begin_sync`](Self::begin_sync),
/// then [`resource_syncers`](Self::resource_syncers) once, and drives the syncers from there;
/// [`end_sync`](Self::end_sync) ends the run. Implementations must be `Send + Sync`; the engine
/// calls syncers concurrently (up to [`SyncOptions::workers`](crate::SyncOptions::workers) calls
/// in flight).
///
/// # State for one run
///
/// A connector that needs data in several phases (say, one snapshot of the source system read
/// by the resource, entitlement and grant listings) prepares it in `begin_sync`, keeps it in
/// itself (its syncers share it, usually through an `Arc`), and drops it in `end_sync`. The
/// listing methods keep their signatures: no context value travels through every call, so a
/// connector without per-run state implements nothing, and one with state decides itself how
/// to share it between concurrent calls.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Name, display name, version and description.
    fn metadata(&self) -> ConnectorMetadata;

    /// Checks that the configuration works (credentials accepted, organisation reachable) before
    /// anything is listed. A transient error is retried like any listing call.
    async fn validate(&self) -> Result<(), ConnectorError>;

    /// One syncer per resource type, in the order their resource types and resources should be
    /// written. The order is part of the output: keep it stable.
    fn resource_syncers(&self) -> Vec<Arc<dyn ResourceSyncer>>;

    /// Prepares state for one run, after [`validate`](Self::validate) and before the first
    /// listing call. A transient error is retried like any listing call. The default does
    /// nothing.
    async fn begin_sync(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Releases the state of the run. Called exactly once for every run that called
    /// [`begin_sync`](Self::begin_sync) (even if it failed): as soon as the last listing call
    /// has returned (before grant expansion and the save, so the memory is free for them), or
    /// when the run fails, or when its future is dropped. It is synchronous so that it can run
    /// while a cancelled run unwinds; it must not block. The default does nothing.
    fn end_sync(&self) {}
}

/// Lists the resources of one resource type, and the entitlements and grants of each resource.
///
/// Every method returns one [`Page`] per call. `page_token` is empty on the first call and then
/// the previous page's [`Page::next_token`]; an empty `next_token` ends the listing. Tokens are
/// opaque to the engine (a page number, a cursor, a JSON state...), but must not repeat: a page
/// whose `next_token` equals the token it was called with fails the sync with
/// [`SyncError::PageTokenRepeated`](crate::SyncError::PageTokenRepeated).
///
/// Return the same items in the same order for the same state of the source system: the engine
/// preserves that order in the output, whatever the concurrency.
#[async_trait]
pub trait ResourceSyncer: Send + Sync {
    /// The resource type this syncer lists. Its `id` must be non-empty and unique among the
    /// connector's syncers. Annotations steer the engine:
    /// - `SkipEntitlementsAndGrants`, `SkipEntitlements`, `SkipGrants`: the engine never calls
    ///   [`entitlements`](Self::entitlements) / [`grants`](Self::grants) for this type;
    /// - the `TRAIT_USER` trait: every resource must carry a `UserTrait` annotation (build users
    ///   with `c1_model::UserBuilder`).
    fn resource_type(&self) -> pb::ResourceType;

    /// One page of resources of this type.
    ///
    /// The engine calls this once with `parent == None` for every syncer, and once per parent for
    /// child types: a resource carrying a `ChildResourceType { resource_type_id }` annotation makes
    /// the engine list `resource_type_id` with that resource as `parent` (after the parent's own
    /// listing). A syncer whose type only exists under parents returns `Page::last(vec![])` for
    /// `parent == None`. Resources listed under a parent without a `parent_resource_id` get the
    /// parent's id filled in.
    async fn list(
        &self,
        parent: Option<&pb::ResourceId>,
        page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError>;

    /// One page of the entitlements of `resource` (a resource this syncer listed). The default
    /// returns none.
    async fn entitlements(
        &self,
        resource: &pb::Resource,
        page_token: &str,
    ) -> Result<Page<pb::Entitlement>, ConnectorError> {
        let _ = (resource, page_token);
        Ok(Page::last(Vec::new()))
    }

    /// One page of the grants on `resource`'s entitlements. Each grant's entitlement must have
    /// been returned by some [`entitlements`](Self::entitlements) call of this sync, and its
    /// principal must be a resource listed in this sync. The default returns none.
    async fn grants(
        &self,
        resource: &pb::Resource,
        page_token: &str,
    ) -> Result<Page<pb::Grant>, ConnectorError> {
        let _ = (resource, page_token);
        Ok(Page::last(Vec::new()))
    }

    /// The provisioner of this type's entitlements, if it can grant and revoke them (a syncer
    /// that implements [`Provisioner`] returns `Some(self)`). The capabilities document lists
    /// `CAPABILITY_PROVISION` on exactly the types whose syncer returns one, and
    /// [`crate::provision`] dispatches to it by the entitlement's resource type. The default
    /// returns `None`.
    fn provisioner(&self) -> Option<&dyn Provisioner> {
        None
    }
}

/// One page of a listing: its items, the token of the next page (empty on the last page) and any
/// warnings the connector wants counted and reported (e.g. "skipped a user without an id").
///
/// ```
/// use c1_sync::Page;
///
/// let page = Page::next(vec![1, 2], "2").with_warning("item 3 had no id");
/// assert!(!page.is_last());
/// assert_eq!(page.next_token, "2");
/// let last: Page<u32> = Page::last(vec![]);
/// assert!(last.is_last());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Token for the next call; empty when this is the last page.
    pub next_token: String,
    /// Problems the connector met on this page; each counts as a warning of the sync.
    pub warnings: Vec<String>,
    /// Expected conditions the connector reports like warnings (counted and listed) that never
    /// fail a sync by themselves: they do not count toward the too-many-warnings rule (e.g. an
    /// assignment naming a member who has left, which real organizations always have).
    pub expected_warnings: Vec<String>,
}

impl<T> Page<T> {
    /// The last page of a listing.
    pub fn last(items: Vec<T>) -> Self {
        Self {
            items,
            next_token: String::new(),
            warnings: Vec::new(),
            expected_warnings: Vec::new(),
        }
    }

    /// A page followed by another, fetched with `next_token`. An empty token makes this the last
    /// page.
    pub fn next(items: Vec<T>, next_token: impl Into<String>) -> Self {
        Self {
            items,
            next_token: next_token.into(),
            warnings: Vec::new(),
            expected_warnings: Vec::new(),
        }
    }

    /// Adds a warning.
    pub fn with_warning(mut self, message: impl Into<String>) -> Self {
        self.warnings.push(message.into());
        self
    }

    /// Adds an expected warning: reported like a warning, but never counted toward the
    /// too-many-warnings rule.
    pub fn with_expected_warning(mut self, message: impl Into<String>) -> Self {
        self.expected_warnings.push(message.into());
        self
    }

    /// Whether this page ends the listing.
    pub fn is_last(&self) -> bool {
        self.next_token.is_empty()
    }
}
