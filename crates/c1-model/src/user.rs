//! User resources: a [`pb::Resource`] with exactly one `UserTrait` annotation.

use chrono::{DateTime, Utc};
use prost::Name;

use crate::pb;
use crate::profile::{ProfileCut, ProfileValue};
use crate::resource::{ResourceBuilder, UserStatus};

/// Kind of user account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AccountType {
    /// Not known.
    Unspecified,
    /// A person.
    #[default]
    Human,
    /// A machine identity such as an API key or service account.
    Service,
    /// An account the system itself uses.
    System,
}

impl AccountType {
    /// As `UserTrait.account_type`.
    pub fn to_pb(self) -> pb::user_trait::AccountType {
        match self {
            Self::Unspecified => pb::user_trait::AccountType::Unspecified,
            Self::Human => pb::user_trait::AccountType::Human,
            Self::Service => pb::user_trait::AccountType::Service,
            Self::System => pb::user_trait::AccountType::System,
        }
    }
}

/// Builds a user [`pb::Resource`] for a resource type with `TRAIT_USER`.
///
/// [`build`](UserBuilder::build) attaches exactly one `UserTrait` annotation and fills both the
/// trait's fields and their newer `Resource` counterparts, so old and new readers agree:
///
/// | value | `UserTrait` field | `Resource` field |
/// |---|---|---|
/// | status | 2 `status` | 11 `status` |
/// | profile | 3 `profile` | 9 `profile` |
/// | created at | 8 `created_at` | 12 `created_at` |
///
/// The profile is always present (an empty struct if no entry was added), because `baton export`
/// reads it without a nil check. Defaults follow baton-sdk's `NewUserTrait`: status `Enabled` and
/// account type `Human` unless set.
///
/// ```
/// use c1_model::{pb, AccountType, UserBuilder, UserStatus};
/// let user = UserBuilder::new("user", "u-1", "Ada Lovelace")
///     .email("ada@example.com", true)
///     .status(UserStatus::Enabled, None)
///     .account_type(AccountType::Human)
///     .login("ada@example.com")
///     .profile("role", "Admin")
///     .build();
/// let user_trait: pb::UserTrait = c1_model::annotations::find(&user.annotations).unwrap();
/// assert_eq!(user_trait.login, "ada@example.com");
/// ```
#[derive(Debug, Clone)]
pub struct UserBuilder {
    base: ResourceBuilder,
    // Boxed, like the resource builder's parts: chained calls move the builder.
    user_trait: Box<pb::UserTrait>,
    status: UserStatus,
    details: Option<String>,
}

impl UserBuilder {
    /// A user of type `resource_type_id` (e.g. `user`) with id `id` and a display name.
    pub fn new(resource_type_id: &str, id: &str, display_name: impl Into<String>) -> Self {
        Self {
            base: ResourceBuilder::new(resource_type_id, id, display_name),
            user_trait: Box::new(pb::UserTrait {
                account_type: AccountType::Human.to_pb() as i32,
                ..pb::UserTrait::default()
            }),
            status: UserStatus::Enabled,
            details: None,
        }
    }

    /// Adds an email address; mark at most one as primary.
    pub fn email(mut self, address: impl Into<String>, is_primary: bool) -> Self {
        self.user_trait.emails.push(pb::user_trait::Email {
            address: address.into(),
            is_primary,
        });
        self
    }

    /// Sets the status and optional details (at most 1024 bytes upstream).
    pub fn status(mut self, status: UserStatus, details: Option<String>) -> Self {
        self.status = status;
        self.details = details;
        self
    }

    /// Sets the account type.
    pub fn account_type(mut self, account_type: AccountType) -> Self {
        self.user_trait.account_type = account_type.to_pb() as i32;
        self
    }

    /// Sets the login.
    pub fn login(mut self, login: impl Into<String>) -> Self {
        self.user_trait.login = login.into();
        self
    }

    /// Adds a login alias.
    pub fn login_alias(mut self, alias: impl Into<String>) -> Self {
        self.user_trait.login_aliases.push(alias.into());
        self
    }

    /// Sets the last login time.
    pub fn last_login(mut self, time: DateTime<Utc>) -> Self {
        self.user_trait.last_login = Some(crate::timestamp(time));
        self
    }

    /// Sets when the user was created upstream (on the trait and the resource).
    pub fn created_at(mut self, time: DateTime<Utc>) -> Self {
        self.user_trait.created_at = Some(crate::timestamp(time));
        self.base = self.base.created_at(time);
        self
    }

