//! [`AccessModel`]: the input checked against the organization's principals, with every role,
//! team and project that gets a resource and the grants env0 states directly.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::refusal_warnings;
use super::{AccessInput, Assignment, CustomRoleInput, ORG_ROLES, PROJECT_ROLES, Part, Principals};
use super::{PROJECT_TEAM_ROLES, PROJECT_USER_ROLES, ProjectInput, TEAM_MEMBERS, TeamInput};

/// Warnings found while building the model, for one resource type's listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notices {
    /// Warnings that count toward the sync's warning limit (a missing part, odd data).
    pub warnings: Vec<String>,
    /// Expected conditions reported as warnings that never fail a sync by themselves:
    /// assignments naming principals or teams the organization does not list.
    pub expected: Vec<String>,
}

/// An organization role that gets a `role` resource.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoleEntry {
    /// The role value: `Admin`, `User` or a custom role id.
    pub value: String,
    /// The custom role as `/roles` lists it; `None` for built-in and unlisted roles.
    pub listed: Option<CustomRoleInput>,
}

impl RoleEntry {
    /// Whether this is a custom role (anything but `Admin` and `User`).
    pub fn is_custom(&self) -> bool {
        !ORG_ROLES.contains(&self.value.as_str())
    }

    /// `Organization Admin`, `Organization User`, the custom role's name, or its id.
    pub fn display_name(&self) -> String {
        match self.value.as_str() {
            "Admin" => "Organization Admin".to_owned(),
            "User" => "Organization User".to_owned(),
            other => self
                .listed
                .as_ref()
                .and_then(|r| r.name.clone())
                .unwrap_or_else(|| other.to_owned()),
        }
    }
}

/// A team that gets a `team` resource, with the members the organization lists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TeamEntry {
    /// The team as env0 sent it (members as listed).
    pub team: TeamInput,
    /// Its members that the organization lists, once each, in env0's order.
    pub members: Vec<String>,
}

impl TeamEntry {
    /// The team's name, or its id.
    pub fn display_name(&self) -> &str {
        self.team.name.as_deref().unwrap_or(&self.team.id)
    }
}

/// A project that gets a `project` resource, with its direct grants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectEntry {
    /// The project as env0 sent it.
    pub project: ProjectInput,
    /// Its parent, when that is a listed project (and the chain of parents reaches the top).
    pub parent: Option<String>,
    /// `(role, principal)`: users' direct roles, once each, in env0's order.
    pub user_roles: Vec<(String, String)>,
    /// `(role, team)`: teams' roles, once each, in env0's order.
    pub team_roles: Vec<(String, String)>,
}

impl ProjectEntry {
    /// The project's name, or its id.
    pub fn display_name(&self) -> &str {
        self.project.name.as_deref().unwrap_or(&self.project.id)
    }
}

/// The organization's access, checked: what gets a resource, and the direct grants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessModel {
    /// `Admin`, `User`, the listed custom roles in `/roles` order, then any other role value
    /// used at the organization level or a custom role id used anywhere, sorted.
    pub roles: Vec<RoleEntry>,
    /// Organization roles held by teams: role value → team ids, in env0's order.
    pub role_teams: BTreeMap<String, Vec<String>>,
    /// Teams, in env0's order (empty when the team part is missing).
    pub teams: Vec<TeamEntry>,
    /// The role slugs every project has an entitlement for: the four built-in project roles,
    /// every custom role, then any other value used on a project.
    pub project_roles: Vec<String>,
    /// Projects, in env0's order; `None` when projects are not synced (skipped or missing).
    pub projects: Option<Vec<ProjectEntry>>,
    /// Warnings for the role listing.
    pub role_notices: Notices,
    /// Warnings for the team listing.
    pub team_notices: Notices,
    /// Warnings for the project listing.
    pub project_notices: Notices,
}

/// An ordered set: first insertion wins the position.
#[derive(Default)]
struct Ordered {
    items: Vec<String>,
    seen: HashSet<String>,
}

impl Ordered {
    fn push(&mut self, item: &str) {
        if !self.seen.contains(item) {
            self.seen.insert(item.to_owned());
            self.items.push(item.to_owned());
        }
    }
}

fn is_builtin(value: &str) -> bool {
    ORG_ROLES.contains(&value) || PROJECT_ROLES.contains(&value)
}

