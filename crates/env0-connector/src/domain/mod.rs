//! The env0 domain model: who has access to an organization, independent of the wire format.
//!
//! A [`Principal`] is a person (an organization member) or an API key. It is built from the
//! `env0-api` wire types by [`Principal::from_member`] and [`Principal::from_api_key`], which take
//! the wire value by value and move its strings instead of copying them (a sync converts and drops
//! 100k members at a time). Problems that do not stop the conversion (an unparseable timestamp)
//! are reported as [`Warning`]s.
//!
//! Every text a principal keeps, except its id, is at most [`MAX_TEXT_BYTES`] (64 KiB): a longer
//! one is cut at a character boundary as it is converted, with a [`Warning::TextCut`] that names
//! the principal and the wire field, and the memory beyond the cut is given back at once. Nothing
//! downstream (the packed snapshot, both profiles, the login and email of the user trait) then
//! holds more than that, whatever env0 sends. Ids are never cut (that would change who the
//! principal is); the directory drops a principal whose id ConductorOne would refuse.

use std::fmt;

use c1_model::limits;
use chrono::{DateTime, Utc};
use env0_api::{ApiKey, OrganizationUser, Role, Timestamp};

/// The most bytes any text of a principal keeps (its id aside): the profile cap of `c1-model`,
/// since every such text ends up in the user's profile.
pub const MAX_TEXT_BYTES: usize = limits::MAX_PROFILE_TEXT_BYTES;

/// What kind of principal this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PrincipalKind {
    /// A person: an organization member that is not an API key.
    Human,
    /// A User- or Admin-role API key (including one that env0 also lists as a member).
    ApiKey,
}

/// An organization role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, strum::EnumDiscriminants)]
#[strum_discriminants(name(OrgRoleTag), vis(pub(crate)))]
#[non_exhaustive]
pub enum OrgRole {
    /// Organization Admin (wire `"Admin"`).
    Admin,
    /// Organization User (wire `"User"`).
    User,
    /// A custom role: its id as it appears in `role` fields, and its name once resolved with
    /// `GET /roles` (`None` when the role is unknown there, has no name, or `/roles` is not
    /// available to the key or the plan).
    Custom {
        /// The custom role id.
        id: String,
        /// The custom role name, when known.
        name: Option<String>,
    },
}

impl OrgRole {
    /// The role as env0 writes it in `role` fields: `Admin`, `User` or the custom role id.
    pub fn id(&self) -> &str {
        match self {
            OrgRole::Admin => "Admin",
            OrgRole::User => "User",
            OrgRole::Custom { id, .. } => id,
        }
    }

    /// The role's name: `Admin`, `User`, or the custom role's name when known.
    pub fn name(&self) -> Option<&str> {
        match self {
            OrgRole::Admin => Some("Admin"),
            OrgRole::User => Some("User"),
            OrgRole::Custom { name, .. } => name.as_deref(),
        }
    }

    /// The wire role of `principal`'s field `field`, a custom role id cut to [`MAX_TEXT_BYTES`].
    fn from_wire(
        role: Role,
        principal: &str,
        field: &'static str,
        warnings: &mut Vec<Warning>,
    ) -> OrgRole {
        match role {
            Role::Admin => OrgRole::Admin,
            Role::User => OrgRole::User,
            Role::Custom(id) => OrgRole::Custom {
                id: capped(id.into_inner(), principal, field, warnings),
                name: None,
            },
        }
    }
}

/// The state of a membership, read from the member's `status`.
///
/// Each variant keeps the value exactly as env0 sent it, so profiles can show it unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, strum::EnumDiscriminants)]
#[strum_discriminants(name(MembershipTag), vis(pub(crate)))]
#[non_exhaustive]
pub enum Membership {
    /// `status` is exactly `Active`.
    Active,
    /// `status` is `Invited` or `Pending` in any letter case; holds the raw value.
    InvitePending(String),
    /// Any other non-empty `status` (for example `Suspended`, or `active` in lower case); holds the
    /// raw value.
    Other(String),
}

