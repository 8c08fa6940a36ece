//! Every message kind survives encode → decode unchanged, and announces the right type URL.

use std::collections::BTreeMap;
use std::fmt::Debug;

use c1_model::pb::{self, resource_type::Trait};
use c1_model::{
    AccountType, ResourceBuilder, ResourceTypeBuilder, UserBuilder, UserStatus, annotations,
    decode, encode, entitlement, grant, resource_id,
};
use chrono::DateTime;
use prost::{Message, Name};

fn round_trip<M: Message + Name + Default + PartialEq + Debug>(message: &M) {
    let bytes = encode(message);
    assert!(
        !bytes.is_empty(),
        "{} encoded to nothing: test value is empty",
        M::full_name()
    );
    let back: M = decode(&bytes).unwrap();
    assert_eq!(&back, message);
    assert_eq!(
        M::type_url(),
        format!("type.googleapis.com/{}", M::full_name())
    );
    assert!(M::full_name().starts_with("c1.connector.v2."));
}

fn full_user() -> pb::Resource {
    let time = DateTime::from_timestamp(1_650_000_000, 123_000_000).unwrap();
    UserBuilder::new("user", "auth0|abc", "Ada Lovelace")
        .email("ada@example.com", true)
        .status(UserStatus::Disabled, Some("invite pending".into()))
        .account_type(AccountType::Human)
        .login("ada@example.com")
        .login_alias("ada")
        .last_login(time)
        .created_at(time)
        .structured_name("Ada", "Lovelace")
        .mfa_enabled(true)
        .sso_enabled(true)
        .employee_id("E-1")
        .profile("role", "Admin")
        .profile("verified", true)
        .profile("logins", 42_i64)
        .profile("picture", None::<String>)
        .annotation(&pb::V1Identifier {
            id: "legacy".into(),
        })
        .build()
}

#[test]
fn resource_type() {
    round_trip(
        &ResourceTypeBuilder::new("user", "User")
            .with_trait(Trait::User)
            .with_trait(Trait::Group)
            .annotation(&pb::SkipEntitlementsAndGrants {})
            .description("users")
            .sourced_externally(true)
            .build(),
    );
}

#[test]
fn user_resource_and_its_trait() {
    let user = full_user();
    round_trip(&user);
    let user_trait: pb::UserTrait = annotations::find(&user.annotations).unwrap();
    round_trip(&user_trait);
}

#[test]
fn group_and_role_resources_and_traits() {
    let group = ResourceBuilder::new("team", "t1", "Team")
        .profile("size", 2_u32)
        .build_group();
    round_trip(&group);
    round_trip(&annotations::find::<pb::GroupTrait>(&group.annotations).unwrap());
    let role = ResourceBuilder::new("role", "r1", "Role")
        .parent(resource_id("org", "o1"))
        .status(UserStatus::Enabled, None)
        .build_role();
    round_trip(&role);
    round_trip(&annotations::find::<pb::RoleTrait>(&role.annotations).unwrap());
}

#[test]
#[expect(deprecated, reason = "the deprecated fields must still round-trip")]
fn resource_with_every_field() {
    let resource = pb::Resource {
        id: Some(resource_id("app", "a")),
        parent_resource_id: Some(pb::ResourceId {
            resource_type: "org".into(),
            resource: "o".into(),
            baton_resource: true,
        }),
        display_name: "App".into(),
        annotations: vec![annotations::pack(&pb::ChildResourceType {
            resource_type_id: "user".into(),
        })],
        description: "d".into(),
        baton_resource: true,
        external_id: Some(pb::ExternalId {
            id: "x".into(),
            link: "https://x".into(),
            description: "xd".into(),
        }),
        creation_source: pb::resource::CreationSource::ConnectorListResources as i32,
        profile: Some(c1_model::Struct::default()),
        icon: Some(pb::AssetRef { id: "icon".into() }),
        status: Some(pb::Status {
            status: pb::ResourceStatus::Deleted as i32,
            details: "gone".into(),
        }),
        created_at: Some(prost_types::Timestamp {
            seconds: -5,
            nanos: 7,
        }),
    };
    round_trip(&resource);
}

#[test]
fn entitlement() {
    let team = ResourceBuilder::new("team", "t1", "Team").build_group();
    let mut e = entitlement::ownership(&team, "owner");
    e.description = "owns the team".into();
    e.grantable_to = vec![
        ResourceTypeBuilder::new("user", "User")
            .with_trait(Trait::User)
            .build(),
    ];
    e.annotations = vec![annotations::pack(&pb::SkipGrants {})];
    round_trip(&e);
}

