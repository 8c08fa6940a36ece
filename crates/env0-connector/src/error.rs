//! The one error type of this crate, and how it becomes a [`c1_sync::ConnectorError`].
//!
//! Plain env0 failures travel as the unchanged [`env0_api::Error`] (so
//! `ConnectorError::downcast_ref::<env0_api::Error>()` reaches them). Failures this crate explains
//! itself (a foreign organization, a missing permission, a bad page token) are an [`Error`] whose
//! [`Error::api_error`] still reaches the env0 error behind them, if any.

use c1_sync::ConnectorError;
use env0_api::OrgId;

/// A failure of the env0 connector that needs more words than the env0 error behind it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `GET /organizations` does not list the configured organization.
    #[error(
        "organization {org} is not visible to this API key (the key sees {visible} organization{}); check the organization id and that the key belongs to that organization",
        plural(*.visible)
    )]
    OrganizationNotVisible {
        /// The configured organization.
        org: OrgId,
        /// How many organizations the key does see.
        visible: usize,
    },

    /// The key may not list the organization's users (403) or the plan does not allow it (402).
    #[error(
        "the API key cannot list organization users ({status} on GET /organizations/{org}/users); it needs organization Admin (read-only is enough)"
    )]
    CannotListUsers {
        /// The configured organization.
        org: OrgId,
        /// The HTTP status env0 answered (402 or 403).
        status: u16,
        /// env0's answer.
        #[source]
        source: env0_api::Error,
    },

    /// The key may not list the organization's API keys (403) or the plan does not allow it (402).
    /// Without that list, API keys listed as members would pass for people, so the sync stops.
    #[error(
        "the API key cannot list API keys ({status} on GET /api-keys?organizationId={org}); it needs organization Admin (read-only is enough)"
    )]
    CannotListApiKeys {
        /// The configured organization.
        org: OrgId,
        /// The HTTP status env0 answered (402 or 403).
        status: u16,
        /// env0's answer.
        #[source]
        source: env0_api::Error,
    },

    /// The engine passed a page token this connector never handed out.
    #[error(
        "invalid page token `{token}` for the env0 user listing (expected an offset below {total})"
    )]
    InvalidPageToken {
        /// The token received.
        token: String,
        /// How many principals the listing holds.
        total: usize,
    },

    /// A listing call came before `Connector::begin_sync` prepared the run (or after `end_sync`).
    #[error(
        "the env0 {what} listing was called outside a sync run (before begin_sync or after end_sync)"
    )]
    NoRun {
        /// Which listing.
        what: &'static str,
    },

    /// The engine asked for the entitlements or grants of a resource this connector did not list.
    #[error("the env0 connector did not list {resource_type} `{id}`")]
    UnknownResource {
        /// Its resource type.
        resource_type: &'static str,
        /// Its id.
        id: String,
    },

    /// A grant or revoke env0's API cannot carry out, refused before any request.
    #[error("cannot {change}: {reason}")]
    Refused {
        /// What was asked (`grant role:Admin:member to API key k-1`).
        change: String,
        /// Why not, and what to do instead.
        reason: String,
    },

    /// A grant of an organization role to a member env0 no longer lists.
    #[error(
        "cannot {change}: env0 no longer lists {principal} as a member of the organization; run a sync to refresh the file"
    )]
    NotInOrganization {
        /// What was asked.
        change: String,
        /// The principal's id.
        principal: String,
    },

    /// A write whose answer was lost, and whose effect the state read back does not settle.
    #[error(
        "could not tell whether env0 applied {write} ({reason}); check {check} before trying again"
    )]
    Unconfirmed {
        /// The write, as its request line and body.
        write: String,
        /// What to look at in env0.
        check: String,
        /// What happened to the write.
        reason: String,
    },

    /// A write env0 did not answer in time and does not show applied yet: it may still land, so
    /// it is not sent again.
    #[error(
        "env0 has not answered {write} ({reason}) and does not show it applied yet; env0 may \
         still apply it, so it was not sent again"
    )]
    Pending {
        /// The write, as its request line and body.
        write: String,
        /// What to look at in env0.
        check: String,
        /// What happened to the write.
        reason: String,
    },

    /// A write whose answer was lost every time, with the state showing it not applied each time.
    #[error(
        "env0 did not apply {write}: sent {sends} times, each time its answer was lost and the \
         state read back showed it not applied (the last send: {reason}); nothing changed"
    )]
    NotApplied {
        /// The write.
        write: String,
        /// How many times it was sent.
        sends: u32,
        /// What happened to the last attempt.
        reason: String,
    },

    /// A team's member list read back after writing it differs from the list written: someone
    /// else edited the team at the same time.
    #[error(
        "team {team} was edited by someone else at the same time: compared with the member list just written, env0 {}; {}",
        [
            (!added.is_empty()).then(|| format!("also lists {added}")),
            (!removed.is_empty()).then(|| format!("no longer lists {removed}")),
        ].into_iter().flatten().collect::<Vec<_>>().join(" and "),
        if *held { "this change holds, but check the team's members in env0" } else { "this change was overwritten; check the team's members in env0 and try again" }
    )]
    ConcurrentEdit {
        /// The team.
        team: String,
        /// Members env0 lists that were not written, comma-separated.
        added: String,
        /// Members written that env0 does not list, comma-separated.
        removed: String,
        /// Whether the change asked for still holds.
        held: bool,
    },

    /// This crate's own bookkeeping contradicts itself (a bug; debug builds stop at once).
    #[error("internal error in the env0 connector: {what}; this is a bug, please report it")]
    Internal {
        /// Which rule was broken.
        what: &'static str,
    },
}

