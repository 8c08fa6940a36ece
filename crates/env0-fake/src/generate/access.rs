//! Generated teams, projects, project permissions and team role assignments.

use std::collections::HashSet;

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::model::{Maybe, Member, Project, Team, User};

use super::words::{PROJECT_NAMES, TEAM_NAMES};
use super::{Gen, GenerateOptions};

pub(super) fn generate_teams(
    g: &mut Gen,
    options: &GenerateOptions,
    org_id: &str,
    members: &[Member],
    key_member_ids: &[String],
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
        let roots: Vec<(String, String)> = projects
            .iter()
            .filter(|pr| pr.parent_project_id.is_missing())
            .map(|pr| {
                (
                    pr.id.clone(),
                    pr.hierarchy.value().cloned().unwrap_or_default(),
                )
            })
            .collect();
        let (parent, hierarchy) = if !roots.is_empty() && g.chance(0.3) {
            let (pid, ph) = &roots[g.below(roots.len())];
            (Maybe::text(pid.clone()), format!("{ph}|{id}"))
        } else {
            (Maybe::Missing, id.clone())
        };
        let created = g.time();
        let mut extra = Map::new();
        extra.insert("tags".into(), json!([]));
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
            is_archived: Maybe::Value(g.chance(0.1)),
            created_at: Maybe::text(g.stamp(created)),
            extra,
        });
    }
    projects
}
