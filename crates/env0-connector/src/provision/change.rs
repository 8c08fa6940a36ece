//! What a grant or revoke asks of env0, read from the stored entitlement and principal.

use std::fmt;

use c1_model::{annotations, pb};
use env0_api::{ProjectId, ProjectRole, Role, TeamId, UserId};

use super::{Outcome, refused};
use crate::access::{PROJECT_RESOURCE_TYPE, ROLE_RESOURCE_TYPE, TEAM_RESOURCE_TYPE};
use crate::error::Error;
use crate::mapping::USER_RESOURCE_TYPE;
use c1_sync::provision::{GrantOutcome, ProvisionError, RevokeOutcome};

/// Grant or revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Give the entitlement.
    Grant,
    /// Take it away.
    Revoke,
}

/// The access a change is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Organization role (`role:<r>:member`).
    OrgRole(Role),
    /// Membership of a team (`team:<t>:member`).
    TeamMember(TeamId),
    /// A role on a project (`project:<p>:<r>`).
    ProjectRole {
        /// The project.
        project: ProjectId,
        /// The role.
        role: ProjectRole,
    },
}

impl Target {
    /// The role value as env0 writes it (`Admin`, `Deployer`, a custom role id); `member` for
    /// team membership.
    pub fn role_value(&self) -> &str {
        match self {
            Target::OrgRole(role) => role.as_str(),
            Target::TeamMember(_) => "member",
            Target::ProjectRole { role, .. } => role.as_str(),
        }
    }
}

/// Who the change is for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Holder {
    /// A member or an API key (`user:<id>`).
    User {
        /// The member's `user_id` or the API key's id.
        id: UserId,
        /// Whether the stored principal is an API key.
        api_key: bool,
    },
    /// A team (`team:<id>`).
    Team(TeamId),
}

impl Holder {
    /// The id env0 knows it by.
    pub fn id(&self) -> &str {
        match self {
            Holder::User { id, .. } => id.as_str(),
            Holder::Team(id) => id.as_str(),
        }
    }

    fn resource_type(&self) -> &'static str {
        match self {
            Holder::User { .. } => USER_RESOURCE_TYPE,
            Holder::Team(_) => TEAM_RESOURCE_TYPE,
        }
    }

    fn describe(&self) -> String {
        match self {
            Holder::User { id, api_key: true } => format!("API key {id}"),
            Holder::User { id, .. } => format!("user {id}"),
            Holder::Team(id) => format!("team {id}"),
        }
    }
}

/// One grant or revoke: what, for whom, which way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// Grant or revoke.
    pub direction: Direction,
    /// The access.
    pub target: Target,
    /// Who holds it or should.
    pub holder: Holder,
    /// The entitlement id, as stored.
    pub entitlement_id: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.direction {
            Direction::Grant => "grant",
            Direction::Revoke => "revoke",
        };
        write!(
            f,
            "{verb} {} {} {}",
            self.entitlement_id,
            if self.direction == Direction::Grant {
                "to"
            } else {
                "from"
            },
            self.holder.describe()
        )
    }
}

fn unsupported(entitlement: &str, why: &str) -> ProvisionError {
    refused(Error::Refused {
        change: format!("entitlement {entitlement}"),
        reason: why.to_owned(),
    })
}

impl Change {
    /// Reads the change from the stored entitlement (its resource filled in) and principal, and
    /// refuses what env0's API cannot do before any request is made.
    pub fn parse(
        direction: Direction,
        entitlement: &pb::Entitlement,
        principal: &pb::Resource,
    ) -> Result<Change, ProvisionError> {
        let ent_id = entitlement.id.as_str();
        let resource = entitlement
            .resource
            .as_ref()
            .and_then(|r| r.id.as_ref())
            .ok_or_else(|| unsupported(ent_id, "it names no resource"))?;
        let prefix = format!("{}:{}:", resource.resource_type, resource.resource);
        let slug = ent_id
            .strip_prefix(&prefix)
            .ok_or_else(|| unsupported(ent_id, "its id does not start with its resource"))?;
        let target = match (resource.resource_type.as_str(), slug) {
            (ROLE_RESOURCE_TYPE, "member") => Target::OrgRole(
                Role::parse(&resource.resource)
                    .ok_or_else(|| unsupported(ent_id, "it names no role"))?,
            ),
            (TEAM_RESOURCE_TYPE, "member") => Target::TeamMember(TeamId::new(&resource.resource)),
            (PROJECT_RESOURCE_TYPE, role) if !role.is_empty() => Target::ProjectRole {
                project: ProjectId::new(&resource.resource),
                role: ProjectRole::parse(role)
                    .ok_or_else(|| unsupported(ent_id, "it names no role"))?,
            },
            _ => {
                return Err(unsupported(
                    ent_id,
                    "baton-env0 provisions organization roles (role:<r>:member), team membership (team:<t>:member) and project roles (project:<p>:<r>) only",
                ));
            }
        };
        let principal_id = principal
            .id
            .as_ref()
            .ok_or_else(|| unsupported(ent_id, "the principal has no id"))?;
        let holder = match principal_id.resource_type.as_str() {
            USER_RESOURCE_TYPE => Holder::User {
                id: UserId::new(&principal_id.resource),
                api_key: is_api_key(principal),
            },
            TEAM_RESOURCE_TYPE => Holder::Team(TeamId::new(&principal_id.resource)),
            other => {
                return Err(refused(Error::Refused {
                    change: match direction {
                        Direction::Grant => {
                            format!("grant {ent_id} to {other}:{}", principal_id.resource)
                        }
                        Direction::Revoke => {
                            format!("revoke {ent_id} from {other}:{}", principal_id.resource)
                        }
                    },
                    reason: "only users, API keys and teams hold env0 access".to_owned(),
                }));
            }
        };
        let change = Change {
            direction,
            target,
            holder,
            entitlement_id: ent_id.to_owned(),
        };
        change.check()?;
        Ok(change)
    }

