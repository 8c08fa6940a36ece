//! Resource ids, resource types and plain (non-user) resources.

use chrono::{DateTime, Utc};
use prost::Name;

use crate::pb;
use crate::profile::{Profile, ProfileCut, ProfileValue};

/// A resource id: `resource_type` is the resource type id, `resource` the id within that type.
pub fn resource_id(resource_type: &str, resource: &str) -> pb::ResourceId {
    pb::ResourceId {
        resource_type: resource_type.to_owned(),
        resource: resource.to_owned(),
        baton_resource: false,
    }
}

/// Lifecycle status of a resource (and of a user, in its trait).
///
/// The numeric values are those of both `c1.connector.v2.Status.ResourceStatus` and
/// `c1.connector.v2.UserTrait.Status.Status`, which agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UserStatus {
    /// Not known.
    #[default]
    Unspecified,
    /// Active.
    Enabled,
    /// Exists but cannot sign in (suspended, invited and not accepted, ...).
    Disabled,
    /// Deleted upstream.
    Deleted,
}

impl UserStatus {
    /// As `Resource.status.status`.
    pub fn resource_status(self) -> pb::status::ResourceStatus {
        match self {
            Self::Unspecified => pb::status::ResourceStatus::Unspecified,
            Self::Enabled => pb::status::ResourceStatus::Enabled,
            Self::Disabled => pb::status::ResourceStatus::Disabled,
            Self::Deleted => pb::status::ResourceStatus::Deleted,
        }
    }

    /// As `UserTrait.status.status`.
    pub fn user_trait_status(self) -> pb::user_trait::status::Status {
        match self {
            Self::Unspecified => pb::user_trait::status::Status::Unspecified,
            Self::Enabled => pb::user_trait::status::Status::Enabled,
            Self::Disabled => pb::user_trait::status::Status::Disabled,
            Self::Deleted => pb::user_trait::status::Status::Deleted,
        }
    }
}

/// Builds a [`pb::ResourceType`].
///
/// ```
/// use c1_model::{pb, ResourceTypeBuilder};
/// let user = ResourceTypeBuilder::new("user", "User")
///     .with_trait(pb::resource_type::Trait::User)
///     .annotation(&pb::SkipEntitlementsAndGrants {})
///     .build();
/// assert_eq!(user.traits, vec![pb::resource_type::Trait::User as i32]);
/// ```
#[derive(Debug, Clone)]
pub struct ResourceTypeBuilder {
    resource_type: pb::ResourceType,
}

impl ResourceTypeBuilder {
    /// A resource type with this id (e.g. `user`) and display name (e.g. `User`).
    pub fn new(id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            resource_type: pb::ResourceType {
                id: id.into(),
                display_name: display_name.into(),
                ..pb::ResourceType::default()
            },
        }
    }

    /// Adds a trait; adding the same trait twice keeps one (traits must be unique).
    pub fn with_trait(mut self, value: pb::resource_type::Trait) -> Self {
        let value = value as i32;
        if !self.resource_type.traits.contains(&value) {
            self.resource_type.traits.push(value);
        }
        self
    }

    /// Sets the annotation of `message`'s type (one per message type; a later one replaces it).
    pub fn annotation<M: Name>(mut self, message: &M) -> Self {
        crate::annotations::set(&mut self.resource_type.annotations, message);
        self
    }

    /// Sets the description (at most 4096 bytes upstream).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.resource_type.description = description.into();
        self
    }

    /// Marks resources of this type as sourced from another connector.
    pub fn sourced_externally(mut self, value: bool) -> Self {
        self.resource_type.sourced_externally = value;
        self
    }

    /// The resource type.
    pub fn build(self) -> pb::ResourceType {
        self.resource_type
    }
}

/// Builds a non-user [`pb::Resource`]: a plain resource, a group or a role.
///
/// Status, profile and created-at go on the `Resource` fields (9, 11, 12). [`build_group`] and
/// [`build_role`] also attach exactly one `GroupTrait` / `RoleTrait` whose (deprecated) profile
/// mirrors the resource's, as older readers expect; the profile is then always present.
/// For users, use [`crate::UserBuilder`].
///
/// [`build_group`]: ResourceBuilder::build_group
/// [`build_role`]: ResourceBuilder::build_role
#[derive(Debug, Clone)]
pub struct ResourceBuilder {
    // Boxed: each chained call moves the builder, and a `pb::Resource` is hundreds of bytes.
    parts: Box<Parts>,
}

