//! Asking env0 for the access input: the team list (and `GET /teams/{id}` for teams listed
//! without members), the organization's team roles, the projects and two calls per project, as
//! many at once as the connector's concurrency allows. A 402 or 403 makes its part
//! [`Part::Missing`]; on one team's or one project's request while the others answer, only that
//! team's members or that project's list go (noted in [`AccessInput::refused`]). Any other
//! failure fails the fetch.

use std::sync::Arc;

use c1_sync::ConnectorError;
use env0_api::{
    AssignmentScope, CustomRole, Env0Client, OrgId, ProjectId, Team, TeamRoleAssignment,
};
use futures::{StreamExt, TryStreamExt, stream};

use super::{AccessInput, Assignment, CustomRoleInput, MissingPart, Part, ProjectInput, TeamInput};
use super::{PROJECT_TEAM_ROLES, PROJECT_USER_ROLES, TEAM_MEMBERS};
use crate::domain::MAX_TEXT_BYTES;

/// `text` cut to [`MAX_TEXT_BYTES`] at a character boundary: whatever env0 sends, what the
/// model keeps is bounded (the mapping cuts names and descriptions further, to the protocol's
/// limits).
fn bounded(mut text: String) -> String {
    c1_model::limits::truncate(&mut text, MAX_TEXT_BYTES);
    text
}

fn bounded_opt(text: Option<String>) -> Option<String> {
    text.map(bounded)
}
use crate::error::from_api;

/// Told how many projects' assignments have been read, of how many.
pub type ProjectProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// What to fetch, and how.
#[derive(Clone)]
pub(crate) struct FetchOptions {
    /// Leave projects out (no project request at all).
    pub(crate) skip_projects: bool,
    /// Requests issued at once for per-team and per-project calls (at least 1).
    pub(crate) concurrency: usize,
    /// Progress of the per-project calls.
    pub(crate) on_project: Option<ProjectProgress>,
}

/// The part, from env0's answer: 402/403 make it missing, other errors fail.
fn part<T>(
    answer: Result<T, env0_api::Error>,
    what: &'static str,
    endpoint: &str,
) -> Result<Part<T>, ConnectorError> {
    match answer {
        Ok(value) => Ok(Part::Synced(value)),
        Err(e) if e.is_access_denied() => Ok(Part::Missing(MissingPart {
            part: what,
            endpoint: endpoint.to_owned(),
            status: e.status().unwrap_or(403),
        })),
        Err(e) => Err(from_api(e)),
    }
}

/// The listed custom roles as input.
pub(crate) fn custom_roles_input(roles: &[CustomRole]) -> Vec<CustomRoleInput> {
    roles
        .iter()
        .map(|r| CustomRoleInput {
            id: r.id.as_str().to_owned(),
            name: bounded_opt(r.name.clone()),
            permissions: r.permissions.iter().cloned().map(bounded).collect(),
            is_default_role: r.is_default_role,
        })
        .collect()
}

/// The custom roles part when `GET /roles` answered `status` (402 or 403).
pub(crate) fn custom_roles_missing(status: u16) -> MissingPart {
    MissingPart {
        part: "custom roles",
        endpoint: "GET /roles".to_owned(),
        status,
    }
}

fn team_input(team: Team, members: Vec<String>) -> TeamInput {
    TeamInput {
        id: team.id.into_inner(),
        name: bounded_opt(team.name),
        description: bounded_opt(team.description),
        members,
    }
}

fn assignments(list: Vec<TeamRoleAssignment>) -> Vec<Assignment> {
    list.into_iter()
        .map(|a| Assignment {
            principal: a.team_id.into_inner(),
            role: a.role,
        })
        .collect()
}

/// What env0 answered for one listed team.
enum TeamAnswer {
    /// The team with its members.
    Team(TeamInput),
    /// `GET /teams/{id}` found no team: deleted while the sync read it.
    Gone,
    /// `GET /teams/{id}` answered 402 or 403: the team without its members, and why.
    Refused(TeamInput, MissingPart),
}

