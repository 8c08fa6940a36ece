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
//! The secret is a [`SecretString`] from the moment it is read.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ArgMatches;
use clap::ValueEnum;
use clap::parser::ValueSource;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::cli::{
    DEFAULT_BASE_URL, DEFAULT_FILE, DEFAULT_HTTP_TIMEOUT_SECONDS, DEFAULT_MAX_REQUESTS_PER_MINUTE,
    DEFAULT_MAX_RETRIES, DEFAULT_WORKERS, GlobalArgs, LogFormat, LogLevel,
};
use crate::exit::Failure;

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

/// Where the API key secret comes from, before any secret file is read.
#[derive(Clone)]
#[non_exhaustive]
pub enum SecretSpec {
    /// Not configured anywhere.
    Missing,
    /// Given directly (flag, environment, config file).
    Value(Setting<SecretString>),
    /// To be read from a file.
    File {
        /// The secret file.
        path: PathBuf,
        /// Where the path came from.
        via: Source,
    },
}

impl fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSpec::Missing => f.write_str("Missing"),
            SecretSpec::Value(setting) => f
                .debug_struct("Value")
                .field("value", &"****")
                .field("source", &setting.source)
                .finish(),
            SecretSpec::File { path, via } => f
                .debug_struct("File")
                .field("path", path)
                .field("via", via)
                .finish(),
        }
    }
}

impl SecretSpec {
    /// Where the secret comes from, if configured.
    pub fn source(&self) -> Option<Source> {
        match self {
            SecretSpec::Missing => None,
            SecretSpec::Value(setting) => Some(setting.source.clone()),
            SecretSpec::File { path, via } => Some(Source::SecretFile {
                path: path.clone(),
                via: Box::new(via.clone()),
            }),
        }
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

/// Validated credentials and connection settings: everything a request needs.
#[non_exhaustive]
pub struct Credentials {
    /// The API key id.
    pub api_key_id: String,
    /// The API key secret.
    pub api_key_secret: SecretString,
    /// The organization id, a lowercase hyphenated UUID.
    pub organization_id: String,
    /// The validated base URL.
    pub base_url: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key_id", &self.api_key_id)
            .field("api_key_secret", &"****")
            .field("organization_id", &self.organization_id)
            .field("base_url", &self.base_url)
            .finish()
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

/// The YAML config file. Holds the secret, so there is no `Debug`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct FileConfig {
    #[serde(alias = "api_key_id")]
    api_key_id: Option<String>,
    #[serde(
        alias = "api_key_secret",
        default,
        deserialize_with = "deserialize_secret"
    )]
    api_key_secret: Option<SecretString>,
    #[serde(alias = "api_key_secret_file")]
    api_key_secret_file: Option<PathBuf>,
    #[serde(alias = "organization_id")]
    organization_id: Option<String>,
    file: Option<PathBuf>,
    #[serde(alias = "base_url")]
    base_url: Option<String>,
    #[serde(alias = "log_level")]
    log_level: Option<String>,
    #[serde(alias = "log_format")]
    log_format: Option<String>,
    #[serde(alias = "http_timeout_seconds")]
    http_timeout_seconds: Option<u64>,
    #[serde(alias = "max_retries")]
    max_retries: Option<u32>,
    #[serde(alias = "max_requests_per_minute")]
    max_requests_per_minute: Option<u32>,
    workers: Option<usize>,
    #[serde(alias = "no_progress")]
    no_progress: Option<bool>,
    #[serde(alias = "summary_json")]
    summary_json: Option<PathBuf>,
}

/// The keys a config file may hold (kebab-case; snake_case accepted too).
pub const CONFIG_FILE_KEYS: [&str; 14] = [
    "api-key-id",
    "api-key-secret",
    "api-key-secret-file",
    "organization-id",
    "file",
    "base-url",
    "log-level",
    "log-format",
    "http-timeout-seconds",
    "max-retries",
    "max-requests-per-minute",
    "workers",
    "no-progress",
    "summary-json",
];

fn deserialize_secret<'de, D: Deserializer<'de>>(de: D) -> Result<Option<SecretString>, D::Error> {
    let raw: Option<String> = Option::deserialize(de)?;
    Ok(raw.filter(|s| !s.is_empty()).map(SecretString::from))
}

