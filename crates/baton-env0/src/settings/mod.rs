//! Layered configuration: first match wins.
//!
//! 1. flags;
//! 2. `BATON_<FLAG>` environment variables (clap reads both of these);
//! 3. env0's own `ENV0_API_KEY`, `ENV0_API_SECRET`, `ENV0_ORGANIZATION_ID`;
//! 4. the YAML config file (`--config PATH` / `$BATON_CONFIG_PATH`, else `./.baton.yaml` when
//!    present), read with the `config` crate; keys are the flag names in kebab-case, snake_case
//!    spellings are accepted too; unknown keys are warned about;
//! 5. the defaults.
//!
//! The API key secret may also come from a file (`--api-key-secret-file`, `$BATON_API_KEY_SECRET_FILE`
//! or the `api-key-secret-file` key); within one layer a value and a file are mutually exclusive.
//! The secret is a [`secrecy::SecretString`] from the moment it is read.
//!
//! - `table.rs`: the one table of what clap's flags cannot say (env0 variables, ranges, ...);
//! - `layers.rs`: looking a setting up in each layer by name;
//! - `file.rs`: the config file; `secret.rs`: the secret and its file;
//! - `checks.rs`: the checks made before any request.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgMatches, CommandFactory};

use crate::cli::{Cli, GlobalArgs, LogFormat, LogLevel};
use crate::exit::Failure;

mod checks;
mod file;
mod layers;
mod secret;
mod table;
#[cfg(test)]
mod tests;

pub use checks::{Credentials, parse_org_id, validate_base_url};
use file::ConfigFile;
use layers::Layers;
pub use secret::SecretSpec;
use secret::resolve_secret;
pub(crate) use table::FIELDS;
pub use table::config_file_keys;

/// The config file read when neither `--config` nor `$BATON_CONFIG_PATH` is given.
pub const DEFAULT_CONFIG_FILE: &str = ".baton.yaml";

/// env0's own variable for the API key id.
pub const ENV0_API_KEY: &str = "ENV0_API_KEY";
/// env0's own variable for the API key secret.
pub const ENV0_API_SECRET: &str = "ENV0_API_SECRET";
/// env0's own variable for the organization id.
pub const ENV0_ORGANIZATION_ID: &str = "ENV0_ORGANIZATION_ID";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A command-line flag, e.g. `--api-key-id`.
    Flag(String),
    /// An environment variable, e.g. `BATON_API_KEY_ID` or `ENV0_API_KEY`.
    Env(String),
    /// The YAML config file.
    ConfigFile(PathBuf),
    /// A secret file whose path came from `via`.
    SecretFile {
        /// The file holding the secret.
        path: PathBuf,
        /// Where the path came from.
        via: Box<Source>,
    },
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::Env(var) => write!(f, "${var}"),
            Source::ConfigFile(path) => write!(f, "config file {}", path.display()),
            Source::SecretFile { path, via } => write!(f, "file {} (from {via})", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A resolved value and where it came from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its origin.
    pub source: Source,
}

impl<T: fmt::Debug> fmt::Debug for Setting<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setting")
            .field("value", &self.value)
            .field("source", &self.source)
            .finish()
    }
}

impl<T> Setting<T> {
    fn new(value: T, source: Source) -> Self {
        Setting { value, source }
    }
}

/// Every setting after layering. Holds the secret (or where to read it), so `Debug` is by hand.
#[non_exhaustive]
pub struct Settings {
    /// `--api-key-id`.
    pub api_key_id: Option<Setting<String>>,
    /// `--api-key-secret` / `--api-key-secret-file`.
    pub api_key_secret: SecretSpec,
    /// `--organization-id`, as given (validated by [`Settings::credentials`]).
    pub organization_id: Option<Setting<String>>,
    /// `--file`.
    pub file: Setting<PathBuf>,
    /// `--base-url`, as given (validated by [`Settings::credentials`]).
    pub base_url: Setting<String>,
    /// `--log-level`.
    pub log_level: Setting<LogLevel>,
    /// `--log-format`.
    pub log_format: Setting<LogFormat>,
    /// `--http-timeout-seconds`.
    pub http_timeout_seconds: Setting<u64>,
    /// `--max-retries`.
    pub max_retries: Setting<u32>,
    /// `--max-requests-per-minute`.
    pub max_requests_per_minute: Setting<u32>,
    /// `--workers`.
    pub workers: Setting<usize>,
    /// `--skip-projects`.
    pub skip_projects: Setting<bool>,
    /// `--no-progress`.
    pub no_progress: Setting<bool>,
    /// `--summary-json`.
    pub summary_json: Option<Setting<PathBuf>>,
    /// Hidden `--retry-base-delay-ms` (tests).
    pub retry_base_delay: Option<Duration>,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// How the config file was chosen: `--config`, `$BATON_CONFIG_PATH`, or [`Source::Default`]
    /// for `./.baton.yaml`.
    pub config_source: Option<Source>,
    /// Warnings found while reading configuration, logged once logging is set up.
    pub warnings: Vec<String>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("api_key_id", &self.api_key_id)
            .field("api_key_secret", &self.api_key_secret)
            .field("organization_id", &self.organization_id)
            .field("file", &self.file)
            .field("base_url", &self.base_url)
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .field("config_file", &self.config_file)
            .finish_non_exhaustive()
    }
}

