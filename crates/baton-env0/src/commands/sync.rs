//! The default action: a full sync into `--file`.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use c1_sync::{SyncEngine, SyncOptions, SyncReport};
use env0_connector::{ConnectorOptions, Env0Connector};
use serde::Serialize;

use crate::cli::LogFormat;
use crate::commands::{client_counting, sync_failure};
use crate::exit::Failure;
use crate::logging::ProgressSlot;
use crate::progress::Progress;
use crate::settings::{Settings, Source};

/// The runtime for the commands that talk to env0: one thread. A sync's requests are few and
/// its work is CPU-bound; the c1z writer runs SQLite on a thread of its own. Keeping HTTP and
/// decoding on one thread also lets the allocator reuse the memory of a response at once.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("cannot start the async runtime: {e}")))
}

/// Fails early (exit 6), before any request, when `path` cannot be written: its directory is
/// missing or not writable, or `path` is a directory.
pub(crate) fn check_writable(path: &Path, source: &Source, flag: &str) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let hint = match source {
        Source::Flag(_) => format!("{flag} must name a file in an existing, writable directory"),
        other => {
            format!("{flag} (from {other}) must name a file in an existing, writable directory")
        }
    };
    if path.is_dir() {
        return Err(Failure::file(format!(
            "cannot write {}: it is a directory",
            path.display()
        ))
        .hint(hint));
    }
    if !dir.is_dir() {
        return Err(Failure::file(format!(
            "cannot write {}: {} does not exist or is not a directory",
            path.display(),
            dir.display()
        ))
        .hint(hint));
    }
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let probe = dir.join(format!(".{name}.{}.baton-env0-probe", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(file) => {
            drop(file);
            // Best effort: the probe is empty and uniquely named.
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Failure::file(format!("cannot write {}: {e}", path.display())).hint(hint)),
    }
}

/// Fails early (exit 6) when the output exists but is not a c1z v1 file: the sync keeps the
/// previous sync of an existing file, so it must be one. An empty file counts as no file, as it
/// does for the store and for ConductorOne's SDK.
pub(crate) fn check_existing_c1z(path: &Path) -> Result<(), Failure> {
    let empty = std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
    if path.is_file() && !empty && !starts_with_c1z_magic(path) {
        return Err(Failure::file(format!(
            "{} exists and is not a c1z v1 file; refusing to replace it",
            path.display()
        ))
        .hint("pick another path for --file, or move the existing file away"));
    }
    Ok(())
}

/// Whether the file starts with the c1z v1 magic `C1ZF\0`.
fn starts_with_c1z_magic(path: &Path) -> bool {
    use std::io::Read as _;
    let mut magic = [0_u8; 5];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"C1ZF\0"
}

/// Counts of the principals, as the summary line reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Principals {
    pub(crate) users: u64,
    pub(crate) humans: u64,
    pub(crate) api_keys: u64,
    pub(crate) pending_invites: u64,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `1.2s`, `2m03s`, `1h02m`.
pub(crate) fn human_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs < 60 {
        format!("{:.1}s", duration.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

/// The one summary line (console format).
pub(crate) fn summary_line(p: Principals, report: &SyncReport) -> String {
    format!(
        "synced {} ({}, {}, {}) and {} ({} by inheritance) with {} in {} to {}\n",
        plural(p.users, "user", "users"),
        plural(p.humans, "human", "humans"),
        plural(p.api_keys, "API key", "API keys"),
        plural(p.pending_invites, "pending invite", "pending invites"),
        plural(report.grants + report.grants_expanded, "grant", "grants"),
        report.grants_expanded,
        plural(report.warnings, "warning", "warnings"),
        human_duration(report.duration()),
        report.output.display()
    )
}

#[derive(Serialize)]
struct JsonSummaryFields<'a> {
    message: &'static str,
    users: u64,
    humans: u64,
    api_keys: u64,
    pending_invites: u64,
    grants: u64,
    grants_expanded: u64,
    warnings: u64,
    duration_ms: u64,
    output: String,
    sync_id: &'a str,
}

#[derive(Serialize)]
struct JsonSummary<'a> {
    timestamp: String,
    level: &'static str,
    fields: JsonSummaryFields<'a>,
    target: &'static str,
}

/// The one summary line in json log format: shaped like the other JSON log lines.
pub(crate) fn summary_json_line(p: Principals, report: &SyncReport) -> String {
    let line = JsonSummary {
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        level: "INFO",
        fields: JsonSummaryFields {
            message: "sync finished",
            users: p.users,
            humans: p.humans,
            api_keys: p.api_keys,
            pending_invites: p.pending_invites,
            grants: report.grants + report.grants_expanded,
            grants_expanded: report.grants_expanded,
            warnings: report.warnings,
            duration_ms: report.duration_ms,
            output: report.output.display().to_string(),
            sync_id: &report.sync_id,
        },
        target: "baton_env0::summary",
    };
    let mut text = serde_json::to_string(&line).unwrap_or_default();
    text.push('\n');
    text
}

#[derive(Serialize)]
struct SummaryFile<'a> {
    #[serde(flatten)]
    report: &'a SyncReport,
    principals: Principals,
}