impl Membership {
    /// Classifies a raw `status`; `None` for empty or whitespace-only text.
    ///
    /// Only the exact text `Active` is active: env0 documents no other spelling, and reading an
    /// unknown value as active would hide a disabled account.
    pub fn parse(raw: String) -> Option<Membership> {
        if raw.trim().is_empty() {
            None
        } else if raw == "Active" {
            Some(Membership::Active)
        } else if raw.eq_ignore_ascii_case("invited") || raw.eq_ignore_ascii_case("pending") {
            Some(Membership::InvitePending(raw))
        } else {
            Some(Membership::Other(raw))
        }
    }

    /// The status as env0 sent it.
    pub fn raw(&self) -> &str {
        match self {
            Membership::Active => "Active",
            Membership::InvitePending(raw) | Membership::Other(raw) => raw,
        }
    }
}

/// A person or API key with access to the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Principal {
    /// The principal id: a member's `user.user_id`, an API key's entity `id`.
    pub id: String,
    /// Person or API key.
    pub kind: PrincipalKind,
    /// The member's email as given (never for API keys).
    pub email: Option<String>,
    /// The name to show, after the fallbacks of the mapping table: for a member `name`, else
    /// `given_name family_name`, else email, else id; for an API key `name`, else `apiKeyId`, else
    /// id. Never empty.
    pub display_name: String,
    /// Given name (members only).
    pub given_name: Option<String>,
    /// Family name (members only).
    pub family_name: Option<String>,
    /// Organization role; `None` when env0 sent none.
    pub role: Option<OrgRole>,
    /// Membership state (members only); `None` when `status` is missing.
    pub membership: Option<Membership>,
    /// When the account or key was created.
    pub created_at: Option<DateTime<Utc>>,
    /// Last sign-in of a member, last use of an API key.
    pub last_sign_in: Option<DateTime<Utc>>,
    /// The key's Basic-auth user name `apiKeyId` (API keys only; not a secret).
    pub api_key_id: Option<String>,
    /// Who created the API key: `createdBy`, else the embedded `createdByUser.user_id`.
    pub created_by: Option<String>,
}

impl Principal {
    /// A member of `GET /organizations/{org}/users`, as a [`PrincipalKind::Human`].
    pub fn from_member(member: OrganizationUser, warnings: &mut Vec<Warning>) -> Principal {
        let OrganizationUser {
            role, status, user, ..
        } = member;
        let id = user.user_id.into_inner();
        let mut text = |value: Option<String>, field| {
            non_blank(value).map(|value| capped(value, &id, field, warnings))
        };
        let email = text(user.email, "email");
        let given_name = text(user.given_name, "given_name");
        let family_name = text(user.family_name, "family_name");
        // Trimmed before it is cut, so the cut keeps as much of the name as it can.
        let name = text(user.name.map(trimmed), "name");
        let status = text(status, "status");
        let display_name = name
            .or_else(|| joined_name(given_name.as_deref(), family_name.as_deref()))
            .or_else(|| email.as_deref().map(|e| e.trim().to_owned()))
            .unwrap_or_else(|| derived_from_id(&id));
        let role = role.map(|role| OrgRole::from_wire(role, &id, "role", warnings));
        let created_at = datetime(user.created_at, &id, "created_at", warnings);
        let last_sign_in = datetime(user.last_login, &id, "last_login", warnings);
        Principal {
            kind: PrincipalKind::Human,
            email,
            display_name,
            given_name,
            family_name,
            role,
            membership: status.and_then(Membership::parse),
            created_at,
            last_sign_in,
            api_key_id: None,
            created_by: None,
            id,
        }
    }

