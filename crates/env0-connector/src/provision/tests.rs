//! Reading a change from ids, the refusals before any request, and the decision each state
//! makes: one case per row of the provisioning table, both ways.

use c1_model::{UserBuilder, pb};
use env0_api::{OrgId, ProjectId, ProjectRole, Role, TeamId, UserId};

use super::state::{Observed, Scope, decide};
use super::*;

fn resource(resource_type: &str, id: &str) -> pb::Resource {
    pb::Resource {
        id: Some(pb::ResourceId {
            resource_type: resource_type.to_owned(),
            resource: id.to_owned(),
            ..pb::ResourceId::default()
        }),
        ..pb::Resource::default()
    }
}

fn entitlement(resource_type: &str, id: &str, slug: &str) -> pb::Entitlement {
    pb::Entitlement {
        id: format!("{resource_type}:{id}:{slug}"),
        resource: Some(resource(resource_type, id)),
        ..pb::Entitlement::default()
    }
}

fn api_key(id: &str) -> pb::Resource {
    UserBuilder::new("user", id, "ci key")
        .account_type(c1_model::AccountType::Service)
        .build()
}

fn human(id: &str) -> pb::Resource {
    UserBuilder::new("user", id, "Alice").build()
}

fn parse(direction: Direction, ent: &pb::Entitlement, principal: &pb::Resource) -> Change {
    Change::parse(direction, ent, principal).expect("a change env0 can carry out")
}

fn refusal(direction: Direction, ent: &pb::Entitlement, principal: &pb::Resource) -> String {
    Change::parse(direction, ent, principal)
        .expect_err("refused")
        .to_string()
}

fn role(held: Option<&str>) -> Observed {
    Observed::Role(held.map(str::to_owned))
}

fn team(members: &[&str]) -> Observed {
    Observed::Team {
        name: "Platform".to_owned(),
        description: "builds things".to_owned(),
        members: members.iter().map(|m| UserId::new(*m)).collect(),
    }
}

fn write(change: &Change, state: &Observed) -> (WriteCall, Option<String>) {
    match decide(change, state).expect("decided") {
        Decision::Write { call, replaces } => (call, replaces),
        Decision::Nothing => panic!("expected a write for {change}"),
    }
}

fn nothing(change: &Change, state: &Observed) -> bool {
    decide(change, state).expect("decided") == Decision::Nothing
}

#[test]
fn ids_map_back_to_env0_verbatim() {
    let change = parse(
        Direction::Grant,
        &entitlement("project", "p-1", "custom-7"),
        &human("auth0|a"),
    );
    assert_eq!(
        change.target,
        Target::ProjectRole {
            project: ProjectId::new("p-1"),
            role: ProjectRole::Custom(env0_api::RoleId::new("custom-7")),
        }
    );
    assert_eq!(
        change.holder,
        Holder::User {
            id: UserId::new("auth0|a"),
            api_key: false
        }
    );
    assert_eq!(
        change.to_string(),
        "grant project:p-1:custom-7 to user auth0|a"
    );
    let org = parse(
        Direction::Revoke,
        &entitlement("role", "Admin", "member"),
        &resource("team", "t-1"),
    );
    assert_eq!(org.target, Target::OrgRole(Role::Admin));
    assert_eq!(org.holder, Holder::Team(TeamId::new("t-1")));
    assert_eq!(org.role_in("role:User:member"), Some("User"));
    assert_eq!(org.role_in("project:p:Viewer"), None);
    assert_eq!(change.role_in("project:p-1:Viewer"), Some("Viewer"));
    assert_eq!(change.entitlement_for("Viewer"), "project:p-1:Viewer");
}

