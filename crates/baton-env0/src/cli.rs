//! The clap definitions: every flag, its environment variable, default and help text.
//!
//! These definitions are the single source for `--help`, `docs/cli.md` (see [`crate::docs`]) and the
//! `config` subcommand. Layering beyond clap's own "flag, then `BATON_*` environment variable" (env0's
//! `ENV0_*` variables, the YAML config file, the secret file) happens in [`crate::settings`].

use std::fmt;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

use crate::exit::EXIT_CODES_HELP;

/// Default value of `--file`.
pub const DEFAULT_FILE: &str = "sync.c1z";
/// Default value of `--base-url`.
pub const DEFAULT_BASE_URL: &str = "https://api.env0.com";
/// Default value of `--http-timeout-seconds`.
pub const DEFAULT_HTTP_TIMEOUT_SECONDS: u64 = 60;
/// Default value of `--max-retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 8;
/// Default value of `--max-requests-per-minute`.
pub const DEFAULT_MAX_REQUESTS_PER_MINUTE: u32 = 900;
/// Default value of `--workers`.
pub const DEFAULT_WORKERS: usize = 4;

const ABOUT: &str =
    "Sync an env0 organization's people, roles, teams and projects into a ConductorOne c1z file";

const LONG_ABOUT: &str = "\
Sync an env0 organization's people, roles, teams and projects into a ConductorOne c1z file.

Without a subcommand, baton-env0 runs a full sync and writes it to --file (sync.c1z), like every \
baton connector. Settings are taken from, first match wins: flags; BATON_<FLAG> environment \
variables; env0's own ENV0_API_KEY, ENV0_API_SECRET and ENV0_ORGANIZATION_ID; a YAML config file \
(--config / $BATON_CONFIG_PATH, else ./.baton.yaml when present) whose keys are the flag names; \
the defaults shown below.";

/// The command line of `baton-env0`.
#[derive(Parser)]
#[command(
    name = "baton-env0",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES_HELP,
    propagate_version = true,
    max_term_width = 100
)]
#[non_exhaustive]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// One grant or revoke instead of a sync.
    #[command(flatten)]
    pub provision: ProvisionArgs,
    /// What to do; a full sync when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The one-shot provisioning flags of ConductorOne's connectors: grant one entitlement or
/// revoke one grant, looked up by id in the last sync of `--file`, then exit. No sync runs.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Provisioning (instead of a sync)")]
#[command(group(
    clap::ArgGroup::new("provision_action")
        .args(["grant_entitlement", "revoke_grant"])
        .multiple(false)
))]
#[group(skip)]
#[non_exhaustive]
pub struct ProvisionArgs {
    /// Grant this entitlement (e.g. `project:<id>:Deployer`, `team:<id>:member`,
    /// `role:Admin:member`) to --grant-principal, looked up in --file
    #[arg(
        long,
        value_name = "ENTITLEMENT_ID",
        env = "BATON_GRANT_ENTITLEMENT",
        hide_env_values = true,
        requires_all = ["grant_principal", "grant_principal_type"]
    )]
    pub grant_entitlement: Option<String>,

    /// The principal to grant to: a user's or API key's id, or a team's id
    #[arg(
        long,
        value_name = "ID",
        env = "BATON_GRANT_PRINCIPAL",
        hide_env_values = true,
        requires = "grant_entitlement"
    )]
    pub grant_principal: Option<String>,

    /// The principal's resource type: `user` (members and API keys) or `team`
    #[arg(
        long,
        value_name = "TYPE",
        env = "BATON_GRANT_PRINCIPAL_TYPE",
        hide_env_values = true,
        requires = "grant_entitlement"
    )]
    pub grant_principal_type: Option<String>,

    /// Revoke this grant (`<entitlement id>:<principal type>:<principal id>`), looked up in --file
    #[arg(
        long,
        value_name = "GRANT_ID",
        env = "BATON_REVOKE_GRANT",
        hide_env_values = true
    )]
    pub revoke_grant: Option<String>,

    /// With --grant-entitlement or --revoke-grant: read the current state from env0, print the
    /// write requests that would be sent, and send none
    #[arg(
        long,
        env = "BATON_DRY_RUN",
        hide_env_values = true,
        value_parser = BoolishValueParser::new(),
        requires = "provision_action"
    )]
    pub dry_run: bool,

    /// Accepted for ConductorOne's connectors' `-p` (which turns provisioning on); here a grant
    /// or a revoke runs whenever its flag is given, with or without it
    #[arg(
        short = 'p',
        long,
        env = "BATON_PROVISIONING",
        hide_env_values = true,
        value_parser = BoolishValueParser::new()
    )]
    pub provisioning: bool,
}

