//! The organization's access: roles, teams and projects as ConductorOne resources, entitlements
//! and grants, as `docs/access-model.md` specifies.
//!
//! - [`AccessInput`] is what env0 said (custom roles, teams with members, projects, assignments),
//!   converted from the wire types and independent of them; each part is either synced or
//!   [`Part::Missing`] (402/403) or left out (`--skip-projects`).
//! - [`AccessModel::build`] checks it against the organization's principals (assignments naming
//!   principals or teams env0 does not list are skipped, with a warning each), decides which
//!   roles, teams and projects exist and which project role entitlements every project has.
//! - `mapping` turns the model into resources, entitlements and grants, the structural
//!   expandable grants of inheritance included; `fetch` asks env0 for the input; `syncers` are
//!   the `c1_sync` syncers of the three resource types.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

pub(crate) mod fetch;
pub mod mapping;
mod model;
pub(crate) mod syncers;

pub use fetch::ProjectProgress;
pub use mapping::{
    PROJECT_RESOURCE_TYPE, ROLE_RESOURCE_TYPE, TEAM_RESOURCE_TYPE, project_resource_type,
    role_resource_type, team_resource_type,
};
pub use model::{AccessModel, Notices, ProjectEntry, RoleEntry, TeamEntry};

/// The built-in organization roles, as env0 writes them.
pub const ORG_ROLES: [&str; 2] = ["Admin", "User"];

/// The parts whose requests go one per team or project, as warnings name them.
pub(crate) const TEAM_MEMBERS: &str = "team members";
pub(crate) const PROJECT_USER_ROLES: &str = "user roles on projects";
pub(crate) const PROJECT_TEAM_ROLES: &str = "team roles on projects";

/// The built-in project roles, as env0 writes them.
pub const PROJECT_ROLES: [&str; 4] = ["Admin", "Deployer", "Planner", "Viewer"];

/// What env0 said about the organization's access.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct AccessInput {
    /// `GET /roles`.
    pub custom_roles: Part<Vec<CustomRoleInput>>,
    /// The team list, members from the list or `GET /teams/{id}`.
    pub teams: Part<Vec<TeamInput>>,
    /// `GET /roles/assignments/teams?organizationId=`.
    pub org_team_roles: Part<Vec<Assignment>>,
    /// `GET /projects`; `None` when projects are not synced at all (`--skip-projects`).
    pub projects: Option<Part<Vec<ProjectInput>>>,
    /// `GET /permissions/projects/{p}` by project id.
    pub project_user_roles: Part<Vec<(String, Vec<Assignment>)>>,
    /// `GET /roles/assignments/teams?projectId={p}` by project id.
    pub project_team_roles: Part<Vec<(String, Vec<Assignment>)>>,
    /// Single requests of a synced part that env0 refused (402 or 403) while the part's other
    /// requests answered: a team's `GET /teams/{id}` (the team is synced without members) or a
    /// project's assignment list (the project is synced without those assignments). When every
    /// request of a part is refused, the part is [`Part::Missing`] instead.
    pub refused: Vec<MissingPart>,
}

/// A part of the input: what env0 answered, or why it could not.
#[derive(Debug, Clone, PartialEq)]
pub enum Part<T> {
    /// env0 answered.
    Synced(T),
    /// env0 answered 402 or 403.
    Missing(MissingPart),
}

impl<T: Default> Default for Part<T> {
    fn default() -> Self {
        Part::Synced(T::default())
    }
}

impl<T> Part<T> {
    /// The answer, when there is one.
    pub fn synced(&self) -> Option<&T> {
        match self {
            Part::Synced(value) => Some(value),
            Part::Missing(_) => None,
        }
    }
}

/// Why a part is missing: which request answered which status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPart {
    /// What is missing, in words (`teams`, `user roles on projects`).
    pub part: &'static str,
    /// The request, `GET /path`.
    pub endpoint: String,
    /// 402 or 403.
    pub status: u16,
}

impl MissingPart {
    /// The reason a status gives, in words.
    pub fn reason(&self) -> &'static str {
        if self.status == 402 {
            "the organization's plan does not include it"
        } else {
            "the API key lacks the permission"
        }
    }
}

