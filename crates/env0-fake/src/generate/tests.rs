//! The generator: determinism, proportions and shapes.

use super::*;

#[test]
fn same_seed_same_org_other_seed_other_org() {
    let opts = GenerateOptions {
        users: 200,
        api_keys: 20,
        teams: 12,
        projects: 6,
        seed: 42,
    };
    let a = Org::generate(opts);
    assert_eq!(a, Org::generate(opts));
    let b = Org::generate(GenerateOptions { seed: 43, ..opts });
    assert_ne!(a.organization.id, b.organization.id);
}

#[test]
fn counts_ids_and_nasty_cases() {
    let org = Org::generate(GenerateOptions {
        users: 2000,
        api_keys: 200,
        teams: 30,
        projects: 10,
        seed: 7,
    });
    assert_eq!(org.api_keys.len(), 200);
    assert_eq!(org.teams.len(), 30);
    assert_eq!(org.projects.len(), 10);
    let humans: Vec<&Member> = org
        .members
        .iter()
        .filter(|m| org.api_key(&m.user.user_id).is_none())
        .collect();
    assert_eq!(humans.len(), 2000);
    let key_members = org.members.len() - humans.len();
    assert!(key_members > 0, "a User-role API key is also a member");
    for m in &org.members[..] {
        if org.api_key(&m.user.user_id).is_some() {
            assert_eq!(m.role, Maybe::text("User"));
        }
    }
    let ids: HashSet<&str> = org
        .members
        .iter()
        .map(|m| m.user.user_id.as_str())
        .collect();
    assert_eq!(ids.len(), org.members.len(), "member ids are unique");
    for prefix in ["auth0|", "google-oauth2|", "samlp|corp|"] {
        assert!(
            humans.iter().any(|m| m.user.user_id.starts_with(prefix)),
            "{prefix}"
        );
    }
    for status in ["Active", "Invited", "pending", "Inactive", "SUSPENDED", ""] {
        assert!(
            humans.iter().any(|m| m.status == Maybe::text(status)),
            "status {status:?}"
        );
    }
    assert!(humans.iter().any(|m| m.status.is_missing()));
    assert!(humans.iter().any(|m| m.user.created_at == Maybe::Null));
    assert!(humans.iter().any(|m| m.user.created_at.is_missing()));
    assert!(humans.iter().any(|m| m.user.created_at == Maybe::text("")));
    assert!(humans.iter().any(|m| m.user.last_login == Maybe::Null));
    assert!(
        humans
            .iter()
            .any(|m| m.user.name == Maybe::text("日本 太郎"))
    );
    assert!(humans.iter().any(|m| !m.user.extra.is_empty()));
    let role_ids: HashSet<&str> = org.roles.iter().map(|r| r.id.as_str()).collect();
    let custom = |r: &str| r != "Admin" && r != "User";
    assert!(humans.iter().any(|m| {
        m.role
            .value()
            .is_some_and(|r| custom(r) && role_ids.contains(r.as_str()))
    }));
    assert!(humans.iter().any(|m| {
        m.role
            .value()
            .is_some_and(|r| custom(r) && !role_ids.contains(r.as_str()))
    }));
    assert!(org.roles.iter().any(|r| r.name == Maybe::Null));
    let emails: Vec<&str> = humans
        .iter()
        .filter_map(|m| m.user.email.non_empty())
        .collect();
    let unique: HashSet<&str> = emails.iter().copied().collect();
    assert!(unique.len() < emails.len(), "two members share an email");
    assert!(org.api_keys.iter().any(|k| k.last_used_at == Maybe::Null));
    assert!(org.api_keys.iter().any(|k| k.name == Maybe::text("")));
}

#[test]
fn ascii_slug_folds_accents_and_drops_the_rest() {
    assert_eq!(ascii_slug("Jürgen"), "jurgen");
    assert_eq!(ascii_slug("O'Brien"), "obrien");
    assert_eq!(ascii_slug("日本"), "");
}

#[test]
fn projects_nest_and_assignments_name_principals_that_left() {
    let org = Org::generate(GenerateOptions {
        users: 300,
        api_keys: 30,
        teams: 10,
        projects: 40,
        seed: 11,
    });
    let ids: HashSet<&str> = org.projects.iter().map(|p| p.id.as_str()).collect();
    let depth = |p: &crate::model::Project| p.hierarchy.value().map_or(0, |h| h.split('|').count());
    assert!(org.projects.iter().any(|p| depth(p) == 3), "three levels");
    assert!(org.projects.iter().all(|p| (1..=3).contains(&depth(p))));
    for p in &org.projects {
        let hierarchy = p.hierarchy.value().unwrap();
        assert!(hierarchy.ends_with(&p.id));
        match p.parent_project_id.value() {
            Some(parent) => {
                assert!(ids.contains(parent.as_str()));
                let parent_h = org.projects.iter().find(|q| &q.id == parent).unwrap();
                assert_eq!(
                    hierarchy,
                    &format!("{}|{}", parent_h.hierarchy.value().unwrap(), p.id)
                );
            }
            None => assert_eq!(hierarchy, &p.id),
        }
    }
    assert!(
        org.projects
            .iter()
            .any(|p| p.is_archived == Maybe::Value(true))
    );
    let known: HashSet<&str> = org
        .members
        .iter()
        .map(|m| m.user.user_id.as_str())
        .chain(org.api_keys.iter().map(|k| k.id.as_str()))
        .collect();
    let gone_in_projects = org
        .project_permissions
        .values()
        .flatten()
        .filter(|p| !known.contains(p.user_id.as_str()))
        .count();
    assert!(gone_in_projects > 0, "a permission names a removed member");
    let gone_in_teams = org
        .teams
        .iter()
        .filter_map(|t| t.users.value())
        .flatten()
        .filter(|u| !known.contains(u.user_id.as_str()))
        .count();
    assert!(gone_in_teams > 0, "a team lists a removed member");
    let team_ids: HashSet<&str> = org.teams.iter().map(|t| t.id.as_str()).collect();
    assert!(
        org.team_role_assignments
            .projects
            .values()
            .flatten()
            .any(|a| !team_ids.contains(a.team_id.as_str())),
        "a project role names a deleted team"
    );
    assert!(!org.team_role_assignments.organization.is_empty());
}
