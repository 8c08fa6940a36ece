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
use crate::transport::{Endpoint, WriteBody};
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

/// One write env0's API takes, described without sending it: [`Env0Client::write`] sends it,
/// [`Env0Client::describe`] shows it exactly as it would go out. The methods of the same names
/// on [`Env0Client`] send one each.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Write<'a> {
    /// `PUT /organizations/{org}/users/{user}/role` with the bare role as the body
    /// (`text/plain`): sets a member's organization role.
    SetOrganizationRole {
        /// The organization.
        org: &'a OrgId,
        /// The member.
        user: &'a UserId,
        /// The role.
        role: &'a Role,
    },
    /// `POST /permissions/projects/{project}` `{userId, role}`.
    AssignProjectRole {
        /// The project.
        project: &'a ProjectId,
        /// The user or API key.
        user: &'a UserId,
        /// The role.
        role: &'a ProjectRole,
    },
    /// `PUT /permissions/projects/{project}/users/{user}` `{role}`.
    UpdateProjectRole {
        /// The project.
        project: &'a ProjectId,
        /// The user or API key.
        user: &'a UserId,
        /// The new role.
        role: &'a ProjectRole,
    },
    /// `DELETE /permissions/projects/{project}/users/{user}`.
    RemoveProjectRole {
        /// The project.
        project: &'a ProjectId,
        /// The user or API key.
        user: &'a UserId,
    },
    /// `PUT /teams/{team}` `{name, description, userIds}`.
    UpdateTeam {
        /// The team.
        team: &'a TeamId,
        /// Its name.
        name: &'a str,
        /// Its description.
        description: &'a str,
        /// Every member it is to have.
        members: &'a [UserId],
    },
    /// `PUT /roles/assignments/teams` `{teamId, role, <scope>Id}`.
    SetTeamRole {
        /// The team.
        team: &'a TeamId,
        /// Where.
        scope: AssignmentScope,
        /// The role.
        role: &'a str,
    },
    /// `DELETE /roles/assignments/teams?teamId=&<scope>Id=`.
    RemoveTeamRole {
        /// The team.
        team: &'a TeamId,
        /// Where.
        scope: AssignmentScope,
    },
}

/// A write's method, path segments, query and body.
struct Request<'a> {
    method: Method,
    segments: Vec<&'a str>,
    query: Vec<(&'a str, &'a str)>,
    body: WriteBody,
}

impl<'a> Request<'a> {
    /// A request without a query.
    fn new(method: Method, segments: Vec<&'a str>, body: WriteBody) -> Self {
        Request {
            method,
            segments,
            query: Vec::new(),
            body,
        }
    }
}

/// `permissions/projects/{project}/users/{user}`.
fn project_user<'a>(project: &'a ProjectId, user: &'a UserId) -> Vec<&'a str> {
    vec![
        "permissions",
        "projects",
        project.as_str(),
        "users",
        user.as_str(),
    ]
}

impl Write<'_> {
    fn request(&self) -> Result<Request<'_>, Error> {
        Ok(match self {
            Write::SetOrganizationRole { org, user, role } => Request::new(
                Method::PUT,
                vec![
                    "organizations",
                    org.as_str(),
                    "users",
                    user.as_str(),
                    "role",
                ],
                WriteBody::Text(role.as_str().to_owned()),
            ),
            Write::AssignProjectRole {
                project,
                user,
                role,
            } => Request::new(
                Method::POST,
                vec!["permissions", "projects", project.as_str()],
                json(&ProjectAssignment {
                    user_id: user,
                    role: role.as_str(),
                })?,
            ),
            Write::UpdateProjectRole {
                project,
                user,
                role,
            } => Request::new(
                Method::PUT,
                project_user(project, user),
                json(&ProjectRoleUpdate {
                    role: role.as_str(),
                })?,
            ),
            Write::RemoveProjectRole { project, user } => Request::new(
                Method::DELETE,
                project_user(project, user),
                WriteBody::Empty,
            ),
            Write::UpdateTeam {
                team,
                name,
                description,
                members,
            } => Request::new(
                Method::PUT,
                vec!["teams", team.as_str()],
                json(&TeamUpdate {
                    name,
                    description,
                    user_ids: members,
                })?,
            ),
            Write::SetTeamRole { team, scope, role } => {
                let (param, value) = scope.query();
                Request::new(
                    Method::PUT,
                    vec!["roles", "assignments", "teams"],
                    json(&TeamRoleUpsert {
                        team_id: team,
                        role,
                        organization_id: (param == "organizationId").then_some(value),
                        project_id: (param == "projectId").then_some(value),
                        environment_id: (param == "environmentId").then_some(value),
                    })?,
                )
            }
            Write::RemoveTeamRole { team, scope } => Request {
                query: vec![("teamId", team.as_str()), scope.query()],
                ..Request::new(
                    Method::DELETE,
                    vec!["roles", "assignments", "teams"],
                    WriteBody::Empty,
                )
            },
        })
    }
}

impl Env0Client {
    /// The endpoint and body of `write`.
    fn prepare(&self, write: &Write<'_>) -> Result<(Endpoint, WriteBody), Error> {
        let request = write.request()?;
        let endpoint =
            self.transport
                .endpoint_for(request.method, &request.segments, &request.query)?;
        Ok((endpoint, request.body))
    }

    /// Sends `write` (see each variant).
    pub async fn write(&self, write: &Write<'_>) -> Result<(), Error> {
        let (endpoint, body) = self.prepare(write)?;
        self.transport.write(&endpoint, &body).await?;
        tracing::debug!(endpoint = endpoint.name(), "env0 write applied");
        Ok(())
    }

    /// `write` exactly as [`write`](Self::write) would send it: the method, the path as sent
    /// (percent-encoded, with the query), then a space and the body when there is one (the
    /// bare text, or the JSON as sent). Nothing is sent.
    pub fn describe(&self, write: &Write<'_>) -> Result<String, Error> {
        let (endpoint, body) = self.prepare(write)?;
        let mut line = endpoint.name().to_owned();
        match &body {
            WriteBody::Empty => {}
            WriteBody::Text(text) => {
                line.push(' ');
                line.push_str(text);
            }
            WriteBody::Json(bytes) => {
                line.push(' ');
                line.push_str(&String::from_utf8_lossy(bytes));
            }
        }
        Ok(line)
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
        self.write(&Write::SetOrganizationRole { org, user, role })
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
        self.write(&Write::AssignProjectRole {
            project,
            user,
            role,
        })
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
        self.write(&Write::UpdateProjectRole {
            project,
            user,
            role,
        })
        .await
    }

    /// `DELETE /permissions/projects/{project}/users/{user}`: removes the user's role on the
    /// project.
    pub async fn remove_project_role(
        &self,
        project: &ProjectId,
        user: &UserId,
    ) -> Result<(), Error> {
        self.write(&Write::RemoveProjectRole { project, user })
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
        self.write(&Write::UpdateTeam {
            team,
            name,
            description,
            members,
        })
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
        self.write(&Write::SetTeamRole {
            team,
            scope: scope.clone(),
            role,
        })
        .await
    }

    /// `DELETE /roles/assignments/teams?teamId=&<scope>Id=`: removes the team's role at the
    /// scope.
    pub async fn remove_team_role(
        &self,
        team: &TeamId,
        scope: &AssignmentScope,
    ) -> Result<(), Error> {
        self.write(&Write::RemoveTeamRole {
            team,
            scope: scope.clone(),
        })
        .await
    }
}
