//! The `role`, `team` and `project` syncers: pages of the run's [`RunAccess`], prepared once by
//! `Connector::begin_sync`.
//!
//! Resources come in one page per type (an organization has a few roles, hundreds of teams,
//! thousands of projects at most); role grants to users come [`GRANTS_PER_PAGE`] at a time,
//! since every principal holds an organization role. Each listing's warnings ride on its first
//! page: counted ones as warnings, assignments naming principals the organization does not list
//! as expected warnings that never fail the sync.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use c1_model::pb;
use c1_sync::provision::Provisioner;
use c1_sync::{ConnectorError, Page, ResourceSyncer};

use super::Principals;
use super::mapping::{
    PROJECT_RESOURCE_TYPE, project_entitlements, project_grants, project_resource,
    project_resource_type, role_entitlements, role_resource, role_resource_type, role_team_grant,
    role_user_grant, team_entitlements, team_grants, team_resource, team_resource_type,
};
use super::model::{AccessModel, Notices};
use crate::directory::Listing;
use crate::error::{Error, permanent};
use crate::provision::Env0Provisioner;

/// Role grants to users per page: as many as resources per page. Each grant carries a copy of
/// its entitlement, and with the database thread behind, the pages waiting for it held about
/// 8 MB at 1 000 grants a page (100k principals).
pub(crate) const GRANTS_PER_PAGE: usize = 256;

/// The principals of a listing, for the model.
pub(crate) struct ListingPrincipals<'a>(pub(crate) &'a Listing);

impl Principals for ListingPrincipals<'_> {
    fn contains(&self, id: &str) -> bool {
        self.0.contains(id)
    }

    fn custom_roles(&self) -> Vec<String> {
        let mut held: Vec<String> = (0..self.0.len())
            .filter_map(|at| self.0.get(at))
            .filter_map(|p| p.custom_role().map(|(id, _)| id.to_owned()))
            .collect();
        held.sort_unstable();
        held.dedup();
        held
    }
}

/// The run's access: the model, the principals, and where each resource is.
pub(crate) struct RunAccess {
    pub(crate) model: AccessModel,
    listing: Arc<Listing>,
    /// Role value → positions (in the listing's id order) of the principals holding it.
    role_members: HashMap<String, Vec<usize>>,
    roles: HashMap<String, usize>,
    teams: HashMap<String, usize>,
    projects: HashMap<String, usize>,
    /// Project id → positions of its sub-projects, in the model's order.
    children: HashMap<String, Vec<usize>>,
}

impl RunAccess {
    pub(crate) fn new(model: AccessModel, listing: Arc<Listing>) -> RunAccess {
        let mut role_members: HashMap<String, Vec<usize>> = HashMap::new();
        for at in 0..listing.len() {
            if let Some(role) = listing.get(at).and_then(|p| p.role_value()) {
                role_members.entry(role.to_owned()).or_default().push(at);
            }
        }
        let roles = model
            .roles
            .iter()
            .enumerate()
            .map(|(i, r)| (r.value.clone(), i))
            .collect();
        let teams = model
            .teams
            .iter()
            .enumerate()
            .map(|(i, t)| (t.team.id.clone(), i))
            .collect();
        let projects = model
            .projects
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, p)| (p.project.id.clone(), i))
            .collect();
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in model.projects.iter().flatten().enumerate() {
            if let Some(parent) = &p.parent {
                children.entry(parent.clone()).or_default().push(i);
            }
        }
        RunAccess {
            model,
            listing,
            role_members,
            roles,
            teams,
            projects,
            children,
        }
    }
}

/// Where the syncers find the run's access: set by `begin_sync`, cleared by `end_sync`.
pub(crate) type RunCell = Arc<Mutex<Option<Arc<RunAccess>>>>;

fn current(cell: &RunCell, what: &'static str) -> Result<Arc<RunAccess>, ConnectorError> {
    cell.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .ok_or_else(|| permanent(Error::NoRun { what }))
}

/// The model's entry for a resource the engine hands back.
fn entry<'a, T>(
    items: &'a [T],
    index: &HashMap<String, usize>,
    resource: &pb::Resource,
    what: &'static str,
) -> Result<&'a T, ConnectorError> {
    let id = resource.id.as_ref().map_or("", |id| id.resource.as_str());
    index.get(id).and_then(|&at| items.get(at)).ok_or_else(|| {
        permanent(Error::UnknownResource {
            resource_type: what,
            id: id.to_owned(),
        })
    })
}

/// A first page carrying a listing's warnings.
fn with_notices<T>(mut page: Page<T>, notices: &Notices) -> Page<T> {
    for warning in &notices.warnings {
        page = page.with_warning(warning.clone());
    }
    for warning in &notices.expected {
        page = page.with_expected_warning(warning.clone());
    }
    page
}

/// Organization roles.
pub(crate) struct RoleSyncer {
    pub(crate) run: RunCell,
    pub(crate) provisioner: Arc<Env0Provisioner>,
}

/// Teams.
pub(crate) struct TeamSyncer {
    pub(crate) run: RunCell,
    pub(crate) provisioner: Arc<Env0Provisioner>,
}

/// Projects and sub-projects.
pub(crate) struct ProjectSyncer {
    pub(crate) run: RunCell,
    pub(crate) provisioner: Arc<Env0Provisioner>,
}

impl fmt::Debug for RoleSyncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleSyncer").finish_non_exhaustive()
    }
}

impl fmt::Debug for TeamSyncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamSyncer").finish_non_exhaustive()
    }
}

impl fmt::Debug for ProjectSyncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectSyncer").finish_non_exhaustive()
    }
}

#[async_trait]
impl ResourceSyncer for RoleSyncer {
    fn resource_type(&self) -> pb::ResourceType {
        role_resource_type()
    }

