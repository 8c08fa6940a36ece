//! Provisioning: granting and revoking organization roles, project roles and team membership
//! through env0's write endpoints, as `docs/access-model.md` ("Provisioning") specifies.
//!
//! Every request goes the same way:
//!
//! 1. [`Change::parse`] reads what is asked from the stored entitlement and principal (ids map
//!    back to env0 verbatim) and refuses, before any request, what env0's API cannot do: an
//!    organization role for an API key, revoking `role:User:member`, a team inside a team.
//! 2. [`Env0Provisioner::plan`] reads the current state from env0 (one `GET`) and decides: nothing
//!    to do (already granted or revoked), or one write. env0 allows one role per principal per
//!    scope, so a grant where another role is held replaces it, and the plan says which.
//! 3. [`Env0Provisioner::apply`] sends the write. A write whose outcome is unknown
//!    ([`env0_api::Error::Unconfirmed`]) is never sent again blindly: the state is read back and
//!    the write counts as applied, is sent again when the state shows it was not, or ends in
//!    [`Error::Unconfirmed`] naming what to check. A team's member list is read, modified and
//!    written whole, so it is read again afterwards: a list that differs from the one written
//!    reveals a concurrent edit, which is reported, never silently overwritten.
//!
//! `--dry-run` stops after step 2 and shows the plan.

use async_trait::async_trait;
use c1_model::pb;
use c1_sync::provision::{GrantOutcome, ProvisionError, Provisioner, RevokeOutcome};
use env0_api::{Env0Client, OrgId};

mod change;
mod state;
#[cfg(test)]
mod tests;
mod write;

pub use change::{Change, Direction, Holder, Target};
pub use write::WriteCall;

use crate::error::Error;

/// How many times a write is sent when the state read back shows that the previous attempt was
/// not applied.
const MAX_SENDS: u32 = 3;

/// What the current state makes of a change.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// The state already is what the change asks for: already granted, or already revoked.
    Nothing,
    /// One write makes it so.
    Write {
        /// The request.
        call: WriteCall,
        /// The role the principal holds at that scope now and loses (one role per scope).
        replaces: Option<String>,
    },
}

/// A change with the state it was planned against.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Plan {
    /// What is asked.
    pub change: Change,
    /// The request that read the current state (`GET /...`).
    pub read: String,
    /// What the state makes of it.
    pub decision: Decision,
    before: state::Observed,
}

impl Plan {
    /// The write, if one is needed.
    pub fn write(&self) -> Option<&WriteCall> {
        match &self.decision {
            Decision::Nothing => None,
            Decision::Write { call, .. } => Some(call),
        }
    }

    /// What applying the plan comes to.
    pub fn outcome(&self) -> Outcome {
        match (&self.decision, self.change.direction) {
            (Decision::Nothing, Direction::Grant) => Outcome::AlreadyGranted,
            (Decision::Nothing, Direction::Revoke) => Outcome::AlreadyRevoked,
            (Decision::Write { replaces, .. }, Direction::Grant) => {
                self.change.granted(replaces.clone())
            }
            (Decision::Write { .. }, Direction::Revoke) => Outcome::Revoked,
        }
    }
}

/// What a grant or revoke came to, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The principal now holds it.
    Granted,
    /// The principal held it already; nothing was sent.
    AlreadyGranted,
    /// The principal held another role at that scope, which this one replaced.
    Replaced {
        /// The role taken away.
        old: String,
        /// The role granted.
        new: String,
    },
    /// The principal no longer holds it.
    Revoked,
    /// The principal did not hold it; nothing was sent.
    AlreadyRevoked,
}

impl Outcome {
    /// The machine-readable name: `granted`, `already_granted`, `replaced`, `revoked`,
    /// `already_revoked`.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Granted => "granted",
            Outcome::AlreadyGranted => "already_granted",
            Outcome::Replaced { .. } => "replaced",
            Outcome::Revoked => "revoked",
            Outcome::AlreadyRevoked => "already_revoked",
        }
    }

    /// Whether it changes anything in env0.
    pub fn changes(&self) -> bool {
        matches!(
            self,
            Outcome::Granted | Outcome::Replaced { .. } | Outcome::Revoked
        )
    }
}

