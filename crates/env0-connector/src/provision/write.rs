//! The writes a change needs, and sending one without ever applying it twice: a write whose
//! answer was lost is sent again only when the state read back shows it not applied and env0
//! has finished with it (it answered, or the connection closed); after a timeout it may still
//! land, and the run stops instead.

use std::collections::BTreeSet;

use c1_sync::provision::ProvisionError;
use env0_api::{Env0Client, OrgId, ProjectId, ProjectRole, Role, TeamId, UserId, Write};

use super::state::{self, Observed, Scope};
use super::{MAX_SENDS, Plan, api_failure};
use crate::error::Error;

/// One env0 write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteCall {
    /// `PUT /organizations/{org}/users/{user}/role` with the bare role.
    SetOrgRole {
        /// The member.
        user: UserId,
        /// The role.
        role: Role,
    },
    /// `POST /permissions/projects/{project}` `{userId, role}`.
    AssignProjectRole {
        /// The project.
        project: ProjectId,
        /// The user or API key.
        user: UserId,
        /// The role.
        role: ProjectRole,
    },
    /// `PUT /permissions/projects/{project}/users/{user}` `{role}`.
    UpdateProjectRole {
        /// The project.
        project: ProjectId,
        /// The user or API key.
        user: UserId,
        /// The new role.
        role: ProjectRole,
    },
    /// `DELETE /permissions/projects/{project}/users/{user}`.
    RemoveProjectRole {
        /// The project.
        project: ProjectId,
        /// The user or API key.
        user: UserId,
    },
    /// `PUT /teams/{team}` `{name, description, userIds}`: the whole member list.
    UpdateTeam {
        /// The team.
        team: TeamId,
        /// Its name, unchanged.
        name: String,
        /// Its description, unchanged.
        description: String,
        /// Every member it should have.
        members: Vec<UserId>,
    },
    /// `PUT /roles/assignments/teams` `{teamId, role, organizationId|projectId}`.
    SetTeamRole {
        /// The team.
        team: TeamId,
        /// Where.
        scope: Scope,
        /// The role.
        role: String,
    },
    /// `DELETE /roles/assignments/teams?teamId=&organizationId=|projectId=`.
    RemoveTeamRole {
        /// The team.
        team: TeamId,
        /// Where.
        scope: Scope,
    },
}

/// A write shown as its request line and body, for `--dry-run` and messages.
impl WriteCall {
    /// The env0 write this call is, in organization `org`.
    pub fn as_write<'a>(&'a self, org: &'a OrgId) -> Write<'a> {
        match self {
            WriteCall::SetOrgRole { user, role } => Write::SetOrganizationRole { org, user, role },
            WriteCall::AssignProjectRole {
                project,
                user,
                role,
            } => Write::AssignProjectRole {
                project,
                user,
                role,
            },
            WriteCall::UpdateProjectRole {
                project,
                user,
                role,
            } => Write::UpdateProjectRole {
                project,
                user,
                role,
            },
            WriteCall::RemoveProjectRole { project, user } => {
                Write::RemoveProjectRole { project, user }
            }
            WriteCall::UpdateTeam {
                team,
                name,
                description,
                members,
            } => Write::UpdateTeam {
                team,
                name,
                description,
                members,
            },
            WriteCall::SetTeamRole { team, scope, role } => Write::SetTeamRole {
                team,
                scope: scope.assignment(org),
                role,
            },
            WriteCall::RemoveTeamRole { team, scope } => Write::RemoveTeamRole {
                team,
                scope: scope.assignment(org),
            },
        }
    }
}

/// Sends `call` and makes sure it was applied exactly once (see the module docs).
pub(super) async fn apply(
    client: &Env0Client,
    org: &OrgId,
    plan: &Plan,
    call: &WriteCall,
) -> Result<(), ProvisionError> {
    let change = &plan.change;
    let write = call.as_write(org);
    // The request line and body exactly as sent, for the log and any message.
    let shown = client.describe(&write).map_err(api_failure)?;
    // What to look at in env0 when a write's outcome stays unknown.
    let look = format!("whether env0 shows {change} applied ({})", plan.read);
    let mut sends = 0;
    loop {
        sends += 1;
        let error = match client.write(&write).await {
            Ok(()) => break,
            Err(error) if error.is_unconfirmed() => error,
            Err(error) => return Err(api_failure(error)),
        };
        // The write may or may not have been applied: the state decides.
        let check = || Error::Unconfirmed {
            write: shown.clone(),
            check: look.clone(),
            reason: error.to_string(),
        };
        let Ok((_, after)) = state::observe(client, org, change).await else {
            return Err(ProvisionError::uncertain(check()));
        };
        if after.satisfies(change) {
            tracing::info!(write = %shown, "env0's answer was lost, but the state shows the write applied");
            break;
        }
        if after != plan.before {
            // Neither before nor after: someone else changed it meanwhile.
            return Err(ProvisionError::uncertain(check()));
        }
        if error.may_still_apply() {
            // env0 may still be working on it: the state just read says nothing yet, and a
            // second send could land beside the first.
            return Err(ProvisionError::uncertain(Error::Pending {
                write: shown,
                check: look,
                reason: error.to_string(),
            }));
        }
        if sends >= MAX_SENDS {
            return Err(ProvisionError::retryable(Error::NotApplied {
                write: shown,
                sends,
                reason: match &error {
                    env0_api::Error::Unconfirmed { reason, .. } => reason.clone(),
                    other => other.to_string(),
                },
            }));
        }
        tracing::info!(write = %shown, "env0's answer was lost and the state shows the write not applied; sending it again");
    }
    if let WriteCall::UpdateTeam { team, members, .. } = call {
        verify_team(client, org, plan, team, members).await?;
    }
    Ok(())
}

/// Reads the team back after its member list was written: a different list means someone else
/// edited it at the same time.
async fn verify_team(
    client: &Env0Client,
    org: &OrgId,
    plan: &Plan,
    team: &TeamId,
    written: &[UserId],
) -> Result<(), ProvisionError> {
    let change = &plan.change;
    let (_, after) = state::observe(client, org, change)
        .await
        .map_err(ProvisionError::uncertain)?;
    let Observed::Team { members, .. } = &after else {
        return Ok(());
    };
    let now: BTreeSet<&str> = members.iter().map(UserId::as_str).collect();
    let sent: BTreeSet<&str> = written.iter().map(UserId::as_str).collect();
    if now == sent {
        return Ok(());
    }
    let added: Vec<&str> = now.difference(&sent).copied().collect();
    let removed: Vec<&str> = sent.difference(&now).copied().collect();
    let edit = Error::ConcurrentEdit {
        team: team.to_string(),
        added: added.join(", "),
        removed: removed.join(", "),
        held: after.satisfies(change),
    };
    if after.satisfies(change) {
        tracing::warn!("{edit}");
        Ok(())
    } else {
        Err(ProvisionError::uncertain(edit))
    }
}
