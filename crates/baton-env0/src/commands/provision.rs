//! `--grant-entitlement` / `--revoke-grant`: one grant or revoke, then exit. The ids are looked up
//! in the latest finished sync of `--file` (of any type; else its latest unfinished sync), read-only:
//! the file is never rewritten. The current
//! state is read from env0, and at most one write is sent (none with `--dry-run`).

use std::io::Write as _;

use c1_model::pb;
use c1_sync::provision::{
    GrantRequest, ProvisionError, Provisioning, ProvisioningError, Retry, RevokeRequest,
};
use env0_connector::provision::{Change, Direction, Outcome};
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
    /// With `--dry-run`: the write requests that would be sent (`null` otherwise).
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
    let done = if dry_run {
        let plan = runtime
            .block_on(connector.provisioner().plan(change.clone()))
            .map_err(|e| provision_failure(&e))?;
        Done {
            outcome: plan.outcome(),
            would_send: Some(
                plan.write()
                    .map(|w| connector.provisioner().describe(w))
                    .transpose()
                    .map_err(|e| provision_failure(&e))?
                    .into_iter()
                    .collect(),
            ),
        }
    } else {
        let outcome = match &request {
            Request::Grant(request) => change.grant_outcome(
                &runtime
                    .block_on(request.send(&connector))
                    .map_err(|e| provisioning_failure(&e))?,
            ),
            Request::Revoke(request) => Change::revoke_outcome(
                runtime
                    .block_on(request.send(&connector))
                    .map_err(|e| provisioning_failure(&e))?,
            ),
        };
        Done {
            outcome,
            would_send: None,
        }
    };
    report(settings, &change, &done)
}

/// What was done (or, with `--dry-run`, would be), before it is printed.
struct Done {
    outcome: Outcome,
    /// With `--dry-run`: the writes that would be sent.
    would_send: Option<Vec<String>>,
}

/// Prints the result on stdout (with `--dry-run`: each write that would be sent, then
/// `dry run: <result>`), and writes `--summary-json`.
fn report(settings: &Settings, change: &Change, done: &Done) -> Result<(), Failure> {
    let line = done.outcome.to_string();
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
        out.push_str(&line);
        out.push_str(" (");
        out.push_str(note);
        out.push_str(")\n");
    } else {
        out.push_str(&line);
        out.push('\n');
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))?;
    if let Some(path) = &settings.summary_json {
        let principal = format!("{}:{}", change.holder_type(), change.holder.id());
        let replaced = match &done.outcome {
            Outcome::Replaced { old, .. } => vec![change.entitlement_for(old)],
            _ => Vec::new(),
        };
        let summary = Summary {
            action: match change.direction {
                Direction::Grant => "grant",
                Direction::Revoke => "revoke",
            },
            dry_run: done.would_send.is_some(),
            entitlement: &change.entitlement_id,
            grant: format!("{}:{principal}", change.entitlement_id),
            principal,
            result: done.outcome.code(),
            line: &line,
            changed: done.would_send.is_none() && done.outcome.changes(),
            replaced,
            would_send: done.would_send.clone(),
        };
        let mut json =
            serde_json::to_string_pretty(&summary).map_err(|e| Failure::other(e.to_string()))?;
        json.push('\n');
        std::fs::write(&path.value, json).map_err(|e| {
            Failure::file(format!(
                "the change is done ({line}), but writing the summary to {} failed: {e}",
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
        ProvisioningError::NoSync { .. } => {
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
            E::Unconfirmed { .. } => Failure::new(ExitKind::Unavailable, own.to_string())
                .hint("the change may or may not be in env0; look before running it again"),
            E::ConcurrentEdit { .. } => Failure::new(ExitKind::Unavailable, own.to_string())
                .hint("agree on the team's members with whoever edited it, then run the same command again if the change should hold"),
            E::NotApplied { .. } => Failure::new(ExitKind::Unavailable, own.to_string())
                .hint("nothing changed; run it again later"),
            E::Pending { check, .. } => Failure::new(ExitKind::Unavailable, own.to_string())
                .hint(format!(
                    "check {check} in a few minutes, or run the same command again then: it sends nothing once env0 shows the change"
                )),
            _ => Failure::other(own.to_string()),
        };
    }
    if let Some(api) = err.downcast_ref::<env0_api::Error>() {
        let failure = api_failure(api);
        if err.retry() == Retry::Unsafe {
            return Failure::new(ExitKind::Unavailable, failure.message)
                .hint("the change may or may not be in env0; look before running it again");
        }
        if matches!(api, env0_api::Error::Forbidden { .. }) {
            // A sync is content with a read-only key; a grant or revoke is not.
            return failure.hint(
                "give the API key the organization Admin role with write access (a read-only key can sync but not grant or revoke) in this organization, and check --organization-id",
            );
        }
        return failure;
    }
    Failure::other(err.to_string())
}
