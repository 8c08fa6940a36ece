//! [`Env0Connector`]: the `c1-sync` connector for one env0 organization.
//!
//! Call order and caching:
//! - [`Connector::validate`] checks that `GET /organizations` lists the organization and that
//!   its users can be listed, and fetches the API keys at the same time (all three requests run
//!   together). The members are converted at once and kept, with the API keys' answer, for the
//!   listing, so a sync downloads each list once.
//! - The user syncer's first [`ResourceSyncer::list`] call fetches the members and API keys
//!   (unless validate already did) and, when any principal holds a custom role, the custom roles;
//!   every later call pages through that one snapshot. Wire values are converted to
//!   [`Principal`](crate::Principal)s and dropped; the snapshot keeps them packed (one allocation
//!   of text each) and resources are built one page at a time, straight from the packed form.
//! - [`Connector::begin_sync`] prepares the run: the principals' snapshot (members, API keys
//!   and, always, `GET /roles`) and, at the same time, the access input (teams, their members,
//!   the organization's team roles, projects and their assignments, see [`crate::access`]);
//!   then checks the assignments against the principals. The role, team and project syncers
//!   page through that model.
//! - The snapshot lives for one run: [`Connector::end_sync`] drops it (with anything
//!   `validate` prefetched, and the access model), so later phases of the same run can still
//!   read it and the next run fetches a fresh one.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use c1_model::pb;
use c1_sync::{Connector, ConnectorError, ConnectorMetadata, Page, ResourceSyncer};
use env0_api::{ApiKey, Env0Client, OrgId};
use futures::future::Either;

use crate::access::fetch::{
    FetchOptions, ProjectProgress, custom_roles_input, custom_roles_missing,
};
use crate::access::syncers::{
    ListingPrincipals, ProjectSyncer, RoleSyncer, RunAccess, RunCell, TeamSyncer,
};
use crate::access::{AccessModel, CustomRoleInput, Part};
use crate::directory::{Directory, Listing, MEMBERS_SOURCE, Members, PrincipalSummary};
use crate::domain::Principal;
use crate::error::{Error, from_api, permanent};
use crate::mapping::{resource_from, user_resource_type};
use crate::packed::admit;
use crate::provision::Env0Provisioner;

/// Resources per page of the user listing.
///
/// Pages come from the in-memory snapshot, so their size costs no requests; it sets how long a
/// built resource waits before the engine checks and encodes it (one to two pages later). 256
/// resources (about half a MiB) stay in a core's cache meanwhile; 1 000 did not (see
/// `docs/performance.md`).
pub const DEFAULT_PAGE_SIZE: usize = 256;

/// The env0 connector for one organization.
///
/// ```no_run
/// # async fn demo(client: env0_api::Env0Client) -> Result<(), c1_sync::ConnectorError> {
/// use env0_connector::Env0Connector;
/// let connector = Env0Connector::new(client, env0_api::OrgId::new("3f2a..."));
/// let access = connector.check_access().await?;
/// println!("{} users visible", access.users_visible);
/// # Ok(()) }
/// ```
pub struct Env0Connector {
    pub(crate) session: Arc<OrgSession>,
    syncers: Vec<Arc<dyn ResourceSyncer>>,
    provisioner: Arc<Env0Provisioner>,
}

/// How a connector syncs: page size, whether projects are synced, how many requests at once,
/// and who hears of the per-project progress.
#[derive(Clone)]
#[non_exhaustive]
pub struct ConnectorOptions {
    /// Resources per user listing page (at least 1).
    pub page_size: usize,
    /// Leave projects out: users, roles and teams only, and no request for a project.
    pub skip_projects: bool,
    /// Per-team and per-project requests issued at once (at least 1).
    pub concurrency: usize,
    /// Told `(done, total)` as each project's assignments are read.
    pub on_project_progress: Option<ProjectProgress>,
}

impl Default for ConnectorOptions {
    fn default() -> Self {
        ConnectorOptions {
            page_size: DEFAULT_PAGE_SIZE,
            skip_projects: false,
            concurrency: 4,
            on_project_progress: None,
        }
    }
}

impl ConnectorOptions {
    /// Sets the user listing's page size.
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Leaves projects out.
    pub fn skip_projects(mut self, skip: bool) -> Self {
        self.skip_projects = skip;
        self
    }

    /// Sets how many per-team and per-project requests are issued at once.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Registers a callback told `(done, total)` as each project's assignments are read.
    pub fn on_project_progress(
        mut self,
        hook: impl Fn(usize, usize) + Send + Sync + 'static,
    ) -> Self {
        self.on_project_progress = Some(Arc::new(hook));
        self
    }
}

