//! Principals as ConductorOne user resources, field by field as the table below (and
//! `docs/user-mapping.md`) specifies.
//!
//! | C1 field | member | API key |
//! |---|---|---|
//! | resource id | `user.user_id` | key `id` |
//! | display name | `name`, else `given_name family_name`, else email, else id | `name`, else `apiKeyId`, else id |
//! | user trait emails | the email as given, primary (none when empty) | none |
//! | status | `Active` → enabled; `Invited`/`Pending` (any case) → disabled, details "invite pending"; other non-empty → disabled, details = raw value; missing → unspecified | enabled |
//! | account type | human | service |
//! | login | email, else id | `apiKeyId` (empty when the key has none) |
//! | last login | `user.last_login` | `lastUsedAt` |
//! | created at | `user.created_at` | `createdAt` |
//! | structured name | given and family name when either is present | none |
//! | profile | `user_id`, `email`, `first_name`, `last_name`, `display_name`, `role`, `role_name`, `status`, `invite_pending`, `account_type` = `human` | `user_id`, `api_key_id`, `first_name` and `last_name` (null), `role`, `role_name`, `account_type` = `api_key`, `created_by` |
//!
//! Profile keys are always present. Values are strings except `invite_pending` (a boolean); a
//! value env0 did not send, or that is unknown, is an explicit JSON `null` rather than a missing
//! key, so every row of a CSV export has the same columns. `role` is `Admin`, `User` or the custom
//! role id; `role_name` is `Admin`, `User` or the custom role's name (`null` while unknown).
//! `status` is the raw membership status. Display names and status details are cut to baton's
//! 1024-byte limit at a character boundary (silently: the profile keeps the whole name or
//! status). Profile values are at most 64 KiB: the domain cuts every text it keeps to that (with a
//! warning), and a longer value that reached the mapping anyway would be cut by `c1-model`'s
//! builder and reported by the listing.

use c1_model::{AccountType, ResourceTypeBuilder, UserBuilder, UserStatus, pb};
use chrono::{DateTime, Utc};

use crate::domain::{MembershipTag, OrgRole, Principal, PrincipalKind, shorten};

/// Id of the resource type every principal is synced as.
pub const USER_RESOURCE_TYPE: &str = "user";

/// Status details of a member whose invitation is pending.
pub const INVITE_PENDING_DETAILS: &str = "invite pending";

/// baton's limit for display names and status details.
const MAX_TEXT_BYTES: usize = c1_model::limits::MAX_DISPLAY_NAME_BYTES;

/// The `user` resource type: display name "User", `TRAIT_USER`, and the
/// `SkipEntitlementsAndGrants` annotation (env0 entitlements are not synced yet).
pub fn user_resource_type() -> pb::ResourceType {
    ResourceTypeBuilder::new(USER_RESOURCE_TYPE, "User")
        .with_trait(pb::resource_type::Trait::User)
        .annotation(&pb::SkipEntitlementsAndGrants {})
        .description("People and API keys with access to the env0 organization")
        .build()
}

/// A principal as a `user` resource with one `UserTrait`. A profile value longer than
/// [`MAX_PROFILE_TEXT_BYTES`](c1_model::limits::MAX_PROFILE_TEXT_BYTES) is cut to it (a principal
/// converted from env0's answer has none; the listing reports any it meets).
pub fn user_resource(principal: &Principal) -> pb::Resource {
    resource_from(&Fields::of(principal), &mut Vec::new())
}

/// The fields the mapping reads, borrowed: from a [`Principal`] or straight from the listing's
/// packed form, so a page is mapped without first rebuilding owned principals.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) id: &'a str,
    pub(crate) kind: PrincipalKind,
    pub(crate) email: Option<&'a str>,
    pub(crate) display_name: &'a str,
    pub(crate) given_name: Option<&'a str>,
    pub(crate) family_name: Option<&'a str>,
    /// `Admin`, `User` or the custom role id.
    pub(crate) role_id: Option<&'a str>,
    /// `Admin`, `User` or the custom role's name when known.
    pub(crate) role_name: Option<&'a str>,
    pub(crate) membership: Option<MembershipView<'a>>,
    pub(crate) created_at: Option<DateTime<Utc>>,
    pub(crate) last_sign_in: Option<DateTime<Utc>>,
    pub(crate) api_key_id: Option<&'a str>,
    pub(crate) created_by: Option<&'a str>,
}

/// [`Membership`], borrowed: its kind (the tag derived from the domain enum) and the raw
/// status as env0 sent it (`Active` for an active membership).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MembershipView<'a> {
    pub(crate) tag: MembershipTag,
    pub(crate) raw: &'a str,
}

