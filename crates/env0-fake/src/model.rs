//! The fake's data model: one env0 organization with its members, API keys, custom roles, teams,
//! projects and role assignments.
//!
//! Every struct serializes to the exact env0 wire shape (snake_case inside `user`, camelCase
//! elsewhere), so the server hands these out as they are. The same model is the format of the JSON
//! organization files (`fixtures/demo-org.json`). Optional fields are [`Maybe`] so a payload can
//! carry a field that is absent, `null`, or present — env0 payloads use all three — and every
//! object keeps unknown extra fields in `extra`, which is serialized back verbatim.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::FakeError;

/// A JSON field that can be absent, `null`, or hold a value.
///
/// Fields of this type carry `#[serde(default, skip_serializing_if = "Maybe::is_missing")]`, so
/// [`Maybe::Missing`] leaves the key out of the JSON object, [`Maybe::Null`] writes `null`, and
/// [`Maybe::Value`] writes the value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Maybe<T> {
    /// The key is absent from the JSON object.
    #[default]
    Missing,
    /// The key is present with the value `null`.
    Null,
    /// The key is present with a value.
    Value(T),
}

impl<T> Maybe<T> {
    /// True when the key is absent (used by `skip_serializing_if`).
    pub fn is_missing(&self) -> bool {
        matches!(self, Maybe::Missing)
    }

    /// The value, if there is one.
    pub fn value(&self) -> Option<&T> {
        match self {
            Maybe::Value(v) => Some(v),
            Maybe::Missing | Maybe::Null => None,
        }
    }
}

impl Maybe<String> {
    /// A present string value.
    pub fn text(s: impl Into<String>) -> Self {
        Maybe::Value(s.into())
    }

    /// The value when it is present and not the empty string (how clients treat optional strings).
    pub fn non_empty(&self) -> Option<&str> {
        self.value().map(String::as_str).filter(|s| !s.is_empty())
    }
}

impl<T> From<T> for Maybe<T> {
    fn from(value: T) -> Self {
        Maybe::Value(value)
    }
}

impl<T: Serialize> Serialize for Maybe<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Maybe::Value(v) => v.serialize(serializer),
            Maybe::Missing | Maybe::Null => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Maybe<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(v) => Maybe::Value(v),
            None => Maybe::Null,
        })
    }
}

/// One organization and everything the fake serves for it. This is also the JSON file format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Org {
    /// The `GET /organizations` item.
    pub organization: Organization,
    /// `GET /organizations/{org}/users`, in order.
    #[serde(default)]
    pub members: Vec<Member>,
    /// `GET /api-keys?organizationId=`, in order.
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// `GET /roles?organizationId=` (custom roles only; built-ins are never listed).
    #[serde(default)]
    pub roles: Vec<CustomRole>,
    /// `GET /teams/organizations/{org}`, in order.
    #[serde(default)]
    pub teams: Vec<Team>,
    /// `GET /projects?organizationId=` (flat: sub-projects and archived ones included).
    #[serde(default)]
    pub projects: Vec<Project>,
    /// `GET /permissions/projects/{project}` by project id.
    #[serde(default)]
    pub project_permissions: BTreeMap<String, Vec<ProjectPermission>>,
    /// `GET /roles/assignments/teams?organizationId=|projectId=`.
    #[serde(default)]
    pub team_role_assignments: TeamRoleAssignments,
}