#[test]
fn what_env0_cannot_do_is_refused_before_any_request() {
    let admin = entitlement("role", "Admin", "member");
    let message = refusal(Direction::Grant, &admin, &api_key("key-1"));
    assert_eq!(
        message,
        "cannot grant role:Admin:member to API key key-1: env0's API cannot change an API key's organization role; create an API key with the role you need in env0's organization settings instead"
    );
    assert!(refusal(Direction::Revoke, &admin, &api_key("key-1")).contains("API key"));
    let user_role = entitlement("role", "User", "member");
    assert_eq!(
        refusal(Direction::Revoke, &user_role, &human("auth0|a")),
        "cannot revoke role:User:member from user auth0|a: every member holds an organization role, so role:User:member cannot be revoked; grant another role instead (for example role:Admin:member)"
    );
    assert_eq!(
        refusal(Direction::Grant, &admin, &resource("role", "Admin")),
        "cannot grant role:Admin:member to role:Admin: only users, API keys and teams hold env0 access"
    );
    assert!(
        refusal(Direction::Revoke, &admin, &resource("project", "p-1"))
            .starts_with("cannot revoke role:Admin:member from project:p-1: ")
    );
    // Granting User is how a member goes back to it; a team may lose it.
    parse(Direction::Grant, &user_role, &human("auth0|a"));
    parse(Direction::Revoke, &user_role, &resource("team", "t-1"));
    let member = entitlement("team", "t-1", "member");
    assert!(
        refusal(Direction::Grant, &member, &resource("team", "t-2"))
            .contains("a team cannot be a member of a team")
    );
    assert!(
        refusal(
            Direction::Grant,
            &entitlement("user", "u", "member"),
            &human("a")
        )
        .contains("provisions organization roles")
    );
    assert!(
        refusal(
            Direction::Grant,
            &entitlement("team", "t-1", "admin"),
            &human("a")
        )
        .contains("provisions organization roles")
    );
}

#[test]
fn organization_roles_of_members() {
    let grant = parse(
        Direction::Grant,
        &entitlement("role", "Admin", "member"),
        &human("u"),
    );
    assert!(nothing(&grant, &role(Some("Admin"))));
    let (call, replaces) = write(&grant, &role(Some("User")));
    assert_eq!(
        call,
        WriteCall::SetOrgRole {
            user: UserId::new("u"),
            role: Role::Admin
        }
    );
    assert_eq!(replaces.as_deref(), Some("User"));
    // A member env0 no longer lists.
    let gone = decide(&grant, &role(None)).expect_err("refused");
    assert!(gone.to_string().contains("no longer lists u"), "{gone}");

    let revoke = parse(
        Direction::Revoke,
        &entitlement("role", "Admin", "member"),
        &human("u"),
    );
    assert!(nothing(&revoke, &role(Some("User"))));
    let (call, replaces) = write(&revoke, &role(Some("Admin")));
    assert_eq!(
        call,
        WriteCall::SetOrgRole {
            user: UserId::new("u"),
            role: Role::User
        }
    );
    assert_eq!(replaces, None);
}

#[test]
fn team_roles_at_both_scopes() {
    let org_grant = parse(
        Direction::Grant,
        &entitlement("role", "Admin", "member"),
        &resource("team", "t"),
    );
    let (call, replaces) = write(&org_grant, &role(None));
    assert_eq!(
        call,
        WriteCall::SetTeamRole {
            team: TeamId::new("t"),
            scope: Scope::Organization,
            role: "Admin".to_owned()
        }
    );
    assert_eq!(replaces, None);
    let org_revoke = parse(
        Direction::Revoke,
        &entitlement("role", "Admin", "member"),
        &resource("team", "t"),
    );
    assert!(nothing(&org_revoke, &role(None)));
    assert_eq!(
        write(&org_revoke, &role(Some("Admin"))).0,
        WriteCall::RemoveTeamRole {
            team: TeamId::new("t"),
            scope: Scope::Organization
        }
    );

    let project_grant = parse(
        Direction::Grant,
        &entitlement("project", "p", "Deployer"),
        &resource("team", "t"),
    );
    let (call, replaces) = write(&project_grant, &role(Some("Viewer")));
    assert_eq!(
        call,
        WriteCall::SetTeamRole {
            team: TeamId::new("t"),
            scope: Scope::Project(ProjectId::new("p")),
            role: "Deployer".to_owned()
        }
    );
    assert_eq!(replaces.as_deref(), Some("Viewer"));
    let project_revoke = parse(
        Direction::Revoke,
        &entitlement("project", "p", "Deployer"),
        &resource("team", "t"),
    );
    // Holding another role there is not holding this one.
    assert!(nothing(&project_revoke, &role(Some("Viewer"))));
    assert_eq!(
        write(&project_revoke, &role(Some("Deployer"))).0,
        WriteCall::RemoveTeamRole {
            team: TeamId::new("t"),
            scope: Scope::Project(ProjectId::new("p"))
        }
    );
}

