//! API keys and custom roles.

use serde::{Deserialize, Serialize};

use super::{Role, Timestamp, User};
use crate::de::{opt_bool, opt_id, opt_role, opt_string, opt_timestamp, opt_user, string_list};
use crate::ids::{ApiKeyId, OrgId, RoleId};

/// An item of `GET /api-keys?organizationId=`.
///
/// The wire's `apiKeySecret` (only meaningful in a create response) is deliberately not read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiKey {
    /// Entity id; the principal id used in team members and role assignments.
    pub id: ApiKeyId,
    /// Display name (not unique).
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// The Basic-auth user name of the key (not a secret).
    #[serde(default, deserialize_with = "opt_string")]
    pub api_key_id: Option<String>,
    /// Owning organization.
    #[serde(default, deserialize_with = "opt_id")]
    pub organization_id: Option<OrgId>,
    /// The key's organization role.
    #[serde(default, deserialize_with = "opt_role")]
    pub organization_role: Option<Role>,
    /// Last use; `None` when never used.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub last_used_at: Option<Timestamp>,
    /// Creation time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub created_at: Option<Timestamp>,
    /// Creator's user id.
    #[serde(default, deserialize_with = "opt_string")]
    pub created_by: Option<String>,
    /// The creator, embedded.
    #[serde(default, deserialize_with = "opt_user")]
    pub created_by_user: Option<User>,
}

/// An item of `GET /roles?organizationId=` (custom roles only; built-ins are never listed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CustomRole {
    /// Role id; the value that appears in `role` fields.
    pub id: RoleId,
    /// Display name.
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// Owning organization.
    #[serde(default, deserialize_with = "opt_id")]
    pub organization_id: Option<OrgId>,
    /// Permission names such as `VIEW_PROJECT` (open-ended).
    #[serde(default, deserialize_with = "string_list")]
    pub permissions: Vec<String>,
    /// Whether this is the organization's default role (meaning not documented).
    #[serde(default, deserialize_with = "opt_bool")]
    pub is_default_role: Option<bool>,
}
