//! Grants with baton's id conventions.
//!
//! A grant id is `<entitlement id>:<principal type>:<principal id>` (baton-sdk's `NewGrantID`).

use crate::pb;

/// The grant id of `entitlement_id` held by `principal`.
pub fn id(entitlement_id: &str, principal: &pb::ResourceId) -> String {
    format!(
        "{entitlement_id}:{}:{}",
        principal.resource_type, principal.resource
    )
}

/// A grant of `entitlement` to `principal`.
///
/// The grant embeds a slim entitlement (`id` and `resource { id }`) and a principal carrying only
/// its id: enough for every reader (the `baton` CLI reads `entitlement.resource.id` and
/// `principal.id`) without copying whole resources into each grant.
pub fn new(entitlement: &pb::Entitlement, principal: &pb::ResourceId) -> pb::Grant {
    let entitlement_resource_id = entitlement.resource.as_ref().and_then(|r| r.id.clone());
    pb::Grant {
        entitlement: Some(pb::Entitlement {
            id: entitlement.id.clone(),
            resource: Some(pb::Resource {
                id: entitlement_resource_id,
                ..pb::Resource::default()
            }),
            ..pb::Entitlement::default()
        }),
        principal: Some(pb::Resource {
            id: Some(principal.clone()),
            ..pb::Resource::default()
        }),
        id: id(&entitlement.id, principal),
        ..pb::Grant::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ResourceBuilder, UserBuilder, entitlement, resource_id};

    #[test]
    fn grant_id_and_embedded_parts_follow_the_convention() {
        let team = ResourceBuilder::new("team", "t-1", "Team")
            .profile("k", "v")
            .build_group();
        let member = entitlement::assignment(&team, "member");
        let user = UserBuilder::new("user", "u-9", "U").build();
        let g = new(&member, user.id.as_ref().unwrap());

        assert_eq!(g.id, "team:t-1:member:user:u-9");
        let embedded = g.entitlement.unwrap();
        assert_eq!(embedded.id, "team:t-1:member");
        assert_eq!(
            embedded.resource,
            Some(pb::Resource {
                id: Some(resource_id("team", "t-1")),
                ..Default::default()
            })
        );
        assert_eq!(embedded.display_name, "");
        assert_eq!(
            g.principal,
            Some(pb::Resource {
                id: Some(resource_id("user", "u-9")),
                ..Default::default()
            })
        );
        assert!(g.annotations.is_empty());
        assert_eq!(g.sources, None);
    }
}