fn principals(connector: &Env0Connector) -> Principals {
    let summary = connector.summary();
    let (humans, api_keys) = (summary.humans as u64, summary.api_keys as u64);
    Principals {
        users: humans + api_keys,
        humans,
        api_keys,
        pending_invites: summary.pending_invites as u64,
    }
}

/// Writes text to stderr around the progress bar; stderr failures are ignored (nowhere to report).
pub(crate) fn stderr(slot: &ProgressSlot, text: &str) {
    slot.suspend(|| {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    });
}

/// Runs the sync.
pub(crate) fn run(
    settings: &mut Settings,
    stderr_is_terminal: bool,
    slot: &ProgressSlot,
) -> Result<(), Failure> {
    let credentials = settings.credentials()?;
    for warning in settings.take_warnings() {
        tracing::warn!("{warning}");
    }
    let output = settings.file.value.clone();
    check_writable(&output, &settings.file.source, "--file")?;
    check_existing_c1z(&output)?;
    if let Some(summary) = &settings.summary_json {
        check_writable(&summary.value, &summary.source, "--summary-json")?;
    }
    let draw = stderr_is_terminal
        && settings.log_format.value == LogFormat::Console
        && !settings.no_progress.value;
    let progress = Progress::new(draw, slot);
    let events = progress.clone();
    let retried = Arc::new(AtomicU64::new(0));
    let client = client_counting(
        &credentials,
        settings,
        Some(&progress),
        Some(Arc::clone(&retried)),
    )
    .inspect_err(|_| progress.finish())?;
    let projects = progress.clone();
    let connector = Env0Connector::with_options(
        client,
        env0_api::OrgId::new(credentials.organization_id.clone()),
        ConnectorOptions::default()
            .skip_projects(settings.skip_projects.value)
            .concurrency(settings.workers.value)
            .on_project_progress(move |done, total| projects.projects(done, total)),
    );
    // env0-api already retries 429/5xx/network failures (--max-retries); the engine does not retry
    // again on top, so one flag bounds the attempts.
    let options = SyncOptions::default()
        .with_workers(settings.workers.value)
        .with_max_attempts(1);
    let engine = SyncEngine::new(options).with_progress(move |event| events.handle(event));

    tracing::info!(
        organization_id = %credentials.organization_id,
        base_url = %credentials.base_url,
        file = %output.display(),
        "starting full sync"
    );
    let runtime = runtime()?;
    let outcome = runtime.block_on(async {
        let interrupted = interrupted();
        tokio::select! {
            biased;
            () = interrupted => None,
            result = engine.run(&connector, &output) => Some(result),
        }
    });
    progress.finish();
    let report = match outcome {
        None => {
            return Err(Failure::other(format!(
                "interrupted; {} was left unchanged",
                output.display()
            )));
        }
        Some(Err(err)) => return Err(sync_failure(&err)),
        Some(Ok(mut report)) => {
            // The engine makes one attempt (above); the retries are the client's.
            report.retries += retried.load(Ordering::Relaxed);
            report
        }
    };

    let counts = principals(&connector);
    let line = match settings.log_format.value {
        LogFormat::Json => summary_json_line(counts, &report),
        _ => summary_line(counts, &report),
    };
    stderr(slot, &line);

    if let Some(summary) = &settings.summary_json {
        let mut json = serde_json::to_string_pretty(&SummaryFile {
            report: &report,
            principals: counts,
        })
        .map_err(|e| Failure::other(e.to_string()))?;
        json.push('\n');
        std::fs::write(&summary.value, json).map_err(|e| {
            Failure::file(format!(
                "the sync was saved to {}, but writing the summary to {} failed: {e}",
                output.display(),
                summary.value.display()
            ))
            .hint("check --summary-json")
        })?;
    }
    Ok(())
}

/// Listens for Ctrl-C (SIGINT) and, on Unix, SIGTERM (what service managers and container
/// runtimes send to stop a process) from the moment it is called, and resolves on either: the
/// sync stops, its scratch files are removed and the output file stays as it was. A signal that
/// cannot be listened for never resolves. Call it inside the runtime, before the sync starts.
fn interrupted() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn received(stream: Option<Signal>) {
            if let Some(mut stream) = stream
                && stream.recv().await.is_some()
            {
                return;
            }
            std::future::pending::<()>().await;
        }
        // `signal` installs the handler now, not when the future is first polled.
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                () = received(interrupt) => {}
                () = received(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(human_duration(Duration::from_secs(123)), "2m03s");
        assert_eq!(human_duration(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn unwritable_output_is_a_file_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let err = check_writable(&blocker.join("out.c1z"), &Source::Default, "--file").unwrap_err();
        assert_eq!(err.kind, crate::exit::ExitKind::File);
        assert!(
            err.message.contains("does not exist or is not a directory"),
            "{}",
            err.message
        );
        let err = check_writable(dir.path(), &Source::Default, "--file").unwrap_err();
        assert!(
            err.message.ends_with("it is a directory"),
            "{}",
            err.message
        );
        assert!(check_writable(&dir.path().join("ok.c1z"), &Source::Default, "--file").is_ok());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "the probe is removed"
        );
    }
}