#[test]
fn grant_with_sources_and_annotations() {
    let team = ResourceBuilder::new("team", "t1", "Team").build_group();
    let member = entitlement::assignment(&team, "member");
    let mut g = grant::new(&member, &resource_id("user", "u1"));
    g.sources = Some(pb::GrantSources {
        sources: BTreeMap::from([
            (
                "team:t1:member".to_owned(),
                pb::grant_sources::GrantSource { is_direct: true },
            ),
            (
                "team:t0:member".to_owned(),
                pb::grant_sources::GrantSource { is_direct: false },
            ),
        ]),
    });
    g.annotations = vec![
        annotations::pack(&pb::GrantExpandable {
            entitlement_ids: vec!["team:t0:member".into()],
            shallow: true,
            resource_type_ids: vec!["user".into()],
        }),
        annotations::pack(&pb::GrantImmutable {
            source_id: "s".into(),
            metadata: None,
        }),
    ];
    round_trip(&g);
}

#[test]
fn annotation_messages() {
    round_trip(&pb::ChildResourceType {
        resource_type_id: "user".into(),
    });
    round_trip(&pb::V1Identifier { id: "v1".into() });
    round_trip(&pb::ExternalLink {
        url: "https://app.env0.com".into(),
    });
    round_trip(&pb::AssetRef { id: "a".into() });
    round_trip(&pb::ExternalId {
        id: "e".into(),
        link: String::new(),
        description: String::new(),
    });
    round_trip(&pb::GrantExpandable {
        entitlement_ids: vec!["e".into()],
        shallow: false,
        resource_type_ids: vec![],
    });
    let mut metadata = c1_model::Struct::default();
    metadata.fields_mut().insert(
        "k".into(),
        prost_types::Value {
            kind: Some(prost_types::value::Kind::BoolValue(true)),
        },
    );
    round_trip(&pb::GrantMetadata {
        metadata: Some(metadata.clone()),
    });
    round_trip(&pb::GrantImmutable {
        source_id: String::new(),
        metadata: Some(metadata),
    });
    round_trip(&pb::GrantSources {
        sources: BTreeMap::from([(
            "x".to_owned(),
            pb::grant_sources::GrantSource { is_direct: true },
        )]),
    });
    round_trip(&pb::Status {
        status: 1,
        details: String::new(),
    });
    round_trip(&pb::ResourceId {
        resource_type: "t".into(),
        resource: "r".into(),
        baton_resource: false,
    });
}

#[test]
fn empty_marker_annotations_pack_with_their_names() {
    for (any, name) in [
        (
            annotations::pack(&pb::SkipEntitlementsAndGrants {}),
            "SkipEntitlementsAndGrants",
        ),
        (annotations::pack(&pb::SkipGrants {}), "SkipGrants"),
        (
            annotations::pack(&pb::SkipEntitlements {}),
            "SkipEntitlements",
        ),
    ] {
        assert_eq!(
            any.type_url,
            format!("type.googleapis.com/c1.connector.v2.{name}")
        );
        assert!(any.value.is_empty());
        let back: prost_types::Any = decode_any(&encode(&any));
        assert_eq!(back, any);
    }
}

fn decode_any(bytes: &[u8]) -> prost_types::Any {
    prost_types::Any::decode(bytes).unwrap()
}

#[test]
fn connector_capabilities() {
    let caps = pb::ConnectorCapabilities {
        resource_type_capabilities: vec![pb::ResourceTypeCapability {
            resource_type: Some(
                ResourceTypeBuilder::new("user", "User")
                    .with_trait(Trait::User)
                    .build(),
            ),
            capabilities: vec![pb::Capability::Sync as i32],
        }],
        connector_capabilities: vec![pb::Capability::Sync as i32],
    };
    round_trip(&caps);
    assert_eq!(pb::Capability::Sync.as_str_name(), "CAPABILITY_SYNC");
    assert_eq!(pb::Capability::CredentialIssue as i32, 14);
}

#[test]
fn decoding_garbage_names_the_message() {
    let err = decode::<pb::Grant>(&[0xFF, 0xFF, 0xFF]).unwrap_err();
    assert_eq!(err.to_string(), "invalid c1.connector.v2.Grant protobuf");
}

#[test]
fn unknown_fields_are_skipped() {
    // A ResourceId followed by field 99 (varint): what a newer SDK might write.
    let mut bytes = encode(&resource_id("user", "u"));
    bytes.extend_from_slice(&[0x98, 0x06, 0x01]); // (99<<3)|0 = 792 = varint 98 06, value 1
    let back: pb::ResourceId = decode(&bytes).unwrap();
    assert_eq!(back, resource_id("user", "u"));
}