/// The one line an operator sees: `granted`, `already granted`, `replaced Viewer with
/// Deployer`, `revoked` or `already revoked`.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Replaced { old, new } => write!(f, "replaced {old} with {new}"),
            other => f.write_str(&other.code().replace('_', " ")),
        }
    }
}

/// Grants and revokes the `role`, `team` and `project` entitlements of one organization.
#[derive(Clone)]
pub struct Env0Provisioner {
    client: Env0Client,
    org: OrgId,
}

impl std::fmt::Debug for Env0Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env0Provisioner")
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

impl Env0Provisioner {
    /// A provisioner for organization `org`.
    pub fn new(client: Env0Client, org: OrgId) -> Env0Provisioner {
        Env0Provisioner { client, org }
    }

    /// `call` exactly as it would be sent: the request line (its path percent-encoded, with the
    /// query) and the body. Sends nothing.
    pub fn describe(&self, call: &WriteCall) -> Result<String, ProvisionError> {
        self.client
            .describe(&call.as_write(&self.org))
            .map_err(api_failure)
    }

    /// Reads the current state of what `change` touches and decides what to do; sends no write.
    pub async fn plan(&self, change: Change) -> Result<Plan, ProvisionError> {
        let (read, before) = state::observe(&self.client, &self.org, &change)
            .await
            .map_err(api_failure)?;
        let decision = state::decide(&change, &before)?;
        Ok(Plan {
            change,
            read,
            decision,
            before,
        })
    }

    /// Sends the plan's write, if any, resolving an unknown outcome by reading the state back
    /// (see the module docs). Returns whether anything changed.
    pub async fn apply(&self, plan: &Plan) -> Result<bool, ProvisionError> {
        let Decision::Write { call, .. } = &plan.decision else {
            return Ok(false);
        };
        write::apply(&self.client, &self.org, plan, call).await?;
        Ok(true)
    }

    async fn run(&self, change: Change) -> Result<Plan, ProvisionError> {
        let plan = self.plan(change).await?;
        let changed = self.apply(&plan).await?;
        tracing::info!(
            change = %plan.change,
            result = %plan.outcome(),
            changed,
            "provisioning done"
        );
        Ok(plan)
    }
}

#[async_trait]
impl Provisioner for Env0Provisioner {
    async fn grant(
        &self,
        principal: &pb::Resource,
        entitlement: &pb::Entitlement,
    ) -> Result<GrantOutcome, ProvisionError> {
        let change = Change::parse(Direction::Grant, entitlement, principal)?;
        let plan = self.run(change).await?;
        Ok(match &plan.decision {
            Decision::Nothing => GrantOutcome::AlreadyExists,
            Decision::Write { replaces, .. } => GrantOutcome::Granted {
                grants: vec![plan.change.grant(entitlement.clone(), principal)],
                replaced: replaces
                    .iter()
                    .map(|old| plan.change.replaced_grant(old, principal))
                    .collect(),
            },
        })
    }

    async fn revoke(&self, grant: &pb::Grant) -> Result<RevokeOutcome, ProvisionError> {
        let entitlement = grant.entitlement.clone().unwrap_or_default();
        let principal = grant.principal.clone().unwrap_or_default();
        let change = Change::parse(Direction::Revoke, &entitlement, &principal)?;
        let plan = self.run(change).await?;
        Ok(match plan.decision {
            Decision::Nothing => RevokeOutcome::AlreadyRevoked,
            Decision::Write { .. } => RevokeOutcome::Revoked,
        })
    }
}

/// An env0 failure of a request that changed nothing.
pub(crate) fn api_failure(error: env0_api::Error) -> ProvisionError {
    if error.is_transient() {
        ProvisionError::retryable(error)
    } else {
        ProvisionError::permanent(error)
    }
}

/// One of this crate's refusals (nothing was sent).
pub(crate) fn refused(error: Error) -> ProvisionError {
    ProvisionError::permanent(error)
}
