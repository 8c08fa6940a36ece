//! Checks every item before it is written. Each check returns the one-line warning that explains
//! why an item is skipped.

use c1_model::pb;

/// baton's limit on every id (`ResourceId` fields, entitlement and grant ids).
pub(crate) const MAX_ID_BYTES: usize = 1024;

/// Longest id shown in a warning before it is shortened.
const SHOWN_ID_CHARS: usize = 80;

/// What the engine knows about a resource type, derived once from its syncer.
#[derive(Debug, Clone)]
pub(crate) struct TypeRules {
    pub(crate) id: String,
    pub(crate) requires_user_trait: bool,
}

impl TypeRules {
    pub(crate) fn new(resource_type: &pb::ResourceType) -> Self {
        Self {
            id: resource_type.id.clone(),
            requires_user_trait: resource_type
                .traits
                .contains(&(pb::resource_type::Trait::User as i32)),
        }
    }
}

/// A key that identifies a resource id unambiguously whatever characters the ids contain:
/// `<length of the type>:<type><resource>`. The engine builds it with [`resource_key_into`].
#[cfg(test)]
pub(crate) fn resource_key(id: &pb::ResourceId) -> String {
    let mut key = String::new();
    resource_key_into(&mut key, id);
    key
}

/// Writes the key of `id` into `key` (cleared first), reusing its allocation.
pub(crate) fn resource_key_into(key: &mut String, id: &pb::ResourceId) {
    key.clear();
    key.reserve(id.resource_type.len() + id.resource.len() + 6);
    // Writing into a String cannot fail.
    // Without the formatting machinery: this runs once per resource.
    key.push_str(itoa::Buffer::new().format(id.resource_type.len()));
    key.push(':');
    key.push_str(&id.resource_type);
    key.push_str(&id.resource);
}

/// `rt:id` for messages, shortened if very long.
pub(crate) fn show_resource(id: &pb::ResourceId) -> String {
    format!("`{}:{}`", shorten(&id.resource_type), shorten(&id.resource))
}

/// An id for messages, shortened if very long.
pub(crate) fn show(id: &str) -> String {
    format!("`{}`", shorten(id))
}

fn shorten(id: &str) -> String {
    if id.chars().count() <= SHOWN_ID_CHARS {
        id.to_owned()
    } else {
        let mut short: String = id.chars().take(SHOWN_ID_CHARS).collect();
        short.push('…');
        short
    }
}

/// Whether an id is acceptable (non-empty, at most [`MAX_ID_BYTES`]); the cheap test of the
/// happy path, before any message is built.
fn id_ok(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_ID_BYTES
}

fn check_id(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("{what} is empty"))
    } else if value.len() > MAX_ID_BYTES {
        Err(format!(
            "{what} {} is longer than {MAX_ID_BYTES} bytes",
            show(value)
        ))
    } else {
        Ok(())
    }
}

fn check_resource_id(what: &str, id: Option<&pb::ResourceId>) -> Result<(), String> {
    let Some(id) = id else {
        return Err(format!("{what} is missing"));
    };
    if id_ok(&id.resource_type) && id_ok(&id.resource) {
        return Ok(());
    }
    check_id(&format!("{what}'s resource type"), &id.resource_type)?;
    check_id(&format!("{what}'s resource"), &id.resource)
}

/// A resource type returned by a syncer.
pub(crate) fn resource_type(resource_type: &pb::ResourceType) -> Result<(), String> {
    check_id("resource type id", &resource_type.id)
}

/// A resource returned by the syncer of `rules`.
pub(crate) fn resource(resource: &pb::Resource, rules: &TypeRules) -> Result<(), String> {
    let Some(id) = resource.id.as_ref() else {
        return Err(format!(
            "resource {} has no id",
            show(&resource.display_name)
        ));
    };
    check_resource_id("resource id", Some(id))
        .map_err(|problem| format!("resource {}: {problem}", show_resource(id)))?;
    if id.resource_type != rules.id {
        return Err(format!(
            "resource {} has resource type {} but was listed by the syncer of {}",
            show_resource(id),
            show(&id.resource_type),
            show(&rules.id)
        ));
    }
    if let Some(parent) = resource.parent_resource_id.as_ref() {
        check_resource_id("parent resource id", Some(parent))
            .map_err(|problem| format!("resource {}: {problem}", show_resource(id)))?;
    }
    if rules.requires_user_trait
        && !c1_model::annotations::has::<pb::UserTrait>(&resource.annotations)
    {
        return Err(format!(
            "resource {} lacks the UserTrait annotation that its type's TRAIT_USER requires",
            show_resource(id)
        ));
    }
    Ok(())
}