impl fmt::Display for MissingPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} not synced: env0 answered {} on {} ({})",
            self.part,
            self.status,
            self.endpoint,
            self.reason()
        )
    }
}

/// The warnings for the requests of `part` refused one by one: one per status, saying how many
/// of the `total` `things` (teams, projects) went without their answer, which requests (the
/// first three) and why; `consequence` follows.
fn refusal_warnings(
    refused: &[MissingPart],
    part: &str,
    (total, things): (usize, &str),
    consequence: &str,
) -> Vec<String> {
    const SHOWN: usize = 3;
    let mut by_status: BTreeMap<u16, Vec<&MissingPart>> = BTreeMap::new();
    for r in refused.iter().filter(|r| r.part == part) {
        by_status.entry(r.status).or_default().push(r);
    }
    by_status
        .into_iter()
        .filter_map(|(status, of_status)| {
            let first = of_status.first()?;
            let mut requests = of_status
                .iter()
                .take(SHOWN)
                .map(|r| r.endpoint.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            if of_status.len() > SHOWN {
                let _ = write!(requests, " and {} more", of_status.len() - SHOWN);
            }
            Some(format!(
                "{part} not synced for {} of {total} {things}: env0 answered {status} on {requests} ({}){consequence}",
                of_status.len(),
                first.reason()
            ))
        })
        .collect()
}

/// A custom role as `GET /roles` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CustomRoleInput {
    /// Role id: the value role fields hold.
    pub id: String,
    /// Name, when env0 sent one.
    pub name: Option<String>,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Whether new members get it by default.
    pub is_default_role: Option<bool>,
}

impl CustomRoleInput {
    /// A custom role with an id and a name.
    pub fn new(id: impl Into<String>, name: Option<String>) -> Self {
        CustomRoleInput {
            id: id.into(),
            name,
            ..CustomRoleInput::default()
        }
    }
}

/// A team with its members.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TeamInput {
    /// Team id.
    pub id: String,
    /// Name, when env0 sent one.
    pub name: Option<String>,
    /// Description, when env0 sent one.
    pub description: Option<String>,
    /// Member principal ids, as env0 lists them.
    pub members: Vec<String>,
}

impl TeamInput {
    /// A team with an id, a name and members.
    pub fn new(id: impl Into<String>, name: Option<String>, members: Vec<String>) -> Self {
        TeamInput {
            id: id.into(),
            name,
            description: None,
            members,
        }
    }
}

/// A project or sub-project.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProjectInput {
    /// Project id.
    pub id: String,
    /// Name, when env0 sent one.
    pub name: Option<String>,
    /// Description, when env0 sent one.
    pub description: Option<String>,
    /// The parent project's id, for a sub-project.
    pub parent: Option<String>,
    /// `rootId|...|parentId|selfId`, as sent.
    pub hierarchy: Option<String>,
    /// Whether the project is archived.
    pub archived: bool,
    /// Tags.
    pub tags: Vec<String>,
}

impl ProjectInput {
    /// A project with an id, a name and a parent.
    pub fn new(id: impl Into<String>, name: Option<String>, parent: Option<String>) -> Self {
        ProjectInput {
            id: id.into(),
            name,
            parent,
            ..ProjectInput::default()
        }
    }
}

/// One role assignment: a principal (user or team id) and the role, as env0 lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Assignment {
    /// The user (or API key) id, or the team id.
    pub principal: String,
    /// The role value; `None` when env0 sent none.
    pub role: Option<String>,
}

impl Assignment {
    /// An assignment of `role` to `principal`.
    pub fn new(principal: impl Into<String>, role: impl Into<String>) -> Self {
        Assignment {
            principal: principal.into(),
            role: Some(role.into()),
        }
    }
}

/// What the model needs to know about the organization's principals (members and API keys).
pub trait Principals {
    /// Whether the organization lists a principal with this id.
    fn contains(&self, id: &str) -> bool;
    /// The custom role ids principals hold (directory warnings already name those `/roles` does
    /// not list).
    fn custom_roles(&self) -> Vec<String>;
}
#[cfg(test)]
mod tests;