    /// An item of `GET /api-keys`, as a [`PrincipalKind::ApiKey`].
    pub fn from_api_key(key: ApiKey, warnings: &mut Vec<Warning>) -> Principal {
        let ApiKey {
            id,
            name,
            api_key_id,
            organization_role,
            last_used_at,
            created_at,
            created_by,
            created_by_user,
            ..
        } = key;
        let id = id.into_inner();
        let mut text = |value: Option<String>, field| {
            non_blank(value).map(|value| capped(value, &id, field, warnings))
        };
        let api_key_id = text(api_key_id, "apiKeyId");
        let name = text(name.map(trimmed), "name");
        let created_by = text(created_by, "createdBy").or_else(|| {
            created_by_user
                .and_then(|u| text(Some(u.user_id.into_inner()), "createdByUser.user_id"))
        });
        let display_name = name
            .or_else(|| api_key_id.clone().map(trimmed))
            .unwrap_or_else(|| derived_from_id(&id));
        let role = organization_role
            .map(|role| OrgRole::from_wire(role, &id, "organizationRole", warnings));
        let created_at = datetime(created_at, &id, "createdAt", warnings);
        let last_sign_in = datetime(last_used_at, &id, "lastUsedAt", warnings);
        Principal {
            kind: PrincipalKind::ApiKey,
            email: None,
            display_name,
            given_name: None,
            family_name: None,
            role,
            membership: None,
            created_at,
            last_sign_in,
            api_key_id,
            created_by,
            id,
        }
    }

    /// Folds the member record of the same id into this API key principal.
    ///
    /// env0 may list a User-role API key among the members. It is then one principal, an API key:
    /// everything the API key mapping shows comes from the key, and only what the key lacks is
    /// taken from the member record, namely the role, the creation time and the last sign-in.
    /// Email, names and membership status of the member record are not used (the API key row of
    /// the mapping has no such fields).
    pub fn absorb_member(&mut self, member: Principal) {
        if self.role.is_none() {
            self.role = member.role;
        }
        if self.created_at.is_none() {
            self.created_at = member.created_at;
        }
        if self.last_sign_in.is_none() {
            self.last_sign_in = member.last_sign_in;
        }
    }

    /// Whether this is a member whose invitation is still pending.
    pub fn is_invite_pending(&self) -> bool {
        matches!(self.membership, Some(Membership::InvitePending(_)))
    }
}

/// Something odd in env0's data that did not stop the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A timestamp did not parse; the field was left empty.
    UnparseableTimestamp {
        /// The principal.
        principal: String,
        /// The wire field (`created_at`, `last_login`, `createdAt`, `lastUsedAt`).
        field: &'static str,
        /// The text env0 sent.
        raw: String,
    },
    /// The same principal id came twice from one endpoint; the first one was kept.
    DuplicateId {
        /// The repeated id.
        id: String,
        /// The list it came from: [`crate::directory::MEMBERS_SOURCE`] or
        /// [`crate::directory::API_KEYS_SOURCE`].
        source: &'static str,
    },
    /// A custom role id that `GET /roles` does not list; its name stays unknown.
    UnknownCustomRole {
        /// The custom role id.
        id: String,
        /// How many principals hold it.
        holders: usize,
    },
    /// A text was longer than [`MAX_TEXT_BYTES`]; only its first bytes (up to a character
    /// boundary) are kept.
    TextCut {
        /// The principal (its id, shortened when very long).
        principal: String,
        /// The wire field (`name`, `email`, `status`, `apiKeyId`, ...).
        field: &'static str,
        /// The text's length in bytes (a name's without surrounding whitespace).
        bytes: usize,
    },
    /// A custom role's name on `GET /roles` was longer than [`MAX_TEXT_BYTES`]; only its first
    /// bytes (up to a character boundary) are kept.
    CustomRoleNameCut {
        /// The custom role id (shortened when very long).
        id: String,
        /// The name's length as env0 sent it, in bytes.
        bytes: usize,
    },
    /// A principal's id is longer than ConductorOne accepts
    /// ([`MAX_ID_BYTES`](c1_model::limits::MAX_ID_BYTES)); the principal is skipped.
    IdTooLong {
        /// The id, shortened.
        id: String,
        /// Its length, in bytes.
        bytes: usize,
        /// The list it came from: [`crate::directory::MEMBERS_SOURCE`] or
        /// [`crate::directory::API_KEYS_SOURCE`].
        source: &'static str,
    },
    /// `GET /roles` answered 402 or 403: custom roles keep their ids, without names.
    CustomRolesUnavailable {
        /// 402 or 403.
        status: u16,
        /// How many principals hold a custom role.
        holders: usize,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnparseableTimestamp {
                principal,
                field,
                raw,
            } => write!(
                f,
                "principal `{principal}`: {field} `{}` could not be read as a timestamp; left empty",
                shorten(raw)
            ),
            Warning::DuplicateId { id, source } => {
                write!(
                    f,
                    "principal `{id}` appears twice in {source}; kept the first"
                )
            }
            Warning::TextCut {
                principal,
                field,
                bytes,
            } => write!(
                f,
                "principal `{principal}`: {field} is {bytes} bytes; only its first {MAX_TEXT_BYTES} bytes are kept"
            ),
            Warning::CustomRoleNameCut { id, bytes } => write!(
                f,
                "custom role `{id}`: its name on GET /roles is {bytes} bytes; only its first {MAX_TEXT_BYTES} bytes are kept"
            ),
            Warning::IdTooLong { id, bytes, source } => write!(
                f,
                "principal `{id}` in {source}: its id is {bytes} bytes, longer than the {} ConductorOne accepts; skipped",
                limits::MAX_ID_BYTES
            ),
            Warning::UnknownCustomRole { id, holders } => write!(
                f,
                "custom role `{id}` (held by {holders} principal{}) is not listed by GET /roles; its name is unknown",
                if *holders == 1 { "" } else { "s" }
            ),
            Warning::CustomRolesUnavailable { status, holders } => write!(
                f,
                "custom role names are unavailable ({status} on GET /roles{}); {holders} principal{} keep a custom role id without a name",
                if *status == 402 {
                    ": not in the organization's plan"
                } else {
                    ": the API key lacks the permission"
                },
                if *holders == 1 { "" } else { "s" }
            ),
        }
    }
}

