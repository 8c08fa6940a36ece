//! Checks every item before it is written, against the size rules of `c1.connector.v2`
//! (`docs/c1z-format.md` §2, [`c1_model::limits`]):
//!
//! - an id (resource type id, either half of a resource id, entitlement id, grant id) must hold
//!   1 to 1024 bytes: an item whose id, or whose reference to another item, breaks that is
//!   skipped; each check returns the one-line warning that explains why;
//! - text over its limit is cut at a character boundary and the item kept, with one warning per
//!   item naming every field cut (the `fit_*` functions): display names and status details
//!   (the resource's and its user trait's) 1024 bytes, descriptions 2048 (a resource type's
//!   4096). The resources and entitlements an entitlement or grant embeds are held to the same
//!   rules.

use c1_model::limits::{
    self, MAX_DESCRIPTION_BYTES, MAX_DISPLAY_NAME_BYTES, MAX_ID_BYTES,
    MAX_RESOURCE_TYPE_DESCRIPTION_BYTES, MAX_STATUS_DETAILS_BYTES,
};
use c1_model::{annotations, pb};
use prost::encoding::decode_varint;

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

/// The text fields of one item cut to their limits, for its one warning.
#[derive(Debug, Default)]
struct Cuts(Vec<String>);

impl Cuts {
    /// Cuts `text` to `limit` bytes; `field` names it (built only when it is cut).
    fn cut(&mut self, text: &mut String, limit: usize, field: impl FnOnce() -> String) {
        if let Some(bytes) = limits::truncate(text, limit) {
            self.0.push(format!(
                "{} cut from {bytes} to {} bytes (the limit is {limit})",
                field(),
                text.len()
            ));
        }
    }

    /// The warning about `item` (built only when something was cut).
    fn warning(self, item: impl FnOnce() -> String) -> Option<String> {
        (!self.0.is_empty()).then(|| format!("{}: {}", item(), self.0.join(", ")))
    }
}

/// Cuts a resource type's display name and description to their limits; the warning when it did.
pub(crate) fn fit_resource_type(resource_type: &mut pb::ResourceType) -> Option<String> {
    let mut cuts = Cuts::default();
    cuts.cut(
        &mut resource_type.display_name,
        MAX_DISPLAY_NAME_BYTES,
        || "display name".to_owned(),
    );
    cuts.cut(
        &mut resource_type.description,
        MAX_RESOURCE_TYPE_DESCRIPTION_BYTES,
        || "description".to_owned(),
    );
    cuts.warning(|| format!("resource type {}", show(&resource_type.id)))
}

/// Cuts a resource's text to its limits; the warning when it did.
pub(crate) fn fit_resource(resource: &mut pb::Resource) -> Option<String> {
    let mut cuts = Cuts::default();
    fit_resource_text(&mut cuts, "", resource);
    cuts.warning(|| resource_item(resource))
}

/// Cuts an entitlement's text, and that of the resource it embeds; the warning when it did.
pub(crate) fn fit_entitlement(entitlement: &mut pb::Entitlement) -> Option<String> {
    let mut cuts = Cuts::default();
    fit_entitlement_text(&mut cuts, "", entitlement);
    cuts.warning(|| format!("entitlement {}", show(&entitlement.id)))
}

/// Cuts the text of what a grant embeds (its entitlement and that one's resource, its
/// principal); the warning when it did.
pub(crate) fn fit_grant(grant: &mut pb::Grant) -> Option<String> {
    let mut cuts = Cuts::default();
    if let Some(entitlement) = grant.entitlement.as_mut() {
        fit_entitlement_text(&mut cuts, "entitlement's ", entitlement);
    }
    if let Some(principal) = grant.principal.as_mut() {
        fit_resource_text(&mut cuts, "principal's ", principal);
    }
    cuts.warning(|| format!("grant {}", show(&grant.id)))
}

fn resource_item(resource: &pb::Resource) -> String {
    match resource.id.as_ref() {
        Some(id) => format!("resource {}", show_resource(id)),
        None => format!("resource {}", show(&resource.display_name)),
    }
}

fn fit_entitlement_text(cuts: &mut Cuts, whose: &str, entitlement: &mut pb::Entitlement) {
    cuts.cut(
        &mut entitlement.display_name,
        MAX_DISPLAY_NAME_BYTES,
        || format!("{whose}display name"),
    );
    cuts.cut(&mut entitlement.description, MAX_DESCRIPTION_BYTES, || {
        format!("{whose}description")
    });
    if let Some(resource) = entitlement.resource.as_mut() {
        fit_resource_text(cuts, &format!("{whose}resource's "), resource);
    }
}