    /// What env0's API cannot do, refused before any request.
    fn check(&self) -> Result<(), ProvisionError> {
        let reason = match (&self.target, &self.holder, self.direction) {
            (Target::OrgRole(_), Holder::User { api_key: true, .. }, _) => {
                "env0's API cannot change an API key's organization role; create an API key with the role you need in env0's organization settings instead"
            }
            (Target::OrgRole(Role::User), Holder::User { .. }, Direction::Revoke) => {
                "every member holds an organization role, so role:User:member cannot be revoked; grant another role instead (for example role:Admin:member)"
            }
            (Target::TeamMember(_), Holder::Team(_), _) => {
                "a team cannot be a member of a team; grant team membership to a user or an API key"
            }
            _ => return Ok(()),
        };
        Err(refused(Error::Refused {
            change: self.to_string(),
            reason: reason.to_owned(),
        }))
    }

    fn principal_id(&self) -> pb::ResourceId {
        pb::ResourceId {
            resource_type: self.holder.resource_type().to_owned(),
            resource: self.holder.id().to_owned(),
            ..pb::ResourceId::default()
        }
    }

    /// The grant this change makes.
    pub(crate) fn grant(
        &self,
        entitlement: pb::Entitlement,
        principal: &pb::Resource,
    ) -> pb::Grant {
        pb::Grant {
            id: c1_model::grant::id(&self.entitlement_id, &self.principal_id()),
            entitlement: Some(entitlement),
            principal: Some(principal.clone()),
            ..pb::Grant::default()
        }
    }

    /// The entitlement id of role `old` at this change's scope.
    pub fn entitlement_for(&self, old: &str) -> String {
        match &self.target {
            Target::OrgRole(_) => format!("{ROLE_RESOURCE_TYPE}:{old}:member"),
            Target::TeamMember(team) => format!("{TEAM_RESOURCE_TYPE}:{team}:member"),
            Target::ProjectRole { project, .. } => {
                format!("{PROJECT_RESOURCE_TYPE}:{project}:{old}")
            }
        }
    }

    /// The role an entitlement id at this change's scope names (the inverse of
    /// [`entitlement_for`](Self::entitlement_for)); `None` for another scope.
    pub fn role_in<'a>(&self, entitlement_id: &'a str) -> Option<&'a str> {
        match &self.target {
            Target::OrgRole(_) => entitlement_id
                .strip_prefix(ROLE_RESOURCE_TYPE)?
                .strip_prefix(':')?
                .strip_suffix(":member"),
            Target::ProjectRole { project, .. } => {
                entitlement_id.strip_prefix(&format!("{PROJECT_RESOURCE_TYPE}:{project}:"))
            }
            Target::TeamMember(_) => None,
        }
    }

    /// The outcome of a grant that was written, replacing role `replaced` if it names one.
    pub(crate) fn granted(&self, replaced: Option<String>) -> Outcome {
        match replaced {
            Some(old) => Outcome::Replaced {
                old,
                new: self.target.role_value().to_owned(),
            },
            None => Outcome::Granted,
        }
    }

    /// What the provisioning driver's grant outcome comes to for this change.
    pub fn grant_outcome(&self, outcome: &GrantOutcome) -> Outcome {
        match outcome {
            GrantOutcome::Granted { replaced, .. } => self.granted(
                replaced
                    .iter()
                    .filter_map(|g| g.entitlement.as_ref())
                    .find_map(|e| self.role_in(&e.id))
                    .map(str::to_owned),
            ),
            _ => Outcome::AlreadyGranted,
        }
    }

    /// What the provisioning driver's revoke outcome comes to.
    pub fn revoke_outcome(outcome: RevokeOutcome) -> Outcome {
        if outcome.changed() {
            Outcome::Revoked
        } else {
            Outcome::AlreadyRevoked
        }
    }

    /// The principal's resource type: `user` or `team`.
    pub fn holder_type(&self) -> &'static str {
        self.holder.resource_type()
    }

    /// The grant of role `old` that a replacing grant takes away.
    pub(crate) fn replaced_grant(&self, old: &str, principal: &pb::Resource) -> pb::Grant {
        let entitlement_id = self.entitlement_for(old);
        pb::Grant {
            id: c1_model::grant::id(&entitlement_id, &self.principal_id()),
            entitlement: Some(pb::Entitlement {
                id: entitlement_id,
                ..pb::Entitlement::default()
            }),
            principal: Some(principal.clone()),
            ..pb::Grant::default()
        }
    }
}

/// Whether the stored principal is an API key (its user trait says a service account).
fn is_api_key(principal: &pb::Resource) -> bool {
    annotations::find::<pb::UserTrait>(&principal.annotations)
        .is_some_and(|t| t.account_type == pb::user_trait::AccountType::Service as i32)
}
