//! `--grant-entitlement` / `--revoke-grant`: one grant or revoke, then exit. The ids are looked up
//! in the last finished sync of `--file` (read-only: the file is never rewritten), the current
//! state is read from env0, and at most one write is sent (none with `--dry-run`).

use std::io::Write as _;

use c1_model::pb;
use c1_sync::provision::{
    GrantOutcome, GrantRequest, ProvisionError, Provisioning, ProvisioningError, Retry,
    RevokeOutcome, RevokeRequest,
};
use env0_connector::provision::{Change, Decision, Direction, Plan};
use env0_connector::{ConnectorOptions, Env0Connector};
use serde::Serialize;

use crate::cli::ProvisionAction;
use crate::commands::sync::{check_writable, runtime};
use crate::commands::{api_failure, chain, client, store_read_failure};
use crate::exit::{ExitKind, Failure};
use crate::settings::Settings;

/// The request found in the file.
enum Request {
    Grant(GrantRequest),
    Revoke(RevokeRequest),
}

/// What `--summary-json` holds.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    action: &'static str,
    dry_run: bool,
    entitlement: &'a str,
    principal: String,
    grant: String,
    /// `granted`, `already_granted`, `replaced`, `revoked`, `already_revoked`.
    result: &'static str,
    /// The line printed on stdout.
    line: &'a str,
    changed: bool,
    /// Grants taken away to make room for this one (one role per scope).
    replaced: Vec<String>,
    /// With `--dry-run`: the write requests that would be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    would_send: Option<Vec<String>>,
}

pub(crate) fn run(
    settings: &mut Settings,
    action: ProvisionAction<'_>,
    dry_run: bool,
) -> Result<(), Failure> {
    let credentials = settings.credentials()?;
    for warning in settings.take_warnings() {
        tracing::warn!("{warning}");
    }
    let file = settings.file.value.clone();
    if !file.is_file() {
        return Err(Failure::usage(format!(
            "{} does not exist; grants and revokes look their ids up in the last sync of --file",
            file.display()
        ))
        .hint("run a sync into the same --file first"));
    }
    if let Some(summary) = &settings.summary_json {
        check_writable(&summary.value, &summary.source, "--summary-json")?;
    }
    let lookups = Provisioning::open(&file).map_err(|e| provisioning_failure(&e))?;
    let (request, change) = match action {
        ProvisionAction::Grant {
            entitlement,
            principal,
            principal_type,
        } => {
            let principal = pb::ResourceId {
                resource_type: principal_type.to_owned(),
                resource: principal.to_owned(),
                ..pb::ResourceId::default()
            };
            let found = lookups
                .grant_request(entitlement, &principal)
                .map_err(|e| provisioning_failure(&e))?;
            let change = Change::parse(Direction::Grant, &found.entitlement, &found.principal)
                .map_err(|e| provision_failure(&e))?;
            (Request::Grant(found), change)
        }
        ProvisionAction::Revoke { grant } => {
            let found = lookups
                .revoke_request(grant)
                .map_err(|e| provisioning_failure(&e))?;
            let entitlement = found.grant.entitlement.clone().unwrap_or_default();
            let principal = found.grant.principal.clone().unwrap_or_default();
            let change = Change::parse(Direction::Revoke, &entitlement, &principal)
                .map_err(|e| provision_failure(&e))?;
            (Request::Revoke(found), change)
        }
    };
    drop(lookups);

    let org = env0_api::OrgId::new(credentials.organization_id.clone());
    let connector = Env0Connector::with_options(
        client(&credentials, settings, None)?,
        org.clone(),
        ConnectorOptions::default().concurrency(settings.workers.value),
    );
    tracing::info!(
        organization_id = %credentials.organization_id,
        change = %change,
        dry_run,
        "provisioning"
    );
    let runtime = runtime()?;
    let summary = if dry_run {
        let plan = runtime
            .block_on(connector.provisioner().plan(change.clone()))
            .map_err(|e| provision_failure(&e))?;
        dry_run_summary(&plan, &org)
    } else {
        match &request {
            Request::Grant(request) => {
                let outcome = runtime
                    .block_on(request.send(&connector))
                    .map_err(|e| provisioning_failure(&e))?;
                grant_summary(&change, &outcome)
            }
            Request::Revoke(request) => {
                let outcome = runtime
                    .block_on(request.send(&connector))
                    .map_err(|e| provisioning_failure(&e))?;
                revoke_summary(&change, outcome)
            }
        }
    };
    report(settings, &change, &summary)
}

/// What was done, before it is printed.
struct Done {
    result: &'static str,
    line: String,
    changed: bool,
    replaced: Vec<String>,
    would_send: Option<Vec<String>>,
    dry_run: bool,
}

fn grant_summary(change: &Change, outcome: &GrantOutcome) -> Done {
    let replaced: Vec<String> = match outcome {
        GrantOutcome::Granted { replaced, .. } => replaced
            .iter()
            .filter_map(|g| g.entitlement.as_ref().map(|e| e.id.clone()))
            .collect(),
        _ => Vec::new(),
    };
    let old = replaced.first().and_then(|id| change.role_in(id));
    let (result, line) = match (outcome.changed(), old) {
        (false, _) => ("already_granted", "already granted".to_owned()),
        (true, Some(old)) => (
            "replaced",
            format!("replaced {old} with {}", change.target.role_value()),
        ),
        (true, None) => ("granted", "granted".to_owned()),
    };
    Done {
        result,
        line,
        changed: outcome.changed(),
        replaced,
        would_send: None,
        dry_run: false,
    }
}

