//! The access model as ConductorOne resource types, resources, entitlements and grants: ids,
//! names and expandable grants exactly as `docs/access-model.md` lays them out.

use c1_model::limits::{MAX_DESCRIPTION_BYTES, MAX_DISPLAY_NAME_BYTES, truncated};
use c1_model::pb::entitlement::PurposeValue;
use c1_model::{ResourceBuilder, ResourceTypeBuilder, annotations, pb, resource_id};

use super::model::{AccessModel, ProjectEntry, RoleEntry, TeamEntry};
use crate::mapping::{USER_RESOURCE_TYPE, user_resource_type};

/// Id of the organization role resource type.
pub const ROLE_RESOURCE_TYPE: &str = "role";
/// Id of the team resource type.
pub const TEAM_RESOURCE_TYPE: &str = "team";
/// Id of the project resource type.
pub const PROJECT_RESOURCE_TYPE: &str = "project";
/// The slug of role and team membership entitlements.
pub const MEMBER: &str = "member";

/// The `role` resource type (`TRAIT_ROLE`).
pub fn role_resource_type() -> pb::ResourceType {
    ResourceTypeBuilder::new(ROLE_RESOURCE_TYPE, "Role")
        .with_trait(pb::resource_type::Trait::Role)
        .description("env0 organization roles: Admin, User and custom roles")
        .build()
}

/// The `team` resource type (`TRAIT_GROUP`).
pub fn team_resource_type() -> pb::ResourceType {
    ResourceTypeBuilder::new(TEAM_RESOURCE_TYPE, "Team")
        .with_trait(pb::resource_type::Trait::Group)
        .description("env0 teams")
        .build()
}

/// The `project` resource type (no trait).
pub fn project_resource_type() -> pb::ResourceType {
    ResourceTypeBuilder::new(PROJECT_RESOURCE_TYPE, "Project")
        .description("env0 projects and sub-projects, archived ones included")
        .build()
}

/// `project:<p>:<r>` → `role:Admin` etc. are written with these principal types filtered in, so a
/// project or role resource never becomes a holder itself.
const STRUCTURAL_TYPES: [&str; 2] = [USER_RESOURCE_TYPE, TEAM_RESOURCE_TYPE];

fn expandable(from: String, types: &[&str]) -> pb::GrantExpandable {
    pb::GrantExpandable {
        entitlement_ids: vec![from],
        shallow: false,
        resource_type_ids: types.iter().map(|t| (*t).to_owned()).collect(),
    }
}

/// The entitlement id `<type>:<id>:<slug>`.
pub fn entitlement_id(resource_type: &str, id: &str, slug: &str) -> String {
    c1_model::entitlement::id(&resource_id(resource_type, id), slug)
}

/// A display name within the protocol's limit, cut at a character boundary (silently: profiles
/// keep the whole name).
fn display(name: &str) -> String {
    truncated(name, MAX_DISPLAY_NAME_BYTES).to_owned()
}

/// A description within the protocol's limit, cut at a character boundary.
fn describe(text: &str) -> String {
    truncated(text, MAX_DESCRIPTION_BYTES).to_owned()
}

fn entitlement(
    resource: &pb::Resource,
    slug: &str,
    display_name: &str,
    description: &str,
    grantable_to: Vec<pb::ResourceType>,
) -> pb::Entitlement {
    let mut e = c1_model::entitlement::new(resource, slug, PurposeValue::Assignment);
    e.display_name = display(display_name);
    e.description = describe(description);
    e.grantable_to = grantable_to;
    e
}

/// A grant of the entitlement `<type>:<id>:<slug>` on `resource` to `principal`, expandable from
/// `from` (filtered to `types`) when given.
fn grant(
    resource: &pb::ResourceId,
    slug: &str,
    principal: &pb::ResourceId,
    from: Option<(String, &[&str])>,
) -> pb::Grant {
    let slim = pb::Entitlement {
        id: c1_model::entitlement::id(resource, slug),
        resource: Some(pb::Resource {
            id: Some(resource.clone()),
            ..pb::Resource::default()
        }),
        ..pb::Entitlement::default()
    };
    let mut g = c1_model::grant::new(&slim, principal);
    if let Some((from, types)) = from {
        annotations::set(&mut g.annotations, &expandable(from, types));
    }
    g
}

/// A `role` resource.
pub fn role_resource(role: &RoleEntry) -> pb::Resource {
    let name = role.display_name();
    let description = match role.value.as_str() {
        "Admin" => {
            "env0 organization Admin: full control of the organization and every project".to_owned()
        }
        "User" => {
            "env0 organization User: sees the organization; project roles give more".to_owned()
        }
        _ if role.listed.is_some() => format!("env0 custom organization role {name}"),
        _ => "env0 custom role not listed by GET /roles (its name is unknown)".to_owned(),
    };
    let mut b = ResourceBuilder::new(ROLE_RESOURCE_TYPE, &role.value, display(&name))
        .description(describe(&description))
        .profile("role", role.value.as_str())
        .profile("name", name.as_str())
        .profile("custom", role.is_custom());
    if let Some(listed) = &role.listed {
        b = b
            .profile("permissions", listed.permissions.join(","))
            .profile(
                "is_default_role",
                listed
                    .is_default_role
                    .map_or(c1_model::ProfileValue::Null, c1_model::ProfileValue::Bool),
            );
    }
    b.build_role()
}

