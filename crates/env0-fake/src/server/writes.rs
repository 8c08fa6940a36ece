//! env0's write endpoints: organization roles, project permissions, team members and team
//! roles. Each validates, then changes the organization under the write lock, marks its response
//! [`Applied`] and serializes again the bodies it changed, so every later read shows it.

use std::collections::HashSet;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Map;

use crate::model::{Maybe, Org, ProjectPermission, TeamRoleAssignment, User};

use super::routes::{AppStateRef, Params};
use super::state::{Dirty, full_team};
use super::{AppState, json, lock, message, to_bytes};

/// Marks a response whose request changed the state (read by the gate for the write record and
/// the `drop` fault).
#[derive(Debug, Clone, Copy)]
pub(super) struct Applied;

/// The built-in organization roles.
const ORG_ROLES: [&str; 2] = ["Admin", "User"];
/// The built-in project (and environment) roles.
const PROJECT_ROLES: [&str; 4] = ["Admin", "Deployer", "Planner", "Viewer"];

/// A refused write: its status and message (nothing changed).
pub(super) struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        message(self.0, &self.1)
    }
}

fn refuse(status: StatusCode, text: &str) -> Refused {
    Refused(status, text.to_owned())
}

fn bad(text: &str) -> Refused {
    refuse(StatusCode::BAD_REQUEST, text)
}

fn not_found(text: &str) -> Refused {
    refuse(StatusCode::NOT_FOUND, text)
}

/// `200` with an empty body.
fn empty() -> Response {
    StatusCode::OK.into_response()
}

