//! [`Env0Connector::check_access`]: what the API key can see, part by part, for the CLI's
//! `validate` command — one request per part (and, with a project, its two assignment lists).

use c1_sync::ConnectorError;
use env0_api::AssignmentScope;
use serde::Serialize;

use crate::connector::Env0Connector;
use crate::error::from_api;

impl Env0Connector {
    /// What the API key can see, for the CLI's `validate` command.
    ///
    /// Fails like [`Connector::validate`](c1_sync::Connector::validate) when the organization is
    /// not visible or its users cannot be listed. Every other part answering 402/403 is reported,
    /// not failed: see [`AccessReport::can_sync`]. Other env0 errors fail (transient ones as
    /// transient).
    pub async fn check_access(&self) -> Result<AccessReport, ConnectorError> {
        let session = &self.session;
        let client = &session.client;
        let org = &session.org;
        let (organization_name, organizations_visible) = session.check_organization().await?;
        let users_visible = session.fetch_members().await?.len();
        let org_scope = AssignmentScope::Organization(org.clone());
        let (api_keys, custom_roles, teams, team_roles) = futures::join!(
            client.api_keys(org),
            client.custom_roles(org),
            client.teams_page(org, None),
            client.team_role_assignments(&org_scope),
        );
        let mut report = AccessReport {
            organization_id: org.to_string(),
            organization_name,
            organizations_visible,
            users_visible,
            api_keys: Visibility::of(api_keys.map(|l| l.len()))?,
            custom_roles: Visibility::of(custom_roles.map(|l| l.len()))?,
            teams: Visibility::of(teams.map(|page| page.teams.len()))?,
            team_roles: Visibility::of(team_roles.map(|l| l.len()))?,
            projects: None,
            project_user_roles: None,
            project_team_roles: None,
        };
        if session.fetch.skip_projects {
            return Ok(report);
        }
        let projects = client.projects(org).await;
        let first = projects
            .as_ref()
            .ok()
            .and_then(|p| p.first())
            .map(|p| p.id.clone());
        report.projects = Some(Visibility::of(projects.map(|l| l.len()))?);
        if let Some(project) = first {
            let scope = AssignmentScope::Project(project.clone());
            let (users, teams) = futures::join!(
                client.project_user_permissions(&project),
                client.team_role_assignments(&scope),
            );
            report.project_user_roles = Some(Visibility::of(users.map(|l| l.len()))?);
            report.project_team_roles = Some(Visibility::of(teams.map(|l| l.len()))?);
        }
        Ok(report)
    }
}

/// What the API key can see in the organization (the CLI's `validate` command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AccessReport {
    /// The configured organization.
    pub organization_id: String,
    /// Its name, when env0 sent one.
    pub organization_name: Option<String>,
    /// How many organizations the key sees.
    pub organizations_visible: usize,
    /// How many members `GET /organizations/{org}/users` lists.
    pub users_visible: usize,
    /// Whether `GET /api-keys` answers, and how many keys.
    pub api_keys: Visibility,
    /// Whether `GET /roles` answers, and how many custom roles.
    pub custom_roles: Visibility,
    /// Whether the team list answers, and how many teams its first page holds.
    pub teams: Visibility,
    /// Whether the organization's team roles answer, and how many.
    pub team_roles: Visibility,
    /// Whether `GET /projects` answers, and how many projects; `None` when projects are skipped.
    pub projects: Option<Visibility>,
    /// Whether the first project's user roles answer (and how many it has); `None` without a
    /// project.
    pub project_user_roles: Option<Visibility>,
    /// Whether the first project's team roles answer (and how many it has); `None` without a
    /// project.
    pub project_team_roles: Option<Visibility>,
}

impl AccessReport {
    /// Whether a sync can run: it needs the API key list. Every other part is optional: a sync
    /// without it warns once and syncs the rest.
    pub fn can_sync(&self) -> bool {
        matches!(self.api_keys, Visibility::Visible { .. })
    }
}

/// Whether an endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Visibility {
    /// It answered with `count` items.
    Visible {
        /// Items listed.
        count: usize,
    },
    /// It answered 402 (not in plan) or 403 (permission missing).
    Denied {
        /// 402 or 403.
        status: u16,
        /// env0's error, as one line.
        message: String,
    },
}

impl Visibility {
    /// `Visible` with the count, `Denied` for 402/403, the error otherwise.
    fn of(answer: Result<usize, env0_api::Error>) -> Result<Visibility, ConnectorError> {
        match answer {
            Ok(count) => Ok(Visibility::Visible { count }),
            Err(error) if error.is_access_denied() => Ok(Visibility::Denied {
                status: error.status().unwrap_or(403),
                message: error.to_string(),
            }),
            Err(error) => Err(from_api(error)),
        }
    }
}
