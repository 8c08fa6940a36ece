//! The subcommands, and what they share: building the env0 client and turning library errors
//! into [`Failure`]s with the documented exit codes.

pub(crate) mod capabilities;
pub(crate) mod config;
pub(crate) mod inspect;
pub(crate) mod provision;
pub(crate) mod sync;
pub(crate) mod validate;

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use c1_sync::{ConnectorError, StoreError, SyncError};
use env0_api::{ClientConfig, Env0Client};

use crate::exit::{ExitKind, Failure};
use crate::progress::Progress;
use crate::settings::{Credentials, Settings};

/// The longest wait between retries when the hidden test flag shortens the backoff.
const TEST_MAX_RETRY_DELAY_FACTOR: u32 = 8;

/// Builds the env0 client from validated credentials and the tuning settings; `progress` hears
/// when a request waits for its path's rate limit.
pub(crate) fn client(
    credentials: &Credentials,
    settings: &Settings,
    progress: Option<&Progress>,
) -> Result<Env0Client, Failure> {
    client_counting(credentials, settings, progress, None)
}

/// [`client`], counting every retried request into `retries` when given.
pub(crate) fn client_counting(
    credentials: &Credentials,
    settings: &Settings,
    progress: Option<&Progress>,
    retries: Option<Arc<AtomicU64>>,
) -> Result<Env0Client, Failure> {
    let mut config = ClientConfig::new(
        credentials.api_key_id.clone(),
        credentials.api_key_secret.clone(),
    )
    .base_url(&credentials.base_url)
    .map_err(|e| api_failure(&e))?
    .timeout(Duration::from_secs(settings.http_timeout_seconds.value))
    .max_retries(settings.max_retries.value)
    .requests_per_minute(settings.max_requests_per_minute.value)
    .max_concurrent_requests(settings.workers.value)
    .on_retry(move |event| {
        if let Some(retries) = &retries {
            retries.fetch_add(1, Ordering::Relaxed);
        }
        tracing::warn!(
            endpoint = %event.endpoint,
            attempt = event.attempt,
            status = event.status,
            wait_ms = event.wait.as_millis() as u64,
            reason = %event.reason,
            "env0 request failed; retrying"
        );
    });
    if let Some(progress) = progress {
        let progress = progress.clone();
        config = config.on_throttle(move |event| progress.throttled(&event.path, event.wait));
    }
    if let Some(delay) = settings.retry_base_delay {
        config = config
            .retry_base_delay(delay)
            .max_retry_delay(delay * TEST_MAX_RETRY_DELAY_FACTOR)
            .max_retry_after(delay * TEST_MAX_RETRY_DELAY_FACTOR)
            .jitter_seed(0);
    }
    Env0Client::new(config).map_err(|e| api_failure(&e))
}

/// The message of an error followed by its sources, each once, separated by `: `.
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    message
}

const AUTH_HINT: &str =
    "check --api-key-id and --api-key-secret ($BATON_API_KEY_ID / $BATON_API_KEY_SECRET)";
const PLAN_HINT: &str = "the organization's env0 plan does not include this API; check the plan with env0, and check --organization-id";
const ACCESS_HINT: &str = "give the API key the organization Admin role (read-only is enough) in this organization, and check --organization-id";

/// Maps an env0 client error to its exit code, message and hint.
pub(crate) fn api_failure(err: &env0_api::Error) -> Failure {
    use env0_api::Error as E;
    match err {
        E::Unauthorized { endpoint, .. } => {
            Failure::new(ExitKind::Auth, format!("env0 rejected the API key (401 on {endpoint})")).hint(AUTH_HINT)
        }
        E::Forbidden { endpoint, .. } => {
            Failure::new(ExitKind::Permission, format!("env0 denied the API key access (403 on {endpoint})"))
                .hint(ACCESS_HINT)
        }
        E::NotInPlan { endpoint, .. } => Failure::new(
            ExitKind::Permission,
            format!("the organization's env0 plan does not include this feature (402 on {endpoint})"),
        )
        .hint(PLAN_HINT),
        E::RateLimited { .. } => Failure::new(ExitKind::Unavailable, err.to_string())
            .hint("env0 kept throttling requests; lower --max-requests-per-minute or run again later"),
        E::Server { .. } => Failure::new(ExitKind::Unavailable, err.to_string())
            .hint("env0 is having trouble; run again later (--max-retries and --http-timeout-seconds set how long baton-env0 keeps trying)"),
        E::Transport { .. } => Failure::new(ExitKind::Unavailable, chain(err))
            .hint("check network access to env0 (DNS, proxy, firewall) and --base-url"),
        E::Incomplete { .. } => Failure::new(ExitKind::Unavailable, err.to_string())
            .hint("env0's answers kept arriving cut short; check for a proxy that cuts responses, and run again later (--max-retries and --http-timeout-seconds set how long baton-env0 keeps trying)"),
        E::Unconfirmed { .. } => Failure::new(ExitKind::Unavailable, err.to_string())
            .hint("the change may or may not be in env0; look before running it again"),
        E::Internal { .. } => Failure::other(err.to_string())
            .hint("this is a bug in baton-env0; please report it with the output of --log-level debug"),
        E::NotFound { .. } => Failure::other(err.to_string()).hint("check --organization-id and --base-url"),
        E::InvalidConfig { .. } => Failure::usage(err.to_string()),
        _ => Failure::other(chain(err))
            .hint("env0 answered something unexpected; rerun with --log-level debug and report it if it persists"),
    }
}

