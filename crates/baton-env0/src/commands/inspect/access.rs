//! `inspect access USER [FILE]`: every entitlement one person (or API key) holds, each with how
//! they hold it — directly, via a team, inherited from a parent project, or as organization
//! Admin — read from the grants' sources.

use std::path::Path;

use c1_model::pb;
use serde::Serialize;

use super::grants::{GrantRow, Kind, Names};
use crate::cli::InspectFormat;
use crate::exit::Failure;

/// One way a grant is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum How {
    /// env0 assigns it to the user.
    Direct,
    /// The user is a member of a team that holds it.
    Team { team_id: String, team: String },
    /// It is inherited from the same role on a parent project.
    Project { project_id: String, project: String },
    /// The user is an organization Admin.
    OrganizationAdmin,
    /// It comes with another entitlement (an organization role, or anything else).
    Entitlement {
        entitlement_id: String,
        entitlement: String,
    },
}

impl How {
    fn text(&self) -> String {
        match self {
            How::Direct => "direct".to_owned(),
            How::Team { team, .. } => format!("via team {team}"),
            How::Project { project, .. } => format!("inherited from project {project}"),
            How::OrganizationAdmin => "as organization Admin".to_owned(),
            How::Entitlement { entitlement, .. } => format!("via {entitlement}"),
        }
    }

    /// What a source entitlement id means for the holder.
    fn of_source(source: &str, names: &Names) -> How {
        let entitlement = names.entitlement(source);
        let resource = entitlement
            .and_then(|e| e.resource.as_ref())
            .and_then(|r| r.id.as_ref());
        let slug = entitlement.map_or("", |e| e.slug.as_str());
        match resource.map(|r| (r.resource_type.as_str(), r.resource.as_str())) {
            Some(("team", id)) if slug == "member" => How::Team {
                team_id: id.to_owned(),
                team: names.resource_name("team", id),
            },
            Some(("project", id)) => How::Project {
                project_id: id.to_owned(),
                project: names.resource_name("project", id),
            },
            Some(("role", "Admin")) if slug == "member" => How::OrganizationAdmin,
            _ => How::Entitlement {
                entitlement_id: source.to_owned(),
                entitlement: entitlement
                    .map(|e| e.display_name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| source.to_owned()),
            },
        }
    }
}

/// One entitlement the user holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AccessRow {
    pub(crate) entitlement_id: String,
    pub(crate) entitlement: String,
    pub(crate) resource_type: String,
    pub(crate) resource_id: String,
    pub(crate) resource: String,
    pub(crate) how: Vec<How>,
}

impl AccessRow {
    fn of(grant: GrantRow, names: &Names) -> AccessRow {
        let mut how = Vec::new();
        if matches!(grant.kind, Kind::Direct | Kind::DirectAndExpanded) {
            how.push(How::Direct);
        }
        how.extend(grant.sources.iter().map(|s| How::of_source(s, names)));
        AccessRow {
            entitlement_id: grant.entitlement_id,
            entitlement: grant.entitlement,
            resource_type: grant.resource_type,
            resource_id: grant.resource_id,
            resource: grant.resource,
            how,
        }
    }

    fn how_text(&self) -> String {
        self.how
            .iter()
            .map(How::text)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The user `wanted` names: a user resource with that id, else the one with that email (any
/// case). Several users sharing the email is an error that lists them.
fn find_user<'a>(names: &'a Names, wanted: &str) -> Result<&'a pb::Resource, Failure> {
    let users: Vec<&pb::Resource> = names.resources_of("user").collect();
    if let Some(user) = users
        .iter()
        .find(|u| u.id.as_ref().is_some_and(|id| id.resource == wanted))
    {
        return Ok(user);
    }
    let mut by_email: Vec<&pb::Resource> = users
        .into_iter()
        .filter(|u| {
            c1_model::annotations::find::<pb::UserTrait>(&u.annotations).is_some_and(|t| {
                t.emails
                    .iter()
                    .any(|e| e.address.eq_ignore_ascii_case(wanted))
            })
        })
        .collect();
    by_email.sort_by(|a, b| {
        a.id.as_ref()
            .map(|i| &i.resource)
            .cmp(&b.id.as_ref().map(|i| &i.resource))
    });
    match by_email.as_slice() {
        [one] => Ok(one),
        [] => Err(
            Failure::usage(format!("no user with id or email `{wanted}` in this sync"))
                .hint("`baton-env0 inspect` lists the users with their ids and emails"),
        ),
        many => {
            let ids: Vec<&str> = many
                .iter()
                .filter_map(|u| u.id.as_ref().map(|i| i.resource.as_str()))
                .collect();
            Err(Failure::usage(format!(
                "{} users have the email `{wanted}`: {}",
                many.len(),
                ids.join(", ")
            ))
            .hint("name the user by id"))
        }
    }
}

/// Order of resource types in the view: organization roles, teams, projects, then the rest.
fn type_rank(resource_type: &str) -> u8 {
    match resource_type {
        "role" => 0,
        "team" => 1,
        "project" => 2,
        _ => 3,
    }
}

/// Where a row goes: its resource type's rank, its resource's path of names, its entitlement.
type SortKey = (u8, Vec<String>, String);

/// The display names from the top of a resource's tree of parents down to it.
fn tree_path(names: &Names, resource_type: &str, id: &str) -> Vec<String> {
    let mut path = Vec::new();
    let mut at = Some((resource_type.to_owned(), id.to_owned()));
    // A tree deeper than this is a loop in the file's data; what was walked is enough to sort.
    while let Some((rt, id)) = at.take() {
        if path.len() >= 64 {
            break;
        }
        path.push(names.resource_name(&rt, &id));
        at = names
            .resource(&rt, &id)
            .and_then(|r| r.parent_resource_id.as_ref())
            .map(|p| (p.resource_type.clone(), p.resource.clone()));
    }
    path.reverse();
    path
}

const HEADERS: [&str; 3] = ["ACCESS", "HOW", "ENTITLEMENT ID"];
const CSV_HEADERS: [&str; 7] = [
    "entitlement_id",
    "entitlement",
    "resource_type",
    "resource_id",
    "resource",
    "how",
    "sources",
];

#[derive(Serialize)]
struct JsonOut<'a> {
    sync_id: &'a str,
    user_id: &'a str,
    user: &'a str,
    access: &'a [AccessRow],
}