impl ProvisionArgs {
    /// The action asked for, if any.
    pub fn action(&self) -> Option<ProvisionAction<'_>> {
        if let Some(grant) = &self.revoke_grant {
            return Some(ProvisionAction::Revoke { grant });
        }
        match (
            &self.grant_entitlement,
            &self.grant_principal,
            &self.grant_principal_type,
        ) {
            (Some(entitlement), Some(principal), Some(principal_type)) => {
                Some(ProvisionAction::Grant {
                    entitlement,
                    principal,
                    principal_type,
                })
            }
            _ => None,
        }
    }
}

/// A grant or a revoke, as the flags ask it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProvisionAction<'a> {
    /// `--grant-entitlement E --grant-principal ID --grant-principal-type TYPE`.
    Grant {
        /// The entitlement id.
        entitlement: &'a str,
        /// The principal's id.
        principal: &'a str,
        /// The principal's resource type.
        principal_type: &'a str,
    },
    /// `--revoke-grant ID`.
    Revoke {
        /// The grant id.
        grant: &'a str,
    },
}

impl fmt::Debug for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cli")
            .field("global", &self.global)
            .field("provision", &self.provision)
            .field("command", &self.command)
            .finish()
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Check the credentials and access to the organization; print the organization's name and
    /// what can be synced.
    Validate,
    /// Print the connector's capabilities as baton-format JSON on stdout.
    Capabilities,
    /// Print every setting as JSON: name, flag, environment variables, description, required,
    /// secret, default, and its effective value and source (secret values are never printed).
    Config,
    /// Show what a c1z file holds: its users (the default), its grants, or one person's access.
    Inspect(InspectArgs),
}

/// Arguments of `inspect`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
#[non_exhaustive]
pub struct InspectArgs {
    /// What to show; the users when absent.
    #[command(subcommand)]
    pub view: Option<InspectView>,
    /// File, format and sync of the users view.
    #[command(flatten)]
    pub common: InspectCommon,
}

/// The views of `inspect` beyond the users.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum InspectView {
    /// The grants: entitlement, principal, whether the connector wrote it or expansion made it,
    /// and the entitlements it was expanded from.
    Grants {
        /// Only the grants of this entitlement (e.g. `project:<id>:Deployer`).
        #[arg(long, value_name = "ID")]
        entitlement: Option<String>,
        /// Only the grants held by this principal (its id, or `<type>:<id>`).
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
        /// File, format and sync.
        #[command(flatten)]
        common: InspectCommon,
    },
    /// Every entitlement one user holds, each with how: direct, via a team, inherited from a
    /// parent project, or as organization Admin.
    Access {
        /// The user's id or email.
        #[arg(value_name = "USER")]
        user: String,
        /// File, format and sync.
        #[command(flatten)]
        common: InspectCommon,
    },
}

