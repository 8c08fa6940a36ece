//! `inspect grants [FILE] [--entitlement ID] [--principal ID]`: the grants of a sync with what
//! they grant, to whom, and where each came from (written by the connector, made by expansion,
//! or both, with the entitlements it was expanded from).

use std::collections::HashMap;
use std::path::Path;

use c1_model::{annotations, pb};
use c1_sync::{C1zReader, SyncRun};
use serde::Serialize;

use crate::cli::InspectFormat;
use crate::commands::store_read_failure;
use crate::exit::Failure;

/// How a grant came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// The connector wrote it.
    Direct,
    /// Expansion made it.
    Expanded,
    /// The connector wrote it, and expansion found it too.
    DirectAndExpanded,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::Expanded => "expanded",
            Kind::DirectAndExpanded => "direct+expanded",
        }
    }

    /// From a grant's sources: none, or its own entitlement among them, means the connector
    /// wrote it; any other key means expansion reached it from there.
    pub(crate) fn of(grant: &pb::Grant, entitlement_id: &str) -> Kind {
        let keys: Vec<&String> = grant
            .sources
            .as_ref()
            .map(|s| s.sources.keys().collect())
            .unwrap_or_default();
        let own = keys.iter().any(|k| *k == entitlement_id);
        let other = keys.iter().any(|k| *k != entitlement_id);
        match (keys.is_empty() || own, other) {
            (true, true) => Kind::DirectAndExpanded,
            (false, true) => Kind::Expanded,
            _ => Kind::Direct,
        }
    }
}

/// One grant, as `inspect grants` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GrantRow {
    pub(crate) id: String,
    pub(crate) entitlement_id: String,
    pub(crate) entitlement: String,
    pub(crate) resource_type: String,
    pub(crate) resource_id: String,
    pub(crate) resource: String,
    pub(crate) principal_type: String,
    pub(crate) principal_id: String,
    pub(crate) principal: String,
    pub(crate) kind: Kind,
    /// The entitlements expansion reached this grant from (its own entitlement left out).
    pub(crate) sources: Vec<String>,
    /// For an expandable grant: every holder of these entitlements also holds this one.
    pub(crate) expandable_from: Vec<String>,
}

/// Display names of a sync's resources and entitlements, read once.
pub(crate) struct Names {
    resources: HashMap<(String, String), pb::Resource>,
    entitlements: HashMap<String, pb::Entitlement>,
}

impl Names {
    pub(crate) fn read(reader: &C1zReader, run: &SyncRun) -> Result<Names, Failure> {
        let resources = reader
            .resources(&run.sync_id, None)
            .map_err(|e| store_read_failure(&e))?
            .into_iter()
            .filter_map(|r| {
                let id = r.id.clone()?;
                Some(((id.resource_type, id.resource), r))
            })
            .collect();
        let entitlements = reader
            .entitlements(&run.sync_id)
            .map_err(|e| store_read_failure(&e))?
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        Ok(Names {
            resources,
            entitlements,
        })
    }

    /// A resource, by type and id.
    pub(crate) fn resource(&self, resource_type: &str, id: &str) -> Option<&pb::Resource> {
        self.resources
            .get(&(resource_type.to_owned(), id.to_owned()))
    }

    /// A resource's display name, or its id.
    pub(crate) fn resource_name(&self, resource_type: &str, id: &str) -> String {
        self.resource(resource_type, id)
            .map(|r| r.display_name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.to_owned())
    }

    /// An entitlement, by id.
    pub(crate) fn entitlement(&self, id: &str) -> Option<&pb::Entitlement> {
        self.entitlements.get(id)
    }

    /// Every resource of a type.
    pub(crate) fn resources_of<'a>(
        &'a self,
        resource_type: &'a str,
    ) -> impl Iterator<Item = &'a pb::Resource> + 'a {
        self.resources
            .iter()
            .filter(move |((rt, _), _)| rt == resource_type)
            .map(|(_, r)| r)
    }
}