    /// Sets the structured name.
    pub fn structured_name(
        mut self,
        given_name: impl Into<String>,
        family_name: impl Into<String>,
    ) -> Self {
        self.user_trait.structured_name = Some(pb::user_trait::StructuredName {
            given_name: given_name.into(),
            family_name: family_name.into(),
            ..pb::user_trait::StructuredName::default()
        });
        self
    }

    /// Sets whether multi-factor authentication is enabled.
    pub fn mfa_enabled(mut self, enabled: bool) -> Self {
        self.user_trait.mfa_status = Some(pb::user_trait::MfaStatus {
            mfa_enabled: enabled,
        });
        self
    }

    /// Sets whether single sign-on is enabled.
    pub fn sso_enabled(mut self, enabled: bool) -> Self {
        self.user_trait.sso_status = Some(pb::user_trait::SsoStatus {
            sso_enabled: enabled,
        });
        self
    }

    /// Adds an employee id.
    pub fn employee_id(mut self, id: impl Into<String>) -> Self {
        self.user_trait.employee_ids.push(id.into());
        self
    }

    /// Adds a profile entry; a later value for the same key replaces the earlier one. A string
    /// longer than [`MAX_PROFILE_TEXT_BYTES`](crate::limits::MAX_PROFILE_TEXT_BYTES) is cut to it
    /// at a character boundary (see [`profile_cuts`](Self::profile_cuts)).
    pub fn profile<'v>(mut self, key: impl AsRef<str>, value: impl Into<ProfileValue<'v>>) -> Self {
        self.base = self.base.profile(key, value);
        self
    }

    /// The profile values cut so far, in the order they were added: call it before `build` to
    /// report them.
    pub fn profile_cuts(&self) -> &[ProfileCut] {
        self.base.profile_cuts()
    }

    /// Sets the parent resource.
    pub fn parent(mut self, parent: pb::ResourceId) -> Self {
        self.base = self.base.parent(parent);
        self
    }

    /// Sets the description (at most 2048 bytes upstream).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.base = self.base.description(description);
        self
    }

    /// Sets the annotation of `message`'s type (one per message type; a later one replaces it).
    /// A `UserTrait` given here is replaced by the one [`build`](Self::build) makes.
    pub fn annotation<M: Name>(mut self, message: &M) -> Self {
        self.base = self.base.annotation(message);
        self
    }

    /// The user resource.
    pub fn build(self) -> pb::Resource {
        let Self {
            base,
            mut user_trait,
            status,
            details,
        } = self;
        let (mut resource, profile) = base.build_with_profile();
        let details = details.unwrap_or_default();
        resource.status = Some(pb::Status {
            status: status.resource_status() as i32,
            details: details.clone(),
        });
        user_trait.status = Some(pb::user_trait::Status {
            status: status.user_trait_status() as i32,
            details,
        });
        user_trait.profile = Some(profile);
        // The trait is written once per user: encoded directly rather than through prost.
        let packed = prost_types::Any {
            type_url: pb::UserTrait::type_url(),
            value: crate::direct::user_trait(&user_trait),
        };
        // The trait is encoded: its profile moves to the resource instead of being copied.
        resource.profile = user_trait.profile.take();
        crate::annotations::set_packed::<pb::UserTrait>(&mut resource.annotations, packed);
        resource
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations;

    fn user_trait(resource: &pb::Resource) -> pb::UserTrait {
        annotations::find(&resource.annotations).unwrap()
    }

    #[test]
    fn defaults_follow_the_sdk_and_profile_is_always_present() {
        let r = UserBuilder::new("user", "u1", "U One").build();
        let t = user_trait(&r);
        assert_eq!(r.annotations.len(), 1);
        assert_eq!(
            t.status,
            Some(pb::user_trait::Status {
                status: 1,
                details: String::new()
            })
        );
        assert_eq!(
            r.status,
            Some(pb::Status {
                status: 1,
                details: String::new()
            })
        );
        assert_eq!(t.account_type, pb::user_trait::AccountType::Human as i32);
        assert_eq!(t.profile, Some(crate::Struct::default()));
        assert_eq!(r.profile, Some(crate::Struct::default()));
        assert_eq!(t.created_at, None);
        assert_eq!(r.created_at, None);
    }

    #[test]
    fn status_profile_and_created_at_are_mirrored() {
        let created = DateTime::from_timestamp(1_600_000_000, 5).unwrap();
        let r = UserBuilder::new("user", "u1", "U One")
            .status(UserStatus::Disabled, Some("invited".into()))
            .profile("email", "a@b.c")
            .profile("name", None::<String>)
            .created_at(created)
            .build();
        let t = user_trait(&r);
        assert_eq!(
            t.status,
            Some(pb::user_trait::Status {
                status: 2,
                details: "invited".into()
            })
        );
        assert_eq!(
            r.status,
            Some(pb::Status {
                status: 2,
                details: "invited".into()
            })
        );
        assert_eq!(t.profile, r.profile);
        assert_eq!(r.profile.as_ref().unwrap().fields().len(), 2);
        let ts = prost_types::Timestamp {
            seconds: 1_600_000_000,
            nanos: 5,
        };
        assert_eq!(t.created_at, Some(ts));
        assert_eq!(r.created_at, Some(ts));
    }

    #[test]
    fn every_trait_field_is_set() {
        let last = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let r = UserBuilder::new("api-key", "k1", "CI key")
            .email("a@example.com", true)
            .email("b@example.com", false)
            .account_type(AccountType::Service)
            .login("a@example.com")
            .login_alias("alias")
            .last_login(last)
            .structured_name("Ada", "Lovelace")
            .mfa_enabled(true)
            .sso_enabled(false)
            .employee_id("E1")
            .parent(crate::resource_id("org", "o1"))
            .description("desc")
            .annotation(&pb::V1Identifier { id: "v1".into() })
            .build();
        let t = user_trait(&r);
        assert_eq!(t.emails.len(), 2);
        assert!(t.emails[0].is_primary && !t.emails[1].is_primary);
        assert_eq!(t.account_type, 2);
        assert_eq!(t.login, "a@example.com");
        assert_eq!(t.login_aliases, vec!["alias".to_owned()]);
        assert_eq!(t.last_login, Some(crate::timestamp(last)));
        let name = t.structured_name.unwrap();
        assert_eq!(
            (name.given_name.as_str(), name.family_name.as_str()),
            ("Ada", "Lovelace")
        );
        assert_eq!(
            t.mfa_status,
            Some(pb::user_trait::MfaStatus { mfa_enabled: true })
        );
        assert_eq!(
            t.sso_status,
            Some(pb::user_trait::SsoStatus { sso_enabled: false })
        );
        assert_eq!(t.employee_ids, vec!["E1".to_owned()]);
        assert_eq!(r.id, Some(crate::resource_id("api-key", "k1")));
        assert_eq!(r.parent_resource_id, Some(crate::resource_id("org", "o1")));
        assert_eq!(r.description, "desc");
        assert_eq!(r.annotations.len(), 2);
        assert!(annotations::has::<pb::V1Identifier>(&r.annotations));
    }

    #[test]
    fn long_profile_strings_are_cut_in_both_profiles_and_reported() {
        use crate::limits::MAX_PROFILE_TEXT_BYTES;
        // Three bytes per character, so the limit falls inside one.
        let long = "€".repeat(MAX_PROFILE_TEXT_BYTES / 3 + 10);
        let builder = UserBuilder::new("user", "u1", "U")
            .profile("bio", long.as_str())
            .profile("email", "a@b.c")
            .profile("motto", long.clone());
        let cuts: Vec<(&str, usize)> = builder
            .profile_cuts()
            .iter()
            .map(|cut| (cut.key.as_str(), cut.bytes))
            .collect();
        assert_eq!(cuts, [("bio", long.len()), ("motto", long.len())]);
        let r = builder.build();
        let kept = "€".repeat(MAX_PROFILE_TEXT_BYTES / 3);
        for profile in [r.profile.clone().unwrap(), user_trait(&r).profile.unwrap()] {
            let text = |key: &str| match &profile.fields()[key].kind {
                Some(prost_types::value::Kind::StringValue(text)) => text.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(text("bio"), kept);
            assert_eq!(text("motto"), kept);
            assert_eq!(text("email"), "a@b.c");
        }
        assert!(
            UserBuilder::new("user", "u1", "U")
                .profile("bio", kept.as_str())
                .profile_cuts()
                .is_empty(),
            "a value of exactly the limit's length, or less, is not cut"
        );
    }

    #[test]
    fn a_user_trait_passed_as_annotation_is_replaced_not_duplicated() {
        let stray = pb::UserTrait {
            login: "stray".into(),
            ..pb::UserTrait::default()
        };
        let r = UserBuilder::new("user", "u1", "U")
            .annotation(&stray)
            .login("real")
            .build();
        assert_eq!(
            r.annotations
                .iter()
                .filter(|a| annotations::is::<pb::UserTrait>(a))
                .count(),
            1
        );
        assert_eq!(user_trait(&r).login, "real");
    }
}
