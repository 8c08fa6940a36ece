//! The served state: the organization, the teams as the list serves them, and every response
//! body pre-serialized from them; and the record of write requests.
//!
//! Reads clone a cached [`Bytes`] under a read lock. A write mutates the organization under the
//! write lock and re-serializes only the bodies it changed ([`Dirty`]); a test's
//! `on_next_write` hook may change anything, so after it every body is rebuilt.

use std::collections::HashMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::FakeError;
use crate::model::{Maybe, Org, Team};

use super::to_bytes;

/// Pre-serialized response bodies, cloned per request (cheap: `Bytes` is reference-counted).
pub(super) struct Bodies {
    pub(super) organizations: Bytes,
    pub(super) users: Bytes,
    pub(super) api_keys: Bytes,
    pub(super) roles: Bytes,
    pub(super) projects: Bytes,
    pub(super) teams: Bytes,
    /// `GET /teams/{team}` by team id: always with `users` (`[]` when the team has none).
    pub(super) team: HashMap<String, Bytes>,
    pub(super) project_permissions: HashMap<String, Bytes>,
    pub(super) team_assignments_org: Bytes,
    pub(super) team_assignments_project: HashMap<String, Bytes>,
}

/// What a write changed, so only those bodies are serialized again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Dirty {
    /// The members list.
    Users,
    /// One team (its own body, its list entry and the list).
    Team(String),
    /// One project's user permissions.
    ProjectPermissions(String),
    /// The organization's team roles.
    TeamAssignmentsOrg,
    /// One project's team roles.
    TeamAssignmentsProject(String),
}

/// Everything a request reads, behind one lock.
pub(super) struct Data {
    pub(super) org: Org,
    /// The teams as the list serves them (without `users` under `--teams-without-users`).
    pub(super) listed_teams: Vec<Team>,
    pub(super) bodies: Bodies,
}

/// The team as `GET /teams/{team}` answers it: always with `users`.
pub(super) fn full_team(team: &Team) -> Team {
    let mut full = team.clone();
    if full.users.value().is_none() {
        full.users = Maybe::Value(Vec::new());
    }
    full
}

/// The team as the team list serves it.
fn listed_team(team: &Team, teams_without_users: bool) -> Team {
    let mut listed = team.clone();
    if teams_without_users {
        listed.users = Maybe::Missing;
    }
    listed
}

fn project_permissions_body(org: &Org, project: &str) -> Result<Bytes, FakeError> {
    let perms = org
        .project_permissions
        .get(project)
        .map_or(&[][..], Vec::as_slice);
    to_bytes("permissions", perms)
}

fn team_assignments_project_body(org: &Org, project: &str) -> Result<Bytes, FakeError> {
    let list = org
        .team_role_assignments
        .projects
        .get(project)
        .map_or(&[][..], Vec::as_slice);
    to_bytes("assignments", list)
}

/// Every body of `org`, the team list from `listed_teams`.
fn bodies(org: &Org, listed_teams: &[Team]) -> Result<Bodies, FakeError> {
    let mut project_permissions = HashMap::new();
    let mut team_assignments_project = HashMap::new();
    for project in &org.projects {
        project_permissions.insert(
            project.id.clone(),
            project_permissions_body(org, &project.id)?,
        );
        team_assignments_project.insert(
            project.id.clone(),
            team_assignments_project_body(org, &project.id)?,
        );
    }
    let mut team = HashMap::new();
    for t in &org.teams {
        team.insert(t.id.clone(), to_bytes("team", &full_team(t))?);
    }
    Ok(Bodies {
        organizations: to_bytes("organizations", &[&org.organization])?,
        users: to_bytes("users", &org.members)?,
        api_keys: to_bytes("api-keys", &org.api_keys)?,
        roles: to_bytes("roles", &org.roles)?,
        projects: to_bytes("projects", &org.projects)?,
        teams: to_bytes("teams", listed_teams)?,
        team,
        project_permissions,
        team_assignments_org: to_bytes("assignments", &org.team_role_assignments.organization)?,
        team_assignments_project,
    })
}

impl Data {
    /// Serializes every body of `org`.
    pub(super) fn build(org: Org, teams_without_users: bool) -> Result<Data, FakeError> {
        let listed_teams: Vec<Team> = org
            .teams
            .iter()
            .map(|t| listed_team(t, teams_without_users))
            .collect();
        let bodies = bodies(&org, &listed_teams)?;
        Ok(Data {
            org,
            listed_teams,
            bodies,
        })
    }

    /// Serializes every body again (after a change that may have touched anything).
    pub(super) fn rebuild(&mut self, teams_without_users: bool) -> Result<(), FakeError> {
        self.listed_teams = self
            .org
            .teams
            .iter()
            .map(|t| listed_team(t, teams_without_users))
            .collect();
        self.bodies = bodies(&self.org, &self.listed_teams)?;
        Ok(())
    }

    /// Serializes again the bodies `dirty` names.
    pub(super) fn refresh(
        &mut self,
        dirty: &Dirty,
        teams_without_users: bool,
    ) -> Result<(), FakeError> {
        let org = &self.org;
        let bodies = &mut self.bodies;
        match dirty {
            Dirty::Users => bodies.users = to_bytes("users", &org.members)?,
            Dirty::Team(id) => {
                let Some(at) = org.teams.iter().position(|t| t.id == *id) else {
                    return Ok(());
                };
                let team = &org.teams[at];
                bodies
                    .team
                    .insert(id.clone(), to_bytes("team", &full_team(team))?);
                if let Some(listed) = self.listed_teams.get_mut(at) {
                    *listed = listed_team(team, teams_without_users);
                }
                bodies.teams = to_bytes("teams", &self.listed_teams)?;
            }
            Dirty::ProjectPermissions(project) => {
                bodies
                    .project_permissions
                    .insert(project.clone(), project_permissions_body(org, project)?);
            }
            Dirty::TeamAssignmentsOrg => {
                bodies.team_assignments_org =
                    to_bytes("assignments", &org.team_role_assignments.organization)?;
            }
            Dirty::TeamAssignmentsProject(project) => {
                bodies.team_assignments_project.insert(
                    project.clone(),
                    team_assignments_project_body(org, project)?,
                );
            }
        }
        Ok(())
    }
}

/// One write request (any method but `GET` and `HEAD`) as the fake saw it: what was asked, how
/// it ended and whether the state changed. Served at `GET /_fake/writes` and by
/// [`RunningFake::writes`](super::RunningFake::writes), in arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WriteRecord {
    /// `PUT`, `POST`, `DELETE`, ...
    pub method: String,
    /// The URL path, percent-encoded as sent.
    pub path: String,
    /// The query string without `?` (empty when there is none).
    pub query: String,
    /// The request body (invalid UTF-8 replaced).
    pub body: String,
    /// How it ended: the HTTP status as text (`"200"`, `"400"`, `"429"`, ...), or the fault
    /// that ended it (`"drop"`, `"reset"`, `"truncate"`, `"cut"`).
    pub outcome: String,
    /// True when the write changed the state (a `drop` may have applied it; a status fault,
    /// `reset`, 401 or 429 never does).
    pub applied: bool,
}