#[derive(Debug, Clone)]
struct Parts {
    resource: pb::Resource,
    profile: Option<Profile>,
    status: Option<(UserStatus, Option<String>)>,
}

impl ResourceBuilder {
    /// A resource of type `resource_type_id` with id `id` and a display name.
    pub fn new(resource_type_id: &str, id: &str, display_name: impl Into<String>) -> Self {
        Self {
            parts: Box::new(Parts {
                resource: pb::Resource {
                    id: Some(resource_id(resource_type_id, id)),
                    display_name: display_name.into(),
                    ..pb::Resource::default()
                },
                profile: None,
                status: None,
            }),
        }
    }

    /// Sets the parent resource.
    pub fn parent(mut self, parent: pb::ResourceId) -> Self {
        self.parts.resource.parent_resource_id = Some(parent);
        self
    }

    /// Sets the description (at most 2048 bytes upstream).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.parts.resource.description = description.into();
        self
    }

    /// Adds a profile entry; a later value for the same key replaces the earlier one. A string
    /// longer than [`MAX_PROFILE_TEXT_BYTES`](crate::limits::MAX_PROFILE_TEXT_BYTES) is cut to it
    /// at a character boundary (see [`profile_cuts`](Self::profile_cuts)).
    pub fn profile<'v>(mut self, key: impl AsRef<str>, value: impl Into<ProfileValue<'v>>) -> Self {
        self.parts
            .profile
            .get_or_insert_with(Profile::default)
            .insert(key.as_ref(), &value.into());
        self
    }

    /// The profile values cut so far, in the order they were added: call it before `build` to
    /// report them.
    pub fn profile_cuts(&self) -> &[ProfileCut] {
        self.parts.profile.as_ref().map_or(&[], Profile::cuts)
    }

    /// Sets the status and optional details (at most 1024 bytes upstream).
    pub fn status(mut self, status: UserStatus, details: Option<String>) -> Self {
        self.parts.status = Some((status, details));
        self
    }

    /// Sets when the resource was created upstream.
    pub fn created_at(mut self, time: DateTime<Utc>) -> Self {
        self.parts.resource.created_at = Some(crate::timestamp(time));
        self
    }

    /// Sets the annotation of `message`'s type (one per message type; a later one replaces it).
    pub fn annotation<M: Name>(mut self, message: &M) -> Self {
        crate::annotations::set(&mut self.parts.resource.annotations, message);
        self
    }

    /// The resource, with no trait annotation.
    pub fn build(self) -> pb::Resource {
        let (mut resource, profile) = self.assemble_unprofiled(false);
        resource.profile = profile;
        resource
    }

    /// The resource with exactly one `GroupTrait` annotation (for `TRAIT_GROUP` types).
    pub fn build_group(self) -> pb::Resource {
        let (mut resource, profile) = self.assemble_unprofiled(true);
        let mut group = pb::GroupTrait {
            icon: None,
            profile,
        };
        let packed = crate::annotations::pack(&group);
        // The trait is encoded: its profile moves to the resource instead of being copied.
        resource.profile = group.profile.take();
        crate::annotations::set_packed::<pb::GroupTrait>(&mut resource.annotations, packed);
        resource
    }

    /// The resource with exactly one `RoleTrait` annotation (for `TRAIT_ROLE` types).
    pub fn build_role(self) -> pb::Resource {
        let (mut resource, profile) = self.assemble_unprofiled(true);
        let mut role = pb::RoleTrait { profile };
        let packed = crate::annotations::pack(&role);
        resource.profile = role.profile.take();
        crate::annotations::set_packed::<pb::RoleTrait>(&mut resource.annotations, packed);
        resource
    }

    /// For [`crate::UserBuilder`]: the resource with its status set, and the profile (always
    /// present). The resource's `profile` is left empty: the caller puts the profile there once the
    /// user trait that mirrors it is encoded, so it is never copied.
    pub(crate) fn build_with_profile(self) -> (pb::Resource, crate::Struct) {
        let (resource, profile) = self.assemble_unprofiled(true);
        (resource, profile.unwrap_or_default())
    }

    /// Puts the status on the resource and returns the profile separately (an empty struct when
    /// none was given and `always_profile` is set), leaving `resource.profile` unset.
    fn assemble_unprofiled(self, always_profile: bool) -> (pb::Resource, Option<crate::Struct>) {
        let Parts {
            mut resource,
            profile,
            status,
        } = *self.parts;
        let profile = match profile {
            Some(profile) => Some(profile.into_struct()),
            None if always_profile => Some(crate::Struct::default()),
            None => None,
        };
        if let Some((status, details)) = status {
            resource.status = Some(pb::Status {
                status: status.resource_status() as i32,
                details: details.unwrap_or_default(),
            });
        }
        (resource, profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations;

    #[test]
    fn resource_id_sets_type_and_id() {
        let id = resource_id("user", "u-1");
        assert_eq!(id.resource_type, "user");
        assert_eq!(id.resource, "u-1");
        assert!(!id.baton_resource);
    }

    #[test]
    fn resource_type_builder_sets_every_field() {
        let rt = ResourceTypeBuilder::new("user", "User")
            .with_trait(pb::resource_type::Trait::User)
            .with_trait(pb::resource_type::Trait::User)
            .annotation(&pb::SkipEntitlementsAndGrants {})
            .annotation(&pb::SkipEntitlementsAndGrants {})
            .description("env0 users")
            .build();
        assert_eq!(rt.id, "user");
        assert_eq!(rt.display_name, "User");
        assert_eq!(rt.traits, vec![1]);
        assert_eq!(rt.annotations.len(), 1);
        assert!(annotations::has::<pb::SkipEntitlementsAndGrants>(
            &rt.annotations
        ));
        assert_eq!(rt.description, "env0 users");
        assert!(!rt.sourced_externally);
    }

    #[test]
    fn plain_resource_has_no_trait_and_no_profile_unless_given() {
        let r = ResourceBuilder::new("team", "t1", "Team One").build();
        assert_eq!(r.id, Some(resource_id("team", "t1")));
        assert_eq!(r.display_name, "Team One");
        assert!(r.annotations.is_empty());
        assert_eq!(r.profile, None);
        assert_eq!(r.status, None);
    }

    #[test]
    fn group_mirrors_profile_into_its_trait() {
        let created = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let r = ResourceBuilder::new("team", "t1", "Team One")
            .parent(resource_id("org", "o1"))
            .description("a team")
            .profile("members", 3_i64)
            .status(UserStatus::Enabled, None)
            .created_at(created)
            .build_group();
        let group: pb::GroupTrait = annotations::find(&r.annotations).unwrap();
        assert_eq!(r.annotations.len(), 1);
        assert_eq!(group.profile, r.profile);
        let profile = r.profile.as_ref().unwrap();
        assert_eq!(
            profile.fields()["members"],
            ProfileValue::Number(3.0).to_value()
        );
        assert_eq!(r.parent_resource_id, Some(resource_id("org", "o1")));
        assert_eq!(
            r.status,
            Some(pb::Status {
                status: 1,
                details: String::new()
            })
        );
        assert_eq!(
            r.created_at,
            Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0
            })
        );
        assert_eq!(r.description, "a team");
    }

    #[test]
    fn role_always_has_a_profile() {
        let r = ResourceBuilder::new("role", "admin", "Admin").build_role();
        let role: pb::RoleTrait = annotations::find(&r.annotations).unwrap();
        assert_eq!(role.profile, Some(crate::Struct::default()));
        assert_eq!(r.profile, Some(crate::Struct::default()));
    }

    #[test]
    fn status_enums_agree_numerically() {
        for status in [
            UserStatus::Unspecified,
            UserStatus::Enabled,
            UserStatus::Disabled,
            UserStatus::Deleted,
        ] {
            assert_eq!(
                status.resource_status() as i32,
                status.user_trait_status() as i32
            );
        }
        assert_eq!(UserStatus::Deleted.resource_status() as i32, 3);
    }
}