impl fmt::Debug for ConnectorOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorOptions")
            .field("page_size", &self.page_size)
            .field("skip_projects", &self.skip_projects)
            .field("concurrency", &self.concurrency)
            .field(
                "on_project_progress",
                &self.on_project_progress.as_ref().map(|_| "set"),
            )
            .finish()
    }
}

/// What the connector and its syncers share for one organization: the client, the options, and
/// the current run's snapshot (members, API keys, custom roles, the access model).
pub(crate) struct OrgSession {
    pub(crate) client: Env0Client,
    pub(crate) org: OrgId,
    page_size: usize,
    pub(crate) fetch: FetchOptions,
    /// What `GET /roles` answered for the run's snapshot (taken by `begin_sync`).
    custom_roles: Mutex<Option<Part<Vec<CustomRoleInput>>>>,
    /// The snapshot's warnings when `begin_sync` fetched it, for the first user page.
    pending_warnings: Mutex<Vec<String>>,
    /// The run's access model, for the role, team and project syncers.
    run: RunCell,
    /// Members fetched by `validate`, waiting for the first listing call.
    prefetched: Mutex<Option<Members>>,
    /// What `GET /api-keys` answered while `validate` fetched the members.
    prefetched_keys: Mutex<Option<Result<Vec<ApiKey>, env0_api::Error>>>,
    /// The snapshot the listing pages through, once fetched.
    listing: tokio::sync::Mutex<Option<Arc<Listing>>>,
    summary: Mutex<PrincipalSummary>,
}

impl Env0Connector {
    /// A connector for organization `org`, talking to env0 through `client`.
    pub fn new(client: Env0Client, org: OrgId) -> Env0Connector {
        Env0Connector::with_page_size(client, org, DEFAULT_PAGE_SIZE)
    }

    /// Like [`new`](Self::new) with `page_size` resources per listing page (at least 1).
    pub fn with_page_size(client: Env0Client, org: OrgId, page_size: usize) -> Env0Connector {
        Env0Connector::with_options(
            client,
            org,
            ConnectorOptions::default().page_size(page_size),
        )
    }

    /// A connector for organization `org` with `options`.
    pub fn with_options(
        client: Env0Client,
        org: OrgId,
        options: ConnectorOptions,
    ) -> Env0Connector {
        let session = Arc::new(OrgSession {
            client,
            org,
            page_size: options.page_size.max(1),
            fetch: FetchOptions {
                skip_projects: options.skip_projects,
                concurrency: options.concurrency.max(1),
                on_project: options.on_project_progress,
            },
            custom_roles: Mutex::new(None),
            pending_warnings: Mutex::new(Vec::new()),
            run: RunCell::default(),
            prefetched: Mutex::new(None),
            prefetched_keys: Mutex::new(None),
            listing: tokio::sync::Mutex::new(None),
            summary: Mutex::new(PrincipalSummary::default()),
        });
        let provisioner = Arc::new(Env0Provisioner::new(
            session.client.clone(),
            session.org.clone(),
        ));
        let mut syncers: Vec<Arc<dyn ResourceSyncer>> = vec![
            Arc::new(UserSyncer {
                session: Arc::clone(&session),
            }),
            Arc::new(RoleSyncer {
                run: Arc::clone(&session.run),
                provisioner: Arc::clone(&provisioner),
            }),
            Arc::new(TeamSyncer {
                run: Arc::clone(&session.run),
                provisioner: Arc::clone(&provisioner),
            }),
        ];
        if !options.skip_projects {
            syncers.push(Arc::new(ProjectSyncer {
                run: Arc::clone(&session.run),
                provisioner: Arc::clone(&provisioner),
            }));
        }
        Env0Connector {
            session,
            syncers,
            provisioner,
        }
    }

    /// The organization this connector syncs. See also [`check_access`](Self::check_access)
    /// (`validate.rs`).
    pub fn org(&self) -> &OrgId {
        &self.session.org
    }

    /// The provisioner the `role`, `team` and `project` syncers hand out: for planning a change
    /// without sending it (`--dry-run`).
    pub fn provisioner(&self) -> &Env0Provisioner {
        &self.provisioner
    }

    /// Counts from the last listing (all zero before the first user listing call).
    pub fn summary(&self) -> PrincipalSummary {
        lock(&self.session.summary).clone()
    }
}