impl Error {
    /// The env0 error behind this one, if any.
    pub fn api_error(&self) -> Option<&env0_api::Error> {
        match self {
            Error::CannotListUsers { source, .. } | Error::CannotListApiKeys { source, .. } => {
                Some(source)
            }
            Error::OrganizationNotVisible { .. }
            | Error::InvalidPageToken { .. }
            | Error::NoRun { .. }
            | Error::UnknownResource { .. }
            | Error::Refused { .. }
            | Error::NotInOrganization { .. }
            | Error::Unconfirmed { .. }
            | Error::Pending { .. }
            | Error::NotApplied { .. }
            | Error::ConcurrentEdit { .. }
            | Error::Internal { .. } => None,
        }
    }

    /// True when the failure is about missing access (a permission or plan), not a bad setting.
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self,
            Error::CannotListUsers { .. } | Error::CannotListApiKeys { .. }
        )
    }
}

/// The env0 error inside a [`ConnectorError`] made by this crate, whether it travels bare or
/// behind an [`Error`]. This is what a CLI maps to exit codes (401, 402/403, retries exhausted).
pub fn api_error(error: &ConnectorError) -> Option<&env0_api::Error> {
    error
        .downcast_ref::<env0_api::Error>()
        .or_else(|| error.downcast_ref::<Error>().and_then(Error::api_error))
}

/// Wraps an env0 error: transient exactly when [`env0_api::Error::is_transient`] says so.
pub(crate) fn from_api(error: env0_api::Error) -> ConnectorError {
    if error.is_transient() {
        ConnectorError::transient(error)
    } else {
        ConnectorError::permanent(error)
    }
}

/// A broken rule of this crate's bookkeeping: stops a debug build at once (so tests find it),
/// and is an [`Error::Internal`] in a release build.
#[track_caller]
pub(crate) fn broken(what: &'static str) -> Error {
    debug_assert!(false, "env0-connector bookkeeping is broken: {what}");
    Error::Internal { what }
}

/// Wraps one of this crate's errors; none of them passes by retrying.
pub(crate) fn permanent(error: Error) -> ConnectorError {
    ConnectorError::permanent(error)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_org_message_counts_organizations() {
        let one = Error::OrganizationNotVisible {
            org: OrgId::new("o-9"),
            visible: 1,
        };
        assert_eq!(
            one.to_string(),
            "organization o-9 is not visible to this API key (the key sees 1 organization); check the organization id and that the key belongs to that organization"
        );
        let none = Error::OrganizationNotVisible {
            org: OrgId::new("o-9"),
            visible: 0,
        };
        assert!(
            none.to_string().contains("the key sees 0 organizations"),
            "{none}"
        );
        assert!(none.api_error().is_none());
        assert!(!none.is_access_denied());
    }

    #[test]
    fn wrapped_api_errors_stay_reachable() {
        let api = env0_api::Error::Forbidden {
            endpoint: "GET /organizations/o-1/users".into(),
            message: String::new(),
        };
        let err = permanent(Error::CannotListUsers {
            org: OrgId::new("o-1"),
            status: 403,
            source: api,
        });
        assert!(!err.is_transient());
        assert_eq!(api_error(&err).and_then(env0_api::Error::status), Some(403));
        assert_eq!(
            err.to_string(),
            "the API key cannot list organization users (403 on GET /organizations/o-1/users); it needs organization Admin (read-only is enough)"
        );
    }
}