impl GrantRow {
    pub(crate) fn of(grant: &pb::Grant, names: &Names) -> GrantRow {
        let entitlement_id = grant
            .entitlement
            .as_ref()
            .map(|e| e.id.clone())
            .unwrap_or_default();
        let stored = names.entitlement(&entitlement_id);
        let resource = stored
            .and_then(|e| e.resource.as_ref())
            .or_else(|| grant.entitlement.as_ref().and_then(|e| e.resource.as_ref()))
            .and_then(|r| r.id.clone())
            .unwrap_or_default();
        let principal = grant
            .principal
            .as_ref()
            .and_then(|p| p.id.clone())
            .unwrap_or_default();
        let sources = grant
            .sources
            .as_ref()
            .map(|s| {
                s.sources
                    .keys()
                    .filter(|k| **k != entitlement_id)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let expandable_from = annotations::find::<pb::GrantExpandable>(&grant.annotations)
            .map(|e| e.entitlement_ids)
            .unwrap_or_default();
        GrantRow {
            id: grant.id.clone(),
            entitlement: stored
                .map(|e| e.display_name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| entitlement_id.clone()),
            kind: Kind::of(grant, &entitlement_id),
            entitlement_id,
            resource: names.resource_name(&resource.resource_type, &resource.resource),
            resource_type: resource.resource_type,
            resource_id: resource.resource,
            principal: names.resource_name(&principal.resource_type, &principal.resource),
            principal_type: principal.resource_type,
            principal_id: principal.resource,
            sources,
            expandable_from,
        }
    }
}

/// What `--principal` names: a principal id, or `<type>:<id>`.
fn principal_matches(row: &GrantRow, wanted: &str) -> bool {
    row.principal_id == wanted || format!("{}:{}", row.principal_type, row.principal_id) == wanted
}

/// The grants of a sync, in id order, filtered.
pub(crate) fn read(
    reader: &C1zReader,
    run: &SyncRun,
    entitlement: Option<&str>,
    principal: Option<&str>,
) -> Result<(Vec<GrantRow>, Names), Failure> {
    let names = Names::read(reader, run)?;
    let rows = reader
        .grants(&run.sync_id)
        .map_err(|e| store_read_failure(&e))?
        .iter()
        .map(|g| GrantRow::of(g, &names))
        .filter(|r| entitlement.is_none_or(|e| r.entitlement_id == e))
        .filter(|r| principal.is_none_or(|p| principal_matches(r, p)))
        .collect();
    Ok((rows, names))
}

const HEADERS: [&str; 6] = [
    "ID",
    "ENTITLEMENT",
    "PRINCIPAL",
    "KIND",
    "SOURCES",
    "EXPANDABLE FROM",
];
const CSV_HEADERS: [&str; 12] = [
    "id",
    "entitlement_id",
    "entitlement",
    "resource_type",
    "resource_id",
    "resource",
    "principal_type",
    "principal_id",
    "principal",
    "kind",
    "sources",
    "expandable_from",
];

#[derive(Serialize)]
struct JsonOut<'a> {
    sync_id: &'a str,
    grants: &'a [GrantRow],
}

/// The grants in `format`.
pub(crate) fn render(
    rows: &[GrantRow],
    sync_id: &str,
    format: InspectFormat,
) -> Result<String, Failure> {
    match format {
        InspectFormat::Table => {
            let texts: Vec<[String; 6]> = rows
                .iter()
                .map(|r| {
                    [
                        r.id.clone(),
                        r.entitlement.clone(),
                        format!("{}: {}", r.principal_type, r.principal),
                        r.kind.as_str().to_owned(),
                        r.sources.join(", "),
                        r.expandable_from.join(", "),
                    ]
                })
                .collect();
            let cells: Vec<[&str; 6]> = texts
                .iter()
                .map(|t| t.each_ref().map(String::as_str))
                .collect();
            Ok(super::table(HEADERS, &cells))
        }
        InspectFormat::Csv => {
            let texts: Vec<[String; 2]> = rows
                .iter()
                .map(|r| [r.sources.join(" "), r.expandable_from.join(" ")])
                .collect();
            let cells: Vec<[&str; 12]> = rows
                .iter()
                .zip(&texts)
                .map(|(r, t)| {
                    [
                        r.id.as_str(),
                        &r.entitlement_id,
                        &r.entitlement,
                        &r.resource_type,
                        &r.resource_id,
                        &r.resource,
                        &r.principal_type,
                        &r.principal_id,
                        &r.principal,
                        r.kind.as_str(),
                        &t[0],
                        &t[1],
                    ]
                })
                .collect();
            super::csv(CSV_HEADERS, &cells)
        }
        InspectFormat::Json => super::json(&JsonOut {
            sync_id,
            grants: rows,
        }),
    }
}

/// Runs `inspect grants`.
pub(crate) fn run(
    path: &Path,
    format: InspectFormat,
    sync_id: Option<&str>,
    entitlement: Option<&str>,
    principal: Option<&str>,
) -> Result<(), Failure> {
    let (reader, run) = super::open(path, sync_id)?;
    let (rows, _) = read(&reader, &run, entitlement, principal)?;
    tracing::info!(sync_id = %run.sync_id, grants = rows.len(), file = %path.display(), "read grants from c1z");
    super::print(&render(&rows, &run.sync_id, format)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn grant(entitlement: &str, sources: &[&str]) -> pb::Grant {
        pb::Grant {
            id: format!("{entitlement}:user:u"),
            entitlement: Some(pb::Entitlement {
                id: entitlement.to_owned(),
                ..Default::default()
            }),
            sources: (!sources.is_empty()).then(|| pb::GrantSources {
                sources: sources
                    .iter()
                    .map(|s| ((*s).to_owned(), pb::grant_sources::GrantSource::default()))
                    .collect::<BTreeMap<_, _>>(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_kind_follows_the_sources() {
        assert_eq!(Kind::of(&grant("e", &[]), "e"), Kind::Direct);
        assert_eq!(Kind::of(&grant("e", &["e"]), "e"), Kind::Direct);
        assert_eq!(Kind::of(&grant("e", &["s"]), "e"), Kind::Expanded);
        assert_eq!(
            Kind::of(&grant("e", &["e", "s"]), "e"),
            Kind::DirectAndExpanded
        );
    }
}
