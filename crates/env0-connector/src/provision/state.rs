//! The current state a change touches, read from env0, and what it makes of the change.

use c1_sync::provision::ProvisionError;
use env0_api::{AssignmentScope, Env0Client, OrgId, Role, UserId};

use super::change::{Change, Direction, Holder, Target};
use super::write::WriteCall;
use super::{Decision, refused};
use crate::error::Error;

/// What env0 says about the holder at the change's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Observed {
    /// The role the holder holds at the scope (organization or project), if any.
    Role(Option<String>),
    /// A team: its name, description and members, in env0's order.
    Team {
        name: String,
        description: String,
        members: Vec<UserId>,
    },
}

impl Observed {
    /// Whether the holder has what the change is about.
    pub(crate) fn holds(&self, change: &Change) -> bool {
        match self {
            Observed::Role(held) => held.as_deref() == Some(change.target.role_value()),
            Observed::Team { members, .. } => {
                members.iter().any(|m| m.as_str() == change.holder.id())
            }
        }
    }

    /// Whether the state is what the change asks for.
    pub(crate) fn satisfies(&self, change: &Change) -> bool {
        self.holds(change) == (change.direction == Direction::Grant)
    }
}

/// Reads what `change` touches; returns the request made (`GET /...`) and the state.
pub(crate) async fn observe(
    client: &Env0Client,
    org: &OrgId,
    change: &Change,
) -> Result<(String, Observed), env0_api::Error> {
    match (&change.target, &change.holder) {
        (Target::OrgRole(_), Holder::User { id, .. }) => {
            let read = format!("GET /organizations/{org}/users");
            let members = client.organization_users(org).await?;
            let held = members
                .into_iter()
                .find(|m| m.user.user_id == *id)
                .map(|m| Observed::Role(m.role.map(|r| r.as_str().to_owned())));
            // A principal env0 no longer lists holds nothing; the write would fail, so the
            // decision refuses it (see `decide`).
            Ok((read, held.unwrap_or(Observed::Role(None))))
        }
        (Target::OrgRole(_), Holder::Team(team)) => {
            team_role(client, AssignmentScope::Organization(org.clone()), team).await
        }
        (Target::ProjectRole { project, .. }, Holder::User { id, .. }) => {
            let read = format!("GET /permissions/projects/{project}");
            let held = client
                .project_user_permissions(project)
                .await?
                .into_iter()
                .find(|p| p.user_id == *id)
                .and_then(|p| p.role.map(|r| r.as_str().to_owned()));
            Ok((read, Observed::Role(held)))
        }
        (Target::ProjectRole { project, .. }, Holder::Team(team)) => {
            team_role(client, AssignmentScope::Project(project.clone()), team).await
        }
        (Target::TeamMember(team), _) => {
            let read = format!("GET /teams/{team}");
            let found = client.team(team).await?;
            Ok((
                read,
                Observed::Team {
                    name: found.name.unwrap_or_default(),
                    description: found.description.unwrap_or_default(),
                    members: found
                        .users
                        .unwrap_or_default()
                        .into_iter()
                        .map(|u| u.user_id)
                        .collect(),
                },
            ))
        }
    }
}

/// The role `team` holds at `scope`.
async fn team_role(
    client: &Env0Client,
    scope: AssignmentScope,
    team: &env0_api::TeamId,
) -> Result<(String, Observed), env0_api::Error> {
    let (param, value) = scope.query();
    let read = format!("GET /roles/assignments/teams?{param}={value}");
    let held = client
        .team_role_assignments(&scope)
        .await?
        .into_iter()
        .find(|a| a.team_id == *team)
        .and_then(|a| a.role);
    Ok((read, Observed::Role(held)))
}

/// Nothing to do, or the one write that makes the state what `change` asks for.
pub(crate) fn decide(change: &Change, state: &Observed) -> Result<Decision, ProvisionError> {
    if state.satisfies(change) {
        return Ok(Decision::Nothing);
    }
    let grant = change.direction == Direction::Grant;
    Ok(match (state, &change.target, &change.holder) {
        (
            Observed::Team {
                name,
                description,
                members,
            },
            Target::TeamMember(team),
            Holder::User { id, .. },
        ) => {
            let members = if grant {
                members.iter().cloned().chain([id.clone()]).collect()
            } else {
                members.iter().filter(|m| *m != id).cloned().collect()
            };
            Decision::Write {
                call: WriteCall::UpdateTeam {
                    team: team.clone(),
                    name: name.clone(),
                    description: description.clone(),
                    members,
                },
                replaces: None,
            }
        }
        (Observed::Role(held), Target::OrgRole(role), Holder::User { id, .. }) => {
            if held.is_none() {
                return Err(refused(Error::NotInOrganization {
                    change: change.to_string(),
                    principal: id.to_string(),
                }));
            }
            Decision::Write {
                call: WriteCall::SetOrgRole {
                    user: id.clone(),
                    // Taking a role away is setting the member back to User.
                    role: if grant { role.clone() } else { Role::User },
                },
                replaces: held.clone().filter(|_| grant),
            }
        }
        (Observed::Role(held), Target::OrgRole(role), Holder::Team(team)) => Decision::Write {
            call: if grant {
                WriteCall::SetTeamRole {
                    team: team.clone(),
                    scope: Scope::Organization,
                    role: role.as_str().to_owned(),
                }
            } else {
                WriteCall::RemoveTeamRole {
                    team: team.clone(),
                    scope: Scope::Organization,
                }
            },
            replaces: held.clone().filter(|_| grant),
        },
        (Observed::Role(held), Target::ProjectRole { project, role }, Holder::User { id, .. }) => {
            Decision::Write {
                call: match (grant, held) {
                    (true, None) => WriteCall::AssignProjectRole {
                        project: project.clone(),
                        user: id.clone(),
                        role: role.clone(),
                    },
                    (true, Some(_)) => WriteCall::UpdateProjectRole {
                        project: project.clone(),
                        user: id.clone(),
                        role: role.clone(),
                    },
                    (false, _) => WriteCall::RemoveProjectRole {
                        project: project.clone(),
                        user: id.clone(),
                    },
                },
                replaces: held.clone().filter(|_| grant),
            }
        }
        (Observed::Role(held), Target::ProjectRole { project, role }, Holder::Team(team)) => {
            Decision::Write {
                call: if grant {
                    WriteCall::SetTeamRole {
                        team: team.clone(),
                        scope: Scope::Project(project.clone()),
                        role: role.as_str().to_owned(),
                    }
                } else {
                    WriteCall::RemoveTeamRole {
                        team: team.clone(),
                        scope: Scope::Project(project.clone()),
                    }
                },
                replaces: held.clone().filter(|_| grant),
            }
        }
        _ => {
            return Err(refused(crate::error::broken(
                "a change read a state of another kind",
            )));
        }
    })
}

/// Where a team role is assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The organization.
    Organization,
    /// One project.
    Project(env0_api::ProjectId),
}

impl Scope {
    pub(crate) fn assignment(&self, org: &OrgId) -> AssignmentScope {
        match self {
            Scope::Organization => AssignmentScope::Organization(org.clone()),
            Scope::Project(project) => AssignmentScope::Project(project.clone()),
        }
    }
}