    fn provisioner(&self) -> Option<&dyn Provisioner> {
        Some(&*self.provisioner)
    }

    async fn list(
        &self,
        parent: Option<&pb::ResourceId>,
        _page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError> {
        if parent.is_some() {
            return Ok(Page::last(Vec::new()));
        }
        let run = current(&self.run, "roles")?;
        let items = run.model.roles.iter().map(role_resource).collect();
        Ok(with_notices(Page::last(items), &run.model.role_notices))
    }

    async fn entitlements(
        &self,
        resource: &pb::Resource,
        _page_token: &str,
    ) -> Result<Page<pb::Entitlement>, ConnectorError> {
        let run = current(&self.run, "roles")?;
        let role = entry(&run.model.roles, &run.roles, resource, "role")?;
        Ok(Page::last(role_entitlements(role, resource)))
    }

    /// Page token: how many of the role's principals earlier pages held (empty for 0). The last
    /// page also holds the teams with the role.
    async fn grants(
        &self,
        resource: &pb::Resource,
        page_token: &str,
    ) -> Result<Page<pb::Grant>, ConnectorError> {
        let run = current(&self.run, "roles")?;
        let role = &entry(&run.model.roles, &run.roles, resource, "role")?.value;
        let holders = run.role_members.get(role).map_or(&[][..], Vec::as_slice);
        let start = if page_token.is_empty() {
            0
        } else {
            match page_token.parse::<usize>() {
                Ok(start) if start <= holders.len() => start,
                _ => {
                    return Err(permanent(Error::InvalidPageToken {
                        token: page_token.to_owned(),
                        total: holders.len(),
                    }));
                }
            }
        };
        let end = start.saturating_add(GRANTS_PER_PAGE).min(holders.len());
        let mut items: Vec<pb::Grant> = holders
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .filter_map(|&at| run.listing.get(at))
            .map(|p| role_user_grant(role, p.id()))
            .collect();
        if end < holders.len() {
            return Ok(Page::next(items, end.to_string()));
        }
        items.extend(
            run.model
                .role_teams
                .get(role)
                .into_iter()
                .flatten()
                .map(|team| role_team_grant(role, team)),
        );
        Ok(Page::last(items))
    }
}

#[async_trait]
impl ResourceSyncer for TeamSyncer {
    fn resource_type(&self) -> pb::ResourceType {
        team_resource_type()
    }

    fn provisioner(&self) -> Option<&dyn Provisioner> {
        Some(&*self.provisioner)
    }

    async fn list(
        &self,
        parent: Option<&pb::ResourceId>,
        _page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError> {
        if parent.is_some() {
            return Ok(Page::last(Vec::new()));
        }
        let run = current(&self.run, "teams")?;
        let items = run.model.teams.iter().map(team_resource).collect();
        Ok(with_notices(Page::last(items), &run.model.team_notices))
    }

    async fn entitlements(
        &self,
        resource: &pb::Resource,
        _page_token: &str,
    ) -> Result<Page<pb::Entitlement>, ConnectorError> {
        let run = current(&self.run, "teams")?;
        let team = entry(&run.model.teams, &run.teams, resource, "team")?;
        Ok(Page::last(team_entitlements(team, resource)))
    }

    async fn grants(
        &self,
        resource: &pb::Resource,
        _page_token: &str,
    ) -> Result<Page<pb::Grant>, ConnectorError> {
        let run = current(&self.run, "teams")?;
        let team = entry(&run.model.teams, &run.teams, resource, "team")?;
        Ok(Page::last(team_grants(team)))
    }
}

#[async_trait]
impl ResourceSyncer for ProjectSyncer {
    fn resource_type(&self) -> pb::ResourceType {
        project_resource_type()
    }

    fn provisioner(&self) -> Option<&dyn Provisioner> {
        Some(&*self.provisioner)
    }

    /// The top-level projects without a parent, and the sub-projects of a project when the
    /// engine lists that project's children (every project carries a `ChildResourceType`
    /// annotation for `project`, as baton connectors mark a resource tree).
    async fn list(
        &self,
        parent: Option<&pb::ResourceId>,
        _page_token: &str,
    ) -> Result<Page<pb::Resource>, ConnectorError> {
        let run = current(&self.run, "projects")?;
        let projects = run.model.projects.as_deref().unwrap_or_default();
        let Some(parent) = parent else {
            let items = projects
                .iter()
                .filter(|p| p.parent.is_none())
                .map(project_resource)
                .collect();
            return Ok(with_notices(Page::last(items), &run.model.project_notices));
        };
        if parent.resource_type != PROJECT_RESOURCE_TYPE {
            return Ok(Page::last(Vec::new()));
        }
        let items = run
            .children
            .get(&parent.resource)
            .into_iter()
            .flatten()
            .filter_map(|&at| projects.get(at))
            .map(project_resource)
            .collect();
        Ok(Page::last(items))
    }

    async fn entitlements(
        &self,
        resource: &pb::Resource,
        _page_token: &str,
    ) -> Result<Page<pb::Entitlement>, ConnectorError> {
        let run = current(&self.run, "projects")?;
        let projects = run.model.projects.as_deref().unwrap_or_default();
        let project = entry(projects, &run.projects, resource, "project")?;
        Ok(Page::last(project_entitlements(
            &run.model, project, resource,
        )))
    }

    async fn grants(
        &self,
        resource: &pb::Resource,
        _page_token: &str,
    ) -> Result<Page<pb::Grant>, ConnectorError> {
        let run = current(&self.run, "projects")?;
        let projects = run.model.projects.as_deref().unwrap_or_default();
        let project = entry(projects, &run.projects, resource, "project")?;
        Ok(Page::last(project_grants(&run.model, project)))
    }
}