/// The one entitlement of a role: `role:<r>:member`.
pub fn role_entitlements(role: &RoleEntry, resource: &pb::Resource) -> Vec<pb::Entitlement> {
    let name = role.display_name();
    let display_name = if role.is_custom() {
        format!("{name} (organization role)")
    } else {
        name.clone()
    };
    vec![entitlement(
        resource,
        MEMBER,
        &display_name,
        &format!("Holds the env0 organization role {name}"),
        vec![user_resource_type(), team_resource_type()],
    )]
}

/// `role:<r>:member` → `user:<principal>`.
pub fn role_user_grant(role: &str, principal: &str) -> pb::Grant {
    grant(
        &resource_id(ROLE_RESOURCE_TYPE, role),
        MEMBER,
        &resource_id(USER_RESOURCE_TYPE, principal),
        None,
    )
}

/// `role:<r>:member` → `team:<t>`, expandable from `team:<t>:member` (users).
pub fn role_team_grant(role: &str, team: &str) -> pb::Grant {
    grant(
        &resource_id(ROLE_RESOURCE_TYPE, role),
        MEMBER,
        &resource_id(TEAM_RESOURCE_TYPE, team),
        Some((
            entitlement_id(TEAM_RESOURCE_TYPE, team, MEMBER),
            &[USER_RESOURCE_TYPE],
        )),
    )
}

/// A `team` resource.
pub fn team_resource(team: &TeamEntry) -> pb::Resource {
    let t = &team.team;
    let mut b = ResourceBuilder::new(TEAM_RESOURCE_TYPE, &t.id, display(team.display_name()))
        .profile("name", t.name.as_deref())
        .profile("description", t.description.as_deref());
    if let Some(description) = &t.description {
        b = b.description(describe(description));
    }
    b.build_group()
}

/// The one entitlement of a team: `team:<t>:member`.
pub fn team_entitlements(team: &TeamEntry, resource: &pb::Resource) -> Vec<pb::Entitlement> {
    let name = team.display_name();
    vec![entitlement(
        resource,
        MEMBER,
        &format!("Member of {name} team"),
        &format!("Member of the env0 team {name}"),
        vec![user_resource_type()],
    )]
}

/// `team:<t>:member` → `user:<member>`, one per member.
pub fn team_grants(team: &TeamEntry) -> Vec<pb::Grant> {
    let resource = resource_id(TEAM_RESOURCE_TYPE, &team.team.id);
    team.members
        .iter()
        .map(|m| grant(&resource, MEMBER, &resource_id(USER_RESOURCE_TYPE, m), None))
        .collect()
}

/// A `project` resource; a sub-project carries its parent, and every project a
/// `ChildResourceType` for `project` (its sub-projects are listed under it).
pub fn project_resource(project: &ProjectEntry) -> pb::Resource {
    let p = &project.project;
    let mut b = ResourceBuilder::new(
        PROJECT_RESOURCE_TYPE,
        &p.id,
        display(project.display_name()),
    )
    .profile("name", p.name.as_deref())
    .profile("archived", p.archived)
    .profile("hierarchy", p.hierarchy.as_deref())
    .profile("tags", p.tags.join(","))
    .annotation(&pb::ChildResourceType {
        resource_type_id: PROJECT_RESOURCE_TYPE.to_owned(),
    });
    if let Some(description) = &p.description {
        b = b.description(describe(description));
    }
    if let Some(parent) = &project.parent {
        b = b.parent(resource_id(PROJECT_RESOURCE_TYPE, parent));
    }
    b.build()
}

/// `project:<p>:<r>` for every project role of the model.
pub fn project_entitlements(
    model: &AccessModel,
    project: &ProjectEntry,
    resource: &pb::Resource,
) -> Vec<pb::Entitlement> {
    let name = project.display_name();
    model
        .project_roles
        .iter()
        .map(|role| {
            let role_name = model.project_role_name(role);
            entitlement(
                resource,
                role,
                &format!("{role_name} on {name}"),
                &format!(
                    "Holds the {role_name} role on the env0 project {name} (and so on its sub-projects)"
                ),
                vec![user_resource_type(), team_resource_type()],
            )
        })
        .collect()
}

/// Every grant on a project's entitlements: the structural ones (from the parent, or from
/// organization Admin for a top-level project), then users' and teams' direct roles.
pub fn project_grants(model: &AccessModel, project: &ProjectEntry) -> Vec<pb::Grant> {
    let resource = resource_id(PROJECT_RESOURCE_TYPE, &project.project.id);
    let mut grants = Vec::new();
    match &project.parent {
        Some(parent) => {
            let principal = resource_id(PROJECT_RESOURCE_TYPE, parent);
            for role in &model.project_roles {
                grants.push(grant(
                    &resource,
                    role,
                    &principal,
                    Some((
                        entitlement_id(PROJECT_RESOURCE_TYPE, parent, role),
                        &STRUCTURAL_TYPES,
                    )),
                ));
            }
        }
        None => grants.push(grant(
            &resource,
            "Admin",
            &resource_id(ROLE_RESOURCE_TYPE, "Admin"),
            Some((
                entitlement_id(ROLE_RESOURCE_TYPE, "Admin", MEMBER),
                &STRUCTURAL_TYPES,
            )),
        )),
    }
    for (role, user) in &project.user_roles {
        grants.push(grant(
            &resource,
            role,
            &resource_id(USER_RESOURCE_TYPE, user),
            None,
        ));
    }
    for (role, team) in &project.team_roles {
        grants.push(grant(
            &resource,
            role,
            &resource_id(TEAM_RESOURCE_TYPE, team),
            Some((
                entitlement_id(TEAM_RESOURCE_TYPE, team, MEMBER),
                &[USER_RESOURCE_TYPE],
            )),
        ));
    }
    grants
}