/// `None` for missing or whitespace-only text, otherwise the text as given.
fn non_blank(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// `text` without surrounding whitespace, trimmed in place (a copy of a huge text would double
/// its memory for a moment).
fn trimmed(mut text: String) -> String {
    let end = text.trim_end().len();
    text.truncate(end);
    let start = end - text.trim_start().len();
    if start > 0 {
        text.drain(..start);
    }
    text
}

/// `text` cut to [`MAX_TEXT_BYTES`], with a [`Warning::TextCut`] for `principal`'s `field` when
/// it was longer.
pub(crate) fn capped(
    mut text: String,
    principal: &str,
    field: &'static str,
    warnings: &mut Vec<Warning>,
) -> String {
    if let Some(bytes) = limits::truncate(&mut text, MAX_TEXT_BYTES) {
        warnings.push(Warning::TextCut {
            principal: shorten(principal),
            field,
            bytes,
        });
    }
    text
}

/// A display name made from the id, at most [`MAX_TEXT_BYTES`] (an id too long for
/// ConductorOne is dropped later; its copy should not be huge meanwhile).
fn derived_from_id(id: &str) -> String {
    limits::truncated(id, MAX_TEXT_BYTES).to_owned()
}

/// `given family`, or whichever of the two is present, at most [`MAX_TEXT_BYTES`] (cut without
/// a warning: both names are kept whole beside it).
fn joined_name(given: Option<&str>, family: Option<&str>) -> Option<String> {
    let mut joined = match (given.map(str::trim), family.map(str::trim)) {
        (Some(given), Some(family)) => format!("{given} {family}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) => return None,
    };
    limits::truncate(&mut joined, MAX_TEXT_BYTES);
    Some(joined)
}

/// A parsed timestamp; raw (unparseable) text becomes `None` and a warning.
fn datetime(
    value: Option<Timestamp>,
    principal: &str,
    field: &'static str,
    warnings: &mut Vec<Warning>,
) -> Option<DateTime<Utc>> {
    match value? {
        Timestamp::Parsed(time) => Some(time),
        Timestamp::Raw(raw) if raw.trim().is_empty() => None,
        Timestamp::Raw(raw) => {
            warnings.push(Warning::UnparseableTimestamp {
                principal: principal.to_owned(),
                field,
                raw,
            });
            None
        }
    }
}

/// At most 64 characters of `text`, for messages.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests;
