//! The env0 endpoints the fake serves, each answering with env0's wire shapes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Serialize;

use crate::config::Endpoint;
use crate::model::Team;

use super::{AppState, MAX_PAGE, json, lock, message, to_bytes};

pub(super) type AppStateRef = State<Arc<AppState>>;
pub(super) type Params = Query<HashMap<String, String>>;

pub(super) async fn organizations(State(st): AppStateRef) -> Response {
    if let Some(r) = st.forced(Endpoint::Organizations) {
        return r;
    }
    json(st.read().bodies.organizations.clone())
}

pub(super) async fn users(State(st): AppStateRef, Path(org): Path<String>) -> Response {
    if let Some(r) = st.forced(Endpoint::Users) {
        return r;
    }
    if let Some(r) = st.reject_org(Some(&org)) {
        return r;
    }
    json(st.read().bodies.users.clone())
}

pub(super) async fn api_keys(State(st): AppStateRef, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::ApiKeys) {
        return r;
    }
    if let Some(r) = st.reject_org(q.get("organizationId")) {
        return r;
    }
    json(st.read().bodies.api_keys.clone())
}

pub(super) async fn roles(State(st): AppStateRef, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::Roles) {
        return r;
    }
    if let Some(r) = st.reject_org(q.get("organizationId")) {
        return r;
    }
    json(st.read().bodies.roles.clone())
}

pub(super) async fn projects(State(st): AppStateRef, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::Projects) {
        return r;
    }
    if let Some(r) = st.reject_org(q.get("organizationId")) {
        return r;
    }
    json(st.read().bodies.projects.clone())
}

/// The opaque `nextPageKey`: base64 of a DynamoDB-style key naming the last team returned. It
/// holds `+`, `/` or `=` often enough to catch a client that does not URL-encode it.
pub(super) fn page_key(org_id: &str, team: &Team) -> String {
    let key = serde_json::json!({ "id": team.id, "organizationId": org_id });
    STANDARD.encode(key.to_string())
}

pub(super) fn page_start(listed_teams: &[Team], offset: &str) -> Option<usize> {
    let decoded = STANDARD.decode(offset).ok()?;
    let key: serde_json::Value = serde_json::from_slice(&decoded).ok()?;
    let id = key.get("id")?.as_str()?;
    listed_teams.iter().position(|t| t.id == id).map(|i| i + 1)
}

/// The paged teams answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope<'a> {
    teams: &'a [Team],
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_key: Option<String>,
}

pub(super) async fn teams(
    State(st): AppStateRef,
    Path(org): Path<String>,
    Query(q): Params,
) -> Response {
    if let Some(r) = st.forced(Endpoint::Teams) {
        return r;
    }
    if let Some(r) = st.reject_org(Some(&org)) {
        return r;
    }
    let name = q.get("name").filter(|n| !n.is_empty());
    let data = st.read();
    let Some(limit) = q.get("limit") else {
        // Legacy shape: a bare array of every team.
        if let Some(name) = name {
            let matching: Vec<&Team> = data
                .listed_teams
                .iter()
                .filter(|t| t.name.value() == Some(name))
                .collect();
            return match to_bytes("teams", &matching) {
                Ok(b) => json(b),
                Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
            };
        }
        return json(data.bodies.teams.clone());
    };
    let limit = match limit.parse::<usize>() {
        Ok(n) if n > 0 => n.min(MAX_PAGE),
        _ => return message(StatusCode::BAD_REQUEST, "limit must be a positive integer"),
    };
    let start = match q.get("offset").filter(|o| !o.is_empty()) {
        None => 0,
        Some(offset) => match page_start(&data.listed_teams, offset) {
            Some(i) => i,
            None => return message(StatusCode::BAD_REQUEST, "Invalid offset"),
        },
    };
    let rest = data.listed_teams.get(start..).unwrap_or_default();
    let page = rest.get(..limit).unwrap_or(rest);
    let next = (start + page.len() < data.listed_teams.len())
        .then(|| page.last().map(|t| page_key(&st.org_id, t)))
        .flatten();
    match to_bytes(
        "teams",
        &Envelope {
            teams: page,
            next_page_key: next,
        },
    ) {
        Ok(b) => json(b),
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

pub(super) async fn team(State(st): AppStateRef, Path(team): Path<String>) -> Response {
    if let Some(r) = st.forced(Endpoint::Team) {
        return r;
    }
    match st.read().bodies.team.get(&team) {
        Some(b) => json(b.clone()),
        None => message(StatusCode::NOT_FOUND, "Team not found"),
    }
}

pub(super) async fn project_permissions(
    State(st): AppStateRef,
    Path(project): Path<String>,
) -> Response {
    if let Some(r) = st.forced(Endpoint::ProjectPermissions) {
        return r;
    }
    match st.read().bodies.project_permissions.get(&project) {
        Some(b) => json(b.clone()),
        None => message(StatusCode::NOT_FOUND, "Project not found"),
    }
}

pub(super) async fn team_role_assignments(State(st): AppStateRef, Query(q): Params) -> Response {
    if let Some(r) = st.forced(Endpoint::TeamRoleAssignments) {
        return r;
    }
    let scopes: Vec<&str> = ["organizationId", "projectId", "environmentId"]
        .into_iter()
        .filter(|k| q.get(*k).is_some_and(|v| !v.is_empty()))
        .collect();
    match scopes.as_slice() {
        ["organizationId"] => st
            .reject_org(q.get("organizationId"))
            .unwrap_or_else(|| json(st.read().bodies.team_assignments_org.clone())),
        ["projectId"] => {
            let project = q.get("projectId").map(String::as_str).unwrap_or_default();
            match st.read().bodies.team_assignments_project.get(project) {
                Some(b) => json(b.clone()),
                None => message(StatusCode::NOT_FOUND, "Project not found"),
            }
        }
        // Environments are not modelled: none has team assignments.
        ["environmentId"] => json(Bytes::from_static(b"[]")),
        _ => message(
            StatusCode::BAD_REQUEST,
            "exactly one of organizationId, projectId or environmentId is required",
        ),
    }
}

pub(super) async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

pub(super) async fn stats(State(st): AppStateRef) -> Response {
    match to_bytes("stats", &st.stats.snapshot()) {
        Ok(b) => json(b),
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

pub(super) async fn writes_log(State(st): AppStateRef) -> Response {
    let records = lock(&st.writes).clone();
    match to_bytes("writes", &records) {
        Ok(b) => json(b),
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}