impl AccessModel {
    /// Checks `input` against the organization's `principals`.
    pub fn build(input: &AccessInput, principals: &dyn Principals) -> AccessModel {
        let mut role_notices = Notices::default();
        let mut team_notices = Notices::default();
        let mut project_notices = Notices::default();

        let listed: Vec<&CustomRoleInput> = match &input.custom_roles {
            Part::Synced(roles) => {
                let mut seen = HashSet::new();
                roles
                    .iter()
                    .filter(|r| seen.insert(r.id.as_str()))
                    .collect()
            }
            // The directory already says that custom role names are unavailable, and why.
            Part::Missing(_) => Vec::new(),
        };
        let listed_ids: HashSet<&str> = listed.iter().map(|r| r.id.as_str()).collect();

        // Teams and their members.
        let mut teams = Vec::new();
        let teams_synced = match &input.teams {
            Part::Synced(list) => {
                let mut seen = HashSet::new();
                for team in list.iter().filter(|t| seen.insert(t.id.as_str())) {
                    teams.push(team_entry(team, principals, &mut team_notices));
                }
                team_notices.warnings.extend(refusal_warnings(
                    &input.refused,
                    TEAM_MEMBERS,
                    (teams.len(), "teams"),
                    "; those teams are synced without members",
                ));
                true
            }
            Part::Missing(missing) => {
                team_notices.warnings.push(missing.to_string());
                false
            }
        };
        let team_ids: HashSet<&str> = teams.iter().map(|t| t.team.id.as_str()).collect();

        // Organization roles held by teams.
        let mut role_teams: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut org_values = Ordered::default();
        match (&input.org_team_roles, teams_synced) {
            (Part::Synced(assignments), true) => {
                for a in assignments {
                    let Some(role) = role_of(a) else {
                        role_notices.warnings.push(format!(
                            "an organization role assignment of team `{}` has no role; skipped",
                            a.principal
                        ));
                        continue;
                    };
                    if !team_ids.contains(a.principal.as_str()) {
                        role_notices.expected.push(format!(
                            "organization role `{role}` of team `{}` skipped: the team list does not hold that team (a deleted team?)",
                            a.principal
                        ));
                        continue;
                    }
                    org_values.push(role);
                    let holders = role_teams.entry(role.to_owned()).or_default();
                    if !holders.contains(&a.principal) {
                        holders.push(a.principal.clone());
                    }
                }
            }
            (Part::Missing(missing), true) => role_notices.warnings.push(missing.to_string()),
            // Without the team list there is no team to hold a role; the team warning says why.
            (_, false) => {}
        }

        // Projects, their parents and their direct grants.
        let mut project_values = Ordered::default();
        let projects = match &input.projects {
            None => None,
            Some(Part::Missing(missing)) => {
                project_notices.warnings.push(missing.to_string());
                None
            }
            Some(Part::Synced(list)) => Some(project_entries(
                list,
                input,
                principals,
                (&team_ids, teams_synced),
                &mut project_values,
                &mut project_notices,
            )),
        };

        // Every custom role: listed, held by a principal, or used in an assignment.
        let held = principals.custom_roles();
        let mut referenced: BTreeSet<String> = held.iter().cloned().collect();
        referenced.extend(
            org_values
                .items
                .iter()
                .chain(&project_values.items)
                .filter(|v| !is_builtin(v))
                .cloned(),
        );
        let held: HashSet<&str> = held.iter().map(String::as_str).collect();
        let mut custom = Ordered::default();
        for role in &listed {
            custom.push(&role.id);
        }
        for id in &referenced {
            if !listed_ids.contains(id.as_str()) {
                if input.custom_roles.synced().is_some() && !held.contains(id.as_str()) {
                    role_notices.warnings.push(format!(
                        "custom role `{id}` is used in assignments but not listed by GET /roles (deleted?); it is shown by its id"
                    ));
                }
                custom.push(id);
            }
        }

        let mut role_values = Ordered::default();
        for value in ORG_ROLES {
            role_values.push(value);
        }
        for value in &custom.items {
            role_values.push(value);
        }
        for value in &org_values.items {
            role_values.push(value);
        }
        let by_id: HashMap<&str, &CustomRoleInput> =
            listed.iter().map(|r| (r.id.as_str(), *r)).collect();
        let roles = role_values
            .items
            .into_iter()
            .map(|value| RoleEntry {
                listed: by_id.get(value.as_str()).map(|r| (*r).clone()),
                value,
            })
            .collect();

        let mut project_roles = Ordered::default();
        for value in PROJECT_ROLES {
            project_roles.push(value);
        }
        for value in custom.items.iter().chain(&project_values.items) {
            project_roles.push(value);
        }

        AccessModel {
            roles,
            role_teams,
            teams,
            project_roles: project_roles.items,
            projects,
            role_notices,
            team_notices,
            project_notices,
        }
    }

    /// The role entry for a value.
    pub fn role(&self, value: &str) -> Option<&RoleEntry> {
        self.roles.iter().find(|r| r.value == value)
    }

    /// A project role's name: built-in roles by their value, custom roles by their name (or id).
    pub fn project_role_name<'a>(&'a self, value: &'a str) -> &'a str {
        if PROJECT_ROLES.contains(&value) {
            return value;
        }
        self.role(value)
            .and_then(|r| r.listed.as_ref())
            .and_then(|r| r.name.as_deref())
            .unwrap_or(value)
    }
}

/// A role value with text, or `None`.
fn role_of(a: &Assignment) -> Option<&str> {
    a.role.as_deref().filter(|r| !r.trim().is_empty())
}

fn team_entry(team: &TeamInput, principals: &dyn Principals, notices: &mut Notices) -> TeamEntry {
    let mut members = Vec::new();
    let mut seen = HashSet::new();
    for member in &team.members {
        if !seen.insert(member.as_str()) {
            continue;
        }
        if principals.contains(member) {
            members.push(member.clone());
        } else {
            notices.expected.push(format!(
                "membership of `{member}` in team {} (`{}`) skipped: the organization does not list that principal (a removed member or a deleted API key)",
                team.name.as_deref().unwrap_or(&team.id),
                team.id
            ));
        }
    }
    TeamEntry {
        team: team.clone(),
        members,
    }
}

