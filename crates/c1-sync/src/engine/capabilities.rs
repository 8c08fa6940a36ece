//! The `capabilities` document baton connectors print and commit as `baton_capabilities.json`.
//!
//! baton prints the protojson of a `google.protobuf.Any` wrapping
//! `c1.connector.v2.ConnectorCapabilities`, re-indented with two spaces. protojson omits empty
//! strings, empty lists and `false`; an `Any` holding an empty message (such as
//! `SkipEntitlementsAndGrants`) prints as just its `@type`. Fields appear in field-number order;
//! `credentialDetails` is an empty message that baton always sets.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use c1_model::{annotations, pb};
use prost_types::Any;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::connector::Connector;

const CAPABILITIES_TYPE_URL: &str = "type.googleapis.com/c1.connector.v2.ConnectorCapabilities";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
#[expect(
    clippy::struct_field_names,
    reason = "field names mirror the protobuf message's"
)]
struct Capabilities {
    #[serde(rename = "@type")]
    type_url: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resource_type_capabilities: Vec<ResourceTypeCapability>,
    connector_capabilities: Vec<&'static str>,
    credential_details: Empty,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceTypeCapability {
    resource_type: ResourceTypeJson,
    capabilities: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceTypeJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    display_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    traits: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sourced_externally: bool,
}

/// protojson of an enum value: its name, or its number if unknown.
fn trait_json(value: i32) -> Value {
    pb::resource_type::Trait::try_from(value).map_or_else(
        |_| Value::from(value),
        |known| Value::from(known.as_str_name()),
    )
}

/// protojson of an annotation `Any`: `@type` plus the message's fields in camelCase. Messages
/// this crate knows are expanded; an unknown non-empty message keeps its bytes as base64
/// `value`, as protojson does for types it cannot resolve.
fn annotation_json(any: &Any) -> Value {
    let mut object = Map::new();
    object.insert("@type".to_owned(), Value::from(any.type_url.clone()));
    let decoded = if any.value.is_empty() {
        Some(Vec::new())
    } else if annotations::is::<pb::ChildResourceType>(any) {
        c1_model::decode::<pb::ChildResourceType>(&any.value)
            .ok()
            .map(|m| non_empty([("resourceTypeId", m.resource_type_id)]))
    } else if annotations::is::<pb::ExternalLink>(any) {
        c1_model::decode::<pb::ExternalLink>(&any.value)
            .ok()
            .map(|m| non_empty([("url", m.url)]))
    } else if annotations::is::<pb::V1Identifier>(any) {
        c1_model::decode::<pb::V1Identifier>(&any.value)
            .ok()
            .map(|m| non_empty([("id", m.id)]))
    } else {
        None
    };
    match decoded {
        Some(fields) => object.extend(fields),
        None => {
            object.insert("value".to_owned(), Value::from(STANDARD.encode(&any.value)));
        }
    }
    Value::Object(object)
}

fn non_empty<const N: usize>(fields: [(&str, String); N]) -> Vec<(String, Value)> {
    fields
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.to_owned(), Value::from(value)))
        .collect()
}

fn capabilities(connector: &dyn Connector) -> Capabilities {
    // Each type with whether its syncer provisions.
    let mut resource_types: Vec<(pb::ResourceType, bool)> = connector
        .resource_syncers()
        .iter()
        .map(|syncer| (syncer.resource_type(), syncer.provisioner().is_some()))
        .collect();
    resource_types.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    resource_types.dedup_by(|a, b| a.0.id == b.0.id);
    // Per type in the SDK's order (sync first); for the connector, the union sorted by number.
    let mut connector_capabilities = vec![pb::Capability::Sync];
    if resource_types.iter().any(|(_, provisions)| *provisions) {
        connector_capabilities.push(pb::Capability::Provision);
    }
    connector_capabilities.sort_by_key(|c| *c as i32);
    Capabilities {
        type_url: CAPABILITIES_TYPE_URL,
        resource_type_capabilities: resource_types
            .into_iter()
            .map(|(rt, provisions)| ResourceTypeCapability {
                resource_type: ResourceTypeJson {
                    traits: rt.traits.iter().copied().map(trait_json).collect(),
                    annotations: rt.annotations.iter().map(annotation_json).collect(),
                    id: rt.id,
                    display_name: rt.display_name,
                    description: rt.description,
                    sourced_externally: rt.sourced_externally,
                },
                capabilities: if provisions {
                    vec![
                        pb::Capability::Sync.as_str_name(),
                        pb::Capability::Provision.as_str_name(),
                    ]
                } else {
                    vec![pb::Capability::Sync.as_str_name()]
                },
            })
            .collect(),
        connector_capabilities: connector_capabilities
            .into_iter()
            .map(|c| c.as_str_name())
            .collect(),
        credential_details: Empty {},
    }
}

/// The document `baton-<name> capabilities` prints for `connector`, as a JSON value: every
/// resource type (sorted by id) with `CAPABILITY_SYNC`, plus `CAPABILITY_PROVISION` when its
/// syncer has a [`Provisioner`](crate::Provisioner); for the connector, the union of those,
/// sorted by enum number (`CAPABILITY_PROVISION` first), as the SDK lists them.
///
/// `serde_json::Value` objects sort their keys; use [`capabilities_json_pretty`] to print the
/// document with baton's field order.
pub fn capabilities_json(connector: &dyn Connector) -> Value {
    // Serializing plain structs of strings, lists and JSON values cannot fail.
    serde_json::to_value(capabilities(connector)).unwrap_or(Value::Null)
}

/// [`capabilities_json`] rendered like baton does: fields in protojson order, two-space indent,
/// no trailing newline.
pub fn capabilities_json_pretty(connector: &dyn Connector) -> String {
    serde_json::to_string_pretty(&capabilities(connector)).unwrap_or_default()
}
