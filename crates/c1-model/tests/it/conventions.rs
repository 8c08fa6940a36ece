//! baton's public id conventions, as a connector would use them end to end.

use c1_model::pb::{self, resource_type::Trait};
use c1_model::{ResourceTypeBuilder, UserBuilder, annotations, entitlement, grant, resource_id};

#[test]
fn team_membership_ids() {
    let team = c1_model::ResourceBuilder::new("team", "6b1e", "Platform").build_group();
    let user = UserBuilder::new("user", "auth0|42", "Ada").build();

    let member = entitlement::assignment(&team, "member");
    assert_eq!(member.id, "team:6b1e:member");
    assert_eq!(
        member.purpose,
        pb::entitlement::PurposeValue::Assignment as i32
    );

    let g = grant::new(&member, user.id.as_ref().unwrap());
    assert_eq!(g.id, "team:6b1e:member:user:auth0|42");
    assert_eq!(
        grant::id(&member.id, &resource_id("api-key", "k")),
        "team:6b1e:member:api-key:k"
    );
    // What the store keys rows on.
    let ent = g.entitlement.as_ref().unwrap();
    assert_eq!(
        ent.resource.as_ref().unwrap().id,
        Some(resource_id("team", "6b1e"))
    );
    assert_eq!(
        g.principal.as_ref().unwrap().id,
        Some(resource_id("user", "auth0|42"))
    );
}

#[test]
fn user_type_with_skip_annotation() {
    let rt = ResourceTypeBuilder::new("user", "User")
        .with_trait(Trait::User)
        .annotation(&pb::SkipEntitlementsAndGrants {})
        .build();
    assert!(annotations::has::<pb::SkipEntitlementsAndGrants>(
        &rt.annotations
    ));
    assert!(!annotations::has::<pb::SkipGrants>(&rt.annotations));
    assert_eq!(
        rt.annotations[0].type_url,
        "type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants"
    );
}

#[test]
fn user_carries_exactly_one_user_trait() {
    let user = UserBuilder::new("user", "u", "U")
        .annotation(&pb::UserTrait::default())
        .annotation(&pb::V1Identifier { id: "1".into() })
        .build();
    let traits = user
        .annotations
        .iter()
        .filter(|a| annotations::is::<pb::UserTrait>(a))
        .count();
    assert_eq!(traits, 1);
    assert_eq!(user.annotations.len(), 2);
}
