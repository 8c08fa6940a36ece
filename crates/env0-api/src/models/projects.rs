//! Projects, their members' permissions, and team role assignments.

use serde::{Deserialize, Serialize};

use super::{ProjectRole, Role, Timestamp};
use crate::de::{opt_bool, opt_id, opt_project_role, opt_string, opt_timestamp, string_list};
use crate::ids::{EnvironmentId, OrgId, ProjectId, TeamId, UserId};

/// An item of `GET /projects?organizationId=` (all projects, sub-projects and archived ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Project {
    /// Project id.
    pub id: ProjectId,
    /// Display name.
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// Free-text description.
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    /// Owning organization.
    #[serde(default, deserialize_with = "opt_id")]
    pub organization_id: Option<OrgId>,
    /// Parent project for sub-projects; `None` at the top level.
    #[serde(default, deserialize_with = "opt_id")]
    pub parent_project_id: Option<ProjectId>,
    /// `rootId|...|parentId|selfId`.
    #[serde(default, deserialize_with = "opt_string")]
    pub hierarchy: Option<String>,
    /// Archived projects are listed too.
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_archived: Option<bool>,
    /// Creator's user id.
    #[serde(default, deserialize_with = "opt_string")]
    pub created_by: Option<String>,
    /// Creation time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub created_at: Option<Timestamp>,
    /// Last update time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub updated_at: Option<Timestamp>,
    /// The calling key's role in this project.
    #[serde(default, deserialize_with = "opt_project_role")]
    pub role: Option<ProjectRole>,
    /// Tags.
    #[serde(default, deserialize_with = "string_list")]
    pub tags: Vec<String>,
}

/// An item of `GET /permissions/projects/{project}`: a user's direct role on a project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProjectUserPermission {
    /// Assignment id.
    #[serde(default, deserialize_with = "opt_string")]
    pub id: Option<String>,
    /// The user (or User-role API key) assigned.
    pub user_id: UserId,
    /// The project role.
    #[serde(default, deserialize_with = "opt_project_role")]
    pub role: Option<ProjectRole>,
}

/// An item of `GET /roles/assignments/teams?...`: a team's role at one scope.
///
/// The role is kept as wire text because its meaning depends on the scope: read it with
/// [`TeamRoleAssignment::org_role`] for an organization scope and
/// [`TeamRoleAssignment::project_role`] for a project or environment scope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TeamRoleAssignment {
    /// Assignment id.
    #[serde(default, deserialize_with = "opt_string")]
    pub id: Option<String>,
    /// The team assigned.
    pub team_id: TeamId,
    /// The role as sent.
    #[serde(default, deserialize_with = "opt_string")]
    pub role: Option<String>,
}

impl TeamRoleAssignment {
    /// The role read as an organization role.
    pub fn org_role(&self) -> Option<Role> {
        self.role.as_deref().and_then(Role::parse)
    }

    /// The role read as a project or environment role.
    pub fn project_role(&self) -> Option<ProjectRole> {
        self.role.as_deref().and_then(ProjectRole::parse)
    }
}

/// Where a team role assignment applies: exactly one of organization, project or environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssignmentScope {
    /// Organization-wide.
    Organization(OrgId),
    /// One project (and, by inheritance, its sub-projects and environments).
    Project(ProjectId),
    /// One environment.
    Environment(EnvironmentId),
}

impl AssignmentScope {
    /// The query parameter env0 expects for this scope, and its value.
    pub fn query(&self) -> (&'static str, &str) {
        match self {
            AssignmentScope::Organization(id) => ("organizationId", id.as_str()),
            AssignmentScope::Project(id) => ("projectId", id.as_str()),
            AssignmentScope::Environment(id) => ("environmentId", id.as_str()),
        }
    }
}