/// What every `inspect` view takes.
#[derive(Debug, Args)]
#[non_exhaustive]
pub struct InspectCommon {
    /// The c1z file to read [default: the value of --file]
    #[arg(value_name = "FILE")]
    pub path: Option<PathBuf>,
    /// Output format.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        env = "BATON_FORMAT",
        hide_env_values = true,
        default_value_t = InspectFormat::Table
    )]
    pub format: InspectFormat,
    /// The sync to read [default: the latest finished full sync, else the latest unfinished one]
    #[arg(long, value_name = "ID", env = "BATON_SYNC_ID", hide_env_values = true)]
    pub sync_id: Option<String>,
}

/// Output formats of `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum InspectFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document: the sync id and an array of users.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
#[non_exhaustive]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// Progress milestones (the default).
    Info,
    /// Requests and paging decisions.
    Debug,
    /// Everything our crates log; third-party crates stay at warn.
    Trace,
}

impl LogLevel {
    /// The lowercase name used on the command line and in filters.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines.
    Console,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The lowercase name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Console => "console",
            LogFormat::Json => "json",
        }
    }
}

/// Flags shared by every subcommand (clap `global`).
///
/// Holds the API key secret, so `Debug` is written by hand and never prints it.
#[derive(Args)]
#[command(next_help_heading = "Global options")]
#[non_exhaustive]
pub struct GlobalArgs {
    /// env0 API key id (also read from $ENV0_API_KEY)
    #[arg(
        long,
        global = true,
        value_name = "ID",
        env = "BATON_API_KEY_ID",
        hide_env_values = true
    )]
    pub api_key_id: Option<String>,

    /// env0 API key secret (also read from $ENV0_API_SECRET); prefer the environment or
    /// --api-key-secret-file over this flag, which other local users can see in the process list
    #[arg(
        long,
        global = true,
        value_name = "SECRET",
        env = "BATON_API_KEY_SECRET",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub api_key_secret: Option<SecretString>,

    /// Read the env0 API key secret from this file (one trailing newline is ignored), e.g. a
    /// container secret
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "BATON_API_KEY_SECRET_FILE",
        hide_env_values = true
    )]
    pub api_key_secret_file: Option<PathBuf>,

    /// env0 organization id, a UUID (also read from $ENV0_ORGANIZATION_ID)
    #[arg(
        long,
        global = true,
        value_name = "UUID",
        env = "BATON_ORGANIZATION_ID",
        hide_env_values = true
    )]
    pub organization_id: Option<String>,

    /// The c1z file the sync writes (and `inspect` reads); a previous sync in it is kept
    #[arg(
        short = 'f',
        long,
        global = true,
        value_name = "PATH",
        env = "BATON_FILE",
        hide_env_values = true,
        default_value = DEFAULT_FILE
    )]
    pub file: PathBuf,

    /// YAML config file whose keys are the flag names [default: ./.baton.yaml when present]
    #[arg(
        long = "config",
        global = true,
        value_name = "PATH",
        env = "BATON_CONFIG_PATH",
        hide_env_values = true
    )]
    pub config: Option<PathBuf>,

    /// env0 API base URL; http:// is accepted only for loopback addresses
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "BATON_BASE_URL",
        hide_env_values = true,
        default_value = DEFAULT_BASE_URL
    )]
    pub base_url: String,

    /// Log verbosity
    #[arg(
        long,
        global = true,
        value_enum,
        ignore_case = true,
        env = "BATON_LOG_LEVEL",
        hide_env_values = true,
        default_value_t = LogLevel::Info
    )]
    pub log_level: LogLevel,

    /// Log format; logs go to stderr [default: console when stderr is a terminal, else json]
    #[arg(
        long,
        global = true,
        value_enum,
        ignore_case = true,
        env = "BATON_LOG_FORMAT",
        hide_env_values = true
    )]
    pub log_format: Option<LogFormat>,

    /// Timeout of one HTTP request, in seconds (1-1800)
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        env = "BATON_HTTP_TIMEOUT_SECONDS",
        hide_env_values = true,
        default_value_t = DEFAULT_HTTP_TIMEOUT_SECONDS
    )]
    pub http_timeout_seconds: u64,

    /// Retries of a request that failed with 429, 5xx or a network error (0-100)
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "BATON_MAX_RETRIES",
        hide_env_values = true,
        default_value_t = DEFAULT_MAX_RETRIES
    )]
    pub max_retries: u32,

    /// Client-side rate limit: requests a minute to each env0 path, the way env0 counts (1-100000)
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "BATON_MAX_REQUESTS_PER_MINUTE",
        hide_env_values = true,
        default_value_t = DEFAULT_MAX_REQUESTS_PER_MINUTE
    )]
    pub max_requests_per_minute: u32,

    /// Resources synced, and env0 requests sent, concurrently (1-64)
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "BATON_WORKERS",
        hide_env_values = true,
        default_value_t = DEFAULT_WORKERS
    )]
    pub workers: usize,

    /// Sync users, roles and teams only: no project and no request for one
    #[arg(
        long,
        global = true,
        env = "BATON_SKIP_PROJECTS",
        hide_env_values = true,
        value_parser = BoolishValueParser::new()
    )]
    pub skip_projects: bool,

    /// Never draw a progress bar (it is drawn only on an interactive stderr with console logs)
    #[arg(
        long,
        global = true,
        env = "BATON_NO_PROGRESS",
        hide_env_values = true,
        value_parser = BoolishValueParser::new()
    )]
    pub no_progress: bool,

    /// Also write the sync report (or the result of a grant or revoke) as JSON to this file
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "BATON_SUMMARY_JSON",
        hide_env_values = true
    )]
    pub summary_json: Option<PathBuf>,

    /// For tests only: base delay of the retry backoff, in milliseconds
    #[arg(
        long,
        global = true,
        hide = true,
        value_name = "MS",
        env = "BATON_RETRY_BASE_DELAY_MS",
        hide_env_values = true
    )]
    pub retry_base_delay_ms: Option<u64>,
}