/// What the process environment provides, injectable for tests.
pub trait Environment {
    /// The value of a variable; `None` when unset, empty or not UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether stderr is an interactive terminal.
    fn stderr_is_terminal(&self) -> bool;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn stderr_is_terminal(&self) -> bool {
        use std::io::IsTerminal as _;
        std::io::stderr().is_terminal()
    }
}

/// A setting that clap gives a default, so some layer always has it.
fn required<T>(setting: Option<Setting<T>>, name: &str) -> Result<Setting<T>, Failure> {
    setting.ok_or_else(|| Failure::other(format!("--{name} has no default value")))
}

impl Settings {
    /// Resolves every setting from clap's matches (flags and `BATON_*` variables, already parsed
    /// into `args`), `ENV0_*` variables, the config file and clap's defaults; `FIELDS` says which
    /// layers each setting reads and what it accepts.
    pub fn resolve(
        matches: &ArgMatches,
        args: &GlobalArgs,
        env: &dyn Environment,
        cwd: &Path,
    ) -> Result<Settings, Failure> {
        let mut layers = Layers {
            command: Cli::command(),
            matches,
            env,
            file: None,
        };
        let explicit_config = layers
            .clap_source("config")
            .and_then(|source| args.config.clone().map(|path| (path, source)));
        let explicit_source = explicit_config.as_ref().map(|(_, source)| source.clone());
        let loaded = ConfigFile::load(explicit_config, &cwd.join(DEFAULT_CONFIG_FILE))?;
        let (config_file, mut warnings) = match loaded {
            Some((file, warnings)) => (Some(file), warnings),
            None => (None, Vec::new()),
        };
        layers.file = config_file.as_ref();
        let l = &layers;

        let log_format = l.choice::<LogFormat>("log-format")?.unwrap_or_else(|| {
            let default = if env.stderr_is_terminal() {
                LogFormat::Console
            } else {
                LogFormat::Json
            };
            Setting::new(default, Source::Default)
        });
        Ok(Settings {
            api_key_id: l.text("api-key-id")?,
            api_key_secret: resolve_secret(l, &mut warnings)?,
            organization_id: l.text("organization-id")?,
            file: required(l.value::<PathBuf>("file")?, "file")?,
            base_url: required(l.text("base-url")?, "base-url")?,
            log_level: required(l.choice::<LogLevel>("log-level")?, "log-level")?,
            log_format,
            http_timeout_seconds: required(
                l.number::<u64>("http-timeout-seconds")?,
                "http-timeout-seconds",
            )?,
            max_retries: required(l.number::<u32>("max-retries")?, "max-retries")?,
            max_requests_per_minute: required(
                l.number::<u32>("max-requests-per-minute")?,
                "max-requests-per-minute",
            )?,
            workers: required(l.number::<usize>("workers")?, "workers")?,
            skip_projects: required(l.value::<bool>("skip-projects")?, "skip-projects")?,
            no_progress: required(l.value::<bool>("no-progress")?, "no-progress")?,
            summary_json: l.value::<PathBuf>("summary-json")?,
            retry_base_delay: args.retry_base_delay_ms.map(Duration::from_millis),
            config_source: config_file
                .as_ref()
                .map(|_| explicit_source.unwrap_or(Source::Default)),
            config_file: config_file.map(|f| f.path),
            warnings,
        })
    }

    /// Takes the warnings collected so far (to log them once).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}