impl<'a> Fields<'a> {
    pub(crate) fn of(p: &'a Principal) -> Fields<'a> {
        Fields {
            id: &p.id,
            kind: p.kind,
            email: p.email.as_deref(),
            display_name: &p.display_name,
            given_name: p.given_name.as_deref(),
            family_name: p.family_name.as_deref(),
            role_id: p.role.as_ref().map(OrgRole::id),
            role_name: p.role.as_ref().and_then(OrgRole::name),
            membership: p.membership.as_ref().map(|m| MembershipView {
                tag: m.into(),
                raw: m.raw(),
            }),
            created_at: p.created_at,
            last_sign_in: p.last_sign_in,
            api_key_id: p.api_key_id.as_deref(),
            created_by: p.created_by.as_deref(),
        }
    }
}

/// The mapping itself; a warning for each profile value cut goes to `warnings`.
pub(crate) fn resource_from(fields: &Fields<'_>, warnings: &mut Vec<String>) -> pb::Resource {
    let user = match fields.kind {
        PrincipalKind::ApiKey => api_key_resource(fields),
        PrincipalKind::Human => member_resource(fields),
    };
    for cut in user.profile_cuts() {
        warnings.push(format!(
            "principal `{}`: profile value `{}` is {} bytes; only its first {} bytes are kept",
            shorten(fields.id),
            cut.key,
            cut.bytes,
            c1_model::limits::MAX_PROFILE_TEXT_BYTES
        ));
    }
    user.build()
}

fn member_resource(p: &Fields<'_>) -> UserBuilder {
    let (status, details) = match p.membership {
        Some(MembershipView {
            tag: MembershipTag::Active,
            ..
        }) => (UserStatus::Enabled, None),
        Some(MembershipView {
            tag: MembershipTag::InvitePending,
            ..
        }) => (
            UserStatus::Disabled,
            Some(INVITE_PENDING_DETAILS.to_owned()),
        ),
        Some(MembershipView {
            tag: MembershipTag::Other,
            raw,
        }) => (UserStatus::Disabled, Some(truncated(raw).to_owned())),
        None => (UserStatus::Unspecified, None),
    };
    let mut user = UserBuilder::new(USER_RESOURCE_TYPE, p.id, truncated(p.display_name))
        .status(status, details)
        .account_type(AccountType::Human)
        .login(p.email.unwrap_or(p.id));
    if let Some(email) = p.email {
        user = user.email(email, true);
    }
    if let Some(time) = p.last_sign_in {
        user = user.last_login(time);
    }
    if let Some(time) = p.created_at {
        user = user.created_at(time);
    }
    if p.given_name.is_some() || p.family_name.is_some() {
        user = user.structured_name(
            p.given_name.unwrap_or_default(),
            p.family_name.unwrap_or_default(),
        );
    }
    // In key order, the order the profile is encoded in, so it is written without sorting.
    user.profile("account_type", "human")
        .profile("display_name", p.display_name)
        .profile("email", p.email)
        .profile("first_name", p.given_name)
        .profile(
            "invite_pending",
            p.membership
                .is_some_and(|m| m.tag == MembershipTag::InvitePending),
        )
        .profile("last_name", p.family_name)
        .profile("role", p.role_id)
        .profile("role_name", p.role_name)
        .profile("status", p.membership.map(|m| m.raw))
        .profile("user_id", p.id)
}

fn api_key_resource(p: &Fields<'_>) -> UserBuilder {
    let mut user = UserBuilder::new(USER_RESOURCE_TYPE, p.id, truncated(p.display_name))
        .status(UserStatus::Enabled, None)
        .account_type(AccountType::Service)
        .login(p.api_key_id.unwrap_or_default());
    if let Some(time) = p.last_sign_in {
        user = user.last_login(time);
    }
    if let Some(time) = p.created_at {
        user = user.created_at(time);
    }
    // In key order, as above. An API key has no first or last name; the keys are there (null)
    // because `baton export csv` reads them from every user's profile.
    user.profile("account_type", "api_key")
        .profile("api_key_id", p.api_key_id)
        .profile("created_by", p.created_by)
        .profile("first_name", None::<&str>)
        .profile("last_name", None::<&str>)
        .profile("role", p.role_id)
        .profile("role_name", p.role_name)
        .profile("user_id", p.id)
}

/// `text` cut to at most [`MAX_TEXT_BYTES`] bytes at a character boundary.
fn truncated(text: &str) -> &str {
    c1_model::limits::truncated(text, MAX_TEXT_BYTES)
}

#[cfg(test)]
mod tests {
    use c1_model::resource_id;

    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let long = "é".repeat(600); // 1200 bytes
        let cut = truncated(&long);
        assert_eq!(cut.len(), 1024);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(truncated("short"), "short");
    }

    /// The domain keeps no text over 64 KiB, so this takes a principal built by hand: a value the
    /// builder has to cut is reported, naming the principal and the profile key.
    #[test]
    fn a_profile_value_cut_by_the_builder_is_reported() {
        let limit = c1_model::limits::MAX_PROFILE_TEXT_BYTES;
        let long = "e".repeat(limit + 1);
        let principal = Principal {
            email: Some(long.clone()),
            ..crate::Principal::from_member(
                serde_json::from_str(r#"{"user":{"user_id":"u1"}}"#).unwrap(),
                &mut Vec::new(),
            )
        };
        let mut warnings = Vec::new();
        let resource = resource_from(&Fields::of(&principal), &mut warnings);
        assert_eq!(
            warnings,
            [format!(
                "principal `u1`: profile value `email` is {} bytes; only its first {limit} bytes are kept",
                limit + 1
            )]
        );
        let profile = resource.profile.unwrap();
        let email = &profile.fields()["email"];
        assert!(
            matches!(&email.kind, Some(prost_types::value::Kind::StringValue(e)) if e.len() == limit)
        );
        assert_eq!(
            user_resource(&principal).id,
            resource_id(USER_RESOURCE_TYPE, "u1").into()
        );
    }

    #[test]
    fn resource_type_is_user_with_skip_annotation() {
        let rt = user_resource_type();
        assert_eq!(rt.id, "user");
        assert_eq!(rt.display_name, "User");
        assert_eq!(rt.traits, vec![pb::resource_type::Trait::User as i32]);
        assert!(c1_model::annotations::has::<pb::SkipEntitlementsAndGrants>(
            &rt.annotations
        ));
    }
}