/// Maps a connector error: the connector's own explanations first, then the env0 error inside.
pub(crate) fn connector_failure(err: &ConnectorError) -> Failure {
    if let Some(own) = err.downcast_ref::<env0_connector::Error>() {
        let kind = match (own.is_access_denied(), own) {
            (true, _) | (_, env0_connector::Error::OrganizationNotVisible { .. }) => {
                ExitKind::Permission
            }
            _ => ExitKind::Other,
        };
        let hint = match own {
            env0_connector::Error::OrganizationNotVisible { .. } => {
                "check --organization-id ($BATON_ORGANIZATION_ID / $ENV0_ORGANIZATION_ID) and that the API key was created in that organization"
            }
            _ if own.api_error().and_then(env0_api::Error::status) == Some(402) => PLAN_HINT,
            _ if own.is_access_denied() => ACCESS_HINT,
            _ => "rerun with --log-level debug and report it if it persists",
        };
        return Failure::new(kind, own.to_string()).hint(hint);
    }
    if let Some(api) = env0_connector::api_error(err) {
        return api_failure(api);
    }
    Failure::other(chain(err))
}

/// Maps a store error met while writing the output (the message names the file) to exit 6.
pub(crate) fn store_failure(err: &StoreError) -> Failure {
    if let StoreError::Busy { path, pid } = err {
        let who = match pid {
            Some(pid) => format!("another process (pid {pid})"),
            None => "another process".to_owned(),
        };
        return Failure::file(format!(
            "{who} is writing {}; this sync stopped and left it as it was",
            path.display()
        ))
        .hint("wait for that sync to finish and run again, or write to another --file");
    }
    let hint = match err {
        StoreError::NotC1z { .. }
        | StoreError::UnsupportedV3 { .. }
        | StoreError::NotSqlite { .. }
        | StoreError::UnexpectedSchema { .. } => {
            "--file names an existing file that is not a c1z v1 file; pick another path or move the file away"
        }
        _ => {
            "check that the directory of --file exists and is writable, and that the disk has room"
        }
    };
    Failure::file(chain(err)).hint(hint)
}

/// Maps a store error met while reading a c1z (`inspect`) to exit 6.
pub(crate) fn store_read_failure(err: &StoreError) -> Failure {
    let hint = match err {
        StoreError::NotC1z { .. }
        | StoreError::UnsupportedV3 { .. }
        | StoreError::NotSqlite { .. }
        | StoreError::UnexpectedSchema { .. } => {
            "the file is not a c1z v1 file written by a baton connector; pick another file"
        }
        _ => "check the path given to inspect (or --file) and that the file is readable",
    };
    Failure::file(chain(err)).hint(hint)
}