impl fmt::Debug for Env0Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env0Connector")
            .field("org", &self.session.org)
            .field("page_size", &self.session.page_size)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Connector for Env0Connector {
    fn metadata(&self) -> ConnectorMetadata {
        ConnectorMetadata::new("env0", "env0", env!("CARGO_PKG_VERSION")).with_description(
            "People, API keys, organization roles, teams and projects of one env0 organization",
        )
    }

    /// Also fetches the API keys alongside the members (a sync needs both); their outcome,
    /// failure included, waits for the listing, which reports it.
    async fn validate(&self) -> Result<(), ConnectorError> {
        let session = &self.session;
        let (organization, members, keys) = futures::join!(
            session.check_organization(),
            session.fetch_members(),
            session.client.api_keys(&session.org)
        );
        organization?;
        *lock(&session.prefetched) = Some(members?);
        *lock(&session.prefetched_keys) = Some(keys);
        Ok(())
    }

    fn resource_syncers(&self) -> Vec<Arc<dyn ResourceSyncer>> {
        self.syncers.clone()
    }

    /// Reads the principals and the access input together, and checks the one against the
    /// other (see the module docs).
    async fn begin_sync(&self) -> Result<(), ConnectorError> {
        let session = &self.session;
        let listing = std::pin::pin!(session.listing_with(true));
        let access = std::pin::pin!(crate::access::fetch::fetch(
            &session.client,
            &session.org,
            &session.fetch
        ));
        // The principals' failure wins, and at once: it says what the key lacks for any sync at
        // all, and the per-project requests need not run to their end first.
        let ((listing, warnings), mut input) = match futures::future::select(listing, access).await
        {
            Either::Left((listing, access)) => {
                let listing = listing?;
                (listing, access.await?)
            }
            Either::Right((access, listing)) => {
                let listing = listing.await?;
                (listing, access?)
            }
        };
        lock(&session.pending_warnings).extend(warnings);
        if let Some(roles) = lock(&session.custom_roles).clone() {
            input.custom_roles = roles;
        }
        let model = AccessModel::build(&input, &ListingPrincipals(&listing));
        tracing::info!(
            org = %session.org,
            roles = model.roles.len(),
            teams = model.teams.len(),
            projects = model.projects.as_ref().map_or(0, Vec::len),
            "read the organization's access"
        );
        *lock(&session.run) = Some(Arc::new(RunAccess::new(model, listing)));
        Ok(())
    }

    /// Frees the run's snapshot and access model. No listing call is in flight when the engine
    /// calls this, so the lock is free; if it were not, the snapshot would be replaced by the
    /// next run's.
    fn end_sync(&self) {
        if let Ok(mut listing) = self.session.listing.try_lock() {
            *listing = None;
        }
        *lock(&self.session.prefetched) = None;
        *lock(&self.session.prefetched_keys) = None;
        *lock(&self.session.custom_roles) = None;
        lock(&self.session.pending_warnings).clear();
        *lock(&self.session.run) = None;
    }
}

impl OrgSession {
    /// The organization's name and how many organizations the key sees; an error when the
    /// configured one is not among them.
    pub(crate) async fn check_organization(
        &self,
    ) -> Result<(Option<String>, usize), ConnectorError> {
        let orgs = self.client.organizations().await.map_err(from_api)?;
        let visible = orgs.len();
        match orgs.into_iter().find(|o| o.id == self.org) {
            Some(org) => Ok((org.name, visible)),
            None => Err(permanent(Error::OrganizationNotVisible {
                org: self.org.clone(),
                visible,
            })),
        }
    }

    pub(crate) async fn fetch_members(&self) -> Result<Members, ConnectorError> {
        let converted = self
            .client
            .organization_users_with(&self.org, |m, warnings| {
                // Packed as soon as decoded: the organization's principals are only ever in
                // memory in this compact form, in the one list that the directory keeps.
                let principal = Principal::from_member(m, warnings);
                admit(&principal, MEMBERS_SOURCE, warnings)
            })
            .await;
        match converted {
            Ok((principals, warnings)) => {
                Members::from_principals(principals, warnings).map_err(permanent)
            }
            Err(e) if e.is_access_denied() => Err(permanent(Error::CannotListUsers {
                org: self.org.clone(),
                status: e.status().unwrap_or(403),
                source: e,
            })),
            Err(e) => Err(from_api(e)),
        }
    }

