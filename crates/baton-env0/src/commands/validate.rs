//! `validate`: checks the credentials and the access to the organization, then prints the
//! organization's name and what a sync can read.

use std::io::Write as _;

use env0_connector::{AccessReport, Env0Connector, Visibility};

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

/// The text `validate` prints.
pub(crate) fn render(report: &AccessReport) -> String {
    let name = report.organization_name.as_deref().unwrap_or("(no name)");
    let verdict = if report.can_sync() {
        "ok: a sync can run"
    } else {
        "a sync would fail: the API key cannot list the organization's API keys"
    };
    format!(
        "organization  {name} ({})\nmembers       {} visible\napi keys      {}\ncustom roles  {}\nresult        {verdict}\n",
        report.organization_id,
        report.users_visible,
        visibility(
            &report.api_keys,
            "API keys",
            "a sync cannot tell them apart from people"
        ),
        visibility(
            &report.custom_roles,
            "custom roles",
            "users keep their role ids, without names"
        ),
    )
}

/// Runs `validate`.
pub(crate) fn run(settings: &mut Settings) -> Result<(), Failure> {
    let credentials = settings.credentials()?;
    for warning in settings.take_warnings() {
        tracing::warn!("{warning}");
    }
    let client = client(&credentials, settings)?;
    let connector = Env0Connector::new(
        client,
        env0_api::OrgId::new(credentials.organization_id.clone()),
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
