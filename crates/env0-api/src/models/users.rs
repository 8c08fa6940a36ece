//! Organizations, their members, and the Auth0-style user inside a member.

use serde::{Deserialize, Serialize};

use super::{Role, Timestamp};
use crate::de::{opt_id, opt_role, opt_string, opt_timestamp};
use crate::ids::{OrgId, UserId};

/// An item of `GET /organizations`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Organization {
    /// Organization id.
    pub id: OrgId,
    /// Display name.
    #[serde(default, deserialize_with = "opt_string")]
    pub name: Option<String>,
    /// Free-text description.
    #[serde(default, deserialize_with = "opt_string")]
    pub description: Option<String>,
    /// Logo URL.
    #[serde(default, deserialize_with = "opt_string")]
    pub photo_url: Option<String>,
    /// Creator's user id.
    #[serde(default, deserialize_with = "opt_string")]
    pub created_by: Option<String>,
    /// Creation time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub created_at: Option<Timestamp>,
    /// Last update time.
    #[serde(default, deserialize_with = "opt_timestamp")]
    pub updated_at: Option<Timestamp>,
    /// The calling key's role in this organization.
    #[serde(default, deserialize_with = "opt_role")]
    pub role: Option<Role>,
}

/// An item of `GET /organizations/{org}/users`: a membership wrapping an Auth0-style user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OrganizationUser {
    /// The member's organization role.
    #[serde(default, deserialize_with = "opt_role")]
    pub role: Option<Role>,
    /// Membership status; `"Active"` is the only value documented.
    #[serde(default, deserialize_with = "opt_string")]
    pub status: Option<String>,
    /// The person (or principal) behind the membership.
    pub user: User,
}

/// The Auth0-style user object env0 embeds (snake_case keys). `user_id` is required; everything
/// else is optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UserWire")]
#[non_exhaustive]
pub struct User {
    /// Stable principal id.
    pub user_id: UserId,
    /// Email address (may repeat across users).
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Avatar URL.
    pub picture: Option<String>,
    /// Account creation time.
    pub created_at: Option<Timestamp>,
    /// Last login time; `None` when the user never logged in.
    pub last_login: Option<Timestamp>,
}

impl User {
    /// A user with only an id, for building test data and requests.
    pub fn new(user_id: UserId) -> User {
        User {
            user_id,
            email: None,
            name: None,
            given_name: None,
            family_name: None,
            picture: None,
            created_at: None,
            last_login: None,
        }
    }
}

/// The lenient shape of [`User`] before its id is checked.
#[derive(Deserialize)]
pub(crate) struct UserWire {
    #[serde(default, deserialize_with = "opt_id")]
    user_id: Option<UserId>,
    #[serde(default, deserialize_with = "opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    given_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    family_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    picture: Option<String>,
    #[serde(default, deserialize_with = "opt_timestamp")]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "opt_timestamp")]
    last_login: Option<Timestamp>,
}

impl TryFrom<UserWire> for User {
    type Error = &'static str;

    fn try_from(w: UserWire) -> Result<User, &'static str> {
        let user_id = w
            .user_id
            .ok_or("user object without a user_id (missing, null or empty)")?;
        Ok(User {
            user_id,
            email: w.email,
            name: w.name,
            given_name: w.given_name,
            family_name: w.family_name,
            picture: w.picture,
            created_at: w.created_at,
            last_login: w.last_login,
        })
    }
}