    /// Members, keys and custom role names, as one directory. `GET /roles` is asked when any
    /// principal holds a custom role, or always with `all_roles` (a sync's roles need them);
    /// its answer is kept for the access model.
    async fn fetch_directory(&self, all_roles: bool) -> Result<Directory, ConnectorError> {
        let prefetched = lock(&self.prefetched).take();
        let prefetched_keys = lock(&self.prefetched_keys).take();
        let keys = async {
            let answer = match prefetched_keys {
                Some(answer) => answer,
                None => self.client.api_keys(&self.org).await,
            };
            match answer {
                Ok(keys) => Ok(keys),
                Err(e) if e.is_access_denied() => Err(permanent(Error::CannotListApiKeys {
                    org: self.org.clone(),
                    status: e.status().unwrap_or(403),
                    source: e,
                })),
                Err(e) => Err(from_api(e)),
            }
        };
        // The roles are asked together with the rest when a sync needs them anyway.
        let early_roles = async {
            if all_roles {
                Some(self.client.custom_roles(&self.org).await)
            } else {
                None
            }
        };
        let (members, keys, roles) = if let Some(members) = prefetched {
            let (keys, roles) = futures::join!(keys, early_roles);
            (members, keys?, roles)
        } else {
            let (members, keys, roles) = futures::join!(self.fetch_members(), keys, early_roles);
            (members?, keys?, roles)
        };
        let mut directory = Directory::assemble(members, keys).map_err(permanent)?;
        let roles = match roles {
            Some(answer) => Some(answer),
            None if directory.has_custom_roles() => Some(self.client.custom_roles(&self.org).await),
            None => None,
        };
        match roles {
            Some(Ok(roles)) => {
                *lock(&self.custom_roles) = Some(Part::Synced(custom_roles_input(&roles)));
                directory.resolve_custom_roles(roles);
            }
            Some(Err(e)) if e.is_access_denied() => {
                let status = e.status().unwrap_or(403);
                *lock(&self.custom_roles) = Some(Part::Missing(custom_roles_missing(status)));
                directory.custom_roles_unavailable(status);
            }
            Some(Err(e)) => return Err(from_api(e)),
            None => {}
        }
        Ok(directory)
    }

    /// The snapshot, fetching it on first use; the warnings are returned only by the call that
    /// fetched.
    async fn listing(&self) -> Result<(Arc<Listing>, Vec<String>), ConnectorError> {
        self.listing_with(false).await
    }

    /// [`listing`](Self::listing), asking `GET /roles` in any case when `all_roles`.
    async fn listing_with(
        &self,
        all_roles: bool,
    ) -> Result<(Arc<Listing>, Vec<String>), ConnectorError> {
        let mut listing = self.listing.lock().await;
        if let Some(principals) = listing.as_ref() {
            return Ok((Arc::clone(principals), Vec::new()));
        }
        let directory = self.fetch_directory(all_roles).await?;
        let summary = directory.summary();
        let messages = directory.warning_messages();
        tracing::info!(
            org = %self.org,
            humans = summary.humans,
            api_keys = summary.api_keys,
            pending_invites = summary.pending_invites,
            warnings = messages.len(),
            "listed env0 principals"
        );
        *lock(&self.summary) = summary;
        let principals = Arc::new(directory.into_listing());
        *listing = Some(Arc::clone(&principals));
        Ok((principals, messages))
    }
}

/// Lists every principal of the organization as a `user` resource.
struct UserSyncer {
    session: Arc<OrgSession>,
}

impl fmt::Debug for UserSyncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSyncer")
            .field("org", &self.session.org)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ResourceSyncer for UserSyncer {
    fn resource_type(&self) -> pb::ResourceType {
        user_resource_type()
    }

    /// Page token: the offset of the page's first principal in id order (empty for 0).
    async fn list(
        &self,
        parent: Option<&pb::ResourceId>,
        page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError> {
        if parent.is_some() {
            // Users are top-level; nothing lives under a parent.
            return Ok(Page::last(Vec::new()));
        }
        let (principals, mut warnings) = self.session.listing().await?;
        if page_token.is_empty() {
            // The snapshot's warnings when `begin_sync` fetched it.
            warnings.extend(std::mem::take(&mut *lock(&self.session.pending_warnings)));
        }
        let total = principals.len();
        let offset = if page_token.is_empty() {
            0
        } else {
            match page_token.parse::<usize>() {
                Ok(offset) if offset <= total => offset,
                _ => {
                    return Err(permanent(Error::InvalidPageToken {
                        token: page_token.to_owned(),
                        total,
                    }));
                }
            }
        };
        let end = offset.saturating_add(self.session.page_size).min(total);
        let slice = principals.range(offset, end);
        // The page's principals and their texts sit at scattered places in memory (kept in
        // response order, read in id order). Touching them all first, in a loop this small, lets
        // the processor fetch many at once; mapping them one by one waited for each in turn.
        std::hint::black_box(slice.clone().fold(0u8, |acc, p| acc ^ p.warm()));
        let mut cuts = Vec::new();
        let items: Vec<pb::Resource> = slice
            .map(|p| resource_from(&p.fields(), &mut cuts))
            .collect();
        let mut page = if end < total {
            Page::next(items, end.to_string())
        } else {
            Page::last(items)
        };
        for warning in warnings.into_iter().chain(cuts) {
            page = page.with_warning(warning);
        }
        Ok(page)
    }
}

/// Locks a std mutex; a poisoned lock still holds consistent data here (plain values).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
