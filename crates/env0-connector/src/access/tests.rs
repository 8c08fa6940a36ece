//! The access model and its mapping: the worked example's direct and structural grants, and what
//! is skipped or warned about.

use std::collections::BTreeSet;

use c1_model::{annotations, pb};

use super::mapping::{project_grants, role_team_grant, team_grants};
use super::*;

/// Principals by id, and the custom roles they hold.
pub(crate) struct Known(pub(crate) Vec<&'static str>, pub(crate) Vec<&'static str>);

impl Principals for Known {
    fn contains(&self, id: &str) -> bool {
        self.0.contains(&id)
    }
    fn custom_roles(&self) -> Vec<String> {
        self.1.iter().map(|s| (*s).to_owned()).collect()
    }
}

/// The worked example: Alice in Platform, Platform Deployer on Payments, Payments-EU under
/// Payments, Bob an organization Admin.
pub(crate) fn worked_example() -> AccessInput {
    AccessInput {
        teams: Part::Synced(vec![TeamInput::new(
            "t1",
            Some("Platform".into()),
            vec!["auth0|a".into()],
        )]),
        projects: Some(Part::Synced(vec![
            ProjectInput::new("p1", Some("Payments".into()), None),
            ProjectInput::new("p2", Some("Payments-EU".into()), Some("p1".into())),
        ])),
        project_team_roles: Part::Synced(vec![
            ("p1".into(), vec![Assignment::new("t1", "Deployer")]),
            ("p2".into(), vec![]),
        ]),
        ..AccessInput::default()
    }
}

/// `grant id` and, for expandable grants, `<- source [types]`.
fn describe(grants: &[pb::Grant]) -> Vec<String> {
    grants
        .iter()
        .map(
            |g| match annotations::find::<pb::GrantExpandable>(&g.annotations) {
                Some(e) => format!(
                    "{} <- {} {:?}{}",
                    g.id,
                    e.entitlement_ids.join(","),
                    e.resource_type_ids,
                    if e.shallow { " shallow" } else { "" }
                ),
                None => g.id.clone(),
            },
        )
        .collect()
}

#[test]
fn the_worked_example_has_the_direct_and_structural_grants_of_the_contract() {
    let model = AccessModel::build(
        &worked_example(),
        &Known(vec!["auth0|a", "auth0|b"], vec![]),
    );
    let projects = model.projects.as_ref().unwrap();
    let grants: Vec<String> = projects
        .iter()
        .flat_map(|p| describe(&project_grants(&model, p)))
        .collect();
    assert_eq!(
        grants,
        [
            r#"project:p1:Admin:role:Admin <- role:Admin:member ["user", "team"]"#,
            r#"project:p1:Deployer:team:t1 <- team:t1:member ["user"]"#,
            r#"project:p2:Admin:project:p1 <- project:p1:Admin ["user", "team"]"#,
            r#"project:p2:Deployer:project:p1 <- project:p1:Deployer ["user", "team"]"#,
            r#"project:p2:Planner:project:p1 <- project:p1:Planner ["user", "team"]"#,
            r#"project:p2:Viewer:project:p1 <- project:p1:Viewer ["user", "team"]"#,
        ]
    );
    assert_eq!(
        describe(&team_grants(&model.teams[0])),
        ["team:t1:member:user:auth0|a"]
    );
    assert_eq!(model.project_roles, PROJECT_ROLES);
    let roles: Vec<&str> = model.roles.iter().map(|r| r.value.as_str()).collect();
    assert_eq!(roles, ["Admin", "User"]);
    assert_eq!(model.role_notices, Notices::default());
    assert_eq!(model.project_notices, Notices::default());
}

