//! The env0 endpoints this client writes to: organization roles, project roles, team members
//! and team role assignments.
//!
//! Every write shares the reads' rate limit (counted per method + path) and bound on requests
//! in flight. A write is sent again only when env0 cannot have acted on it (429, a connection
//! that never opened); any other failure after it may have left is [`Error::Unconfirmed`], and
//! the caller reads the state back to learn whether it was applied. Bodies are exactly what
//! env0's own Terraform provider sends.

use serde::Serialize;

use crate::endpoints::Env0Client;
use crate::error::Error;
use crate::ids::{OrgId, ProjectId, TeamId, UserId};
use crate::models::{AssignmentScope, ProjectRole, Role};
use crate::transport::WriteBody;
use http::Method;

/// The body of `PUT /teams/{id}`: the whole team, members included.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TeamUpdate<'a> {
    name: &'a str,
    description: &'a str,
    user_ids: &'a [UserId],
}

/// The body of `POST /permissions/projects/{id}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProjectAssignment<'a> {
    user_id: &'a UserId,
    role: &'a str,
}

/// The body of `PUT /permissions/projects/{id}/users/{user}`.
#[derive(Serialize)]
struct ProjectRoleUpdate<'a> {
    role: &'a str,
}

/// The body of `PUT /roles/assignments/teams`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TeamRoleUpsert<'a> {
    team_id: &'a TeamId,
    role: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment_id: Option<&'a str>,
}

fn json(value: &impl Serialize) -> Result<WriteBody, Error> {
    serde_json::to_vec(value)
        .map(WriteBody::Json)
        .map_err(|e| Error::invalid_config(format!("cannot encode the request body: {e}")))
}

impl Env0Client {
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: WriteBody,
    ) -> Result<(), Error> {
        let endpoint = self.transport.endpoint_for(method, segments, query)?;
        self.transport.write(&endpoint, &body).await?;
        tracing::debug!(endpoint = endpoint.name(), "env0 write applied");
        Ok(())
    }

    /// `PUT /organizations/{org}/users/{user}/role` with the bare role as the body
    /// (`text/plain`): sets a member's organization role. Setting `User` is how env0 takes a
    /// role away. API keys' roles cannot be changed this way.
    pub async fn set_organization_role(
        &self,
        org: &OrgId,
        user: &UserId,
        role: &Role,
    ) -> Result<(), Error> {
        self.send(
            Method::PUT,
            &[
                "organizations",
                org.as_str(),
                "users",
                user.as_str(),
                "role",
            ],
            &[],
            WriteBody::Text(role.as_str().to_owned()),
        )
        .await
    }

    /// `POST /permissions/projects/{project}` `{userId, role}`: gives a user (or API key) who has
    /// no role on the project one. env0 allows one role per user per project; change an existing
    /// one with [`update_project_role`](Self::update_project_role).
    pub async fn assign_project_role(
        &self,
        project: &ProjectId,
        user: &UserId,
        role: &ProjectRole,
    ) -> Result<(), Error> {
        let body = json(&ProjectAssignment {
            user_id: user,
            role: role.as_str(),
        })?;
        self.send(
            Method::POST,
            &["permissions", "projects", project.as_str()],
            &[],
            body,
        )
        .await
    }

    /// `PUT /permissions/projects/{project}/users/{user}` `{role}`: changes the role a user
    /// holds on the project.
    pub async fn update_project_role(
        &self,
        project: &ProjectId,
        user: &UserId,
        role: &ProjectRole,
    ) -> Result<(), Error> {
        let body = json(&ProjectRoleUpdate {
            role: role.as_str(),
        })?;
        self.send(
            Method::PUT,
            &[
                "permissions",
                "projects",
                project.as_str(),
                "users",
                user.as_str(),
            ],
            &[],
            body,
        )
        .await
    }

    /// `DELETE /permissions/projects/{project}/users/{user}`: removes the user's role on the
    /// project.
    pub async fn remove_project_role(
        &self,
        project: &ProjectId,
        user: &UserId,
    ) -> Result<(), Error> {
        self.send(
            Method::DELETE,
            &[
                "permissions",
                "projects",
                project.as_str(),
                "users",
                user.as_str(),
            ],
            &[],
            WriteBody::Empty,
        )
        .await
    }

    /// `PUT /teams/{team}` `{name, description, userIds}`: **replaces** the team's name,
    /// description and whole member list. Read the team first and send every member that should
    /// stay.
    pub async fn update_team(
        &self,
        team: &TeamId,
        name: &str,
        description: &str,
        members: &[UserId],
    ) -> Result<(), Error> {
        let body = json(&TeamUpdate {
            name,
            description,
            user_ids: members,
        })?;
        self.send(Method::PUT, &["teams", team.as_str()], &[], body)
            .await
    }

    /// `PUT /roles/assignments/teams` `{teamId, role, <scope>Id}`: gives the team `role` at the
    /// scope, replacing the role it held there (one per team per scope). The role is an
    /// organization role for an organization scope and a project role otherwise.
    pub async fn set_team_role(
        &self,
        team: &TeamId,
        scope: &AssignmentScope,
        role: &str,
    ) -> Result<(), Error> {
        let (param, value) = scope.query();
        let body = json(&TeamRoleUpsert {
            team_id: team,
            role,
            organization_id: (param == "organizationId").then_some(value),
            project_id: (param == "projectId").then_some(value),
            environment_id: (param == "environmentId").then_some(value),
        })?;
        self.send(Method::PUT, &["roles", "assignments", "teams"], &[], body)
            .await
    }

    /// `DELETE /roles/assignments/teams?teamId=&<scope>Id=`: removes the team's role at the
    /// scope.
    pub async fn remove_team_role(
        &self,
        team: &TeamId,
        scope: &AssignmentScope,
    ) -> Result<(), Error> {
        let (param, value) = scope.query();
        self.send(
            Method::DELETE,
            &["roles", "assignments", "teams"],
            &[("teamId", team.as_str()), (param, value)],
            WriteBody::Empty,
        )
        .await
    }
}