impl fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalArgs")
            .field("api_key_id", &self.api_key_id)
            .field(
                "api_key_secret",
                &self.api_key_secret.as_ref().map(|_| "****"),
            )
            .field("api_key_secret_file", &self.api_key_secret_file)
            .field("organization_id", &self.organization_id)
            .field("file", &self.file)
            .field("config", &self.config)
            .field("base_url", &self.base_url)
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .field("http_timeout_seconds", &self.http_timeout_seconds)
            .field("max_retries", &self.max_retries)
            .field("max_requests_per_minute", &self.max_requests_per_minute)
            .field("workers", &self.workers)
            .field("skip_projects", &self.skip_projects)
            .field("no_progress", &self.no_progress)
            .field("summary_json", &self.summary_json)
            .field("retry_base_delay_ms", &self.retry_base_delay_ms)
            .finish()
    }
}

/// clap value parser for the secret: the raw argument becomes a [`SecretString`] immediately.
#[expect(
    clippy::unnecessary_wraps,
    reason = "clap value parsers return a Result"
)]
fn parse_secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let cli = Cli::try_parse_from([
            "baton-env0",
            "--api-key-id",
            "id",
            "--api-key-secret",
            "hunter2-secret",
        ])
        .unwrap();
        let debug = format!("{cli:?}");
        assert!(!debug.contains("hunter2-secret"), "{debug}");
        assert!(debug.contains("****"), "{debug}");
    }

    #[test]
    fn every_flag_has_a_baton_env_var() {
        let cmd = Cli::command();
        let mut args: Vec<&clap::Arg> = cmd.get_arguments().collect();
        for sub in cmd.get_subcommands() {
            args.extend(sub.get_arguments());
        }
        for arg in args {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let env = arg.get_env().and_then(|e| e.to_str()).unwrap_or_default();
            let expected = if long == "config" {
                "BATON_CONFIG_PATH".to_owned()
            } else {
                format!("BATON_{}", long.to_uppercase().replace('-', "_"))
            };
            assert_eq!(env, expected, "--{long}");
        }
    }
}
