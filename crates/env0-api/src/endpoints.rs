//! The env0 endpoints this client reads (the writes are in `writes`).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use futures::{Stream, TryStreamExt, stream};
use url::Url;

use crate::config::ClientConfig;
use crate::error::Error;
use crate::ids::{OrgId, ProjectId, TeamId};
use crate::models::{
    ApiKey, AssignmentScope, CustomRole, Organization, OrganizationUser, Project,
    ProjectUserPermission, Team, TeamRoleAssignment, TeamsPage,
};
use crate::parallel_decode;
use crate::stream_decode::Noted;
use crate::transport::{Endpoint, Transport};

/// Page size asked of `GET /teams/organizations/{org}`.
pub const TEAMS_PAGE_LIMIT: u32 = 100;

/// A typed, retrying, rate-limited env0 API client.
///
/// Cheap to clone: clones share one connection pool, one per-path rate limiter and one bound on
/// the requests in flight. `Debug` never shows
/// the secret.
#[derive(Clone)]
pub struct Env0Client {
    pub(crate) transport: Arc<Transport>,
}

impl Env0Client {
    /// Checks the configuration and builds the client. No request is made.
    pub fn new(config: ClientConfig) -> Result<Env0Client, Error> {
        Ok(Env0Client {
            transport: Arc::new(Transport::new(config)?),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    async fn get_list<T: serde::de::DeserializeOwned + Send>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, Error> {
        let endpoint = self.transport.endpoint(segments, query)?;
        // A large list (10 000 API keys take 6 MB) is decoded on several threads, so the
        // single-threaded runtime gets back sooner to the responses still arriving.
        let parallel = self.transport.parallel_decoding();
        let decode = |body: &[u8]| parallel_decode::decode_list(body, parallel, &|item: T| item);
        let items = self.transport.get_decoded(&endpoint, &decode).await?;
        tracing::debug!(
            endpoint = endpoint.name(),
            count = items.len(),
            "env0 list received"
        );
        Ok(items)
    }

    /// `GET /organizations`: the organizations the key can access.
    pub async fn organizations(&self) -> Result<Vec<Organization>, Error> {
        self.get_list(&["organizations"], &[]).await
    }

    /// `GET /organizations/{org}/users`: every member of the organization, in one response.
    pub async fn organization_users(&self, org: &OrgId) -> Result<Vec<OrganizationUser>, Error> {
        self.get_list(&["organizations", org.as_str(), "users"], &[])
            .await
    }

    /// Like [`organization_users`](Self::organization_users), converting each member with
    /// `convert` as soon as it is read: `convert` returns what to keep of it, if anything, and
    /// may note things (warnings, say) in the list it is given; the answer is what was kept, in
    /// response order, and what was noted. The body is decoded while it arrives and never held
    /// whole (a 100k-member list is about 45 MB): memory holds what was kept and the one member
    /// being read. Errors are those of decoding the whole body (same message, line and column).
    /// A body cut short is requested again and decoded from its start, what was kept and noted
    /// from it dropped, so `convert` may see the same member more than once and should have no
    /// side effects.
    pub async fn organization_users_with<T, W, F>(
        &self,
        org: &OrgId,
        convert: F,
    ) -> Result<(Vec<T>, Vec<W>), Error>
    where
        T: Send,
        W: Send,
        F: Fn(OrganizationUser, &mut Vec<W>) -> Option<T> + Sync,
    {
        let endpoint = self
            .transport
            .endpoint(&["organizations", org.as_str(), "users"], &[])?;
        let (items, notes) = self
            .transport
            .get_streamed_list(&endpoint, &|| Noted::new(&convert))
            .await?;
        tracing::debug!(
            endpoint = endpoint.name(),
            count = items.len(),
            "env0 list received"
        );
        Ok((items, notes))
    }

    /// `GET /api-keys?organizationId={org}`.
    pub async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>, Error> {
        self.get_list(&["api-keys"], &[("organizationId", org.as_str())])
            .await
    }

    /// `GET /roles?organizationId={org}`: custom roles (an Enterprise feature; lower plans may
    /// answer [`Error::NotInPlan`] or [`Error::Forbidden`]).
    pub async fn custom_roles(&self, org: &OrgId) -> Result<Vec<CustomRole>, Error> {
        self.get_list(&["roles"], &[("organizationId", org.as_str())])
            .await
    }

    /// One page of `GET /teams/organizations/{org}?limit=100[&offset={page_key}]`.
    ///
    /// Pass `None` for the first page and the previous page's
    /// [`next_page_key`](TeamsPage::next_page_key) after that.
    pub async fn teams_page(
        &self,
        org: &OrgId,
        page_key: Option<&str>,
    ) -> Result<TeamsPage, Error> {
        let endpoint = self.teams_endpoint(org, page_key)?;
        let page: TeamsPage = self.transport.get_json(&endpoint).await?;
        tracing::debug!(
            endpoint = endpoint.name(),
            count = page.teams.len(),
            more = page.next_page_key.is_some(),
            "env0 teams page received"
        );
        Ok(page)
    }

    fn teams_endpoint(&self, org: &OrgId, page_key: Option<&str>) -> Result<Endpoint, Error> {
        let limit = TEAMS_PAGE_LIMIT.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(key) = page_key {
            query.push(("offset", key));
        }
        self.transport
            .endpoint(&["teams", "organizations", org.as_str()], &query)
    }

    /// The organization's teams, one item per page, following `nextPageKey` until it is empty.
    /// A bare-array answer is one (last) page. A page key that comes back twice ends the stream
    /// with [`Error::UnexpectedResponse`] instead of looping.
    pub fn teams(&self, org: &OrgId) -> impl Stream<Item = Result<Vec<Team>, Error>> + '_ {
        let state = TeamsCursor {
            org: org.clone(),
            next: NextPage::First,
            seen: HashSet::new(),
        };
        stream::try_unfold(state, move |mut cursor| async move {
            let page_key = match std::mem::replace(&mut cursor.next, NextPage::Done) {
                NextPage::Done => return Ok(None),
                NextPage::First => None,
                NextPage::After(key) => Some(key),
            };
            let page = self.teams_page(&cursor.org, page_key.as_deref()).await?;
            if let Some(key) = &page.next_page_key
                && !cursor.seen.insert(key.clone())
            {
                let endpoint = self.teams_endpoint(&cursor.org, page_key.as_deref())?;
                return Err(Error::UnexpectedResponse {
                    endpoint: endpoint.name().to_owned(),
                    message: format!(
                        "nextPageKey `{key}` was already returned; stopping to avoid a loop"
                    ),
                });
            }
            cursor.next = page.next_page_key.map_or(NextPage::Done, NextPage::After);
            Ok(Some((page.teams, cursor)))
        })
    }

    /// Every team of the organization (all pages).
    pub async fn all_teams(&self, org: &OrgId) -> Result<Vec<Team>, Error> {
        self.teams(org)
            .try_fold(Vec::new(), |mut all, page| async move {
                all.extend(page);
                Ok(all)
            })
            .await
    }

    /// `GET /teams/{team}`: one team with its members.
    pub async fn team(&self, team: &TeamId) -> Result<Team, Error> {
        let endpoint = self.transport.endpoint(&["teams", team.as_str()], &[])?;
        let team: Team = self.transport.get_json(&endpoint).await?;
        tracing::debug!(
            endpoint = endpoint.name(),
            members = team.users.as_ref().map_or(0, Vec::len),
            "env0 team received"
        );
        Ok(team)
    }

    /// `GET /projects?organizationId={org}`: all projects, sub-projects and archived projects.
    pub async fn projects(&self, org: &OrgId) -> Result<Vec<Project>, Error> {
        self.get_list(&["projects"], &[("organizationId", org.as_str())])
            .await
    }

    /// `GET /permissions/projects/{project}`: users' direct roles on one project.
    pub async fn project_user_permissions(
        &self,
        project: &ProjectId,
    ) -> Result<Vec<ProjectUserPermission>, Error> {
        self.get_list(&["permissions", "projects", project.as_str()], &[])
            .await
    }

    /// `GET /roles/assignments/teams?organizationId=|projectId=|environmentId=`: team roles at
    /// one scope.
    pub async fn team_role_assignments(
        &self,
        scope: &AssignmentScope,
    ) -> Result<Vec<TeamRoleAssignment>, Error> {
        let (param, value) = scope.query();
        self.get_list(&["roles", "assignments", "teams"], &[(param, value)])
            .await
    }
}

impl fmt::Debug for Env0Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.transport, f)
    }
}

/// Where the teams stream is.
struct TeamsCursor {
    org: OrgId,
    next: NextPage,
    /// Page keys already returned, to stop a server that repeats one.
    seen: HashSet<String>,
}

enum NextPage {
    First,
    After(String),
    Done,
}