/// Teams with their members: from the list when it carries `users`, else from `GET /teams/{id}`
/// (a team gone by then is left out). A team whose `GET /teams/{id}` alone is refused keeps its
/// place without members, the refusal returned beside; when every team's is refused, the part
/// is missing.
async fn teams(
    client: &Env0Client,
    org: &OrgId,
    concurrency: usize,
) -> Result<(Part<Vec<TeamInput>>, Vec<MissingPart>), ConnectorError> {
    let listed = match part(
        client.all_teams(org).await,
        "teams",
        &format!("GET /teams/organizations/{org}"),
    )? {
        Part::Synced(listed) => listed,
        Part::Missing(missing) => return Ok((Part::Missing(missing), Vec::new())),
    };
    let total = listed.len();
    let answers: Vec<Result<TeamAnswer, ConnectorError>> = stream::iter(listed)
        .map(|team| async move {
            if let Some(users) = team.users.clone() {
                let members = users.into_iter().map(|u| u.user_id.into_inner()).collect();
                return Ok(TeamAnswer::Team(team_input(team, members)));
            }
            match client.team(&team.id).await {
                Ok(full) => {
                    let members = full
                        .users
                        .unwrap_or_default()
                        .into_iter()
                        .map(|u| u.user_id.into_inner())
                        .collect();
                    Ok(TeamAnswer::Team(team_input(team, members)))
                }
                Err(env0_api::Error::NotFound { .. }) => {
                    tracing::info!(team = %team.id, "team deleted while the sync read it; left out");
                    Ok(TeamAnswer::Gone)
                }
                Err(e) if e.is_access_denied() => {
                    let refused = MissingPart {
                        part: TEAM_MEMBERS,
                        endpoint: format!("GET /teams/{}", team.id),
                        status: e.status().unwrap_or(403),
                    };
                    Ok(TeamAnswer::Refused(team_input(team, Vec::new()), refused))
                }
                Err(e) => Err(from_api(e)),
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut teams = Vec::with_capacity(answers.len());
    let mut refused = Vec::new();
    for answer in answers {
        match answer? {
            TeamAnswer::Team(team) => teams.push(team),
            TeamAnswer::Gone => {}
            TeamAnswer::Refused(team, why) => {
                teams.push(team);
                refused.push(why);
            }
        }
    }
    if let Some(first) = refused.first().filter(|_| refused.len() == total) {
        return Ok((
            Part::Missing(MissingPart {
                part: "teams",
                endpoint: "GET /teams/{id}".to_owned(),
                status: first.status,
            }),
            Vec::new(),
        ));
    }
    Ok((Part::Synced(teams), refused))
}

/// A per-project part: the projects' answers, or missing when env0 refused every project's
/// request (the plan or the key lacks it for all). Refusals of some projects only are moved to
/// `refused`.
fn per_project(
    answered: Vec<(String, Vec<Assignment>)>,
    mut refusals: Vec<MissingPart>,
    total: usize,
    everywhere: impl FnOnce(&MissingPart) -> MissingPart,
    refused: &mut Vec<MissingPart>,
) -> Part<Vec<(String, Vec<Assignment>)>> {
    match refusals.first() {
        Some(first) if refusals.len() == total => Part::Missing(everywhere(first)),
        _ => {
            refused.append(&mut refusals);
            Part::Synced(answered)
        }
    }
}

/// One project's two lists.
type ProjectAnswers = (
    Result<Vec<Assignment>, env0_api::Error>,
    Result<Vec<Assignment>, env0_api::Error>,
);

async fn project_assignments(client: &Env0Client, project: &ProjectId) -> ProjectAnswers {
    let users = async {
        match client.project_user_permissions(project).await {
            Ok(list) => Ok(list
                .into_iter()
                .map(|p| Assignment {
                    principal: p.user_id.into_inner(),
                    role: p.role.map(|r| r.as_str().to_owned()),
                })
                .collect()),
            // The project was deleted while the sync read it: it has no assignments.
            Err(env0_api::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    };
    let teams = async {
        match client
            .team_role_assignments(&AssignmentScope::Project(project.clone()))
            .await
        {
            Ok(list) => Ok(assignments(list)),
            Err(env0_api::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    };
    futures::join!(users, teams)
}

/// Everything but the custom roles (the directory asks for those, and they are set afterwards).
pub(crate) async fn fetch(
    client: &Env0Client,
    org: &OrgId,
    options: &FetchOptions,
) -> Result<AccessInput, ConnectorError> {
    let concurrency = options.concurrency.max(1);
    let org_scope = AssignmentScope::Organization(org.clone());
    let ((teams, refused), org_team_roles, projects) = futures::try_join!(
        teams(client, org, concurrency),
        async {
            part(
                client
                    .team_role_assignments(&org_scope)
                    .await
                    .map(assignments),
                "team roles on the organization",
                "GET /roles/assignments/teams",
            )
        },
        async {
            if options.skip_projects {
                return Ok(None);
            }
            part(client.projects(org).await, "projects", "GET /projects").map(Some)
        }
    )?;

    let mut input = AccessInput {
        custom_roles: Part::Synced(Vec::new()),
        teams,
        org_team_roles,
        projects: None,
        project_user_roles: Part::Synced(Vec::new()),
        project_team_roles: Part::Synced(Vec::new()),
        refused,
    };
    let listed = match projects {
        None => return Ok(input),
        Some(Part::Missing(missing)) => {
            input.projects = Some(Part::Missing(missing));
            return Ok(input);
        }
        Some(Part::Synced(listed)) => listed,
    };
    let total = listed.len();
    let ids: Vec<ProjectId> = listed.iter().map(|p| p.id.clone()).collect();
    let progress = options.on_project.clone();
    if let Some(report) = &progress {
        report(0, total);
    }
    let mut done = 0;
    let answers: Vec<(ProjectId, ProjectAnswers)> = stream::iter(ids)
        .map(|id| async move {
            let answers = project_assignments(client, &id).await;
            Ok::<_, ConnectorError>((id, answers))
        })
        .buffered(concurrency)
        .inspect_ok(|_| {
            done += 1;
            if let Some(report) = &progress {
                report(done, total);
            }
        })
        .try_collect()
        .await?;

    let mut users = Vec::with_capacity(total);
    let mut teams = Vec::with_capacity(total);
    let (mut users_refused, mut teams_refused) = (Vec::new(), Vec::new());
    for (id, (user_answer, team_answer)) in answers {
        let path = format!("GET /permissions/projects/{id}");
        match part(user_answer, PROJECT_USER_ROLES, &path)? {
            Part::Synced(list) => users.push((id.as_str().to_owned(), list)),
            Part::Missing(missing) => users_refused.push(missing),
        }
        let path = format!("GET /roles/assignments/teams?projectId={id}");
        match part(team_answer, PROJECT_TEAM_ROLES, &path)? {
            Part::Synced(list) => teams.push((id.into_inner(), list)),
            Part::Missing(missing) => teams_refused.push(missing),
        }
    }
    input.project_user_roles = per_project(
        users,
        users_refused,
        total,
        Clone::clone,
        &mut input.refused,
    );
    input.project_team_roles = per_project(
        teams,
        teams_refused,
        total,
        |first| MissingPart {
            endpoint: "GET /roles/assignments/teams".to_owned(),
            ..first.clone()
        },
        &mut input.refused,
    );
    input.projects = Some(Part::Synced(
        listed
            .into_iter()
            .map(|p| ProjectInput {
                id: p.id.into_inner(),
                name: bounded_opt(p.name),
                description: bounded_opt(p.description),
                parent: p.parent_project_id.map(ProjectId::into_inner),
                hierarchy: bounded_opt(p.hierarchy),
                archived: p.is_archived.unwrap_or(false),
                tags: p.tags.into_iter().map(bounded).collect(),
            })
            .collect(),
    ));
    Ok(input)
}
