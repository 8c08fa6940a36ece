//! Annotations: protobuf messages packed into `google.protobuf.Any`.
//!
//! Resources, resource types, entitlements and grants carry `repeated google.protobuf.Any
//! annotations`. baton's readers match an annotation by message name (the part of the type URL
//! after the last `/`) and keep at most one annotation per message type; these helpers do the same
//! so connector code never spells a type URL.

use prost::Name;
use prost_types::Any;

use crate::DecodeError;

/// Packs `message` into an `Any` with type URL `type.googleapis.com/<full message name>`.
pub fn pack<M: Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

/// Whether `any` holds an `M` (compared by full message name, whatever the URL's domain).
pub fn is<M: Name>(any: &Any) -> bool {
    let name = any
        .type_url
        .rsplit_once('/')
        .map_or(any.type_url.as_str(), |(_, name)| name);
    if M::PACKAGE.is_empty() {
        return name == M::full_name();
    }
    // `<package>.<name>` compared piecewise: `full_name()` would allocate on every call.
    name.strip_prefix(M::PACKAGE)
        .and_then(|rest| rest.strip_prefix('.'))
        .is_some_and(|rest| rest == M::NAME)
}

/// The first annotation of type `M`, decoded; `None` if there is none or it does not decode.
///
/// Use [`try_find`] to tell a missing annotation from a corrupt one.
pub fn find<M: Name + Default>(annotations: &[Any]) -> Option<M> {
    try_find(annotations).ok().flatten()
}

/// The first annotation of type `M`, decoded; `Ok(None)` if there is none.
pub fn try_find<M: Name + Default>(annotations: &[Any]) -> Result<Option<M>, DecodeError> {
    annotations
        .iter()
        .find(|any| is::<M>(any))
        .map(|any| crate::decode::<M>(&any.value))
        .transpose()
}

/// Whether any annotation is of type `M`.
pub fn has<M: Name>(annotations: &[Any]) -> bool {
    annotations.iter().any(is::<M>)
}

/// Sets the annotation of type `M`: replaces the first existing one in place (and drops any
/// further duplicates), or appends it. Keeps one annotation per message type, as baton expects.
pub fn set<M: Name>(annotations: &mut Vec<Any>, message: &M) {
    set_packed::<M>(annotations, pack(message));
}

/// [`set`] for a message already packed into `packed` (which must hold an `M`).
pub(crate) fn set_packed<M: Name>(annotations: &mut Vec<Any>, packed: Any) {
    if annotations.is_empty() {
        annotations.push(packed);
        return;
    }
    let mut packed = Some(packed);
    annotations.retain_mut(|any| {
        if !is::<M>(any) {
            return true;
        }
        // The first one is replaced in place; any further one is a duplicate.
        match packed.take() {
            Some(new) => {
                *any = new;
                true
            }
            None => false,
        }
    });
    if let Some(packed) = packed {
        annotations.push(packed);
    }
}

/// Removes every annotation of type `M`; returns whether one was removed.
pub fn remove<M: Name>(annotations: &mut Vec<Any>) -> bool {
    let before = annotations.len();
    annotations.retain(|any| !is::<M>(any));
    annotations.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;

    #[test]
    fn pack_uses_the_googleapis_type_url() {
        let any = pack(&pb::SkipEntitlementsAndGrants {});
        assert_eq!(
            any.type_url,
            "type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants"
        );
        assert!(any.value.is_empty());

        let any = pack(&pb::V1Identifier { id: "abc".into() });
        assert_eq!(
            any.type_url,
            "type.googleapis.com/c1.connector.v2.V1Identifier"
        );
        assert_eq!(any.value, b"\x0a\x03abc");
    }

    #[test]
    fn find_and_has_match_by_message_name() {
        let annotations = vec![
            pack(&pb::SkipGrants {}),
            pack(&pb::V1Identifier { id: "v1".into() }),
            // Another domain still names the same message, as Go's `MessageIs` accepts.
            Any {
                type_url: "example.com/c1.connector.v2.ExternalLink".into(),
                value: b"\x0a\x01u".to_vec(),
            },
        ];
        assert!(has::<pb::SkipGrants>(&annotations));
        assert!(!has::<pb::SkipEntitlementsAndGrants>(&annotations));
        assert!(!has::<pb::SkipEntitlements>(&annotations));
        assert_eq!(
            find::<pb::V1Identifier>(&annotations),
            Some(pb::V1Identifier { id: "v1".into() })
        );
        assert_eq!(
            find::<pb::ExternalLink>(&annotations),
            Some(pb::ExternalLink { url: "u".into() })
        );
        assert_eq!(find::<pb::UserTrait>(&annotations), None);
    }

    #[test]
    fn corrupt_annotation_is_an_error_for_try_find_and_none_for_find() {
        let annotations = vec![Any {
            type_url: pb::V1Identifier::type_url(),
            value: vec![0x0a, 0x09],
        }];
        let err = try_find::<pb::V1Identifier>(&annotations).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid c1.connector.v2.V1Identifier protobuf"
        );
        assert_eq!(find::<pb::V1Identifier>(&annotations), None);
        assert!(has::<pb::V1Identifier>(&annotations));
    }

    #[test]
    fn set_replaces_in_place_and_drops_duplicates() {
        let mut annotations = vec![
            pack(&pb::V1Identifier { id: "old".into() }),
            pack(&pb::SkipGrants {}),
            pack(&pb::V1Identifier { id: "dup".into() }),
        ];
        set(&mut annotations, &pb::V1Identifier { id: "new".into() });
        assert_eq!(
            annotations,
            vec![
                pack(&pb::V1Identifier { id: "new".into() }),
                pack(&pb::SkipGrants {})
            ]
        );

        set(&mut annotations, &pb::SkipEntitlements {});
        assert_eq!(annotations.len(), 3);
        assert!(has::<pb::SkipEntitlements>(&annotations));

        assert!(remove::<pb::SkipGrants>(&mut annotations));
        assert!(!remove::<pb::SkipGrants>(&mut annotations));
        assert_eq!(annotations.len(), 2);
    }
}