/// `200` with `value` as JSON.
fn reply<T: serde::Serialize>(what: &'static str, value: &T) -> Response {
    match to_bytes(what, value) {
        Ok(b) => json(b),
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

/// Runs `change` on the organization under the write lock. `change` either refuses (nothing
/// changed) or says what it changed and what to answer; then the test hook, if one is waiting,
/// runs, and the changed bodies (all of them after the hook) are serialized again.
fn apply(
    st: &AppState,
    change: impl FnOnce(&mut Org) -> Result<(Dirty, Response), Refused>,
) -> Response {
    let mut data = st.write();
    let (dirty, mut resp) = match change(&mut data.org) {
        Ok(done) => done,
        Err(refused) => return refused.into_response(),
    };
    let hook = lock(&st.hook).take();
    let refreshed = match hook {
        Some(f) => {
            f(&mut data.org);
            data.rebuild(st.teams_without_users)
        }
        None => data.refresh(&dirty, st.teams_without_users),
    };
    drop(data);
    if let Err(err) = refreshed {
        tracing::error!(%err, "cannot serialize the changed state");
        resp = message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    resp.extensions_mut().insert(Applied);
    resp
}

/// A JSON request body, refused with one clear line when it is not JSON of the expected shape.
fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Refused> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if !media_type.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
        return Err(bad(
            "the body must be JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(body).map_err(|e| bad(&format!("invalid body: {e}")))
}

fn is_org_role(org: &Org, role: &str) -> bool {
    ORG_ROLES.contains(&role) || org.role(role).is_some()
}

fn is_project_role(org: &Org, role: &str) -> bool {
    PROJECT_ROLES.contains(&role) || org.role(role).is_some()
}

fn has_project(org: &Org, project: &str) -> bool {
    org.projects.iter().any(|p| p.id == project)
}

fn is_principal(org: &Org, id: &str) -> bool {
    org.member(id).is_some() || org.api_key(id).is_some()
}

fn unknown_role(role: &str) -> Refused {
    bad(&format!("Invalid role `{role}`"))
}

/// The raw role text, or the string inside a JSON-quoted one (`"Admin"`).
fn unquote(text: &str) -> String {
    if text.len() >= 2
        && text.starts_with('"')
        && text.ends_with('"')
        && let Ok(inner) = serde_json::from_str::<String>(text)
    {
        return inner;
    }
    text.to_owned()
}

/// `PUT /organizations/{org}/users/{user}/role` with the role as raw text.
pub(super) async fn set_member_role(
    State(st): AppStateRef,
    Path((org_id, user)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Some(r) = st.reject_org(Some(&org_id)) {
        return r;
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return bad("the role must be UTF-8 text").into_response();
    };
    let role = unquote(text);
    apply(&st, |org| {
        if org.api_key(&user).is_some() {
            return Err(not_found(
                "User not found in organization (an API key's role cannot be changed here)",
            ));
        }
        if org.member(&user).is_none() {
            return Err(not_found("User not found in organization"));
        }
        if !is_org_role(org, &role) {
            return Err(unknown_role(&role));
        }
        for m in org.members.iter_mut().filter(|m| m.user.user_id == user) {
            m.role = Maybe::text(role.clone());
        }
        Ok((Dirty::Users, empty()))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewPermission {
    user_id: String,
    role: String,
}

#[derive(Deserialize)]
pub(super) struct RoleBody {
    role: String,
}

/// `POST /permissions/projects/{project}` with `{"userId", "role"}`.
pub(super) async fn add_project_permission(
    State(st): AppStateRef,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: NewPermission = match parse(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    apply(&st, |org| {
        if !has_project(org, &project) {
            return Err(not_found("Project not found"));
        }
        if !is_principal(org, &req.user_id) {
            return Err(bad(&format!(
                "User {} is not a member of the organization",
                req.user_id
            )));
        }
        if !is_project_role(org, &req.role) {
            return Err(unknown_role(&req.role));
        }
        let perms = org.project_permissions.entry(project.clone()).or_default();
        if perms.iter().any(|p| p.user_id == req.user_id) {
            return Err(bad("User already assigned to project"));
        }
        let perm = ProjectPermission {
            id: st.fresh_id(),
            user_id: req.user_id,
            role: req.role,
            extra: Map::new(),
        };
        let resp = reply("permission", &perm);
        perms.push(perm);
        Ok((Dirty::ProjectPermissions(project), resp))
    })
}

/// `PUT /permissions/projects/{project}/users/{user}` with `{"role"}`.
pub(super) async fn set_project_permission(
    State(st): AppStateRef,
    Path((project, user)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: RoleBody = match parse(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    apply(&st, |org| {
        if !has_project(org, &project) {
            return Err(not_found("Project not found"));
        }
        if !is_project_role(org, &req.role) {
            return Err(unknown_role(&req.role));
        }
        let Some(perm) = org
            .project_permissions
            .get_mut(&project)
            .and_then(|perms| perms.iter_mut().find(|p| p.user_id == user))
        else {
            return Err(not_found("User is not assigned to project"));
        };
        perm.role = req.role;
        let resp = reply("permission", perm);
        Ok((Dirty::ProjectPermissions(project), resp))
    })
}

/// `DELETE /permissions/projects/{project}/users/{user}`.
pub(super) async fn remove_project_permission(
    State(st): AppStateRef,
    Path((project, user)): Path<(String, String)>,
) -> Response {
    apply(&st, |org| {
        if !has_project(org, &project) {
            return Err(not_found("Project not found"));
        }
        let perms = org.project_permissions.entry(project.clone()).or_default();
        let before = perms.len();
        perms.retain(|p| p.user_id != user);
        if perms.len() == before {
            return Err(not_found("User is not assigned to project"));
        }
        Ok((Dirty::ProjectPermissions(project), empty()))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TeamUpdate {
    name: String,
    #[serde(default)]
    description: Maybe<String>,
    user_ids: Vec<String>,
}

/// `PUT /teams/{team}` with `{"name", "description", "userIds"}`: replaces the name, the
/// description (kept when the key is absent) and the whole member list.
pub(super) async fn update_team(
    State(st): AppStateRef,
    Path(team_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: TeamUpdate = match parse(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    apply(&st, |org| {
        let Some(at) = org.teams.iter().position(|t| t.id == team_id) else {
            return Err(not_found("Team not found"));
        };
        let current = org.teams[at].users.value().cloned().unwrap_or_default();
        let mut seen = HashSet::new();
        let mut users = Vec::new();
        for id in req.user_ids.iter().filter(|id| seen.insert(id.as_str())) {
            users.push(team_member(org, &current, id)?);
        }
        let team = &mut org.teams[at];
        team.name = Maybe::text(req.name);
        if !req.description.is_missing() {
            team.description = req.description;
        }
        team.users = Maybe::Value(users);
        let resp = reply("team", &full_team(team));
        Ok((Dirty::Team(team_id), resp))
    })
}

/// The team list entry for `id`, the way the generator writes them: an API key by id alone, a
/// member with id, email and name; an id the team already lists (someone who has left the
/// organization since) keeps its entry. Anyone else is refused.
fn team_member(org: &Org, current: &[User], id: &str) -> Result<User, Refused> {
    if org.api_key(id).is_some() {
        return Ok(User::new(id));
    }
    if let Some(m) = org.member(id) {
        let mut user = User::new(id);
        user.email = m.user.email.clone();
        user.name = m.user.name.clone();
        return Ok(user);
    }
    current
        .iter()
        .find(|u| u.user_id == id)
        .cloned()
        .ok_or_else(|| bad(&format!("User {id} is not a member of the organization")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TeamRoleBody {
    team_id: String,
    role: String,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    organization_id: Option<String>,
    #[serde(default)]
    environment_id: Option<String>,
}

/// A team role's scope.
enum Scope {
    Organization,
    Project(String),
}

fn given(v: Option<&String>) -> Option<&String> {
    v.filter(|s| !s.is_empty())
}

/// The one scope of a team role request: exactly one of `organizationId`, `projectId` or
/// `environmentId`, this organization's, an existing project (environments are not modelled).
fn scope(
    st: &AppState,
    project: Option<&String>,
    organization: Option<&String>,
    environment: Option<&String>,
) -> Result<Scope, Refused> {
    match (given(project), given(organization), given(environment)) {
        (None, Some(org), None) if *org == st.org_id => Ok(Scope::Organization),
        (None, Some(_), None) => Err(refuse(
            StatusCode::FORBIDDEN,
            "You do not have access to this organization",
        )),
        (Some(p), None, None) => Ok(Scope::Project(p.clone())),
        (None, None, Some(_)) => Err(not_found("Environment not found")),
        _ => Err(bad(
            "exactly one of organizationId, projectId or environmentId is required",
        )),
    }
}

/// The assignments of `scope`, with what to serialize again after changing them, or 404 for an
/// unknown project.
fn assignments<'a>(
    org: &'a mut Org,
    scope: &Scope,
) -> Result<(&'a mut Vec<TeamRoleAssignment>, Dirty), Refused> {
    match scope {
        Scope::Organization => Ok((
            &mut org.team_role_assignments.organization,
            Dirty::TeamAssignmentsOrg,
        )),
        Scope::Project(p) => {
            if !has_project(org, p) {
                return Err(not_found("Project not found"));
            }
            let list = org
                .team_role_assignments
                .projects
                .entry(p.clone())
                .or_default();
            Ok((list, Dirty::TeamAssignmentsProject(p.clone())))
        }
    }
}

/// `PUT /roles/assignments/teams` with `{"teamId", "role"}` and one scope: gives the team that
/// role there, replacing the one it had.
pub(super) async fn set_team_role(
    State(st): AppStateRef,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: TeamRoleBody = match parse(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if req.team_id.is_empty() {
        return bad("teamId is required").into_response();
    }
    let scope = match scope(
        &st,
        req.project_id.as_ref(),
        req.organization_id.as_ref(),
        req.environment_id.as_ref(),
    ) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    apply(&st, |org| {
        if !org.teams.iter().any(|t| t.id == req.team_id) {
            return Err(not_found("Team not found"));
        }
        let valid = match scope {
            Scope::Organization => is_org_role(org, &req.role),
            Scope::Project(_) => is_project_role(org, &req.role),
        };
        if !valid {
            return Err(unknown_role(&req.role));
        }
        let (list, dirty) = assignments(org, &scope)?;
        let assignment = if let Some(existing) = list.iter_mut().find(|a| a.team_id == req.team_id)
        {
            existing.role = req.role;
            existing.clone()
        } else {
            let created = TeamRoleAssignment {
                id: st.fresh_id(),
                team_id: req.team_id,
                role: req.role,
                extra: Map::new(),
            };
            list.push(created.clone());
            created
        };
        Ok((dirty, reply("assignment", &assignment)))
    })
}

/// `DELETE /roles/assignments/teams?teamId=&projectId=|organizationId=|environmentId=`.
pub(super) async fn delete_team_role(State(st): AppStateRef, Query(q): Params) -> Response {
    let Some(team_id) = q.get("teamId").filter(|t| !t.is_empty()).cloned() else {
        return bad("teamId is required").into_response();
    };
    let scope = match scope(
        &st,
        q.get("projectId"),
        q.get("organizationId"),
        q.get("environmentId"),
    ) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    apply(&st, |org| {
        let (list, dirty) = assignments(org, &scope)?;
        let before = list.len();
        list.retain(|a| a.team_id != team_id);
        if list.len() == before {
            return Err(not_found("Team role assignment not found"));
        }
        Ok((dirty, empty()))
    })
}