#[test]
fn assignments_naming_unknown_principals_or_teams_are_skipped_with_one_expected_warning_each() {
    let mut input = worked_example();
    input.teams = Part::Synced(vec![TeamInput::new(
        "t1",
        Some("Platform".into()),
        vec!["auth0|a".into(), "auth0|gone".into(), "auth0|a".into()],
    )]);
    input.org_team_roles = Part::Synced(vec![
        Assignment::new("t1", "Admin"),
        Assignment::new("t-deleted", "User"),
        Assignment::new("t1", "Admin"),
    ]);
    input.project_user_roles = Part::Synced(vec![(
        "p2".into(),
        vec![
            Assignment::new("auth0|a", "Viewer"),
            Assignment::new("auth0|left", "Deployer"),
            Assignment {
                principal: "auth0|a".into(),
                role: None,
            },
        ],
    )]);
    input.project_team_roles = Part::Synced(vec![(
        "p1".into(),
        vec![
            Assignment::new("t1", "Deployer"),
            Assignment::new("t9", "Admin"),
        ],
    )]);
    let model = AccessModel::build(&input, &Known(vec!["auth0|a"], vec![]));
    assert_eq!(
        model.teams[0].members,
        ["auth0|a"],
        "unknown and repeated members dropped"
    );
    assert_eq!(
        model.team_notices.expected,
        [
            "membership of `auth0|gone` in team Platform (`t1`) skipped: the organization does not list that principal (a removed member or a deleted API key)"
        ]
    );
    assert_eq!(
        model.role_notices.expected,
        [
            "organization role `User` of team `t-deleted` skipped: the team list does not hold that team (a deleted team?)"
        ]
    );
    assert_eq!(model.role_teams["Admin"], ["t1"]);
    assert!(!model.role_teams.contains_key("User"));
    assert_eq!(
        describe(&[role_team_grant("Admin", "t1")]),
        [r#"role:Admin:member:team:t1 <- team:t1:member ["user"]"#]
    );
    assert_eq!(
        model.project_notices.expected,
        [
            "role `Admin` of team `t9` on project Payments (`p1`) skipped: the team list does not hold that team (a deleted team?)",
            "role `Deployer` of `auth0|left` on project Payments-EU (`p2`) skipped: the organization does not list that principal (a removed member or a deleted API key)",
        ]
    );
    assert_eq!(
        model.project_notices.warnings,
        ["a role assignment of `auth0|a` on project Payments-EU (`p2`) has no role; skipped"]
    );
    let p2 = &model.projects.as_ref().unwrap()[1];
    assert_eq!(p2.user_roles, [("Viewer".to_owned(), "auth0|a".to_owned())]);
}

#[test]
fn custom_roles_listed_held_or_used_become_roles_and_project_entitlements() {
    let mut input = worked_example();
    input.custom_roles = Part::Synced(vec![
        CustomRoleInput::new("c-auditor", Some("Auditor".into())),
        CustomRoleInput::new("c-unused", None),
    ]);
    input.org_team_roles = Part::Synced(vec![Assignment::new("t1", "c-deleted")]);
    input.project_user_roles = Part::Synced(vec![(
        "p1".into(),
        vec![Assignment::new("auth0|a", "c-project-only")],
    )]);
    let model = AccessModel::build(&input, &Known(vec!["auth0|a"], vec!["c-held"]));
    let roles: Vec<&str> = model.roles.iter().map(|r| r.value.as_str()).collect();
    assert_eq!(
        roles,
        [
            "Admin",
            "User",
            "c-auditor",
            "c-unused",
            "c-deleted",
            "c-held",
            "c-project-only"
        ]
    );
    assert_eq!(
        model.project_roles,
        [
            "Admin",
            "Deployer",
            "Planner",
            "Viewer",
            "c-auditor",
            "c-unused",
            "c-deleted",
            "c-held",
            "c-project-only"
        ]
    );
    assert_eq!(model.project_role_name("c-auditor"), "Auditor");
    assert_eq!(model.project_role_name("c-unused"), "c-unused");
    assert_eq!(model.roles[2].display_name(), "Auditor");
    // The directory names unlisted roles held by principals; the model names the others once.
    assert_eq!(
        model.role_notices.warnings,
        [
            "custom role `c-deleted` is used in assignments but not listed by GET /roles (deleted?); it is shown by its id",
            "custom role `c-project-only` is used in assignments but not listed by GET /roles (deleted?); it is shown by its id",
        ]
    );
    // Structural grants cascade every project role, custom ones included.
    let p2 = &model.projects.as_ref().unwrap()[1];
    let cascaded: BTreeSet<String> = project_grants(&model, p2)
        .into_iter()
        .map(|g| g.id)
        .collect();
    assert!(
        cascaded.contains("project:p2:c-auditor:project:p1"),
        "{cascaded:?}"
    );
    assert_eq!(cascaded.len(), 9);
}

#[test]
fn a_missing_part_is_one_warning_that_says_why_and_the_rest_syncs() {
    let mut input = worked_example();
    input.teams = Part::Missing(MissingPart {
        part: "teams",
        endpoint: "GET /teams/organizations/o".into(),
        status: 402,
    });
    input.org_team_roles = Part::Synced(vec![Assignment::new("t1", "Admin")]);
    input.project_user_roles = Part::Missing(MissingPart {
        part: "user roles on projects",
        endpoint: "GET /permissions/projects/p1".into(),
        status: 403,
    });
    let model = AccessModel::build(&input, &Known(vec!["auth0|a"], vec![]));
    assert!(model.teams.is_empty());
    assert!(model.role_teams.is_empty());
    assert_eq!(
        model.team_notices.warnings,
        [
            "teams not synced: env0 answered 402 on GET /teams/organizations/o (the organization's plan does not include it)"
        ]
    );
    assert_eq!(
        model.project_notices.warnings,
        [
            "user roles on projects not synced: env0 answered 403 on GET /permissions/projects/p1 (the API key lacks the permission)"
        ]
    );
    // No warning per team assignment: the team warning covers them.
    assert!(model.role_notices.expected.is_empty());
    assert!(model.project_notices.expected.is_empty());
    let projects = model.projects.as_ref().unwrap();
    assert_eq!(projects.len(), 2);
    assert!(projects.iter().all(|p| p.team_roles.is_empty()));

    input.projects = Some(Part::Missing(MissingPart {
        part: "projects",
        endpoint: "GET /projects".into(),
        status: 403,
    }));
    let model = AccessModel::build(&input, &Known(vec![], vec![]));
    assert_eq!(model.projects, None);
    assert_eq!(
        model.project_notices.warnings,
        [
            "projects not synced: env0 answered 403 on GET /projects (the API key lacks the permission)"
        ]
    );
}

#[test]
fn unknown_or_looping_parents_make_top_level_projects() {
    let mut input = worked_example();
    input.projects = Some(Part::Synced(vec![
        ProjectInput::new("a", None, Some("b".into())),
        ProjectInput::new("b", None, Some("a".into())),
        ProjectInput::new("c", None, Some("nowhere".into())),
        ProjectInput::new("d", None, Some("c".into())),
        ProjectInput::new("d", Some("second d".into()), None),
        ProjectInput::new("e", Some("Echo".into()), Some("e".into())),
    ]));
    let model = AccessModel::build(&input, &Known(vec![], vec![]));
    let parents: Vec<(&str, Option<&str>)> = model
        .projects
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.project.id.as_str(), p.parent.as_deref()))
        .collect();
    assert_eq!(
        parents,
        [
            ("a", None),
            ("b", None),
            ("c", None),
            ("d", Some("c")),
            ("e", None)
        ]
    );
    assert_eq!(
        model.project_notices.warnings.len(),
        4,
        "{:?}",
        model.project_notices
    );
    assert!(
        model.project_notices.warnings.contains(
            &"project Echo (`e`) names itself as its parent; it is treated as a top-level project"
                .to_owned()
        ),
        "{:?}",
        model.project_notices
    );
    // Every top-level project takes organization Admins.
    let admin_roots: Vec<String> = model
        .projects
        .as_ref()
        .unwrap()
        .iter()
        .flat_map(|p| project_grants(&model, p))
        .map(|g| g.id)
        .filter(|id| id.ends_with(":Admin:role:Admin"))
        .collect();
    assert_eq!(
        admin_roots,
        [
            "project:a:Admin:role:Admin",
            "project:b:Admin:role:Admin",
            "project:c:Admin:role:Admin",
            "project:e:Admin:role:Admin"
        ]
    );
}