/// Maps a failed sync.
pub(crate) fn sync_failure(err: &SyncError) -> Failure {
    if let Some(connector) = err.connector_error() {
        let mut failure = connector_failure(connector);
        if failure.kind == ExitKind::Other {
            failure.message = format!("{err}: {}", failure.message);
        }
        return failure;
    }
    match err {
        SyncError::Store { source } => store_failure(source),
        SyncError::TooManyWarnings { .. } => Failure::other(err.to_string())
            .hint("rerun with --log-level debug to see every warning"),
        SyncError::Spool { .. } => Failure::file(chain(err))
            .hint("check that the temporary directory ($TMPDIR) is writable and has room"),
        _ => Failure::other(chain(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_is_exit_3_with_the_documented_hint() {
        let err = env0_api::Error::Unauthorized {
            endpoint: "GET /organizations".into(),
            message: String::new(),
        };
        let failure = api_failure(&err);
        assert_eq!(failure.kind, ExitKind::Auth);
        assert_eq!(
            failure.render(),
            "error: env0 rejected the API key (401 on GET /organizations)\nhint: check --api-key-id and --api-key-secret ($BATON_API_KEY_ID / $BATON_API_KEY_SECRET)\n"
        );
    }

    #[test]
    fn exhausted_retries_are_exit_5() {
        let err = env0_api::Error::Server {
            endpoint: "GET /x".into(),
            status: 503,
            attempts: 2,
            elapsed: Duration::from_millis(10),
            message: String::new(),
        };
        assert_eq!(api_failure(&err).kind, ExitKind::Unavailable);
        let err = env0_api::Error::RateLimited {
            endpoint: "GET /x".into(),
            attempts: 2,
            elapsed: Duration::ZERO,
        };
        assert_eq!(api_failure(&err).kind, ExitKind::Unavailable);
    }

    #[test]
    fn a_body_cut_short_after_retries_is_exit_5_and_a_wrong_one_exit_1() {
        let cut = env0_api::Error::Incomplete {
            endpoint: "GET /organizations".into(),
            reason: "EOF while parsing a string".into(),
            line: 1,
            column: 223,
            attempts: 9,
            elapsed: Duration::from_millis(12_300),
        };
        let failure = api_failure(&cut);
        assert_eq!(failure.kind, ExitKind::Unavailable);
        assert_eq!(
            failure.message,
            "the env0 response for GET /organizations ended before its JSON did (EOF while parsing a string at line 1 column 223) after 9 attempts over 12.3s"
        );
        let wrong = env0_api::Error::Decode {
            endpoint: "GET /organizations".into(),
            reason: "invalid type: sequence, expected a string".into(),
            line: 1,
            column: 9,
            snippet: r#"[{"id":["x"]}]"#.into(),
        };
        let failure = api_failure(&wrong);
        assert_eq!(failure.kind, ExitKind::Other);
        assert!(
            failure
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("report it if it persists")),
            "{failure:?}"
        );
        let bug = env0_api::Error::Internal {
            endpoint: "GET /organizations".into(),
            message: "the body buffer counts 9 bytes in a map of 8".into(),
        };
        let failure = api_failure(&bug);
        assert_eq!(failure.kind, ExitKind::Other);
        assert!(failure.hint.as_deref().is_some_and(|h| h.contains("bug")));
    }

    #[test]
    fn permission_and_plan_are_exit_4() {
        let forbidden = env0_api::Error::Forbidden {
            endpoint: "GET /x".into(),
            message: String::new(),
        };
        let plan = env0_api::Error::NotInPlan {
            endpoint: "GET /x".into(),
            message: String::new(),
        };
        assert_eq!(api_failure(&forbidden).kind, ExitKind::Permission);
        assert_eq!(api_failure(&plan).kind, ExitKind::Permission);
        let wrapped = ConnectorError::permanent(forbidden);
        assert_eq!(connector_failure(&wrapped).kind, ExitKind::Permission);
    }

    #[test]
    fn store_errors_are_exit_6() {
        let err = StoreError::NotC1z {
            path: "x.c1z".into(),
        };
        let failure = store_failure(&err);
        assert_eq!(failure.kind, ExitKind::File);
        assert_eq!(failure.message, "x.c1z: not a c1z file");
    }

    #[test]
    fn a_busy_file_is_exit_6_naming_the_other_process_when_known() {
        let err = StoreError::Busy {
            path: "out.c1z".into(),
            pid: Some(4242),
        };
        let failure = store_failure(&err);
        assert_eq!(failure.kind, ExitKind::File);
        assert_eq!(
            failure.render(),
            "error: another process (pid 4242) is writing out.c1z; this sync stopped and left it as it was\n\
             hint: wait for that sync to finish and run again, or write to another --file\n"
        );
        let err = StoreError::Busy {
            path: "out.c1z".into(),
            pid: None,
        };
        assert_eq!(
            sync_failure(&SyncError::Store { source: err }).message,
            "another process is writing out.c1z; this sync stopped and left it as it was"
        );
    }

    #[test]
    fn chain_skips_repeated_messages() {
        let io = std::io::Error::other("disk full");
        let err = StoreError::Io {
            path: "out.c1z".into(),
            action: "write the file",
            source: io,
        };
        assert_eq!(chain(&err), "out.c1z: could not write the file: disk full");
    }
}