fn revoke_summary(_change: &Change, outcome: RevokeOutcome) -> Done {
    let (result, line) = if outcome.changed() {
        ("revoked", "revoked")
    } else {
        ("already_revoked", "already revoked")
    };
    Done {
        result,
        line: line.to_owned(),
        changed: outcome.changed(),
        replaced: Vec::new(),
        would_send: None,
        dry_run: false,
    }
}

fn dry_run_summary(plan: &Plan, org: &env0_api::OrgId) -> Done {
    let would_send: Vec<String> = plan
        .write()
        .map(|w| w.show(org).to_string())
        .into_iter()
        .collect();
    let replaced = match &plan.decision {
        Decision::Write {
            replaces: Some(old),
            ..
        } => vec![plan.change.entitlement_for(old)],
        _ => Vec::new(),
    };
    let result = match (&plan.decision, plan.change.direction) {
        (Decision::Nothing, Direction::Grant) => "already_granted",
        (Decision::Nothing, Direction::Revoke) => "already_revoked",
        (_, Direction::Grant) if !replaced.is_empty() => "replaced",
        (_, Direction::Grant) => "granted",
        (_, Direction::Revoke) => "revoked",
    };
    Done {
        result,
        line: plan.result_line(),
        changed: false,
        replaced,
        would_send: Some(would_send),
        dry_run: true,
    }
}

/// Prints the result on stdout (with `--dry-run`: each write that would be sent, then
/// `dry run: <result>`), and writes `--summary-json`.
fn report(settings: &Settings, change: &Change, done: &Done) -> Result<(), Failure> {
    let mut out = String::new();
    if let Some(writes) = &done.would_send {
        for write in writes {
            out.push_str(write);
            out.push('\n');
        }
        let note = if writes.is_empty() {
            "no request needed"
        } else {
            "nothing was sent"
        };
        out.push_str("dry run: ");
        out.push_str(&done.line);
        out.push_str(" (");
        out.push_str(note);
        out.push_str(")\n");
    } else {
        out.push_str(&done.line);
        out.push('\n');
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))?;
    if let Some(path) = &settings.summary_json {
        let principal = format!("{}:{}", change.holder_type(), change.holder.id());
        let summary = Summary {
            action: match change.direction {
                Direction::Grant => "grant",
                Direction::Revoke => "revoke",
            },
            dry_run: done.dry_run,
            entitlement: &change.entitlement_id,
            grant: format!("{}:{principal}", change.entitlement_id),
            principal,
            result: done.result,
            line: &done.line,
            changed: done.changed,
            replaced: done.replaced.clone(),
            would_send: done.would_send.clone(),
        };
        let mut json =
            serde_json::to_string_pretty(&summary).map_err(|e| Failure::other(e.to_string()))?;
        json.push('\n');
        std::fs::write(&path.value, json).map_err(|e| {
            Failure::file(format!(
                "the change is done ({}), but writing the summary to {} failed: {e}",
                done.line,
                path.value.display()
            ))
            .hint("check --summary-json")
        })?;
    }
    Ok(())
}

/// Maps a failure of the provisioning driver (lookups in the file, or the connector's call).
pub(crate) fn provisioning_failure(err: &ProvisioningError) -> Failure {
    match err {
        ProvisioningError::Store(store) => store_read_failure(store),
        ProvisioningError::NoFinishedSync { .. } => {
            Failure::usage(err.to_string()).hint("run a sync into the same --file first")
        }
        ProvisioningError::NotFound { .. } => Failure::usage(err.to_string()).hint(
            "ids must match the file exactly; `baton-env0 inspect grants` lists them (run a sync first if the file is old)",
        ),
        ProvisioningError::Immutable { .. } => Failure::usage(err.to_string()).hint(
            "this access is inherited or comes through a team; change the grant it comes from",
        ),
        ProvisioningError::NotProvisionable { .. } => Failure::usage(err.to_string())
            .hint("baton-env0 grants and revokes role, team and project entitlements"),
        ProvisioningError::Grant { source, .. } | ProvisioningError::Revoke { source, .. } => {
            let mut failure = provision_failure(source);
            failure.message = format!("{err}: {}", failure.message);
            failure
        }
        _ => Failure::other(chain(err)),
    }
}

/// Maps a failure of the connector's grant or revoke.
fn provision_failure(err: &ProvisionError) -> Failure {
    use env0_connector::Error as E;
    if let Some(own) = err.downcast_ref::<E>() {
        return match own {
            E::Refused { .. } | E::NotInOrganization { .. } => Failure::usage(own.to_string()),
            E::Unconfirmed { .. } | E::ConcurrentEdit { .. } => {
                Failure::new(ExitKind::Unavailable, own.to_string())
                    .hint("the change may or may not be in env0; look before running it again")
            }
            E::NotApplied { .. } => Failure::new(ExitKind::Unavailable, own.to_string())
                .hint("nothing changed; run it again later"),
            _ => Failure::other(own.to_string()),
        };
    }
    if let Some(api) = err.downcast_ref::<env0_api::Error>() {
        let failure = api_failure(api);
        if err.retry() == Retry::Unsafe {
            return Failure::new(ExitKind::Unavailable, failure.message)
                .hint("the change may or may not be in env0; look before running it again");
        }
        return failure;
    }
    Failure::other(err.to_string())
}