/// Loads the config file named by `explicit` (an error when missing) or `./.baton.yaml` (skipped
/// when absent). Returns the parsed file, its path and warnings.
fn load_config_file(
    explicit: Option<(PathBuf, Source)>,
    cwd_default: &Path,
) -> Result<Option<(FileConfig, PathBuf, Vec<String>)>, Failure> {
    let path = if let Some((path, source)) = explicit {
        if !path.is_file() {
            return Err(Failure::usage(format!(
                "config file {} (from {source}) does not exist or is not a file",
                path.display()
            ))
            .hint("fix the path given to --config / $BATON_CONFIG_PATH"));
        }
        path
    } else {
        if !cwd_default.is_file() {
            return Ok(None);
        }
        cwd_default.to_path_buf()
    };
    let built = config::Config::builder()
        .add_source(
            config::File::from(path.as_path())
                .format(config::FileFormat::Yaml)
                .required(true),
        )
        .build()
        .map_err(|e| config_error(&path, &e))?;
    let mut unknown = Vec::new();
    let parsed: FileConfig = serde_ignored::deserialize(built, |key| unknown.push(key.to_string()))
        .map_err(|e| config_error(&path, &e))?;
    let mut warnings: Vec<String> = unknown
        .iter()
        .map(|key| {
            format!(
                "config file {}: unknown key `{key}` ignored (known keys: {})",
                path.display(),
                CONFIG_FILE_KEYS.join(", ")
            )
        })
        .collect();
    if parsed.api_key_secret.is_some()
        && let Some(mode) = loose_mode(&path)
    {
        warnings.push(format!(
            "config file {} holds api-key-secret and is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(Some((parsed, path, warnings)))
}

fn config_error(path: &Path, err: &config::ConfigError) -> Failure {
    // The config crate's messages name the key and the file, and may quote a mistyped value. The
    // secret key accepts any scalar (numbers and booleans become text), so its value never fails
    // to parse and is never quoted.
    Failure::usage(format!("cannot read config file {}: {err}", path.display())).hint(format!(
        "the file must be YAML whose keys are flag names: {}",
        CONFIG_FILE_KEYS.join(", ")
    ))
}

/// The permission bits (when group or others may read/write) of `path`, on unix.
#[cfg(unix)]
pub(crate) fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Permission bits are not checked off unix.
#[cfg(not(unix))]
pub(crate) fn loose_mode(_path: &Path) -> Option<u32> {
    None
}

/// The clap source of `id`: flag or `BATON_*` variable; `None` when clap used a default or nothing.
fn clap_source(matches: &ArgMatches, id: &str, flag: &str, env: &str) -> Option<Source> {
    match matches.value_source(id) {
        Some(ValueSource::CommandLine) => Some(Source::Flag(flag.to_owned())),
        Some(ValueSource::EnvVariable) => Some(Source::Env(env.to_owned())),
        _ => None,
    }
}

/// Layering for one field: clap (flag/`BATON_*`) → `ENV0_*` → config file → default.
fn layer<T>(
    clap: Option<(T, Source)>,
    env0: Option<(T, &'static str)>,
    file: Option<T>,
    file_path: Option<&Path>,
) -> Option<Setting<T>> {
    if let Some((value, source)) = clap {
        return Some(Setting::new(value, source));
    }
    if let Some((value, var)) = env0 {
        return Some(Setting::new(value, Source::Env(var.to_owned())));
    }
    match (file, file_path) {
        (Some(value), Some(path)) => {
            Some(Setting::new(value, Source::ConfigFile(path.to_path_buf())))
        }
        _ => None,
    }
}

fn flag_name(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

fn env_name(id: &str) -> String {
    format!("BATON_{}", id.to_uppercase())
}

/// Shorthand: the clap value of a global arg `id` with its source, if it came from flag or env.
fn from_clap<T: Clone + Send + Sync + 'static>(
    matches: &ArgMatches,
    id: &str,
) -> Option<(T, Source)> {
    let source = clap_source(matches, id, &flag_name(id), &env_name(id))?;
    let value = matches.get_one::<T>(id)?.clone();
    Some((value, source))
}

fn parse_enum<E: ValueEnum>(raw: &str, key: &str, path: &Path) -> Result<E, Failure> {
    E::from_str(raw, true).map_err(|_| {
        let allowed: Vec<String> = E::value_variants()
            .iter()
            .filter_map(ValueEnum::to_possible_value)
            .map(|p| p.get_name().to_owned())
            .collect();
        Failure::usage(format!(
            "config file {}: `{key}` must be one of {}, got `{raw}`",
            path.display(),
            allowed.join(", ")
        ))
    })
}

fn check_range<T: PartialOrd + fmt::Display + Copy>(
    setting: &Setting<T>,
    flag: &str,
    min: T,
    max: T,
) -> Result<(), Failure> {
    if setting.value < min || setting.value > max {
        return Err(Failure::usage(format!(
            "{flag} must be between {min} and {max}, got {} (from {})",
            setting.value, setting.source
        )));
    }
    Ok(())
}

impl Settings {
    /// Resolves every setting from clap's matches (flags and `BATON_*` variables, already parsed
    /// into `args`), `ENV0_*` variables, the config file and the defaults.
    pub fn resolve(
        matches: &ArgMatches,
        args: &GlobalArgs,
        env: &dyn Environment,
        cwd: &Path,
    ) -> Result<Settings, Failure> {
        let explicit_config = args.config.clone().and_then(|path| {
            clap_source(matches, "config", "--config", "BATON_CONFIG_PATH")
                .map(|source| (path, source))
        });
        let explicit_source = explicit_config.as_ref().map(|(_, source)| source.clone());
        let loaded = load_config_file(explicit_config, &cwd.join(DEFAULT_CONFIG_FILE))?;
        let (file_cfg, config_file, mut warnings) = match loaded {
            Some((cfg, path, warnings)) => (cfg, Some(path), warnings),
            None => (FileConfig::default(), None, Vec::new()),
        };
        let fp = config_file.as_deref();
        let file_path_for_errors = fp.unwrap_or(Path::new(DEFAULT_CONFIG_FILE));

        let api_key_id = layer(
            from_clap::<String>(matches, "api_key_id").filter(|(v, _)| !v.is_empty()),
            env.var(ENV0_API_KEY).map(|v| (v, ENV0_API_KEY)),
            file_cfg.api_key_id.clone().filter(|v| !v.is_empty()),
            fp,
        );
        let organization_id = layer(
            from_clap::<String>(matches, "organization_id").filter(|(v, _)| !v.is_empty()),
            env.var(ENV0_ORGANIZATION_ID)
                .map(|v| (v, ENV0_ORGANIZATION_ID)),
            file_cfg.organization_id.clone().filter(|v| !v.is_empty()),
            fp,
        );
        let api_key_secret = resolve_secret(matches, env, &file_cfg, fp)?;

        let file = layer(
            from_clap::<PathBuf>(matches, "file"),
            None,
            file_cfg.file.clone(),
            fp,
        )
        .unwrap_or_else(|| Setting::new(PathBuf::from(DEFAULT_FILE), Source::Default));
        let base_url = layer(
            from_clap::<String>(matches, "base_url"),
            None,
            file_cfg.base_url.clone(),
            fp,
        )
        .unwrap_or_else(|| Setting::new(DEFAULT_BASE_URL.to_owned(), Source::Default));
        let file_log_level = file_cfg
            .log_level
            .as_deref()
            .map(|raw| parse_enum::<LogLevel>(raw, "log-level", file_path_for_errors))
            .transpose()?;
        let log_level = layer(
            from_clap::<LogLevel>(matches, "log_level"),
            None,
            file_log_level,
            fp,
        )
        .unwrap_or_else(|| Setting::new(LogLevel::Info, Source::Default));
        let file_log_format = file_cfg
            .log_format
            .as_deref()
            .map(|raw| parse_enum::<LogFormat>(raw, "log-format", file_path_for_errors))
            .transpose()?;
        let log_format = layer(
            from_clap::<LogFormat>(matches, "log_format"),
            None,
            file_log_format,
            fp,
        )
        .unwrap_or_else(|| {
            let default = if env.stderr_is_terminal() {
                LogFormat::Console
            } else {
                LogFormat::Json
            };
            Setting::new(default, Source::Default)
        });
        let http_timeout_seconds = layer(
            from_clap::<u64>(matches, "http_timeout_seconds"),
            None,
            file_cfg.http_timeout_seconds,
            fp,
        )
        .unwrap_or_else(|| Setting::new(DEFAULT_HTTP_TIMEOUT_SECONDS, Source::Default));
        check_range(&http_timeout_seconds, "--http-timeout-seconds", 1, 1800)?;
        let max_retries = layer(
            from_clap::<u32>(matches, "max_retries"),
            None,
            file_cfg.max_retries,
            fp,
        )
        .unwrap_or_else(|| Setting::new(DEFAULT_MAX_RETRIES, Source::Default));
        check_range(&max_retries, "--max-retries", 0, 100)?;
        let max_requests_per_minute = layer(
            from_clap::<u32>(matches, "max_requests_per_minute"),
            None,
            file_cfg.max_requests_per_minute,
            fp,
        )
        .unwrap_or_else(|| Setting::new(DEFAULT_MAX_REQUESTS_PER_MINUTE, Source::Default));
        check_range(
            &max_requests_per_minute,
            "--max-requests-per-minute",
            1,
            100_000,
        )?;
        let workers = layer(
            from_clap::<usize>(matches, "workers"),
            None,
            file_cfg.workers,
            fp,
        )
        .unwrap_or_else(|| Setting::new(DEFAULT_WORKERS, Source::Default));
        check_range(&workers, "--workers", 1, 64)?;
        let no_progress = layer(
            from_clap::<bool>(matches, "no_progress"),
            None,
            file_cfg.no_progress,
            fp,
        )
        .unwrap_or_else(|| Setting::new(false, Source::Default));
        let summary_json = layer(
            from_clap::<PathBuf>(matches, "summary_json"),
            None,
            file_cfg.summary_json.clone(),
            fp,
        );
        let retry_base_delay = args.retry_base_delay_ms.map(Duration::from_millis);

        if let Some(path) = fp {
            warnings.extend(
                file_cfg
                    .api_key_secret_file
                    .as_ref()
                    .filter(|_| file_cfg.api_key_secret.is_some())
                    .map(|_| format!("config file {}: api-key-secret-file is ignored because api-key-secret is set", path.display())),
            );
        }

        Ok(Settings {
            api_key_id,
            api_key_secret,
            organization_id,
            file,
            base_url,
            log_level,
            log_format,
            http_timeout_seconds,
            max_retries,
            max_requests_per_minute,
            workers,
            no_progress,
            summary_json,
            retry_base_delay,
            config_source: config_file
                .as_ref()
                .map(|_| explicit_source.unwrap_or(Source::Default)),
            config_file,
            warnings,
        })
    }

    /// Checks, before any request, that the credentials are complete, the organization id is a
    /// UUID and the base URL is acceptable; reads the secret file when one is configured.
    pub fn credentials(&mut self) -> Result<Credentials, Failure> {
        let secret = self.read_secret()?;
        let mut missing = Vec::new();
        if self.api_key_id.is_none() {
            missing.push("api key id (--api-key-id, $BATON_API_KEY_ID or $ENV0_API_KEY)");
        }
        if secret.is_none() {
            missing.push(
                "api key secret (--api-key-secret, --api-key-secret-file, $BATON_API_KEY_SECRET, $BATON_API_KEY_SECRET_FILE or $ENV0_API_SECRET)",
            );
        }
        if self.organization_id.is_none() {
            missing.push("organization id (--organization-id, $BATON_ORGANIZATION_ID or $ENV0_ORGANIZATION_ID)");
        }
        let (Some(key_id), Some(secret), Some(org)) =
            (&self.api_key_id, secret, &self.organization_id)
        else {
            return Err(Failure::usage(format!("missing {}", missing.join("; "))).hint(
                "set them as flags, environment variables or keys of the YAML config file (--config, $BATON_CONFIG_PATH or ./.baton.yaml); `baton-env0 config` lists every setting",
            ));
        };
        let organization_id = parse_org_id(org)?;
        let base_url = validate_base_url(&self.base_url)?;
        Ok(Credentials {
            api_key_id: key_id.value.clone(),
            api_key_secret: secret,
            organization_id,
            base_url,
        })
    }

    /// The secret, reading its file if that is where it comes from.
    fn read_secret(&mut self) -> Result<Option<SecretString>, Failure> {
        match &self.api_key_secret {
            SecretSpec::Missing => Ok(None),
            SecretSpec::Value(setting) => Ok(Some(setting.value.clone())),
            SecretSpec::File { path, via } => {
                let (secret, warning) = read_secret_file(path, via)?;
                self.warnings.extend(warning);
                Ok(Some(secret))
            }
        }
    }

    /// Takes the warnings collected so far (to log them once).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}

fn resolve_secret(
    matches: &ArgMatches,
    env: &dyn Environment,
    file_cfg: &FileConfig,
    fp: Option<&Path>,
) -> Result<SecretSpec, Failure> {
    let value_source = clap_source(
        matches,
        "api_key_secret",
        "--api-key-secret",
        "BATON_API_KEY_SECRET",
    );
    let file_source = clap_source(
        matches,
        "api_key_secret_file",
        "--api-key-secret-file",
        "BATON_API_KEY_SECRET_FILE",
    );
    let value = value_source.and_then(|source| {
        matches
            .get_one::<SecretString>("api_key_secret")
            .filter(|s| !s.expose_secret().is_empty())
            .map(|s| Setting::new(s.clone(), source))
    });
    let path = file_source.and_then(|source| {
        matches
            .get_one::<PathBuf>("api_key_secret_file")
            .map(|p| (p.clone(), source))
    });
    // Flags first, then BATON_* variables: a layer may not hold both a value and a file.
    let is_flag = |s: &Source| matches!(s, Source::Flag(_));
    for flags_layer in [true, false] {
        let v = value.as_ref().filter(|s| is_flag(&s.source) == flags_layer);
        let p = path.as_ref().filter(|(_, s)| is_flag(s) == flags_layer);
        match (v, p) {
            (Some(v), Some((_, ps))) => {
                return Err(Failure::usage(format!(
                    "the API key secret is given twice: by {} and by {ps}",
                    v.source
                ))
                .hint("use either --api-key-secret or --api-key-secret-file"));
            }
            (Some(v), None) => return Ok(SecretSpec::Value(v.clone())),
            (None, Some((p, s))) => {
                return Ok(SecretSpec::File {
                    path: p.clone(),
                    via: s.clone(),
                });
            }
            (None, None) => {}
        }
    }
    if let Some(secret) = env.var(ENV0_API_SECRET) {
        return Ok(SecretSpec::Value(Setting::new(
            SecretString::from(secret),
            Source::Env(ENV0_API_SECRET.to_owned()),
        )));
    }
    if let Some(path) = fp {
        if let Some(secret) = &file_cfg.api_key_secret {
            return Ok(SecretSpec::Value(Setting::new(
                secret.clone(),
                Source::ConfigFile(path.to_path_buf()),
            )));
        }
        if let Some(secret_path) = &file_cfg.api_key_secret_file {
            // Like every path setting, a relative path is relative to the working directory.
            return Ok(SecretSpec::File {
                path: secret_path.clone(),
                via: Source::ConfigFile(path.to_path_buf()),
            });
        }
    }
    Ok(SecretSpec::Missing)
}

/// Reads a secret file: one trailing newline (`\n` or `\r\n`) is dropped; the content becomes a
/// [`SecretString`] right away. Warns when group or others may read the file.
fn read_secret_file(path: &Path, via: &Source) -> Result<(SecretString, Option<String>), Failure> {
    let mut raw = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "cannot read the API key secret file {} (from {via}): {e}",
            path.display()
        ))
        .hint("the file must exist, be readable and hold only the secret")
    })?;
    if raw.ends_with("\r\n") {
        raw.truncate(raw.len() - 2);
    } else if raw.ends_with('\n') {
        raw.truncate(raw.len() - 1);
    }
    let secret = SecretString::from(raw);
    if secret.expose_secret().is_empty() {
        return Err(Failure::usage(format!(
            "the API key secret file {} (from {via}) is empty",
            path.display()
        )));
    }
    let warning = loose_mode(path).map(|mode| {
        format!(
            "the API key secret file {} is readable by group or others (mode {mode:04o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    });
    Ok((secret, warning))
}

/// Validates the organization id: a UUID, returned lowercase and hyphenated.
pub fn parse_org_id(org: &Setting<String>) -> Result<String, Failure> {
    uuid::Uuid::try_parse(org.value.trim()).map(|u| u.hyphenated().to_string()).map_err(|_| {
        Failure::usage(format!(
            "organization id `{}` (from {}) is not a UUID",
            org.value.trim(),
            org.source
        ))
        .hint("copy the organization id from env0 (Organization Settings); it looks like 2f1e8a2c-0b4e-4c1f-9a57-6d2b8f3c1a90")
    })
}

/// Validates the base URL: `https://`, or `http://` for loopback hosts only; no credentials,
/// query or fragment. Returns it without a trailing slash.
pub fn validate_base_url(setting: &Setting<String>) -> Result<String, Failure> {
    let raw = setting.value.trim();
    let bad = |why: &str| {
        Failure::usage(format!(
            "--base-url `{raw}` (from {}) {why}",
            setting.source
        ))
        .hint(format!(
            "use an https:// URL such as {DEFAULT_BASE_URL}; http:// is accepted only for localhost"
        ))
    };
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
                return Err(bad("uses http:// with a host that is not loopback"));
            }
        }
        other => return Err(bad(&format!("has unsupported scheme `{other}`"))),
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::{CommandFactory, FromArgMatches};

    use super::*;
    use crate::cli::Cli;

    struct FakeEnv(HashMap<&'static str, &'static str>);

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
        fn stderr_is_terminal(&self) -> bool {
            false
        }
    }

    fn resolve(
        args: &[&str],
        env: &[(&'static str, &'static str)],
        cwd: &Path,
    ) -> Result<Settings, Failure> {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        Settings::resolve(
            &matches,
            &cli.global,
            &FakeEnv(env.iter().copied().collect()),
            cwd,
        )
    }

    const ORG: &str = "2f1e8a2c-0b4e-4c1f-9a57-6d2b8f3c1a90";

    #[test]
    fn defaults_apply_without_any_layer() {
        let dir = tempfile::tempdir().unwrap();
        let s = resolve(&["baton-env0"], &[], dir.path()).unwrap();
        assert_eq!(s.file.value, PathBuf::from("sync.c1z"));
        assert_eq!(s.file.source, Source::Default);
        assert_eq!(s.base_url.value, DEFAULT_BASE_URL);
        assert_eq!(s.log_format.value, LogFormat::Json);
        assert_eq!(s.workers.value, DEFAULT_WORKERS);
        assert!(s.api_key_id.is_none());
        assert!(matches!(s.api_key_secret, SecretSpec::Missing));
        assert!(s.config_file.is_none());
    }

    #[test]
    fn env0_variables_fill_in_after_flags() {
        let dir = tempfile::tempdir().unwrap();
        let s = resolve(
            &["baton-env0", "--api-key-id", "from-flag"],
            &[
                (ENV0_API_KEY, "from-env0"),
                (ENV0_ORGANIZATION_ID, ORG),
                (ENV0_API_SECRET, "s3cr3t"),
            ],
            dir.path(),
        )
        .unwrap();
        assert_eq!(s.api_key_id.as_ref().unwrap().value, "from-flag");
        assert_eq!(
            s.api_key_id.as_ref().unwrap().source,
            Source::Flag("--api-key-id".into())
        );
        assert_eq!(
            s.organization_id.as_ref().unwrap().source,
            Source::Env(ENV0_ORGANIZATION_ID.into())
        );
        assert_eq!(
            s.api_key_secret.source(),
            Some(Source::Env(ENV0_API_SECRET.into()))
        );
    }

    #[test]
    fn config_file_is_below_env0_variables_and_accepts_snake_case() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".baton.yaml"),
            "api_key_id: file-id\norganization-id: 00000000-0000-0000-0000-000000000001\nworkers: 7\nlog-level: debug\nbogus: 1\n",
        )
        .unwrap();
        let mut s = resolve(&["baton-env0"], &[(ENV0_ORGANIZATION_ID, ORG)], dir.path()).unwrap();
        assert_eq!(s.api_key_id.as_ref().unwrap().value, "file-id");
        assert_eq!(s.organization_id.as_ref().unwrap().value, ORG);
        assert_eq!(s.workers.value, 7);
        assert_eq!(s.log_level.value, LogLevel::Debug);
        let warnings = s.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("unknown key `bogus`"), "{warnings:?}");
    }

    #[test]
    fn explicit_missing_config_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.yaml");
        let err = resolve(
            &["baton-env0", "--config", missing.to_str().unwrap()],
            &[],
            dir.path(),
        )
        .unwrap_err();
        assert_eq!(err.kind, crate::exit::ExitKind::Usage);
        assert!(err.message.contains("nope.yaml"), "{}", err.message);
    }

    #[test]
    fn secret_value_and_file_in_one_layer_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(
            &[
                "baton-env0",
                "--api-key-secret",
                "x",
                "--api-key-secret-file",
                "/tmp/x",
            ],
            &[],
            dir.path(),
        )
        .err()
        .unwrap();
        assert!(err.message.contains("given twice"), "{}", err.message);
        assert!(!err.render().contains(" x "), "{}", err.render());
    }

    #[test]
    fn secret_file_drops_one_trailing_newline_and_warns_when_loose() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "abc\n\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let mut s = resolve(
            &[
                "baton-env0",
                "--api-key-secret-file",
                path.to_str().unwrap(),
                "--api-key-id",
                "k",
                "--organization-id",
                ORG,
            ],
            &[],
            dir.path(),
        )
        .unwrap();
        let creds = s.credentials().unwrap();
        assert_eq!(creds.api_key_secret.expose_secret(), "abc\n");
        #[cfg(unix)]
        {
            let warnings = s.take_warnings();
            assert!(
                warnings.iter().any(|w| w.contains("mode 0644")),
                "{warnings:?}"
            );
        }
    }

    #[test]
    fn missing_credentials_are_listed_in_one_message() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = resolve(&["baton-env0", "--api-key-id", "k"], &[], dir.path()).unwrap();
        let err = s.credentials().unwrap_err();
        assert_eq!(err.kind, crate::exit::ExitKind::Usage);
        assert!(
            err.message.starts_with("missing api key secret"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("$ENV0_ORGANIZATION_ID"),
            "{}",
            err.message
        );
        assert!(!err.message.contains("api key id ("), "{}", err.message);
    }

    #[test]
    fn organization_id_must_be_a_uuid() {
        let setting = Setting::new(
            "not-a-uuid".to_owned(),
            Source::Flag("--organization-id".into()),
        );
        let err = parse_org_id(&setting).unwrap_err();
        assert_eq!(
            err.message,
            "organization id `not-a-uuid` (from --organization-id) is not a UUID"
        );
        let upper = Setting::new(ORG.to_uppercase(), Source::Default);
        assert_eq!(parse_org_id(&upper).unwrap(), ORG);
    }

    #[test]
    fn base_url_rules() {
        let ok = |u: &str| validate_base_url(&Setting::new(u.to_owned(), Source::Default));
        assert_eq!(ok("https://api.env0.com/").unwrap(), "https://api.env0.com");
        assert_eq!(
            ok("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(ok("http://localhost:1").is_ok());
        assert!(ok("http://[::1]:1").is_ok());
        assert!(ok("http://api.env0.com").is_err());
        assert!(ok("ftp://x").is_err());
        assert!(ok("https://user:pw@x").is_err());
        assert!(ok("nonsense").is_err());
    }

    #[test]
    fn out_of_range_numbers_name_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(&["baton-env0", "--workers", "0"], &[], dir.path()).unwrap_err();
        assert_eq!(
            err.message,
            "--workers must be between 1 and 64, got 0 (from --workers)"
        );
    }
}
