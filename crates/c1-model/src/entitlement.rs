//! Entitlements with baton's id conventions.
//!
//! An entitlement id is `<resource type>:<resource>:<slug>` (baton-sdk's `NewEntitlementID`, a
//! public contract that must stay byte-identical); the display name and slug are the slug, and the
//! purpose says what kind of entitlement it is.

use crate::pb;
use crate::pb::entitlement::PurposeValue;

/// The entitlement id for `slug` on the resource `resource`: `<resource type>:<resource>:<slug>`.
pub fn id(resource: &pb::ResourceId, slug: &str) -> String {
    format!("{}:{}:{}", resource.resource_type, resource.resource, slug)
}

/// An assignment entitlement (membership, role assignment) on `resource`.
pub fn assignment(resource: &pb::Resource, slug: &str) -> pb::Entitlement {
    new(resource, slug, PurposeValue::Assignment)
}

/// A permission entitlement on `resource`.
pub fn permission(resource: &pb::Resource, slug: &str) -> pb::Entitlement {
    new(resource, slug, PurposeValue::Permission)
}

/// An ownership entitlement on `resource`.
pub fn ownership(resource: &pb::Resource, slug: &str) -> pb::Entitlement {
    new(resource, slug, PurposeValue::Ownership)
}

/// An entitlement on `resource` with this purpose. Like baton-sdk, the whole resource is embedded.
/// A resource without an id gives an id with empty parts (`::slug`).
pub fn new(resource: &pb::Resource, slug: &str, purpose: PurposeValue) -> pb::Entitlement {
    let resource_id = resource.id.clone().unwrap_or_default();
    pb::Entitlement {
        resource: Some(resource.clone()),
        id: id(&resource_id, slug),
        display_name: slug.to_owned(),
        purpose: purpose as i32,
        slug: slug.to_owned(),
        ..pb::Entitlement::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ResourceBuilder, resource_id};

    #[test]
    fn ids_follow_the_baton_convention() {
        let team = ResourceBuilder::new("team", "t-1", "Team").build();
        let e = assignment(&team, "member");
        assert_eq!(e.id, "team:t-1:member");
        assert_eq!(e.display_name, "member");
        assert_eq!(e.slug, "member");
        assert_eq!(e.purpose, PurposeValue::Assignment as i32);
        assert_eq!(e.resource, Some(team.clone()));
        assert_eq!(permission(&team, "read").purpose, 2);
        assert_eq!(ownership(&team, "owner").purpose, 3);
        assert_eq!(id(&resource_id("role", "r:1"), "x"), "role:r:1:x");
    }

    #[test]
    fn resource_without_id_does_not_panic() {
        let e = assignment(&pb::Resource::default(), "member");
        assert_eq!(e.id, "::member");
    }
}
