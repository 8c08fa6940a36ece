//! `validate`: checks the credentials and the access to the organization, then prints the
//! organization's name and what a sync can read.

use std::fmt::Write as _;
use std::io::Write as _;

use env0_connector::{AccessReport, ConnectorOptions, Env0Connector, Visibility};

use crate::commands::{client, connector_failure, sync::runtime};
use crate::exit::{ExitKind, Failure};
use crate::settings::Settings;

fn visibility(v: &Visibility, what: &str, consequence: &str) -> String {
    match v {
        Visibility::Visible { count } => format!("{count} visible"),
        Visibility::Denied { status, .. } => {
            format!("not visible ({status}); {what}: {consequence}")
        }
        _ => "unknown".to_owned(),
    }
}

/// The line of a part that may be missing: what a sync then leaves out.
fn part(v: Option<&Visibility>, what: &str, consequence: &str, absent: &str) -> String {
    v.map_or_else(|| absent.to_owned(), |v| visibility(v, what, consequence))
}

/// The text `validate` prints.
pub(crate) fn render(report: &AccessReport) -> String {
    let name = report.organization_name.as_deref().unwrap_or("(no name)");
    let verdict = if report.can_sync() {
        "ok: a sync can run"
    } else {
        "a sync would fail: the API key cannot list the organization's API keys"
    };
    let lines = [
        (
            "organization",
            format!("{name} ({})", report.organization_id),
        ),
        ("members", format!("{} visible", report.users_visible)),
        (
            "api keys",
            visibility(
                &report.api_keys,
                "API keys",
                "a sync cannot tell them apart from people",
            ),
        ),
        (
            "custom roles",
            visibility(
                &report.custom_roles,
                "custom roles",
                "they are synced by id, without names",
            ),
        ),
        (
            "teams",
            visibility(
                &report.teams,
                "teams",
                "a sync leaves teams and their grants out",
            ),
        ),
        (
            "team roles",
            visibility(
                &report.team_roles,
                "organization roles of teams",
                "a sync leaves them out",
            ),
        ),
        (
            "projects",
            part(
                report.projects.as_ref(),
                "projects",
                "a sync leaves projects out",
                "skipped (--skip-projects)",
            ),
        ),
        (
            "project users",
            part(
                report.project_user_roles.as_ref(),
                "users' roles on projects",
                "a sync leaves them out",
                "no project to ask",
            ),
        ),
        (
            "project teams",
            part(
                report.project_team_roles.as_ref(),
                "teams' roles on projects",
                "a sync leaves them out",
                "no project to ask",
            ),
        ),
        ("result", verdict.to_owned()),
    ];
    let mut out = String::new();
    for (label, text) in lines {
        let _ = writeln!(out, "{label:<15}{text}");
    }
    out
}

/// Runs `validate`.
pub(crate) fn run(settings: &mut Settings) -> Result<(), Failure> {
    let credentials = settings.credentials()?;
    for warning in settings.take_warnings() {
        tracing::warn!("{warning}");
    }
    let client = client(&credentials, settings, None)?;
    let connector = Env0Connector::with_options(
        client,
        env0_api::OrgId::new(credentials.organization_id.clone()),
        ConnectorOptions::default().skip_projects(settings.skip_projects.value),
    );
    let report = runtime()?
        .block_on(connector.check_access())
        .map_err(|e| connector_failure(&e))?;
    let text = render(&report);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))?;
    if report.can_sync() {
        Ok(())
    } else {
        Err(Failure::new(ExitKind::Permission, "the API key cannot list the organization's API keys (GET /api-keys)")
            .hint("give the API key the organization Admin role (read-only is enough), then run validate again"))
    }
}