/// A resource's display name, description and status details, and its user trait's status
/// details (read without decoding the trait unless they are too long).
fn fit_resource_text(cuts: &mut Cuts, whose: &str, resource: &mut pb::Resource) {
    cuts.cut(&mut resource.display_name, MAX_DISPLAY_NAME_BYTES, || {
        format!("{whose}display name")
    });
    cuts.cut(&mut resource.description, MAX_DESCRIPTION_BYTES, || {
        format!("{whose}description")
    });
    if let Some(status) = resource.status.as_mut() {
        cuts.cut(&mut status.details, MAX_STATUS_DETAILS_BYTES, || {
            format!("{whose}status details")
        });
    }
    for any in resource
        .annotations
        .iter_mut()
        .filter(|any| annotations::is::<pb::UserTrait>(any))
    {
        if user_trait_details_len(&any.value).is_some_and(|len| len <= MAX_STATUS_DETAILS_BYTES) {
            continue;
        }
        // Too long, or not a message this scan reads: decode it. One that does not decode is
        // left as it is (the engine does not judge annotations' contents).
        let Ok(mut user_trait) = c1_model::decode::<pb::UserTrait>(&any.value) else {
            continue;
        };
        let Some(status) = user_trait.status.as_mut() else {
            continue;
        };
        let before = cuts.0.len();
        cuts.cut(&mut status.details, MAX_STATUS_DETAILS_BYTES, || {
            format!("{whose}user trait's status details")
        });
        if cuts.0.len() > before {
            any.value = c1_model::encode(&user_trait);
        }
    }
}

/// The length of the longest `status.details` (field 2 of field 2) in an encoded `UserTrait`,
/// found without decoding anything else; 0 when there is none, `None` when the bytes are not a
/// message this scan reads.
fn user_trait_details_len(mut bytes: &[u8]) -> Option<usize> {
    let mut longest = 0;
    while !bytes.is_empty() {
        let (number, value) = next_field(&mut bytes)?;
        if let (2, Some(mut status)) = (number, value) {
            while !status.is_empty() {
                if let (2, Some(details)) = next_field(&mut status)? {
                    longest = longest.max(details.len());
                }
            }
        }
    }
    Some(longest)
}

/// Reads one field off `bytes`: its number, and its contents when it is length-delimited.
/// `None` for a group or a field that runs past the end.
fn next_field<'a>(bytes: &mut &'a [u8]) -> Option<(u64, Option<&'a [u8]>)> {
    let key = decode_varint(bytes).ok()?;
    let skip = |bytes: &mut &'a [u8], n: usize| -> Option<()> {
        *bytes = bytes.get(n..)?;
        Some(())
    };
    let value = match key & 7 {
        0 => {
            decode_varint(bytes).ok()?;
            None
        }
        1 => {
            skip(bytes, 8)?;
            None
        }
        2 => {
            let len = usize::try_from(decode_varint(bytes).ok()?).ok()?;
            let (value, rest) = bytes.split_at_checked(len)?;
            *bytes = rest;
            Some(value)
        }
        5 => {
            skip(bytes, 4)?;
            None
        }
        _ => return None,
    };
    Some((key >> 3, value))
}

#[cfg(test)]
mod tests {
    use c1_model::{ResourceBuilder, ResourceTypeBuilder, UserBuilder, UserStatus, resource_id};

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

    /// The scan finds the user trait's status details exactly as decoding does, whatever else
    /// the trait holds, and the cut re-encodes the trait only when it has to.
    #[test]
    fn user_trait_status_details_are_found_without_decoding_and_cut() {
        for details in [0, 1, 200, 1024, 1025, 70_000] {
            let user = UserBuilder::new("user", "u1", "U")
                .email("a@example.com", true)
                .status(UserStatus::Disabled, Some("d".repeat(details)))
                .login("a")
                .profile("bio", "x".repeat(300))
                .last_login(chrono::DateTime::from_timestamp(1, 2).unwrap())
                .build();
            let any = user
                .annotations
                .iter()
                .find(|any| annotations::is::<pb::UserTrait>(any))
                .unwrap();
            assert_eq!(user_trait_details_len(&any.value), Some(details));

            let mut fitted = user.clone();
            let warning = fit_resource(&mut fitted);
            let user_trait: pb::UserTrait = annotations::find(&fitted.annotations).unwrap();
            let kept = user_trait.status.unwrap().details.len();
            assert_eq!(kept, details.min(MAX_STATUS_DETAILS_BYTES));
            assert_eq!(fitted.status.as_ref().unwrap().details.len(), kept);
            if details > MAX_STATUS_DETAILS_BYTES {
                assert_eq!(
                    warning.as_deref(),
                    Some(format!(
                        "resource `user:u1`: status details cut from {details} to 1024 bytes (the limit is 1024), user trait's status details cut from {details} to 1024 bytes (the limit is 1024)"
                    ).as_str())
                );
            } else {
                assert_eq!(warning, None);
                assert_eq!(fitted, user, "nothing changes");
            }
        }
        // Not a message the scan reads (a group, a field past the end): decoding decides.
        assert_eq!(user_trait_details_len(&[0x13]), None);
        assert_eq!(user_trait_details_len(&[0x12, 0x05, 0x12]), None);
        assert_eq!(user_trait_details_len(&[]), Some(0));
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