/// An entitlement; `resource_exists` tells whether a resource id was listed in this sync.
pub(crate) fn entitlement(
    entitlement: &pb::Entitlement,
    mut resource_exists: impl FnMut(&pb::ResourceId) -> bool,
) -> Result<(), String> {
    check_id("entitlement id", &entitlement.id)?;
    let resource_id = entitlement
        .resource
        .as_ref()
        .and_then(|resource| resource.id.as_ref());
    check_resource_id("resource id", resource_id)
        .map_err(|problem| format!("entitlement {}: {problem}", show(&entitlement.id)))?;
    if let Some(id) = resource_id
        && !resource_exists(id)
    {
        return Err(format!(
            "entitlement {} belongs to resource {}, which was not listed in this sync",
            show(&entitlement.id),
            show_resource(id)
        ));
    }
    Ok(())
}

/// A grant; the closures tell whether an entitlement id and a principal were written in this
/// sync.
pub(crate) fn grant(
    grant: &pb::Grant,
    entitlement_exists: impl FnOnce(&str) -> bool,
    principal_exists: impl FnOnce(&pb::ResourceId) -> bool,
) -> Result<(), String> {
    check_id("grant id", &grant.id)?;
    let in_grant = |problem: String| format!("grant {}: {problem}", show(&grant.id));
    let Some(entitlement) = grant.entitlement.as_ref() else {
        return Err(in_grant("entitlement is missing".to_owned()));
    };
    check_id("entitlement id", &entitlement.id).map_err(in_grant)?;
    check_resource_id(
        "entitlement's resource id",
        entitlement
            .resource
            .as_ref()
            .and_then(|resource| resource.id.as_ref()),
    )
    .map_err(in_grant)?;
    let principal = grant
        .principal
        .as_ref()
        .and_then(|principal| principal.id.as_ref());
    check_resource_id("principal id", principal).map_err(in_grant)?;
    if !entitlement_exists(&entitlement.id) {
        return Err(in_grant(format!(
            "entitlement {} was not listed in this sync",
            show(&entitlement.id)
        )));
    }
    if let Some(principal) = principal
        && !principal_exists(principal)
    {
        return Err(in_grant(format!(
            "principal {} was not listed in this sync",
            show_resource(principal)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use c1_model::{ResourceBuilder, ResourceTypeBuilder, UserBuilder, resource_id};

    use super::*;

    fn user_rules() -> TypeRules {
        TypeRules::new(
            &ResourceTypeBuilder::new("user", "User")
                .with_trait(pb::resource_type::Trait::User)
                .build(),
        )
    }

    #[test]
    fn resource_keys_lead_with_the_type_length_in_decimal() {
        let long_type = "t".repeat(1234);
        assert_eq!(resource_key(&resource_id("user", "u1")), "4:useru1");
        assert_eq!(
            resource_key(&resource_id(&long_type, "x")),
            format!("1234:{long_type}x")
        );
    }

    #[test]
    fn resource_keys_cannot_collide() {
        assert_ne!(
            resource_key(&resource_id("a:b", "c")),
            resource_key(&resource_id("a", "b:c"))
        );
    }

    #[test]
    fn user_resources_need_a_user_trait_and_valid_ids() {
        let rules = user_rules();
        assert_eq!(
            resource(&UserBuilder::new("user", "u1", "U").build(), &rules),
            Ok(())
        );
        assert_eq!(
            resource(&ResourceBuilder::new("user", "u1", "U").build(), &rules),
            Err("resource `user:u1` lacks the UserTrait annotation that its type's TRAIT_USER requires".into())
        );
        let mut no_id = UserBuilder::new("user", "u1", "Ada").build();
        no_id.id = None;
        assert_eq!(
            resource(&no_id, &rules),
            Err("resource `Ada` has no id".into())
        );
        let mut bad_parent = UserBuilder::new("user", "u1", "U").build();
        bad_parent.parent_resource_id = Some(resource_id("", "p"));
        assert_eq!(
            resource(&bad_parent, &rules),
            Err("resource `user:u1`: parent resource id's resource type is empty".into())
        );
        let exactly_max = "x".repeat(MAX_ID_BYTES);
        assert_eq!(
            resource(&UserBuilder::new("user", &exactly_max, "U").build(), &rules),
            Ok(())
        );
    }

    #[test]
    fn grants_need_known_entitlements_and_principals() {
        let team = ResourceBuilder::new("team", "t", "T").build();
        let member = c1_model::entitlement::assignment(&team, "member");
        let grant = c1_model::grant::new(&member, &resource_id("user", "u1"));
        assert_eq!(self::grant(&grant, |_| true, |_| true), Ok(()));
        assert_eq!(
            self::grant(&grant, |_| false, |_| true),
            Err("grant `team:t:member:user:u1`: entitlement `team:t:member` was not listed in this sync".into())
        );
        let mut slim = grant.clone();
        slim.entitlement.as_mut().unwrap().resource = None;
        assert_eq!(
            self::grant(&slim, |_| true, |_| true),
            Err("grant `team:t:member:user:u1`: entitlement's resource id is missing".into())
        );
        assert_eq!(entitlement(&member, |id| id.resource == "t"), Ok(()));
    }
}