fn project_entries(
    list: &[ProjectInput],
    input: &AccessInput,
    principals: &dyn Principals,
    (team_ids, teams_synced): (&HashSet<&str>, bool),
    values: &mut Ordered,
    notices: &mut Notices,
) -> Vec<ProjectEntry> {
    let mut seen = HashSet::new();
    let projects: Vec<&ProjectInput> = list.iter().filter(|p| seen.insert(p.id.as_str())).collect();
    let ids: HashSet<&str> = projects.iter().map(|p| p.id.as_str()).collect();

    // Parents: a listed project other than itself, on a chain that reaches the top.
    let mut parent: HashMap<&str, &str> = HashMap::new();
    for p in &projects {
        match p.parent.as_deref().filter(|id| !id.is_empty()) {
            Some(id) if id != p.id && ids.contains(id) => {
                parent.insert(p.id.as_str(), id);
            }
            Some(id) if id == p.id => notices.warnings.push(format!(
                "project {} (`{}`) names itself as its parent; it is treated as a top-level project",
                p.name.as_deref().unwrap_or(&p.id),
                p.id
            )),
            Some(id) => notices.warnings.push(format!(
                "project {} (`{}`) names parent `{id}`, which the project list does not hold; it is treated as a top-level project",
                p.name.as_deref().unwrap_or(&p.id),
                p.id
            )),
            None => {}
        }
    }
    let mut looping = BTreeSet::new();
    for p in &projects {
        let mut at = p.id.as_str();
        let mut walked = HashSet::new();
        while let Some(up) = parent.get(at) {
            if !walked.insert(at) {
                looping.insert(p.id.as_str());
                break;
            }
            at = up;
        }
    }
    for id in &looping {
        parent.remove(id);
        notices.warnings.push(format!(
            "project `{id}` is its own ancestor in the project list; it is treated as a top-level project"
        ));
    }

    let user_roles = by_project(input.project_user_roles.synced());
    let team_roles = by_project(input.project_team_roles.synced());
    if let Part::Missing(missing) = &input.project_user_roles {
        notices.warnings.push(missing.to_string());
    }
    if teams_synced && let Part::Missing(missing) = &input.project_team_roles {
        notices.warnings.push(missing.to_string());
    }
    let total = (projects.len(), "projects");
    notices.warnings.extend(refusal_warnings(
        &input.refused,
        PROJECT_USER_ROLES,
        total,
        "",
    ));
    if teams_synced {
        notices.warnings.extend(refusal_warnings(
            &input.refused,
            PROJECT_TEAM_ROLES,
            total,
            "",
        ));
    }

    let mut entries = Vec::with_capacity(projects.len());
    for p in projects {
        let name = p.name.as_deref().unwrap_or(&p.id);
        let mut users = Vec::new();
        for a in user_roles.get(p.id.as_str()).copied().unwrap_or_default() {
            let Some(role) = role_of(a) else {
                notices.warnings.push(format!(
                    "a role assignment of `{}` on project {name} (`{}`) has no role; skipped",
                    a.principal, p.id
                ));
                continue;
            };
            if !principals.contains(&a.principal) {
                notices.expected.push(format!(
                    "role `{role}` of `{}` on project {name} (`{}`) skipped: the organization does not list that principal (a removed member or a deleted API key)",
                    a.principal, p.id
                ));
                continue;
            }
            let grant = (role.to_owned(), a.principal.clone());
            if !users.contains(&grant) {
                values.push(role);
                users.push(grant);
            }
        }
        let mut teams = Vec::new();
        if teams_synced {
            for a in team_roles.get(p.id.as_str()).copied().unwrap_or_default() {
                let Some(role) = role_of(a) else {
                    notices.warnings.push(format!(
                        "a role assignment of team `{}` on project {name} (`{}`) has no role; skipped",
                        a.principal, p.id
                    ));
                    continue;
                };
                if !team_ids.contains(a.principal.as_str()) {
                    notices.expected.push(format!(
                        "role `{role}` of team `{}` on project {name} (`{}`) skipped: the team list does not hold that team (a deleted team?)",
                        a.principal, p.id
                    ));
                    continue;
                }
                let grant = (role.to_owned(), a.principal.clone());
                if !teams.contains(&grant) {
                    values.push(role);
                    teams.push(grant);
                }
            }
        }
        entries.push(ProjectEntry {
            parent: parent.get(p.id.as_str()).map(|id| (*id).to_owned()),
            project: p.clone(),
            user_roles: users,
            team_roles: teams,
        });
    }
    entries
}

fn by_project(list: Option<&Vec<(String, Vec<Assignment>)>>) -> HashMap<&str, &[Assignment]> {
    list.map(|list| {
        list.iter()
            .map(|(id, assignments)| (id.as_str(), assignments.as_slice()))
            .collect()
    })
    .unwrap_or_default()
}