impl Org {
    /// Reads an organization from a JSON file in this model's format.
    pub fn from_json_file(path: &Path) -> Result<Org, FakeError> {
        let text = std::fs::read_to_string(path).map_err(|source| FakeError::ReadOrg {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| FakeError::ParseOrg {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The organization id.
    pub fn id(&self) -> &str {
        &self.organization.id
    }

    /// The member whose `user.user_id` is `user_id` (the first one, if listed twice).
    pub fn member(&self, user_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.user.user_id == user_id)
    }

    /// The API key whose `id` is `id`.
    pub fn api_key(&self, id: &str) -> Option<&ApiKey> {
        self.api_keys.iter().find(|k| k.id == id)
    }

    /// The custom role whose `id` is `id`.
    pub fn role(&self, id: &str) -> Option<&CustomRole> {
        self.roles.iter().find(|r| r.id == id)
    }
}

/// An item of `GET /organizations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Organization {
    /// Organization id (a UUID).
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub name: Maybe<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub description: Maybe<String>,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub created_at: Maybe<String>,
    /// The caller's role in the organization.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub role: Maybe<String>,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An item of `GET /organizations/{org}/users`: a membership wrapping an Auth0-style user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Member {
    /// `Admin`, `User`, or a custom role id.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub role: Maybe<String>,
    /// Membership status: `Active`, `Invited`, `pending`, `Inactive`, ...
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub status: Maybe<String>,
    /// The person (or a User-role API key acting as one).
    pub user: User,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The snake_case Auth0-style user object used by members, teams and `createdByUser`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// Principal id, e.g. `auth0|5f7c...`, `google-oauth2|1163...`, or an API key's `id`.
    pub user_id: String,
    /// Email address.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub email: Maybe<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub name: Maybe<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub given_name: Maybe<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub family_name: Maybe<String>,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub picture: Maybe<String>,
    /// Account creation time.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub created_at: Maybe<String>,
    /// Last sign-in time.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub last_login: Maybe<String>,
    /// Auth0 app metadata (free-form).
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub app_metadata: Maybe<Value>,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl User {
    /// A user with only an id; every other field missing.
    pub fn new(user_id: impl Into<String>) -> Self {
        User {
            user_id: user_id.into(),
            email: Maybe::Missing,
            name: Maybe::Missing,
            given_name: Maybe::Missing,
            family_name: Maybe::Missing,
            picture: Maybe::Missing,
            created_at: Maybe::Missing,
            last_login: Maybe::Missing,
            app_metadata: Maybe::Missing,
            extra: Map::new(),
        }
    }
}

/// An item of `GET /api-keys?organizationId=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ApiKey {
    /// Entity id (a UUID); the principal id in assignments and teams.
    pub id: String,
    /// Display name (not unique).
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub name: Maybe<String>,
    /// The Basic-auth username of the key (not a secret).
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub api_key_id: Maybe<String>,
    /// Owning organization.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub organization_id: Maybe<String>,
    /// `Admin`, `User`, or a custom role id.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub organization_role: Maybe<String>,
    /// Last use; absent or null when never used.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub last_used_at: Maybe<String>,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub created_at: Maybe<String>,
    /// Creator's user id.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub created_by: Maybe<String>,
    /// Creator, as a snake_case user object.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub created_by_user: Maybe<User>,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An item of `GET /roles?organizationId=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CustomRole {
    /// Role id (a UUID); what `role` fields hold for a custom role.
    pub id: String,
    /// Role name.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub name: Maybe<String>,
    /// Owning organization.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub organization_id: Maybe<String>,
    /// Permission names.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub permissions: Maybe<Vec<String>>,
    /// Whether new members get this role by default.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub is_default_role: Maybe<bool>,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An item of `GET /teams/organizations/{org}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Team {
    /// Team id.
    pub id: String,
    /// Team name.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub name: Maybe<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub description: Maybe<String>,
    /// Owning organization.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub organization_id: Maybe<String>,
    /// Members (snake_case user objects; may include User-role API keys).
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub users: Maybe<Vec<User>>,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An item of `GET /projects?organizationId=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Project {
    /// Project id.
    pub id: String,
    /// Project name.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub name: Maybe<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub description: Maybe<String>,
    /// Owning organization.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub organization_id: Maybe<String>,
    /// Parent project for sub-projects.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub parent_project_id: Maybe<String>,
    /// `rootId|...|parentId|selfId`.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub hierarchy: Maybe<String>,
    /// Archived projects are listed too.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub is_archived: Maybe<bool>,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Maybe::is_missing")]
    pub created_at: Maybe<String>,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An item of `GET /permissions/projects/{project}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProjectPermission {
    /// Assignment id.
    pub id: String,
    /// Principal id (a member's `user_id` or a User-role API key's `id`).
    pub user_id: String,
    /// `Admin`, `Deployer`, `Planner`, `Viewer`, or a custom role id.
    pub role: String,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An item of `GET /roles/assignments/teams`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TeamRoleAssignment {
    /// Assignment id.
    pub id: String,
    /// Team id.
    pub team_id: String,
    /// Built-in role name or custom role id.
    pub role: String,
    /// Fields the model does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Team role assignments at organization scope and per project.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TeamRoleAssignments {
    /// `?organizationId=` answers.
    #[serde(default)]
    pub organization: Vec<TeamRoleAssignment>,
    /// `?projectId=` answers, by project id.
    #[serde(default)]
    pub projects: BTreeMap<String, Vec<TeamRoleAssignment>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maybe_round_trips_missing_null_and_value() {
        let json = r#"{"user_id":"auth0|1","email":null,"name":"Zoë","extra_field":[1,2]}"#;
        let user: User = serde_json::from_str(json).unwrap();
        assert_eq!(user.email, Maybe::Null);
        assert_eq!(user.name, Maybe::text("Zoë"));
        assert_eq!(user.given_name, Maybe::Missing);
        assert_eq!(
            user.extra.get("extra_field"),
            Some(&serde_json::json!([1, 2]))
        );
        assert_eq!(serde_json::to_string(&user).unwrap(), json);
    }

    #[test]
    fn non_empty_treats_empty_as_absent() {
        assert_eq!(Maybe::text("").non_empty(), None);
        assert_eq!(Maybe::<String>::Null.non_empty(), None);
        assert_eq!(Maybe::text("x").non_empty(), Some("x"));
    }
}
