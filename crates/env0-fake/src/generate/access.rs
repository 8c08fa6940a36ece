//! Generated teams, projects, project permissions and team role assignments.

use std::collections::HashSet;

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::model::{Maybe, Member, Project, Team, User};

use super::words::{PROJECT_NAMES, TEAM_NAMES};
use super::{Gen, GenerateOptions};

/// Deepest level of generated sub-projects (a top-level project is level 1).
const MAX_PROJECT_DEPTH: usize = 3;

pub(super) fn generate_teams(
    g: &mut Gen,
    options: &GenerateOptions,
    org_id: &str,
    members: &[Member],
    key_member_ids: &[String],
    removed: &[String],
) -> Vec<Team> {
    let mut teams = Vec::with_capacity(options.teams);
    for t in 0..options.teams {
        let base = TEAM_NAMES[t % TEAM_NAMES.len()];
        let name = if t < TEAM_NAMES.len() {
            base.to_owned()
        } else {
            format!("{base}-{}", t / TEAM_NAMES.len())
        };
        let users_roll: f64 = g.rng.random();
        let users = if users_roll < 0.1 || members.is_empty() {
            Maybe::Missing
        } else if users_roll < 0.2 {
            Maybe::Value(Vec::new())
        } else {
            let mut seen = HashSet::new();
            let mut list = Vec::new();
            for _ in 0..=g.below(8) {
                let m = &members[g.below(members.len())].user;
                if seen.insert(m.user_id.clone()) {
                    let mut member = User::new(m.user_id.clone());
                    member.email = m.email.clone();
                    member.name = m.name.clone();
                    list.push(member);
                }
            }
            if let Some(key_id) = key_member_ids.get(t)
                && seen.insert(key_id.clone())
            {
                list.push(User::new(key_id.clone()));
            }
            // A member who has left the organization but is still listed in the team.
            if !removed.is_empty() && g.chance(0.15) {
                let gone = &removed[g.below(removed.len())];
                if seen.insert(gone.clone()) {
                    list.push(User::new(gone.clone()));
                }
            }
            Maybe::Value(list)
        };
        let mut extra = Map::new();
        if g.chance(0.3) {
            extra.insert("isIdpManaged".into(), Value::Bool(true));
        }
        teams.push(Team {
            id: g.uuid(),
            name: Maybe::text(name),
            description: if g.chance(0.5) {
                Maybe::text(format!("Team {base}"))
            } else {
                Maybe::Null
            },
            organization_id: Maybe::text(org_id),
            users,
            extra,
        });
    }
    teams
}

pub(super) fn generate_projects(
    g: &mut Gen,
    options: &GenerateOptions,
    org_id: &str,
) -> Vec<Project> {
    let mut projects: Vec<Project> = Vec::with_capacity(options.projects);
    for p in 0..options.projects {
        let id = g.uuid();
        let base = PROJECT_NAMES[p % PROJECT_NAMES.len()];
        // Any earlier project not yet at the deepest level may be the parent.
        let parents: Vec<(String, String)> = projects
            .iter()
            .filter_map(|pr| {
                let hierarchy = pr.hierarchy.value()?;
                (hierarchy.split('|').count() < MAX_PROJECT_DEPTH)
                    .then(|| (pr.id.clone(), hierarchy.clone()))
            })
            .collect();
        let (parent, hierarchy) = if !parents.is_empty() && g.chance(0.45) {
            let (pid, ph) = &parents[g.below(parents.len())];
            (Maybe::text(pid.clone()), format!("{ph}|{id}"))
        } else {
            (Maybe::Missing, id.clone())
        };
        let created = g.time();
        let mut extra = Map::new();
        let tags = if g.chance(0.3) {
            json!([g.pick(&["prod", "staging", "eu", "us", "pci", "sandbox"])])
        } else {
            json!([])
        };
        extra.insert("tags".into(), tags);
        extra.insert("role".into(), json!("Admin"));
        projects.push(Project {
            id,
            name: Maybe::text(if p < PROJECT_NAMES.len() {
                base.to_owned()
            } else {
                format!("{base}-{}", p / PROJECT_NAMES.len())
            }),
            description: Maybe::text(""),
            organization_id: Maybe::text(org_id),
            parent_project_id: parent,
            hierarchy: Maybe::text(hierarchy),
            is_archived: Maybe::Value(g.chance(0.15)),
            created_at: Maybe::text(g.stamp(created)),
            extra,
        });
    }
    projects
}