/// Runs `inspect access`.
pub(crate) fn run(
    path: &Path,
    format: InspectFormat,
    sync_id: Option<&str>,
    user: &str,
) -> Result<(), Failure> {
    let (reader, run) = super::open(path, sync_id)?;
    let (grants, names) = super::grants::read(&reader, &run, None, None)?;
    let person = find_user(&names, user)?;
    let person_id = person.id.clone().unwrap_or_default();
    let rows: Vec<AccessRow> = grants
        .into_iter()
        .filter(|g| {
            g.principal_type == person_id.resource_type && g.principal_id == person_id.resource
        })
        .map(|g| AccessRow::of(g, &names))
        .collect();
    // Roles, then teams, then projects in tree order (a sub-project under its parent).
    let mut keyed: Vec<(SortKey, AccessRow)> = rows
        .into_iter()
        .map(|r| {
            let key = (
                type_rank(&r.resource_type),
                tree_path(&names, &r.resource_type, &r.resource_id),
                r.entitlement_id.clone(),
            );
            (key, r)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<AccessRow> = keyed.into_iter().map(|(_, r)| r).collect();
    tracing::info!(sync_id = %run.sync_id, user = %person_id.resource, entitlements = rows.len(), "read access from c1z");
    let text = match format {
        InspectFormat::Table => {
            let hows: Vec<String> = rows.iter().map(AccessRow::how_text).collect();
            let cells: Vec<[&str; 3]> = rows
                .iter()
                .zip(&hows)
                .map(|(r, how)| [r.entitlement.as_str(), how, &r.entitlement_id])
                .collect();
            let mut text = format!(
                "Access of {} ({}) in sync {}\n",
                super::for_terminal(&person.display_name),
                super::for_terminal(&person_id.resource),
                run.sync_id
            );
            text.push_str(&super::table(HEADERS, &cells));
            text
        }
        InspectFormat::Csv => {
            let texts: Vec<[String; 2]> = rows
                .iter()
                .map(|r| {
                    let sources = r
                        .how
                        .iter()
                        .filter_map(|h| match h {
                            How::Team { team_id, .. } => Some(format!("team:{team_id}:member")),
                            How::Project { project_id, .. } => {
                                Some(format!("project:{project_id}"))
                            }
                            How::OrganizationAdmin => Some("role:Admin:member".to_owned()),
                            How::Entitlement { entitlement_id, .. } => Some(entitlement_id.clone()),
                            How::Direct => None,
                        })
                        .collect::<Vec<_>>()
                        .join(" ");
                    [r.how_text(), sources]
                })
                .collect();
            let cells: Vec<[&str; 7]> = rows
                .iter()
                .zip(&texts)
                .map(|(r, t)| {
                    [
                        r.entitlement_id.as_str(),
                        &r.entitlement,
                        &r.resource_type,
                        &r.resource_id,
                        &r.resource,
                        &t[0],
                        &t[1],
                    ]
                })
                .collect();
            super::csv(CSV_HEADERS, &cells)?
        }
        InspectFormat::Json => super::json(&JsonOut {
            sync_id: &run.sync_id,
            user_id: &person_id.resource,
            user: &person.display_name,
            access: &rows,
        })?,
    };
    super::print(&text)
}