#[test]
fn project_roles_of_users_post_put_or_delete() {
    let grant = parse(
        Direction::Grant,
        &entitlement("project", "p", "Deployer"),
        &api_key("key-1"),
    );
    assert_eq!(
        write(&grant, &role(None)),
        (
            WriteCall::AssignProjectRole {
                project: ProjectId::new("p"),
                user: UserId::new("key-1"),
                role: ProjectRole::Deployer
            },
            None
        )
    );
    assert_eq!(
        write(&grant, &role(Some("Viewer"))),
        (
            WriteCall::UpdateProjectRole {
                project: ProjectId::new("p"),
                user: UserId::new("key-1"),
                role: ProjectRole::Deployer
            },
            Some("Viewer".to_owned())
        )
    );
    assert!(nothing(&grant, &role(Some("Deployer"))));
    let revoke = parse(
        Direction::Revoke,
        &entitlement("project", "p", "Deployer"),
        &api_key("key-1"),
    );
    assert_eq!(
        write(&revoke, &role(Some("Deployer"))).0,
        WriteCall::RemoveProjectRole {
            project: ProjectId::new("p"),
            user: UserId::new("key-1")
        }
    );
    assert!(nothing(&revoke, &role(Some("Viewer"))));
    assert!(nothing(&revoke, &role(None)));
}

#[test]
fn team_membership_writes_the_whole_list_plus_or_minus_one() {
    let member = entitlement("team", "t", "member");
    let grant = parse(Direction::Grant, &member, &human("c"));
    assert!(nothing(&grant, &team(&["a", "c"])));
    assert_eq!(
        write(&grant, &team(&["b", "a"])).0,
        WriteCall::UpdateTeam {
            team: TeamId::new("t"),
            name: "Platform".to_owned(),
            description: "builds things".to_owned(),
            members: vec![UserId::new("b"), UserId::new("a"), UserId::new("c")],
        }
    );
    let revoke = parse(Direction::Revoke, &member, &human("a"));
    assert!(nothing(&revoke, &team(&["b"])));
    let (call, _) = write(&revoke, &team(&["b", "a", "d"]));
    let WriteCall::UpdateTeam { members, .. } = &call else {
        panic!("{call:?}");
    };
    assert_eq!(members, &vec![UserId::new("b"), UserId::new("d")]);
}

/// A write is shown exactly as env0-api sends it: the path percent-encoded as env0's provider
/// encodes it, JSON keys in the provider's order.
#[test]
fn writes_show_as_request_lines_with_bodies() {
    let client = env0_api::Env0Client::new(
        env0_api::ClientConfig::new("id".into(), env0_api::SecretString::from("secret"))
            .base_url("http://127.0.0.1:9")
            .unwrap(),
    )
    .unwrap();
    let provisioner = Env0Provisioner::new(client, OrgId::new("o-1"));
    let shown = |call: WriteCall| provisioner.describe(&call).unwrap();
    assert_eq!(
        shown(WriteCall::SetOrgRole {
            user: UserId::new("auth0|u"),
            role: Role::Admin
        }),
        "PUT /organizations/o-1/users/auth0%7Cu/role Admin"
    );
    assert_eq!(
        shown(WriteCall::AssignProjectRole {
            project: ProjectId::new("p"),
            user: UserId::new("auth0|u"),
            role: ProjectRole::Viewer
        }),
        r#"POST /permissions/projects/p {"userId":"auth0|u","role":"Viewer"}"#
    );
    assert_eq!(
        shown(WriteCall::RemoveTeamRole {
            team: TeamId::new("t"),
            scope: Scope::Project(ProjectId::new("p"))
        }),
        "DELETE /roles/assignments/teams?teamId=t&projectId=p"
    );
    assert_eq!(
        shown(WriteCall::SetTeamRole {
            team: TeamId::new("t"),
            scope: Scope::Organization,
            role: "Admin".to_owned()
        }),
        r#"PUT /roles/assignments/teams {"teamId":"t","role":"Admin","organizationId":"o-1"}"#
    );
}
