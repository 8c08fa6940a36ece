//! `config`: every setting as JSON — name, flag, environment variables, config-file key,
//! description, required, secret, default — plus its effective value and where it came from.
//! Secret values are never printed: for the secret, only whether it is set and from where.

use std::io::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::exit::Failure;
use crate::fields::{FieldInfo, fields};
use crate::settings::{Setting, Settings, Source};

#[derive(Serialize)]
struct FieldOut {
    #[serde(flatten)]
    info: FieldInfo,
    /// Whether a value is set (from any layer, defaults included).
    set: bool,
    /// The effective value; always `null` for secrets.
    value: Value,
    /// Where the value came from: a flag, `$VAR`, `config file PATH`, `default`; `null` if unset.
    source: Option<String>,
}

#[derive(Serialize)]
struct ConfigOut {
    connector: &'static str,
    version: &'static str,
    /// The YAML config file that was read, if any.
    config_file: Option<String>,
    fields: Vec<FieldOut>,
}

fn path_text(path: &Path) -> Value {
    Value::String(path.display().to_string())
}

fn effective<T>(
    setting: Option<&Setting<T>>,
    to_value: impl Fn(&T) -> Value,
) -> (Value, Option<Source>) {
    match setting {
        Some(s) => (to_value(&s.value), Some(s.source.clone())),
        None => (Value::Null, None),
    }
}

/// The effective value and source of the setting `name`.
fn lookup(settings: &Settings, name: &str) -> (Value, Option<Source>) {
    let string = |s: &String| Value::String(s.clone());
    match name {
        "api-key-id" => effective(settings.api_key_id.as_ref(), string),
        // Never the value: only where it comes from.
        "api-key-secret" => (Value::Null, settings.api_key_secret.source()),
        "api-key-secret-file" => match settings.api_key_secret.source() {
            Some(Source::SecretFile { path, via }) => (path_text(&path), Some(*via)),
            _ => (Value::Null, None),
        },
        "organization-id" => effective(settings.organization_id.as_ref(), string),
        "file" => effective(Some(&settings.file), |p| path_text(p)),
        "config" => (
            settings
                .config_file
                .as_deref()
                .map_or(Value::Null, path_text),
            settings.config_source.clone(),
        ),
        "base-url" => effective(Some(&settings.base_url), string),
        "log-level" => effective(Some(&settings.log_level), |l| Value::from(l.as_str())),
        "log-format" => effective(Some(&settings.log_format), |l| Value::from(l.as_str())),
        "http-timeout-seconds" => {
            effective(Some(&settings.http_timeout_seconds), |v| Value::from(*v))
        }
        "max-retries" => effective(Some(&settings.max_retries), |v| Value::from(*v)),
        "max-requests-per-minute" => {
            effective(Some(&settings.max_requests_per_minute), |v| Value::from(*v))
        }
        "workers" => effective(Some(&settings.workers), |v| Value::from(*v)),
        "skip-projects" => effective(Some(&settings.skip_projects), |v| Value::from(*v)),
        "no-progress" => effective(Some(&settings.no_progress), |v| Value::from(*v)),
        "summary-json" => effective(settings.summary_json.as_ref(), |p| path_text(p)),
        _ => (Value::Null, None),
    }
}

/// The JSON document `config` prints.
pub(crate) fn document(settings: &Settings) -> Result<String, Failure> {
    let fields = fields()
        .into_iter()
        .map(|info| {
            let (value, source) = lookup(settings, &info.name);
            let source = source.map(|s| s.to_string());
            let value = if info.secret { Value::Null } else { value };
            FieldOut {
                set: source.is_some(),
                value,
                source,
                info,
            }
        })
        .collect();
    let out = ConfigOut {
        connector: "baton-env0",
        version: env!("CARGO_PKG_VERSION"),
        config_file: settings
            .config_file
            .as_ref()
            .map(|p| p.display().to_string()),
        fields,
    };
    let mut json = serde_json::to_string_pretty(&out).map_err(|e| Failure::other(e.to_string()))?;
    json.push('\n');
    Ok(json)
}

/// Runs `config`.
pub(crate) fn run(settings: &Settings) -> Result<(), Failure> {
    let json = document(settings)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(json.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
}
